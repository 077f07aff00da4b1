"""Base45 (RFC 9285): bytes as text in the QR alphanumeric alphabet."""

from __future__ import annotations

__all__ = ["b45decode", "b45encode"]

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {char: value for value, char in enumerate(_ALPHABET)}


def b45encode(data: bytes) -> str:
    """Encode bytes as Base45 text."""
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        out.append(_ALPHABET[c] + _ALPHABET[d] + _ALPHABET[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out.append(_ALPHABET[c] + _ALPHABET[d])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Decode Base45 text; raise ``ValueError`` on a bad character, length or value."""
    if len(text) % 3 == 1:
        raise ValueError("Base45 text length cannot be 1 modulo 3")
    try:
        values = [_VALUE[char] for char in text]
    except KeyError as exc:
        raise ValueError(f"invalid Base45 character {exc.args[0]!r}") from None
    out = bytearray()
    for i in range(0, len(values), 3):
        chunk = values[i : i + 3]
        if len(chunk) == 3:
            n = chunk[0] + chunk[1] * 45 + chunk[2] * 45 * 45
            if n > 0xFFFF:
                raise ValueError("Base45 triplet out of range")
            out += n.to_bytes(2, "big")
        else:
            n = chunk[0] + chunk[1] * 45
            if n > 0xFF:
                raise ValueError("Base45 pair out of range")
            out.append(n)
    return bytes(out)
