"""The signed trust bundle: canonical signed bytes and k-of-n anchor signature checks.

See ``docs/adr/0004-trust-bundle.md`` for the format.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ._errors import KeyFormatError
from ._multibase import b58encode, decode_multibase, decode_multikey

__all__ = [
    "BUNDLE_SIGNING_PREFIX",
    "AnchorKey",
    "AnchorSet",
    "bundle_signing_bytes",
    "encode_bundle_signature",
    "valid_signers",
]

#: Domain separation: a bundle signature is never valid for any other message.
BUNDLE_SIGNING_PREFIX = b"credencial-trust-bundle-v1\n"


def bundle_signing_bytes(signed: Mapping[str, Any]) -> bytes:
    """The bytes anchor keys sign: the prefix, then the canonical JSON of ``signed``."""
    body = json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return BUNDLE_SIGNING_PREFIX + body.encode("utf-8")


def encode_bundle_signature(keyid: str, signature: bytes) -> dict[str, str]:
    """A ``signatures`` entry."""
    return {"keyid": keyid, "sig": "z" + b58encode(signature)}


@dataclass(frozen=True, slots=True)
class AnchorKey:
    """One national trust-anchor key."""

    id: str
    public_key: bytes


@dataclass(frozen=True, slots=True)
class AnchorSet:
    """The anchor keys and how many of them must sign."""

    keys: tuple[AnchorKey, ...]
    threshold: int

    @classmethod
    def from_json(cls, anchor: Mapping[str, Any]) -> AnchorSet:
        """From a bundle's ``anchor`` object."""
        if not isinstance(anchor, Mapping):
            raise KeyFormatError("anchor must be an object")
        threshold, keys = anchor.get("threshold"), anchor.get("keys")
        if type(threshold) is not int or threshold < 1 or not isinstance(keys, list):
            raise KeyFormatError("anchor needs a positive integer threshold and a keys list")
        parsed = []
        for entry in keys:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
                raise KeyFormatError("each anchor key needs an id")
            parsed.append(
                AnchorKey(entry["id"], decode_multikey(entry.get("publicKeyMultibase", "")))
            )
        if len({key.id for key in parsed}) != len(parsed):
            raise KeyFormatError("an anchor key id is listed twice")
        if threshold > len({key.public_key for key in parsed}):
            raise KeyFormatError("the threshold is larger than the number of distinct anchor keys")
        return cls(tuple(parsed), threshold)


def valid_signers(
    signed: Mapping[str, Any], signatures: Iterable[Any], anchors: AnchorSet
) -> frozenset[bytes]:
    """The distinct anchor *public keys* with a valid signature over ``signed``.

    Counting public keys, not entries or key ids, makes a duplicated signature, or one key listed
    under two ids, count once.
    """
    message = bundle_signing_bytes(signed)
    by_id = {key.id: key for key in anchors.keys}
    good: set[bytes] = set()
    for entry in signatures:
        if not isinstance(entry, Mapping):
            continue
        key = by_id.get(entry.get("keyid"))  # type: ignore[arg-type]
        sig = entry.get("sig")
        if key is None or not isinstance(sig, str):
            continue
        try:
            raw = decode_multibase(sig)
            Ed25519PublicKey.from_public_bytes(key.public_key).verify(raw, message)
        except (ValueError, InvalidSignature):
            continue
        good.add(key.public_key)
    return frozenset(good)
