"""The wallet specification (Markdown, JSON Schemas, worked examples) and the reference holder.

``wallet_spec/README.md`` is the contract wallet makers build against (version
:data:`SPEC_VERSION`); ``wallet_spec.holder`` is the reference holder library and the
``credencial-wallet`` command line; ``python -m wallet_spec.examples`` regenerates the worked
examples from the code. This package may import ``verifier``; ``verifier`` never imports it, and
the holder library never imports ``issuer`` (only the example generator does, to show the
issuer's side with the issuer's own functions).
"""

__all__ = ["SPEC_VERSION"]

#: The version of the wallet specification (semantic versioning; see CHANGELOG.md).
SPEC_VERSION = "1.0.0"
