"""``did:key`` for Ed25519 holders: the wallet's identifier is its public key.

A did:key DID is ``did:key:`` + the key's Multikey value (multicodec ``0xed01``, base58btc), so
``z6Mk...``; its one verification method is ``did:key:z6Mk...#z6Mk...``. Resolving it needs no
network: the public key is in the identifier.
"""

from __future__ import annotations

from ._errors import KeyFormatError
from ._multibase import decode_multikey, encode_multikey

__all__ = ["did_key_from_public_key", "did_key_verification_method", "public_key_from_did_key"]

_PREFIX = "did:key:"


def did_key_from_public_key(public_key: bytes) -> str:
    """The ``did:key`` DID of a 32-byte Ed25519 public key."""
    return _PREFIX + encode_multikey(public_key)


def did_key_verification_method(did: str) -> str:
    """The verification method id of an Ed25519 ``did:key`` DID (``did#fragment``)."""
    public_key_from_did_key(did)  # refuse anything that is not an Ed25519 did:key
    return f"{did}#{did[len(_PREFIX) :]}"


def public_key_from_did_key(did_or_verification_method: str) -> bytes:
    """The raw Ed25519 public key named by a did:key DID or its verification method.

    Raises :class:`KeyFormatError` for anything else, including a fragment that is not the key.
    """
    value = did_or_verification_method
    if not isinstance(value, str) or not value.startswith(_PREFIX):
        raise KeyFormatError(f"not a did:key identifier: {value!r:.80}")
    did, _, fragment = value.partition("#")
    multikey = did[len(_PREFIX) :]
    if fragment and fragment != multikey:
        raise KeyFormatError("a did:key verification method's fragment must repeat the key")
    return decode_multikey(multikey)
