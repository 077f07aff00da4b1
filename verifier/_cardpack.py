"""The card form's value packers: each value kind's packed form, both ways.

``_pack_<kind>(text, ctx)`` gives the CBOR item a value is packed as (UUIDs as 16 bytes, dates
as day numbers, CURP as one integer, names in a 37-symbol alphabet, the proofValue as its 64 raw
bytes...) or ``None`` when the value has no packed form; ``_unpack_<kind>(item, ctx)`` gives the
text back. ``_repacks_<kind>`` says when an unpacked item is surely what ``pack`` writes again.
Beside them: :class:`_Ctx` (what a value codec is given) and :class:`_Codec` (what one is).

The generic table-driven codec (:mod:`verifier._card`) wraps them in its value codecs; the
issuer-layout reader (:mod:`verifier._cardfast`) calls them directly. This module imports
neither: only the dictionary (:mod:`verifier._cardtables`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

import gmpy2

from ._cardtables import (
    _CURP_RADICES,
    _LETTERS,
    _MAX_NAME_BYTES,
    _MAX_UINT,
    _SECONDS_FLOOR,
    NAME_ALPHABET,
    STATUS_PURPOSES,
    _status_list_url,
)
from ._errors import KeyFormatError
from ._identifiers import curp_check_digit, is_valid_curp
from ._multibase import b58decode, b58encode, decode_multikey, encode_multikey

_NAME_INDEX = {char: i for i, char in enumerate(NAME_ALPHABET)}
_NAME_PAIR_BASE = len(NAME_ALPHABET) ** 2
_NAME_PAIRS = [high + low for high in NAME_ALPHABET for low in NAME_ALPHABET]
_NAME_PAIR_VALUE = {pair: value for value, pair in enumerate(_NAME_PAIRS)}
#: GMP's base-37 digits, read as the name alphabet's symbols.
_NAME_FROM_GMP = str.maketrans("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZa", NAME_ALPHABET)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_EPOCH_DATE = date(1970, 1, 1)


# -- what a value codec is given, and what it is ---------------------------------------------


@dataclass(frozen=True)
class _Ctx:
    """What value codecs may know about the credential: its issuer (for key and list URLs).

    ``check_exact``: whether encoding re-unpacks each packed value to prove it exact. The
    canonical-form check of a decoded card skips it: there each value came from unpacking the
    card's own item, so an equal re-encoding is exact by construction, and an unequal one is
    refused by the byte comparison anyway.

    ``repacked``: filled by decoding, read by the canonical-form re-encoding: ``(codec, text)
    -> item`` for each packed item whose codec proves ``pack(text) == item`` (its ``repacks``),
    so the re-encoding takes the item instead of packing the text again. It is a cache of
    ``pack``: the re-encoded bytes, hence what is accepted and refused, are the same.

    ``unpacked``: filled by an encoding that checks exactness, read by the decoding of its own
    bytes that follows: ``(codec, type, item) -> text`` for each item that was unpacked to prove
    it exact. A cache of ``unpack`` (for the same issuer), so the decoding is unchanged.
    """

    issuer: str | None
    check_exact: bool = True
    repacked: dict[tuple[_Codec, str], Any] | None = None
    unpacked: dict[tuple[_Codec, type, Any], str] | None = None


class _Codec:
    """Encodes one JSON value to a CBOR-ready value and back."""

    def encode(self, value: Any, ctx: _Ctx, term: str) -> Any:
        raise NotImplementedError

    def decode(self, value: Any, ctx: _Ctx, term: str) -> Any:
        raise NotImplementedError


# -- packers: ``pack(text, ctx)`` gives the item or ``None``, ``unpack(item, ctx)`` the text ---


def _int_to_bytes(number: int) -> bytes:
    return number.to_bytes(max(1, (number.bit_length() + 7) // 8), "big")


def _bytes_to_int(value: Any, max_len: int) -> int:
    if not isinstance(value, bytes) or not 0 < len(value) <= max_len:
        raise ValueError("wrong packed length")
    return int.from_bytes(value, "big")


_CANONICAL_UUID_URN = re.compile(r"urn:uuid:[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}")


def _pack_uuid(value: str, ctx: _Ctx) -> bytes | None:
    if not value.startswith("urn:uuid:"):
        return None
    if _CANONICAL_UUID_URN.fullmatch(value):  # the usual spelling, without the UUID class
        return bytes.fromhex(value[9:].replace("-", ""))
    try:
        return uuid.UUID(value.removeprefix("urn:uuid:")).bytes
    except ValueError:
        return None


def _unpack_uuid(value: Any, ctx: _Ctx) -> str | None:
    if not isinstance(value, bytes) or len(value) != 16:
        return None
    digits = value.hex()  # str(uuid.UUID(bytes=value)), spelled out
    return f"urn:uuid:{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


_CANONICAL_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z"
)


def _pack_datetime(value: str, ctx: _Ctx) -> int | None:
    try:
        fields = _CANONICAL_DATETIME.fullmatch(value)
        if fields is not None:  # the usual spelling, without strptime's cost
            year, month, day, hour, minute, second = map(int, fields.groups())
            moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        else:  # whatever else strptime reads (refused later as not exact)
            moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    seconds = int((moment - _EPOCH).total_seconds())
    if seconds < 0:
        return None
    if seconds % 86400 == 0 and seconds // 86400 < _SECONDS_FLOOR:
        return seconds // 86400
    return seconds if seconds >= _SECONDS_FLOOR else None


def _unpack_datetime(value: Any, ctx: _Ctx) -> str | None:
    if type(value) is not int or value < 0 or value > 253_402_300_799:  # 9999-12-31T23:59:59Z
        return None
    if value < _SECONDS_FLOOR:
        return _day_text(value) + "T00:00:00Z"
    days, seconds = divmod(value, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{_day_text(days)}T{hours:02d}:{minutes:02d}:{seconds:02d}Z"


@lru_cache(maxsize=1024)  # a card's three stamps, and many cards', fall on few days
def _day_text(days: int) -> str:
    """``YYYY-MM-DD`` of a day number since 1970 (what strftime spells for years 1970-9999)."""
    return (_EPOCH_DATE + timedelta(days=days)).isoformat()


def _pack_date(value: str, ctx: _Ctx) -> int | None:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return (day - _EPOCH_DATE).days


def _unpack_date(value: Any, ctx: _Ctx) -> str | None:
    if type(value) is not int:
        return None
    return (_EPOCH_DATE + timedelta(days=value)).isoformat()


def _curp_symbols(curp: str) -> list[str] | None:
    if len(curp) != 18:
        return None
    return [*curp[:11], curp[11:13], *curp[13:17]]


def _pack_curp(value: str, ctx: _Ctx) -> int | None:
    symbols = _curp_symbols(value)
    if symbols is None or not is_valid_curp(value):
        return None
    number = 0
    for symbol, radix in zip(symbols, _CURP_RADICES, strict=True):
        if symbol not in radix:
            return None
        number = number * len(radix) + radix.index(symbol)
    return number


# The same radices read in groups (letters two at a time, the consonants three at a time).
_LETTER_PAIRS = [first + second for first in _LETTERS for second in _LETTERS]
_CURP_SEX, _CURP_STATES, _CURP_CONSONANTS = _CURP_RADICES[10], _CURP_RADICES[11], _CURP_RADICES[12]
_CURP_HOMOCLAVE = _CURP_RADICES[15]
_CONSONANT_TRIPLES = [
    a + b + c for a in _CURP_CONSONANTS for b in _CURP_CONSONANTS for c in _CURP_CONSONANTS
]


def _unpack_curp(value: Any, ctx: _Ctx) -> str | None:
    if type(value) is not int or value < 0:
        return None
    value, homoclave = divmod(value, len(_CURP_HOMOCLAVE))
    value, consonants = divmod(value, len(_CONSONANT_TRIPLES))
    value, state = divmod(value, len(_CURP_STATES))
    value, sex = divmod(value, len(_CURP_SEX))
    value, digits = divmod(value, 1_000_000)
    high, low = divmod(value, len(_LETTER_PAIRS))
    if high >= len(_LETTER_PAIRS):
        raise ValueError("CURP number out of range")
    body = (
        f"{_LETTER_PAIRS[high]}{_LETTER_PAIRS[low]}{digits:06d}{_CURP_SEX[sex]}"
        f"{_CURP_STATES[state]}{_CONSONANT_TRIPLES[consonants]}{_CURP_HOMOCLAVE[homoclave]}"
    )
    return body + curp_check_digit(body)


def _pack_name(value: str, ctx: _Ctx) -> bytes | None:
    if not value:
        return None
    # A leading symbol of value 1 keeps leading "zero" symbols (spaces); then two symbols at a
    # time (one multiplication per pair: the same number as one symbol at a time).
    padded = (
        NAME_ALPHABET[1] + value if len(value) % 2 else NAME_ALPHABET[0] + NAME_ALPHABET[1] + value
    )
    number = 0
    try:
        for start in range(0, len(padded), 2):
            number = number * _NAME_PAIR_BASE + _NAME_PAIR_VALUE[padded[start : start + 2]]
    except KeyError:
        return None
    packed = _int_to_bytes(number)
    return packed if len(packed) <= _MAX_NAME_BYTES else None


def _unpack_name(value: Any, ctx: _Ctx) -> str | None:
    number = _bytes_to_int(value, _MAX_NAME_BYTES)
    digits: str = gmpy2.digits(number, len(NAME_ALPHABET))
    symbols = digits.translate(_NAME_FROM_GMP)
    if len(symbols) < 2 or symbols[0] != NAME_ALPHABET[1]:  # the leading 1, then the name
        raise ValueError("bad packed name")
    return symbols[1:]


def _pack_digits(value: str, ctx: _Ctx) -> bytes | None:
    if not value.isascii() or not value.isdigit() or len(value) > 30:
        return None
    return _int_to_bytes(int("1" + value))


def _unpack_digits(value: Any, ctx: _Ctx) -> str | None:
    text = str(_bytes_to_int(value, 13))
    if not text.startswith("1") or len(text) < 2:
        raise ValueError("bad packed digits")
    return text[1:]


def _pack_clues(value: str, ctx: _Ctx) -> bytes | None:
    if re.fullmatch(r"[A-Z]{5}[0-9]{6}", value) is None:
        return None
    number = 0
    for char in value[:5]:
        number = number * 26 + _LETTERS.index(char)
    return _int_to_bytes(number * 1_000_000 + int(value[5:]))


#: GMP's base-26 digits (lower case up to base 36), read as letters.
_LETTERS_FROM_GMP = str.maketrans("0123456789abcdefghijklmnop", _LETTERS)


def _unpack_clues(value: Any, ctx: _Ctx) -> str | None:
    letters_number, digits = divmod(_bytes_to_int(value, 6), 1_000_000)
    if letters_number >= 26**5:
        raise ValueError("CLUES number out of range")
    base26: str = gmpy2.digits(letters_number, 26)
    letters = base26.rjust(5, "0").translate(_LETTERS_FROM_GMP)
    return f"{letters}{digits:06d}"


def _pack_did_key(value: str, ctx: _Ctx) -> bytes | None:
    if not value.startswith("did:key:") or "#" in value:
        return None
    try:
        return decode_multikey(value.removeprefix("did:key:"))
    except KeyFormatError:
        return None


def _unpack_did_key(value: Any, ctx: _Ctx) -> str | None:
    if not isinstance(value, bytes) or len(value) != 32:
        return None
    return "did:key:" + encode_multikey(value)


def _pack_verification_method(value: str, ctx: _Ctx) -> int | None:
    prefix = f"{ctx.issuer}#key-"
    number = value.removeprefix(prefix)
    if ctx.issuer is None or not value.startswith(prefix) or not number.isdecimal():
        return None
    if not number.isascii() or (number.startswith("0") and number != "0") or len(number) > 9:
        return None
    return int(number)


def _unpack_verification_method(value: Any, ctx: _Ctx) -> str | None:
    if not _is_small_uint(value) or ctx.issuer is None:
        return None
    return f"{ctx.issuer}#key-{value}"


def _pack_proof_value(value: str, ctx: _Ctx) -> bytes | None:
    if not value.startswith("z"):
        return None
    try:
        raw = b58decode(value[1:])
    except ValueError:
        return None
    return raw if len(raw) == 64 else None


def _unpack_proof_value(value: Any, ctx: _Ctx) -> str | None:
    if not isinstance(value, bytes) or len(value) != 64:
        return None
    return "z" + b58encode(value)


def _pack_status_url(value: str, ctx: _Ctx) -> int | None:
    """The issuer's own list URLs (``.../credencial/status/<purpose>/<n>``) as ``2n + purpose``."""
    if ctx.issuer is None:
        return None
    for purpose_index, purpose in enumerate(STATUS_PURPOSES):
        prefix = _status_list_url(ctx.issuer, purpose, 0)[:-1]
        number = value.removeprefix(prefix)
        if value.startswith(prefix) and (packed := _pack_index(number, ctx)) is not None:
            combined = packed * len(STATUS_PURPOSES) + purpose_index
            return combined if combined <= _MAX_UINT else None
    return None


def _unpack_status_url(value: Any, ctx: _Ctx) -> str | None:
    if not _is_small_uint(value) or ctx.issuer is None:
        return None
    number, purpose_index = divmod(value, len(STATUS_PURPOSES))
    return _status_list_url(ctx.issuer, STATUS_PURPOSES[purpose_index], number)


def _is_small_uint(value: Any) -> bool:
    return type(value) is int and 0 <= value <= _MAX_UINT


def _pack_index(value: str, ctx: _Ctx) -> int | None:
    if not (value.isascii() and value.isdecimal()) or len(value) > 10 or value != str(int(value)):
        return None
    number = int(value)
    return number if number <= _MAX_UINT else None


def _unpack_index(value: Any, ctx: _Ctx) -> str | None:
    return str(value) if _is_small_uint(value) else None


# -- repacks: given an item that unpacked to ``text``, True only if ``pack(text) == item`` ----


def _repacks_always(item: Any, text: str) -> bool:
    """UUID, date, status list URL and index, proofValue, did:key: each ``unpack`` accepts only
    items its ``pack`` returns (16/64/32 raw bytes, a day number or a list number spelled the
    one way ``pack`` reads back, the purpose's own URL prefix), and ``pack`` inverts it."""
    return True


def _repacks_unpadded(item: bytes, text: str) -> bool:
    """Names, CLUES: the number is read back exactly; its bytes are ``item`` unless ``item`` has
    a leading zero byte (``_int_to_bytes`` writes none)."""
    return item[0] != 0


def _repacks_digits(item: bytes, text: str) -> bool:
    """Digits: as names, and ``pack`` takes at most 30 digits (13 bytes unpack to up to 31)."""
    return item[0] != 0 and len(text) <= 30


def _repacks_datetime(item: int, text: str) -> bool:
    """A day number repacks as itself; seconds do unless they are a whole day that a day number
    below the floor spells (``pack`` writes the day number then)."""
    return item < _SECONDS_FLOOR or item % 86400 != 0 or item // 86400 >= _SECONDS_FLOOR


def _repacks_curp(item: Any, text: str) -> bool:
    """CURP: the radix number is read back exactly, but ``pack`` also wants a real birth date."""
    return is_valid_curp(text)


def _repacks_key_number(item: int, text: str) -> bool:
    """Key numbers: ``pack`` takes at most 9 digits (``unpack`` gives up to 10)."""
    return item < 1_000_000_000


# -- what both encoders (the generic one and the issuer-layout one) derive or check ----------


def _birth_date_from_curp(curp: Any) -> str | None:
    """The birth date a valid CURP spells: YYMMDD, century from the homoclave (digit: 1900s)."""
    if not isinstance(curp, str) or not is_valid_curp(curp):
        return None
    century = "19" if curp[16].isdigit() else "20"
    try:
        return date.fromisoformat(f"{century}{curp[4:6]}-{curp[6:8]}-{curp[8:10]}").isoformat()
    except ValueError:
        return None


def _is_plain_json(value: Any) -> bool:
    """Whether ``value``'s values are only ``dict``, ``list`` and ``str`` (no subclasses; keys
    are only looked up, so their type does not change an encoding)."""
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is dict:
            pending += item.values()
        elif kind is list:
            pending += item
        elif kind is not str:
            return False
    return True
