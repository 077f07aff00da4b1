"""Base45 (RFC 9285): bytes as text in the QR alphanumeric alphabet."""

from __future__ import annotations

import sys
from array import array
from functools import cache

__all__ = ["b45decode", "b45encode"]

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_INVALID = 0xFF
#: ``bytes.translate`` table: an ASCII code to its Base45 value, 0xFF for the other characters.
_VALUE_TABLE = bytes(
    _ALPHABET.index(chr(code)) if chr(code) in _ALPHABET else _INVALID for code in range(256)
)


def b45encode(data: bytes) -> str:
    """Encode bytes as Base45 text."""
    whole = len(data) - len(data) % 2
    pairs = array("H", data[:whole])  # each two bytes, big-endian, as one 16-bit value
    if sys.byteorder == "little":
        pairs.byteswap()
    text = "".join(map(_triplet_table().__getitem__, pairs))
    if whole < len(data):
        d, c = divmod(data[-1], 45)
        text += _ALPHABET[c] + _ALPHABET[d]
    return text


@cache
def _triplet_table() -> tuple[str, ...]:
    """The three characters of each 16-bit value, least significant first (about 4 MB, built in
    ~15 ms on first use: only encoders need it)."""
    pairs = [low + middle for middle in _ALPHABET for low in _ALPHABET]  # n % 2025
    return tuple([pair + high for high in _ALPHABET[:33] for pair in pairs][:65536])


def _triplets_to_bytes(low: bytes, middle: bytes, high: bytes) -> bytes:
    """``low + 45 * middle + 2025 * high`` per triplet, as 2 big-endian bytes each.

    Done on whole integers, not per triplet: each value sits in a 32-bit little-endian slot of
    one big integer (the largest sum, 91,124, never carries into the next slot), so the loop runs
    in C. A slot above 0xFFFF is an invalid triplet.
    """
    count = len(low)
    slots = [bytearray(4 * count) for _ in range(3)]
    for slot, digits in zip(slots, (low, middle, high), strict=True):
        slot[0::4] = digits
    total = (
        int.from_bytes(slots[0], "little")
        + 45 * int.from_bytes(slots[1], "little")
        + 2025 * int.from_bytes(slots[2], "little")
    )
    sums = total.to_bytes(4 * count, "little")
    if any(sums[2::4]) or any(sums[3::4]):
        raise ValueError("Base45 triplet out of range")
    out = bytearray(2 * count)
    out[0::2] = sums[1::4]
    out[1::2] = sums[0::4]
    return bytes(out)


def b45decode(text: str) -> bytes:
    """Decode Base45 text; raise ``ValueError`` on a bad character, length or value."""
    if len(text) % 3 == 1:
        raise ValueError("Base45 text length cannot be 1 modulo 3")
    values = text.encode("ascii", "replace").translate(_VALUE_TABLE)  # "?" is not Base45
    if _INVALID in values:
        bad = next(char for char in text if char not in _ALPHABET)
        raise ValueError(f"invalid Base45 character {bad!r}")
    whole = len(values) - len(values) % 3
    out = _triplets_to_bytes(values[0:whole:3], values[1:whole:3], values[2:whole:3])
    if whole < len(values):
        n = values[whole] + values[whole + 1] * 45
        if n > 0xFF:
            raise ValueError("Base45 pair out of range")
        out += bytes((n,))
    return out
