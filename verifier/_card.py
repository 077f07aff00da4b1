"""Card form: the same signed credential as compact CBOR, carried as Base45 text in a QR.

``encode_card(credential) -> "SUS1:..."`` and ``decode_card(text) -> credential`` are exact
inverses for every credential the version-1 dictionary can express; anything else is refused
with :class:`CardEncodingError` naming the term. The format is specified in
``wallet_spec/card-codec.md``; the tables below are the normative dictionary.

Layout (version 1): the CBOR value is an array whose positions are the properties of a known
*shape*, in a fixed order; an absent property is CBOR ``undefined`` (trailing ones are dropped).
Each property has a typed value codec: an index into a table of known values, a packed form
(UUIDs as 16 bytes, dates as day numbers, CURP as one integer, names in a 37-symbol alphabet,
the proofValue as its 64 raw bytes...), and, where a value does not fit the packed form, the
value itself as a CBOR text string.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property, lru_cache
from typing import Any

import cbor2
import gmpy2

import schemas

from ._base45 import b45decode, b45encode
from ._contexts import CREDENTIALS_V2_URL
from ._errors import (
    CardEncodingError,
    CardFormatError,
    IndeterminateError,
    KeyFormatError,
    ReasonCode,
)
from ._identifiers import curp_check_digit, is_valid_curp
from ._multibase import b58decode, b58encode, decode_multikey, encode_multikey

__all__ = [
    "CARD_PREFIX",
    "CARD_VERSION",
    "MAX_CARD_TEXT",
    "card_text_bytes",
    "decode_card",
    "decode_card_bytes",
    "dictionary_tables",
    "encode_card",
    "encode_card_bytes",
    "is_card_text",
]

CARD_VERSION = 1
#: Card text starts with this prefix: "SUS" (Servicio Universal de Salud) and the version.
CARD_PREFIX = f"SUS{CARD_VERSION}:"
#: The most characters a QR code can hold in alphanumeric mode (version 40, level L).
MAX_CARD_TEXT = 4296
_PREFIX_PATTERN = re.compile(r"SUS([0-9]{1,6}):")
_UNDEFINED = cbor2.undefined

# -- the version-1 dictionary (append-only: a new entry needs a new version) -------------------

CONTEXTS: tuple[list[str], ...] = ([CREDENTIALS_V2_URL, schemas.CREDENCIAL_CONTEXT_URL],)
# One spelling per meaning: the order of `type` values does not change the signed RDF, so a
# second ordering in the table would give one signature two card forms.
CREDENTIAL_TYPES: tuple[list[str], ...] = (["VerifiableCredential", "HealthCoverageCredential"],)
ISSUERS = ("did:web:imss.gob.mx", "did:web:issste.gob.mx", "did:web:imssbienestar.gob.mx")
INSTITUTIONS = ("IMSS", "ISSSTE", "IMSS-BIENESTAR")
PROGRAMS = (
    "Régimen Obligatorio",
    "Régimen Voluntario",
    "Continuación Voluntaria",
    "Seguro de Salud para la Familia",
    "Seguro Facultativo",
    "Pensionado",
    "Trabajador en Activo",
    "Trabajador del Estado",
    "Pensionado del Estado",
    "Familiar Derechohabiente",
    "Servicios de Salud IMSS-Bienestar",
    "Atención a Población sin Seguridad",
    "Personas sin seguridad social",
)
RELATIONSHIPS = ("titular", "conyuge", "concubino", "hijo", "padre", "madre", "otro")
SCHEMA_REFS: tuple[dict[str, str], ...] = (
    {"id": schemas.HEALTH_COVERAGE_SCHEMA_URL, "type": "JsonSchema"},
)
COVERAGE_TYPES = ("HealthCoverage",)
STATUS_ENTRY_TYPES = ("BitstringStatusListEntry",)
STATUS_PURPOSES = ("revocation", "suspension")
PROOF_TYPES = ("DataIntegrityProof",)
CRYPTOSUITES = ("eddsa-rdfc-2022",)
PROOF_PURPOSES = ("assertionMethod",)

#: Name alphabet: a name made only of these is packed at about 5.2 bits per character.
NAME_ALPHABET = " ABCDEFGHIJKLMNOPQRSTUVWXYZÑÁÉÍÓÚÜ'-."
_NAME_INDEX = {char: i for i, char in enumerate(NAME_ALPHABET)}
_NAME_PAIR_BASE = len(NAME_ALPHABET) ** 2
_NAME_PAIRS = [high + low for high in NAME_ALPHABET for low in NAME_ALPHABET]
_NAME_PAIR_VALUE = {pair: value for value, pair in enumerate(_NAME_PAIRS)}
#: GMP's base-37 digits, read as the name alphabet's symbols.
_NAME_FROM_GMP = str.maketrans("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZa", NAME_ALPHABET)
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = "0123456789"
_CURP_RADICES: tuple[str | tuple[str, ...], ...] = (
    _LETTERS, _LETTERS, _LETTERS, _LETTERS,
    _DIGITS, _DIGITS, _DIGITS, _DIGITS, _DIGITS, _DIGITS,
    "HMX",
    ("AS", "BC", "BS", "CC", "CL", "CM", "CS", "CH", "DF", "DG", "GT", "GR", "HG", "JC", "MC",
     "MN", "MS", "NT", "NL", "OC", "PL", "QT", "QR", "SP", "SL", "SR", "TC", "TS", "TL", "VZ",
     "YN", "ZS", "NE"),
    "BCDFGHJKLMNPQRSTVWXYZ", "BCDFGHJKLMNPQRSTVWXYZ", "BCDFGHJKLMNPQRSTVWXYZ",
    _DIGITS + _LETTERS,
)  # fmt: skip
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_EPOCH_DATE = date(1970, 1, 1)
#: Below this a packed date-time is a day number; from it on, seconds since 1970.
_SECONDS_FLOOR = 1_000_000
#: Largest list number, index or key number a card carries (larger ones travel as text).
_MAX_UINT = 2**32 - 1
#: Largest packed name: about 184 characters (longer names travel as text).
_MAX_NAME_BYTES = 120
_MAX_DEPTH = 8
_MAX_CACHED_TERMS = 16  # parent terms per shape: a handful ("credential.credentialStatus[0]"...)


def _status_list_url(issuer: str, purpose: str, number: int) -> str:
    domain = issuer.removeprefix("did:web:").replace("%3A", ":")
    return f"https://{domain}/credencial/status/{purpose}/{number}"


# -- value codecs ----------------------------------------------------------------------------


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


def _refuse(term: str, why: str) -> CardEncodingError:
    return CardEncodingError(f"card form cannot express {term}: {why}")


def _malformed(term: str, why: str) -> CardFormatError:
    return CardFormatError(f"card field {term}: {why}")


class _Table(_Codec):
    """A value from a fixed table, as its index; optionally any other string as text."""

    def __init__(self, table: Sequence[Any], *, text_fallback: bool = False) -> None:
        self.table = tuple(table)
        self.text_fallback = text_fallback

    def encode(self, value: Any, ctx: _Ctx, term: str) -> Any:
        for index, known in enumerate(self.table):
            if value == known and type(value) is type(known):
                return index
        if self.text_fallback and isinstance(value, str):
            return value
        raise _refuse(term, f"{value!r} is not in the version-{CARD_VERSION} dictionary")

    def decode(self, value: Any, ctx: _Ctx, term: str) -> Any:
        if type(value) is int and 0 <= value < len(self.table):
            known = self.table[value]
            return (
                list(known)
                if isinstance(known, list)
                else dict(known)
                if isinstance(known, dict)
                else known
            )
        if self.text_fallback and isinstance(value, str):
            return value
        raise _malformed(term, "unknown dictionary entry")


class _Packed(_Codec):
    """A string packed by ``pack`` (``None`` if it does not fit), else kept as text.

    ``repacks(item, text)``, given an item that unpacked to ``text``, returns ``True`` only if
    ``pack(text) == item`` (it may say ``False`` when unsure: the text is then packed again).
    Each is proved beside its codec and tested against ``pack`` in tests/verifier/test_card.py.
    """

    def __init__(
        self,
        pack: Callable[[str, _Ctx], Any | None],
        unpack: Callable[[Any, _Ctx], str | None],
        *,
        text_fallback: bool = True,
        repacks: Callable[[Any, str], bool] | None = None,
    ) -> None:
        self.pack, self.unpack, self.text_fallback = pack, unpack, text_fallback
        self.repacks = repacks

    def encode(self, value: Any, ctx: _Ctx, term: str) -> Any:
        if not isinstance(value, str):
            raise _refuse(term, f"expected a string, got {type(value).__name__}")
        if ctx.repacked is not None:
            known = ctx.repacked.get((self, value))
            if known is not None:  # what self.pack(value, ctx) returns (see _Ctx.repacked)
                return known
        packed = self.pack(value, ctx)
        if packed is not None:
            if ctx.check_exact:
                try:
                    exact = self.unpack(packed, ctx) == value  # checked, never assumed
                except (ValueError, TypeError, IndexError, OverflowError):
                    exact = False
                if not exact:
                    raise _refuse(term, f"{value!r} does not survive packing")
                if ctx.unpacked is not None:
                    ctx.unpacked[(self, type(packed), packed)] = value
            return packed
        if self.text_fallback:
            return value
        raise _refuse(term, f"{value!r} has no packed form")

    def decode(self, value: Any, ctx: _Ctx, term: str) -> Any:
        if isinstance(value, str):
            if self.text_fallback:
                return value
            raise _malformed(term, "text where a packed value is required")
        unpacked = (
            ctx.unpacked.get((self, type(value), value))
            if ctx.unpacked is not None and type(value) in (int, bytes)
            else None
        )
        if unpacked is None:
            try:
                unpacked = self.unpack(value, ctx)
            except (ValueError, TypeError, IndexError, OverflowError) as exc:
                raise _malformed(term, str(exc)) from exc
        if unpacked is None:
            raise _malformed(term, "wrong type")
        if ctx.repacked is not None and self.repacks is not None and self.repacks(value, unpacked):
            ctx.repacked[(self, unpacked)] = value
        return unpacked


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


_TEXT = _Table((), text_fallback=True)


class _Shape(_Codec):
    """A JSON object with known properties, as a CBOR array in the shape's order."""

    def __init__(self, name: str, fields: Sequence[tuple[str, _Codec]]) -> None:
        self.name = name
        self.fields = tuple(fields)
        self.keys = frozenset(key for key, _ in fields)
        self._terms: dict[str, tuple[str, ...]] = {}

    def _field_terms(self, term: str) -> tuple[str, ...]:
        """``term.key`` for each field (for messages), formatted once per parent term."""
        terms = self._terms.get(term)
        if terms is None:
            terms = tuple(f"{term}.{key}" for key, _ in self.fields)
            if len(self._terms) < _MAX_CACHED_TERMS:
                self._terms[term] = terms
        return terms

    def encode(self, value: Any, ctx: _Ctx, term: str) -> Any:
        if not isinstance(value, Mapping):
            raise _refuse(term, f"{self.name} must be an object")
        if not value.keys() <= self.keys:
            unknown = sorted(set(value) - self.keys)
            raise _refuse(f"{term}.{unknown[0]}", "the term is not in the card dictionary")
        items = [
            codec.encode(value[key], ctx, child) if key in value else _UNDEFINED
            for (key, codec), child in zip(self.fields, self._field_terms(term), strict=True)
        ]
        while items and items[-1] is _UNDEFINED:
            items.pop()
        return items

    def decode(self, value: Any, ctx: _Ctx, term: str) -> Any:
        if not isinstance(value, list) or len(value) > len(self.fields):
            raise _malformed(term, f"{self.name} must be an array of at most {len(self.fields)}")
        result: dict[str, Any] = {}
        for (key, codec), child, item in zip(
            self.fields, self._field_terms(term), value, strict=False
        ):
            if item is not _UNDEFINED:
                result[key] = codec.decode(item, ctx, child)
        if not result:
            raise _malformed(term, f"empty {self.name}")
        return result


_STATUS_ENTRY = _Shape(
    "status entry",
    [
        ("type", _Table(STATUS_ENTRY_TYPES)),
        ("statusPurpose", _Table(STATUS_PURPOSES)),
        ("statusListIndex", _Packed(_pack_index, _unpack_index, repacks=_repacks_always)),
        (
            "statusListCredential",
            _Packed(_pack_status_url, _unpack_status_url, repacks=_repacks_always),
        ),
        ("id", _TEXT),
    ],
)


class _StatusEntries(_Codec):
    """``credentialStatus``: ``[list, index]`` when both entries follow the issuer's template
    (same list number and index, one list per purpose), else an array of entry shapes."""

    def _template(self, ctx: _Ctx, number: int, index: int) -> list[dict[str, str]]:
        assert ctx.issuer is not None
        return [
            {
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose,
                "statusListIndex": str(index),
                "statusListCredential": _status_list_url(ctx.issuer, purpose, number),
            }
            for purpose in STATUS_PURPOSES
        ]

    def encode(self, value: Any, ctx: _Ctx, term: str) -> Any:
        entries = value if isinstance(value, list) else [value]
        first = entries[0] if entries and isinstance(entries[0], Mapping) else {}
        url, index = first.get("statusListCredential"), first.get("statusListIndex")
        if ctx.issuer is not None and isinstance(url, str) and isinstance(index, str):
            number = _pack_index(url.rsplit("/", 1)[-1], ctx)
            packed_index = _pack_index(index, ctx)
            if (
                number is not None
                and packed_index is not None
                and self._template(ctx, number, packed_index) == value
            ):
                return [number, packed_index]
        if not isinstance(value, list):
            raise _refuse(term, "a single status entry must be written as a list")
        return [_STATUS_ENTRY.encode(entry, ctx, f"{term}[{i}]") for i, entry in enumerate(value)]

    def decode(self, value: Any, ctx: _Ctx, term: str) -> Any:
        if not isinstance(value, list):
            raise _malformed(term, "must be an array")
        if len(value) == 2 and all(type(v) is int for v in value):
            if not all(_is_small_uint(v) for v in value):
                raise _malformed(term, "status list number or index out of range")
            if ctx.issuer is None:
                raise _malformed(term, "a packed status needs the issuer")
            return self._template(ctx, value[0], value[1])
        if not 0 < len(value) <= 4:
            raise _malformed(term, "wrong number of status entries")
        return [_STATUS_ENTRY.decode(entry, ctx, f"{term}[{i}]") for i, entry in enumerate(value)]


_COVERAGE = _Shape(
    "coverage",
    [
        ("institution", _Table(INSTITUTIONS)),
        ("program", _Table(PROGRAMS, text_fallback=True)),
        ("affiliationNumber", _Packed(_pack_digits, _unpack_digits, repacks=_repacks_digits)),
        ("beneficiaryRelationship", _Table(RELATIONSHIPS)),
        ("adscriptionUnit", _Packed(_pack_clues, _unpack_clues, repacks=_repacks_unpadded)),
        ("type", _Table(COVERAGE_TYPES)),
    ],
)


def _birth_date_from_curp(curp: Any) -> str | None:
    """The birth date a valid CURP spells: YYMMDD, century from the homoclave (digit: 1900s)."""
    if not isinstance(curp, str) or not is_valid_curp(curp):
        return None
    century = "19" if curp[16].isdigit() else "20"
    try:
        return date.fromisoformat(f"{century}{curp[4:6]}-{curp[6:8]}-{curp[8:10]}").isoformat()
    except ValueError:
        return None


class _SubjectShape(_Shape):
    """``credentialSubject``: a ``birthDate`` equal to the CURP's date is CBOR ``null``."""

    def encode(self, value: Any, ctx: _Ctx, term: str) -> Any:
        items: list[Any] = super().encode(value, ctx, term)
        position = self._birth_date_position
        derived = _birth_date_from_curp(value.get("curp"))
        if derived is not None and value.get("birthDate") == derived and len(items) > position:
            items[position] = None
        return items

    def decode(self, value: Any, ctx: _Ctx, term: str) -> Any:
        position = self._birth_date_position
        if isinstance(value, list) and len(value) > position and value[position] is None:
            result: dict[str, Any] = super().decode(
                [*value[:position], _UNDEFINED, *value[position + 1 :]], ctx, term
            )
            derived = _birth_date_from_curp(result.get("curp"))
            if derived is None:
                raise _malformed(f"{term}.birthDate", "no CURP to take the birth date from")
            result["birthDate"] = derived
            return {key: result[key] for key, _ in self.fields if key in result}
        return super().decode(value, ctx, term)

    @cached_property
    def _birth_date_position(self) -> int:
        return next(i for i, (name, _) in enumerate(self.fields) if name == "birthDate")


_NAME = _Packed(_pack_name, _unpack_name, repacks=_repacks_unpadded)
_SUBJECT = _SubjectShape(
    "credentialSubject",
    [
        ("curp", _Packed(_pack_curp, _unpack_curp, repacks=_repacks_curp)),
        ("givenName", _NAME),
        ("familyName", _NAME),
        ("secondFamilyName", _NAME),
        ("birthDate", _Packed(_pack_date, _unpack_date, repacks=_repacks_always)),
        ("coverage", _COVERAGE),
        ("id", _Packed(_pack_did_key, _unpack_did_key, repacks=_repacks_always)),
    ],
)
_DATETIME = _Packed(_pack_datetime, _unpack_datetime, repacks=_repacks_datetime)
_PROOF = _Shape(
    "proof",
    [
        ("type", _Table(PROOF_TYPES)),
        ("cryptosuite", _Table(CRYPTOSUITES)),
        ("created", _DATETIME),
        (
            "verificationMethod",
            _Packed(
                _pack_verification_method, _unpack_verification_method, repacks=_repacks_key_number
            ),
        ),
        ("proofPurpose", _Table(PROOF_PURPOSES)),
        (
            "proofValue",
            _Packed(
                _pack_proof_value, _unpack_proof_value, text_fallback=False, repacks=_repacks_always
            ),
        ),
    ],
)
_CREDENTIAL = _Shape(
    "credential",
    [
        ("@context", _Table(CONTEXTS)),
        ("id", _Packed(_pack_uuid, _unpack_uuid, repacks=_repacks_always)),
        ("type", _Table(CREDENTIAL_TYPES)),
        ("issuer", _Table(ISSUERS, text_fallback=True)),
        ("validFrom", _DATETIME),
        ("validUntil", _DATETIME),
        ("credentialSubject", _SUBJECT),
        ("credentialStatus", _StatusEntries()),
        ("credentialSchema", _Table(SCHEMA_REFS)),
        ("proof", _PROOF),
    ],
)
_ISSUER_POSITION = 3


# -- public functions ------------------------------------------------------------------------


def _to_cbor(
    credential: Mapping[str, Any],
    *,
    check_exact: bool = True,
    repacked: dict[tuple[_Codec, str], Any] | None = None,
    unpacked: dict[tuple[_Codec, type, Any], str] | None = None,
) -> bytes:
    issuer = credential.get("issuer")
    ctx = _Ctx(issuer if isinstance(issuer, str) else None, check_exact, repacked, unpacked)
    return cbor2.dumps(_CREDENTIAL.encode(credential, ctx, "credential"))


def encode_card_bytes(credential: Mapping[str, Any]) -> bytes:
    """The CBOR bytes of the card form; raises :class:`CardEncodingError` naming the term."""
    from ._cardfast import encode_issuer_card  # (it imports this module)

    fast = encode_issuer_card(credential)  # the issuer's layout, read back exactly
    if fast is not None:
        return fast
    unpacked: dict[tuple[_Codec, type, Any], str] = {}
    encoded = _to_cbor(credential, unpacked=unpacked)
    try:
        # The decoding's canonical-form check re-encodes what it decoded. When that equals
        # ``credential`` and both are plain JSON (dicts, lists and strings only: equal values of
        # the same types, so the encoder takes the same branches), its encoding is ``encoded``:
        # the equality below implies the check, which is then skipped.
        decoded = _decode_card_bytes(
            encoded, unpacked=unpacked, check_canonical=not _is_plain_json(credential)
        )
        exact = decoded == credential
    except CardFormatError as exc:
        raise _refuse("credential", f"its card form does not decode: {exc.message}") from exc
    if not exact:  # belt and braces: an exact round trip or nothing
        raise _refuse("credential", "the card form does not reproduce it exactly")
    return encoded


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


def encode_card(credential: Mapping[str, Any]) -> str:
    """The card text (``SUS1:`` + Base45 of the CBOR), all in the QR alphanumeric alphabet."""
    text = CARD_PREFIX + b45encode(encode_card_bytes(credential))
    if len(text) > MAX_CARD_TEXT:
        raise _refuse("credential", f"its card text of {len(text)} characters fits no QR code")
    return text


def decode_card_bytes(data: bytes) -> dict[str, Any]:
    """The credential from the card's CBOR bytes; raises :class:`CardFormatError`.

    Only the canonical encoding is accepted (re-encoding gives the same bytes), so one
    credential has exactly one card form.
    """
    return _decode_card_bytes(data)


def _decode_card_bytes(
    data: bytes,
    *,
    reuse_packed: bool = True,
    unpacked: dict[tuple[_Codec, type, Any], str] | None = None,
    check_canonical: bool = True,
) -> dict[str, Any]:
    """:func:`decode_card_bytes`; ``reuse_packed=False`` packs every value again in the
    canonical-form check (the reference the tests compare the cached path with); ``unpacked``:
    what the encoding of ``data`` already unpacked (see :class:`_Ctx`); ``check_canonical``:
    False only for :func:`encode_card_bytes`'s own round trip (see there)."""
    repacked: dict[tuple[_Codec, str], Any] | None = {} if reuse_packed else None
    try:
        value = cbor2.loads(
            data, max_depth=_MAX_DEPTH, allow_indefinite=False, allow_duplicate_keys=False
        )
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise CardFormatError(f"card bytes are not valid CBOR: {exc}") from None
    if not isinstance(value, list) or len(value) <= _ISSUER_POSITION:
        raise CardFormatError("card bytes do not hold a credential")
    raw_issuer = value[_ISSUER_POSITION]
    issuer_codec = _CREDENTIAL.fields[_ISSUER_POSITION][1]
    issuer = (
        None if raw_issuer is _UNDEFINED else issuer_codec.decode(raw_issuer, _Ctx(None), "issuer")
    )
    credential: dict[str, Any] = _CREDENTIAL.decode(
        value, _Ctx(issuer, repacked=repacked, unpacked=unpacked), "credential"
    )
    if not check_canonical:
        return credential
    try:
        canonical = _to_cbor(credential, check_exact=False, repacked=repacked) == data
    except CardEncodingError:
        canonical = False
    if not canonical:
        raise CardFormatError("card bytes are not the canonical encoding of a credential")
    return credential


def is_card_text(text: str) -> bool:
    """Whether ``text`` looks like card text of any version (``SUS<n>:``)."""
    return _PREFIX_PATTERN.match(text.strip()) is not None


def decode_card(text: str) -> dict[str, Any]:
    """The credential from card text; raises :class:`CardFormatError`, or
    :class:`IndeterminateError` for a card of a newer version than this verifier knows."""
    return decode_card_bytes(card_text_bytes(text))


def card_text_bytes(text: str) -> bytes:
    """The CBOR bytes card text carries (prefix and version checked, Base45 decoded)."""
    if len(text) > MAX_CARD_TEXT + 16:
        raise CardFormatError(f"card text of {len(text)} characters is longer than any QR")
    text = text.strip()
    match = _PREFIX_PATTERN.match(text)
    if match is None:
        raise CardFormatError(f"card text must start with {CARD_PREFIX}")
    version = int(match[1])
    if match[1] != str(version) or version < CARD_VERSION:
        raise CardFormatError(f"card version {match[1]!r} is not a valid version number")
    if version > CARD_VERSION:
        raise IndeterminateError(
            f"card format version {int(match[1])} is not known to this verifier "
            f"(it reads version {CARD_VERSION})",
            code=ReasonCode.CARD_VERSION_UNSUPPORTED,
        )
    try:
        return b45decode(text[match.end() :])
    except ValueError as exc:
        raise CardFormatError(f"card text is not Base45: {exc}") from None


def dictionary_tables() -> dict[str, tuple[Any, ...]]:
    """The version-1 value tables, by name (for the specification and its test)."""
    return {
        "@context": CONTEXTS,
        "type": CREDENTIAL_TYPES,
        "issuer": ISSUERS,
        "coverage.institution": INSTITUTIONS,
        "coverage.program": PROGRAMS,
        "coverage.beneficiaryRelationship": RELATIONSHIPS,
        "coverage.type": COVERAGE_TYPES,
        "credentialSchema": SCHEMA_REFS,
        "credentialStatus[].type": STATUS_ENTRY_TYPES,
        "credentialStatus[].statusPurpose": STATUS_PURPOSES,
        "proof.type": PROOF_TYPES,
        "proof.cryptosuite": CRYPTOSUITES,
        "proof.proofPurpose": PROOF_PURPOSES,
    }
