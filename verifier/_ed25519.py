"""Ed25519 signature verification: the one place the verifier calls a crypto library.

libsodium (PyNaCl's bindings) verifies in about half the time of OpenSSL through
``cryptography`` on the machines we measured (``make bench`` prints both), and its bindings
import in a few milliseconds. libsodium is strict: it refuses non-canonical signatures and
small-order keys and ``R`` points, which an honest signer never produces.
"""

from __future__ import annotations

from nacl.bindings import crypto_sign_open
from nacl.exceptions import CryptoError

__all__ = ["ed25519_verify"]

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64


def ed25519_verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key``."""
    if len(public_key) != PUBLIC_KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    try:
        crypto_sign_open(signature + message, public_key)
    except (CryptoError, ValueError, TypeError):
        return False
    return True
