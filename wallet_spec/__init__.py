"""The wallet format and presentation protocol (specification, schemas, reference holder library).

This package holds the contract wallet makers build against. Its specification and holder library
arrive with the wallet issue; until then it only reserves the package name and its place in the
dependency rule (it may import ``verifier``; ``verifier`` never imports it).
"""

__all__: list[str] = []
