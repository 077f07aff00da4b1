"""Multibase (base58btc ``z``, base64url ``u``) and Multikey encodings for Ed25519 keys."""

from __future__ import annotations

import base64
import re

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
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}
#: Two base58 digits at a time (58**2 values), ten per chunk of a big integer.
_B58_PAIR_BASE = 58 * 58
_B58_PAIRS = [high + low for high in _B58_ALPHABET for low in _B58_ALPHABET]
_B58_PAIR_VALUE = {pair: value for value, pair in enumerate(_B58_PAIRS)}
_B58_CHUNK_PAIRS = 5
_B58_CHUNK = _B58_PAIR_BASE**_B58_CHUNK_PAIRS

#: Multicodec varint prefixes: ed25519-pub (0xed) and ed25519-priv (0x1300).
ED25519_PUB_PREFIX = b"\xed\x01"
ED25519_PRIV_PREFIX = b"\x80\x26"

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_MAX_B58_CHARS = 512  # far above any key or signature; bounds the quadratic decoder


def b58encode(data: bytes) -> str:
    """Encode bytes as base58btc (Bitcoin alphabet), without multibase prefix."""
    zeros = len(data) - len(data.lstrip(b"\0"))
    number = int.from_bytes(data, "big")
    chunks = []  # base 58**10, least significant first: few big-integer divisions
    while number:
        number, chunk = divmod(number, _B58_CHUNK)
        chunks.append(chunk)
    digits = []
    for chunk in reversed(chunks):
        pairs = []
        for _ in range(_B58_CHUNK_PAIRS):
            chunk, pair = divmod(chunk, _B58_PAIR_BASE)
            pairs.append(_B58_PAIRS[pair])
        digits.append("".join(reversed(pairs)))
    text = "1" * zeros + "".join(digits).lstrip("1")
    if len(text) <= _MAX_CACHED_CHARS:
        _remember(text, data)
    return text


def b58decode(text: str) -> bytes:
    """Decode base58btc text (no multibase prefix); raise ``ValueError`` on a bad character."""
    if len(text) > _MAX_B58_CHARS:
        raise ValueError("base58 text too long")
    known = _recent.get(text)
    if known is not None:
        return known
    data = _b58decode(text)
    if len(text) <= _MAX_CACHED_CHARS:
        _remember(text, data)
    return data


def _b58decode(text: str) -> bytes:
    padded = "1" * (len(text) % 2) + text  # a leading zero digit changes nothing
    number = 0
    try:
        for start in range(0, len(padded), 2):
            number = number * _B58_PAIR_BASE + _B58_PAIR_VALUE[padded[start : start + 2]]
    except KeyError:
        bad = next(char for char in text if char not in _B58_INDEX)
        raise ValueError(f"invalid base58 character {bad!r}") from None
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


#: Recent short conversions, text → bytes (both directions feed it: a card's proofValue is
#: encoded by the card decoder, then decoded by its canonical-form check and by the proof check).
#: ``bytes`` are immutable and each entry is an exact inverse pair; cleared when full.
_recent: dict[str, bytes] = {}
_MAX_RECENT = 256
_MAX_CACHED_CHARS = 100


def _remember(text: str, data: bytes) -> None:
    if len(_recent) >= _MAX_RECENT:
        _recent.clear()
    _recent[text] = data


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
