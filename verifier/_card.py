"""Card form: the same signed credential as compact CBOR, carried as Base45 text in a QR.

``encode_card(credential) -> "SUS1:..."`` and ``decode_card(text) -> credential`` are exact
inverses for every credential the version-1 dictionary can express; anything else is refused
with :class:`CardEncodingError` naming the term. The format is specified in
``wallet_spec/card-codec.md``; the normative dictionary is in :mod:`verifier._cardtables`.

Layout (version 1): the CBOR value is an array whose positions are the properties of a known
*shape*, in a fixed order; an absent property is CBOR ``undefined`` (trailing ones are dropped).
Each property has a typed value codec: an index into a table of known values, a packed form
(UUIDs as 16 bytes, dates as day numbers, CURP as one integer, names in a 37-symbol alphabet,
the proofValue as its 64 raw bytes...: the packers of :mod:`verifier._cardpack`), and, where a
value does not fit the packed form, the value itself as a CBOR text string.

This module is the generic, table-driven codec and the public functions. A credential in the
issuer's own layout is encoded by :func:`verifier._cardfast.encode_issuer_card` first (the same
bytes, checked by reading them back); the card reader and this codec share only the dictionary
and the packers, so it never imports this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import Any

import cbor2

from ._base45 import b45decode, b45encode
from ._cardfast import encode_issuer_card
from ._cardpack import (
    _birth_date_from_curp,
    _Codec,
    _Ctx,
    _is_plain_json,
    _is_small_uint,
    _pack_clues,
    _pack_curp,
    _pack_date,
    _pack_datetime,
    _pack_did_key,
    _pack_digits,
    _pack_index,
    _pack_name,
    _pack_proof_value,
    _pack_status_url,
    _pack_uuid,
    _pack_verification_method,
    _repacks_always,
    _repacks_curp,
    _repacks_datetime,
    _repacks_digits,
    _repacks_key_number,
    _repacks_unpadded,
    _unpack_clues,
    _unpack_curp,
    _unpack_date,
    _unpack_datetime,
    _unpack_did_key,
    _unpack_digits,
    _unpack_index,
    _unpack_name,
    _unpack_proof_value,
    _unpack_status_url,
    _unpack_uuid,
    _unpack_verification_method,
)
from ._cardtables import (
    _MAX_DEPTH,
    CONTEXTS,
    COVERAGE_TYPES,
    CREDENTIAL_TYPES,
    CRYPTOSUITES,
    INSTITUTIONS,
    ISSUERS,
    PROGRAMS,
    PROOF_PURPOSES,
    PROOF_TYPES,
    RELATIONSHIPS,
    SCHEMA_REFS,
    STATUS_ENTRY_TYPES,
    STATUS_PURPOSES,
    _status_list_url,
)
from ._errors import CardEncodingError, CardFormatError, IndeterminateError, ReasonCode

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
_MAX_CACHED_TERMS = 16  # parent terms per shape: a handful ("credential.credentialStatus[0]"...)


# -- value codecs (around the packers of verifier._cardpack) ---------------------------------


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
    Each is proved beside its packer (:mod:`verifier._cardpack`) and tested against ``pack`` in
    tests/verifier/test_card_repack.py.
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
