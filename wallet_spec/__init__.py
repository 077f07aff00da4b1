"""The wallet specification (Markdown, JSON Schemas, worked examples) and the reference holder.

``wallet_spec/README.md`` is the contract wallet makers build against (version
:data:`SPEC_VERSION`); ``wallet_spec.holder`` is the reference holder library and the
``credencial-wallet`` command line; ``python -m tools.wallet_examples`` regenerates the worked
examples from the code. This package may import ``verifier``; ``verifier`` never imports it, and
nothing in it imports ``issuer``: a wallet reaches an issuer over HTTP only. The example
generator, which shows the issuer's side with the issuer's own functions, lives outside it.
"""

__all__ = ["SPEC_VERSION"]

#: The version of the wallet specification (semantic versioning; see CHANGELOG.md).
SPEC_VERSION = "1.0.0"
