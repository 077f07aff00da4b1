"""The institution's side: keys, signing, status lists (the FastAPI service comes later).

It builds on :mod:`verifier`, which computes the signed bytes; this package adds private keys.
"""

from ._institutions import INSTITUTIONS, Institution
from ._keys import Ed25519KeyPair
from ._signing import (
    STATUS_LIST_SIZE,
    STATUS_PURPOSES,
    new_coverage_credential,
    new_status_list_credential,
    random_status_index,
    sign_document,
)

__all__ = [
    "INSTITUTIONS",
    "STATUS_LIST_SIZE",
    "STATUS_PURPOSES",
    "Ed25519KeyPair",
    "Institution",
    "new_coverage_credential",
    "new_status_list_credential",
    "random_status_index",
    "sign_document",
]
