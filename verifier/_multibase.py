"""Multibase (base58btc ``z``, base64url ``u``) and Multikey encodings for Ed25519 keys."""

from __future__ import annotations

import base64
import re

import gmpy2

from ._errors import KeyFormatError

__all__ = [
    "ED25519_PRIV_PREFIX",
    "ED25519_PUB_PREFIX",
    "b58decode",
    "b58encode",
    "decode_multibase",
    "decode_multikey",
    "encode_multikey",
]

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
#: The digits GMP writes and reads in base 58, and the translations to and from ours.
_GMP_BASE58 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
_FROM_GMP = str.maketrans(_GMP_BASE58, _B58_ALPHABET)
_TO_GMP = str.maketrans(_B58_ALPHABET, _GMP_BASE58)
_B58_TEXT = re.compile(r"[1-9A-HJ-NP-Za-km-z]*")

#: Multicodec varint prefixes: ed25519-pub (0xed) and ed25519-priv (0x1300).
ED25519_PUB_PREFIX = b"\xed\x01"
ED25519_PRIV_PREFIX = b"\x80\x26"

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_MAX_B58_CHARS = 512  # far above any key or signature


def b58encode(data: bytes) -> str:
    """Encode bytes as base58btc (Bitcoin alphabet), without multibase prefix."""
    body = data.lstrip(b"\0")
    zeros = "1" * (len(data) - len(body))
    if not body:
        return zeros
    digits: str = gmpy2.digits(int.from_bytes(body, "big"), 58)
    return zeros + digits.translate(_FROM_GMP)


def b58decode(text: str) -> bytes:
    """Decode base58btc text (no multibase prefix); raise ``ValueError`` on a bad character."""
    if len(text) > _MAX_B58_CHARS:
        raise ValueError("base58 text too long")
    if _B58_TEXT.fullmatch(text) is None:  # GMP alone would read "0", "O", "I", "l", signs...
        bad = next(char for char in text if _B58_TEXT.fullmatch(char) is None)
        raise ValueError(f"invalid base58 character {bad!r}")
    body = text.lstrip("1")
    zeros = b"\0" * (len(text) - len(body))
    if not body:
        return zeros
    number = int(gmpy2.mpz(body.translate(_TO_GMP), 58))
    return zeros + number.to_bytes((number.bit_length() + 7) // 8, "big")


def decode_multibase(text: str) -> bytes:
    """Decode a multibase string in base58btc (``z``) or base64url without padding (``u``)."""
    if not text:
        raise ValueError("empty multibase value")
    prefix, body = text[0], text[1:]
    if prefix == "z":
        return b58decode(body)
    if prefix == "u":
        if _BASE64URL.fullmatch(body) is None or len(body) % 4 == 1:
            raise ValueError("multibase base64url takes A-Z a-z 0-9 - _ only, unpadded")
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    raise ValueError(f"unsupported multibase prefix {prefix!r}")


def encode_multikey(raw: bytes, prefix: bytes = ED25519_PUB_PREFIX) -> str:
    """Encode a raw 32-byte Ed25519 key as a Multikey value (``z6Mk...`` for public keys)."""
    if len(raw) != 32:
        raise KeyFormatError(f"an Ed25519 key is 32 bytes, got {len(raw)}")
    return "z" + b58encode(prefix + raw)


def decode_multikey(value: str, prefix: bytes = ED25519_PUB_PREFIX) -> bytes:
    """Decode a Multikey value to its raw 32-byte Ed25519 key, checking the multicodec prefix."""
    if not isinstance(value, str) or not value.startswith("z"):
        raise KeyFormatError("a Multikey value is a base58btc multibase string starting with 'z'")
    try:
        data = b58decode(value[1:])
    except ValueError as exc:
        raise KeyFormatError(f"invalid Multikey value: {exc}") from exc
    if not data.startswith(prefix) or len(data) != len(prefix) + 32:
        raise KeyFormatError(
            f"not an Ed25519 Multikey (expected multicodec prefix {prefix.hex()} and 32 bytes)"
        )
    return data[len(prefix) :]
