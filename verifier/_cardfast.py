"""The issuer's card layout read in one pass: credential, proof parts and canonical N-Quads.

Almost every card is in the layout the issuer writes (version 1, every table entry, the status
template, the proof of the issuer's own key). :func:`read_issuer_card` reads such a card's CBOR
items straight into the credential, the parts the proof check needs, and the RDFC-1.0 canonical
N-Quads of the credential and of its proof configuration (written by the direct canonicalizer's
own serialiser, from the values instead of the JSON), instead of decoding through the generic
table-driven codec, checking the canonical form by re-encoding, and canonicalizing the JSON.

It is a cache of the generic path, never a second judge: for any bytes it returns either
``None`` (anything it does not recognise: the caller takes the generic path, which gives the
verdict and the error) or exactly what the generic path gives: the credential
``decode_card_bytes`` returns, the :class:`ProofParts` ``split_proof`` returns, and the N-Quads
``canonicalize`` returns. The canonical-form check is done item by item (each packed item must be
what ``pack`` writes for the text it spells, each text what no packed form takes, no trailing
``undefined``, the birth date and status templates taken when they apply) plus one
``cbor2.dumps`` comparison for the CBOR heads. ``vouched`` is True only when the credential
surely passes the data model and typed model checks (:func:`check_credential`,
:func:`conforms_to_model`), which the verifier then skips.

``tests/verifier/test_cardfast.py`` proves the equalities (N-Quads against pyld's full algorithm
too) on generated cards in the issuer's layout (300 in ``make test``, 10,000 in ``make fuzz``),
cards with one CBOR item replaced by anything, and every byte flip of a valid card; and that the
verifier's verdicts, reasons and credential are the same with the reader and without it.

It shares only the dictionary (:mod:`verifier._cardtables`) and the value packers
(:mod:`verifier._cardpack`) with the generic codec (:mod:`verifier._card`), which calls
:func:`encode_issuer_card` first; this module never imports the generic codec.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import cbor2

import schemas

from ._cardpack import (
    _birth_date_from_curp,
    _Ctx,
    _is_plain_json,
    _pack_clues,
    _pack_curp,
    _pack_date,
    _pack_datetime,
    _pack_did_key,
    _pack_digits,
    _pack_name,
    _pack_proof_value,
    _pack_uuid,
    _unpack_clues,
    _unpack_curp,
    _unpack_date,
    _unpack_datetime,
    _unpack_did_key,
    _unpack_digits,
    _unpack_name,
    _unpack_uuid,
)
from ._cardtables import (
    _DIGITS,
    _MAX_DEPTH,
    _MAX_UINT,
    _SECONDS_FLOOR,
    INSTITUTIONS,
    ISSUERS,
    PROGRAMS,
    RELATIONSHIPS,
    _status_list_url,
)
from ._contexts import CREDENTIALS_V2_URL
from ._fastcanon import (
    _BSL,
    _COVERAGE_KEYS,
    _COVERAGE_TYPE_TAIL,
    _CREATED,
    _CREDENTIAL_TYPE_TAILS,
    _ENTRY_TYPE_TAIL,
    _NEEDS_ESCAPE,
    _SAFE_IRI,
    _SCHEMA_TYPE_TAIL,
    _SUBJECT_KEYS,
    _UNSAFE_TEXT,
    _VC,
    _XSD,
    _NotOurShapeError,
    _proof_options_without_created,
    _serialise_credential,
)
from ._modelcheck import _AFFILIATION, _DID_KEY, _text80
from ._multibase import b58encode
from ._proof import ProofParts

__all__ = ["IssuerCard", "read_issuer_card"]


@dataclass(frozen=True, slots=True)
class IssuerCard:
    """A card in the issuer's layout, read: what the verifier needs, already computed."""

    credential: dict[str, Any]
    parts: ProofParts
    #: RDFC-1.0 canonical N-Quads of the proof configuration (the options with the document's
    #: ``@context``) and of ``parts.unsecured_document``: what ``hash_data`` hashes.
    canonical: tuple[str, str]
    #: True only if the data model and the typed model surely accept the credential.
    vouched: bool


_CONTEXT = [CREDENTIALS_V2_URL, schemas.CREDENCIAL_CONTEXT_URL]
_CONTEXT_KEY = tuple(_CONTEXT)
_TYPES = ["VerifiableCredential", "HealthCoverageCredential"]
_SCHEMA_URL = schemas.HEALTH_COVERAGE_SCHEMA_URL
_UNDEFINED = cbor2.undefined
_CTX = _Ctx(None)  # no packed value read here needs the issuer
_PROGRAM_SET = frozenset(PROGRAMS)

# What the direct canonicalizer writes for our credential, in its words (one N-Quads writer).
_PREDICATE = {key: predicate for key, predicate, _ in _SUBJECT_KEYS} | dict(_COVERAGE_KEYS)
_P_CURP, _P_SECOND, _P_BIRTH, _P_FAMILY, _P_GIVEN = (
    _PREDICATE[key] for key in ("curp", "secondFamilyName", "birthDate", "familyName", "givenName")
)
_P_UNIT, _P_AFFILIATION, _P_RELATIONSHIP, _P_INSTITUTION, _P_PROGRAM = (
    predicate for _, predicate in _COVERAGE_KEYS
)
_CREDENTIAL_LINE_TAILS = (
    *_CREDENTIAL_TYPE_TAILS,
    f" <{_VC}credentialSchema> <{_SCHEMA_URL}> .\n",
)
_SCHEMA_QUAD = f"<{_SCHEMA_URL}>{_SCHEMA_TYPE_TAIL}"
_DATETIME_TYPE = f"^^<{_XSD}dateTime>"
_DATE_TYPE = f"^^<{_XSD}date>"
_LIST_PREDICATE = f"<{_BSL}statusListCredential>"
_INDEX_PREDICATE = f"<{_BSL}statusListIndex>"
_REVOCATION_TAIL = f' <{_BSL}statusPurpose> "revocation" .\n'
_SUSPENSION_TAIL = f' <{_BSL}statusPurpose> "suspension" .\n'


_NO_PARTS = ProofParts({}, {}, b"")


class _NotIssuerLayoutError(Exception):
    """Not the issuer's layout (or not canonical): the generic path decides."""


def _small_uint(value: Any) -> int:
    if type(value) is not int or not 0 <= value <= _MAX_UINT:
        raise _NotIssuerLayoutError
    return value


def _table(value: Any, size: int) -> int:
    if type(value) is not int or not 0 <= value < size:
        raise _NotIssuerLayoutError
    return value


def _datetime(value: Any) -> str:
    """A packed date-time that ``pack`` writes back as ``value``."""
    if type(value) is not int:
        raise _NotIssuerLayoutError
    text = _unpack_datetime(value, _CTX)
    if text is None or (
        value >= _SECONDS_FLOOR and value % 86400 == 0 and value // 86400 < _SECONDS_FLOOR
    ):
        raise _NotIssuerLayoutError
    return text


def _name(value: Any) -> tuple[str, bool]:
    """(name, whether the typed model surely accepts it) for a canonical name item."""
    text, packed = _packed_or_text(value, _unpack_name, _pack_name)
    if packed:  # the alphabet's one character _TEXT minds is the space, at either end
        return text, len(text) <= 80 and text[0] != " " and text[-1] != " "
    return text, _text80(text)


def _packed_or_text(
    value: Any,
    unpack: Callable[[Any, _Ctx], str | None],
    pack: Callable[[str, _Ctx], Any | None],
) -> tuple[str, bool]:
    """(text, packed?) for an item of a packed codec with text fallback, canonical only."""
    if type(value) is bytes:
        if not value or value[0] == 0:
            raise _NotIssuerLayoutError
        try:
            text = unpack(value, _CTX)
        except ValueError:
            raise _NotIssuerLayoutError from None
        if text is None:
            raise _NotIssuerLayoutError
        return text, True
    if type(value) is str and pack(value, _CTX) is None:
        return value, False
    raise _NotIssuerLayoutError


def read_issuer_card(data: bytes) -> IssuerCard | None:
    """The card's credential, proof parts and N-Quads, or ``None`` for the generic path."""
    try:
        return _read(data)
    except _NotIssuerLayoutError:
        return None


def _read(data: bytes, *, canonical: bool = True) -> IssuerCard:
    """The card read; ``canonical=False`` stops once the credential is built (``parts`` and
    ``canonical`` are then empty placeholders, ``vouched`` False: for the encoder's check)."""
    try:
        items = cbor2.loads(
            data, max_depth=_MAX_DEPTH, allow_indefinite=False, allow_duplicate_keys=False
        )
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError):
        raise _NotIssuerLayoutError from None
    if type(items) is not list or len(items) != 10:
        raise _NotIssuerLayoutError
    (
        context,
        raw_id,
        types,
        raw_issuer,
        raw_from,
        raw_until,
        subject_items,
        status_items,
        schema,
        proof_items,
    ) = items
    if type(context) is not int or context != 0 or type(types) is not int or types != 0:
        raise _NotIssuerLayoutError
    if type(schema) is not int or schema != 0:
        raise _NotIssuerLayoutError
    if type(raw_id) is not bytes or len(raw_id) != 16:
        raise _NotIssuerLayoutError
    credential_id = _unpack_uuid(raw_id, _CTX)
    assert credential_id is not None
    issuer = ISSUERS[_table(raw_issuer, len(ISSUERS))]
    valid_from, valid_until = _datetime(raw_from), _datetime(raw_until)

    # credentialSubject: [curp, given, family, second?, birth, coverage, id?]
    if type(subject_items) is not list or len(subject_items) not in (6, 7):
        raise _NotIssuerLayoutError
    raw_curp, raw_given, raw_family, raw_second, raw_birth, coverage_items = subject_items[:6]
    if type(raw_curp) is not int or raw_curp < 0:
        raise _NotIssuerLayoutError
    try:
        curp = _unpack_curp(raw_curp, _CTX)
    except (ValueError, IndexError):
        raise _NotIssuerLayoutError from None
    if curp is None:
        raise _NotIssuerLayoutError
    # An unpacked CURP has every symbol in its class and the right check digit, so it is valid
    # (what pack wants) exactly when YYMMDD is a real date in the 1900s or the 2000s, that is in
    # the 2000s (they differ only on 29 February of 1900, no leap year).
    yy, month_day = int(curp[4:6]), curp[6:10]
    try:
        date(2000 + yy, int(month_day[:2]), int(month_day[2:]))
    except ValueError:
        raise _NotIssuerLayoutError from None
    given, given_ok = _name(raw_given)
    family, family_ok = _name(raw_family)
    second: str | None
    if raw_second is _UNDEFINED:
        second, second_ok = None, True
    else:
        second, second_ok = _name(raw_second)
    # The CURP's birth date (as _birth_date_from_curp): a digit homoclave is the 1900s.
    derived_birth: str | None = f"{2000 + yy}-{month_day[:2]}-{month_day[2:]}"
    if curp[16] in _DIGITS:
        derived_birth = f"19{curp[4:6]}-{month_day[:2]}-{month_day[2:]}"
        if yy == 0 and month_day == "0229":
            derived_birth = None
    if raw_birth is None:
        if derived_birth is None:
            raise _NotIssuerLayoutError
        birth = derived_birth
    elif type(raw_birth) is int:
        try:
            birth = _unpack_date(raw_birth, _CTX)  # type: ignore[assignment]
        except OverflowError:
            raise _NotIssuerLayoutError from None
        if birth == derived_birth:  # the encoder writes null then
            raise _NotIssuerLayoutError
    else:
        raise _NotIssuerLayoutError
    holder: str | None = None
    holder_ok = True
    if len(subject_items) == 7:
        raw_holder = subject_items[6]
        if type(raw_holder) is bytes and len(raw_holder) == 32:
            holder = _unpack_did_key(raw_holder, _CTX)
            assert holder is not None
        elif type(raw_holder) is str and _pack_did_key(raw_holder, _CTX) is None:
            if _SAFE_IRI.fullmatch(raw_holder) is None:
                raise _NotIssuerLayoutError  # not an IRI the direct canonicalizer writes
            holder, holder_ok = raw_holder, _DID_KEY.fullmatch(raw_holder) is not None
        else:
            raise _NotIssuerLayoutError

    # coverage: [institution, program, affiliation, relationship, unit, type?]
    if type(coverage_items) is not list or len(coverage_items) not in (5, 6):
        raise _NotIssuerLayoutError
    if len(coverage_items) == 6 and (type(coverage_items[5]) is not int or coverage_items[5] != 0):
        raise _NotIssuerLayoutError
    institution = INSTITUTIONS[_table(coverage_items[0], len(INSTITUTIONS))]
    raw_program = coverage_items[1]
    if type(raw_program) is str:
        if raw_program in _PROGRAM_SET:
            raise _NotIssuerLayoutError  # the encoder writes the table index
        program, program_ok = raw_program, _text80(raw_program)
    else:
        program, program_ok = PROGRAMS[_table(raw_program, len(PROGRAMS))], True
    affiliation, affiliation_packed = _packed_or_text(
        coverage_items[2], _unpack_digits, _pack_digits
    )
    if affiliation_packed and len(affiliation) > 30:  # pack takes at most 30 digits
        raise _NotIssuerLayoutError
    relationship = RELATIONSHIPS[_table(coverage_items[3], len(RELATIONSHIPS))]
    unit, unit_packed = _packed_or_text(coverage_items[4], _unpack_clues, _pack_clues)

    # credentialStatus: [list number, index] (the template)
    if type(status_items) is not list or len(status_items) != 2:
        raise _NotIssuerLayoutError
    list_number, index = _small_uint(status_items[0]), _small_uint(status_items[1])

    # proof: [type, cryptosuite, created, key number, purpose, proofValue]
    if type(proof_items) is not list or len(proof_items) != 6:
        raise _NotIssuerLayoutError
    proof_type, suite, raw_created, key_number, purpose, signature = proof_items
    if not (
        type(proof_type) is int
        and proof_type == 0
        and type(suite) is int
        and suite == 0
        and type(purpose) is int
        and purpose == 0
        and type(key_number) is int
        and 0 <= key_number < 1_000_000_000
        and type(signature) is bytes
        and len(signature) == 64
    ):
        raise _NotIssuerLayoutError
    created = _datetime(raw_created)
    if cbor2.dumps(items) != data:  # the CBOR heads: minimal, definite, as cbor2 writes them
        raise _NotIssuerLayoutError

    # -- the credential, as decode_card_bytes builds it --------------------------------------
    subject: dict[str, Any] = {"curp": curp, "givenName": given, "familyName": family}
    if second is not None:
        subject["secondFamilyName"] = second
    subject["birthDate"] = birth
    coverage: dict[str, Any] = {
        "institution": institution,
        "program": program,
        "affiliationNumber": affiliation,
        "beneficiaryRelationship": relationship,
        "adscriptionUnit": unit,
    }
    if len(coverage_items) == 6:
        coverage["type"] = "HealthCoverage"
    subject["coverage"] = coverage
    if holder is not None:
        subject["id"] = holder
    index_text = str(index)
    revocation_url = _status_list_url(issuer, "revocation", list_number)
    suspension_url = _status_list_url(issuer, "suspension", list_number)
    status = [
        {
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": index_text,
            "statusListCredential": revocation_url,
        },
        {
            "type": "BitstringStatusListEntry",
            "statusPurpose": "suspension",
            "statusListIndex": index_text,
            "statusListCredential": suspension_url,
        },
    ]
    options: dict[str, Any] = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": created,
        "verificationMethod": f"{issuer}#key-{key_number}",
        "proofPurpose": "assertionMethod",
    }
    unsecured: dict[str, Any] = {
        "@context": list(_CONTEXT),
        "id": credential_id,
        "type": list(_TYPES),
        "issuer": issuer,
        "validFrom": valid_from,
        "validUntil": valid_until,
        "credentialSubject": subject,
        "credentialStatus": status,
        "credentialSchema": {"id": _SCHEMA_URL, "type": "JsonSchema"},
    }
    credential = {**unsecured, "proof": {**options, "proofValue": "z" + b58encode(signature)}}
    if not canonical:
        return IssuerCard(credential, _NO_PARTS, ("", ""), vouched=False)

    # -- its canonical N-Quads (what _fastcanon._credential writes for it) --------------------
    # Packed values spell no character N-Quads escape or refuse; texts might (then the generic
    # canonicalizer decides).
    for raw in (
        raw_given,
        raw_family,
        raw_second,
        raw_program,
        coverage_items[2],
        coverage_items[4],
    ):
        if type(raw) is str and (_NEEDS_ESCAPE.search(raw) or _UNSAFE_TEXT.search(raw)):
            raise _NotIssuerLayoutError
    cred = f"<{credential_id}>"
    subject_tails = [f' {_P_CURP} "{curp}" .\n']
    if second is not None:
        subject_tails.append(f' {_P_SECOND} "{second}" .\n')
    subject_tails += [
        f' {_P_BIRTH} "{birth}"{_DATE_TYPE} .\n',
        f' {_P_FAMILY} "{family}" .\n',
        f' {_P_GIVEN} "{given}" .\n',
    ]
    coverage_tails = [_COVERAGE_TYPE_TAIL] if len(coverage_items) == 6 else []
    coverage_tails += [
        f' {_P_UNIT} "{unit}" .\n',
        f' {_P_AFFILIATION} "{affiliation}" .\n',
        f' {_P_RELATIONSHIP} "{relationship}" .\n',
        f' {_P_INSTITUTION} "{institution}" .\n',
        f' {_P_PROGRAM} "{program}" .\n',
    ]
    index_tail = f' {_INDEX_PREDICATE} "{index_text}" .\n'
    lines = [cred + tail for tail in _CREDENTIAL_LINE_TAILS]
    lines += [
        f"{cred} <{_VC}issuer> <{issuer}> .\n",
        f'{cred} <{_VC}validFrom> "{valid_from}"{_DATETIME_TYPE} .\n',
        f'{cred} <{_VC}validUntil> "{valid_until}"{_DATETIME_TYPE} .\n',
        _SCHEMA_QUAD,
    ]
    entries: list[tuple[str | None, list[str]]] = [
        (
            None,
            [_ENTRY_TYPE_TAIL, f" {_LIST_PREDICATE} <{url}> .\n", index_tail, purpose_tail],
        )
        for url, purpose_tail in (
            (revocation_url, _REVOCATION_TAIL),
            (suspension_url, _SUSPENSION_TAIL),
        )
    ]
    try:
        nquads = _serialise_credential(
            cred,
            lines,
            None if holder is None else f"<{holder}>",
            subject_tails,
            coverage_tails,
            entries,
        )
    except _NotOurShapeError:
        raise _NotIssuerLayoutError from None
    try:
        proof_nquads = f'_:c14n0 {_CREATED} "{created}"{_DATETIME_TYPE} .\n' + (
            _proof_options_without_created(
                _CONTEXT_KEY,
                (
                    ("cryptosuite", "eddsa-rdfc-2022"),
                    ("proofPurpose", "assertionMethod"),
                    ("type", "DataIntegrityProof"),
                    ("verificationMethod", options["verificationMethod"]),
                ),
            )
        )
    except _NotOurShapeError:
        raise _NotIssuerLayoutError from None

    vouched = (
        valid_from <= valid_until  # same format, so text order is time order
        and given_ok
        and family_ok
        and second_ok
        and program_ok
        and _AFFILIATION.fullmatch(affiliation) is not None
        and unit_packed  # a CLUES code as text is one pack refused: not a CLUES shape
        and holder_ok
    )
    return IssuerCard(
        credential=credential,
        parts=ProofParts(unsecured, options, signature),
        canonical=(proof_nquads, nquads),
        vouched=vouched,
    )


# -- the other way: a credential in the issuer's layout to its card bytes -----------------------


def encode_issuer_card(credential: Mapping[str, Any]) -> bytes | None:
    """The card bytes of a plain-JSON credential in the issuer's layout, or ``None`` for the
    generic encoder.

    The items are packed directly; the bytes are returned only if :func:`read_issuer_card`'s
    reading of them (canonical form checked item by item, the generic decoder's result by its
    proof) gives back exactly ``credential``. They are then the generic encoder's bytes too: the
    generic decoder accepts only bytes equal to the generic encoding of what it decodes.
    """
    if not _is_plain_json(credential):
        return None
    try:
        data = cbor2.dumps(_issuer_items(credential))
        if _read(data, canonical=False).credential == credential:
            return data
    except (
        _NotIssuerLayoutError, KeyError, TypeError, ValueError, OverflowError, IndexError,
        AttributeError,
    ):  # fmt: skip
        pass
    return None


_TOP_KEYS = frozenset(
    {
        "@context", "id", "type", "issuer", "validFrom", "validUntil", "credentialSubject",
        "credentialStatus", "credentialSchema", "proof",
    }
)  # fmt: skip
_SCHEMA_REF = {"id": _SCHEMA_URL, "type": "JsonSchema"}
_KEY_NUMBER = re.compile(r"(?:0|[1-9][0-9]{0,8})")  # pack takes at most 9 digits
_LIST_NUMBER = re.compile(r"(?:0|[1-9][0-9]{0,9})")


def _issuer_items(credential: Mapping[str, Any]) -> list[Any]:
    """The version-1 CBOR items of the issuer's layout (what ``_card._to_cbor`` writes for it)."""
    if credential.keys() != _TOP_KEYS:
        raise _NotIssuerLayoutError
    if (
        credential["@context"] != _CONTEXT
        or credential["type"] != _TYPES
        or credential["credentialSchema"] != _SCHEMA_REF
    ):
        raise _NotIssuerLayoutError
    issuer = credential["issuer"]
    if issuer not in ISSUERS:
        raise _NotIssuerLayoutError
    subject, proof = credential["credentialSubject"], credential["proof"]
    coverage = subject["coverage"]
    birth = _pack_date(subject["birthDate"], _CTX)
    if subject["birthDate"] == _birth_date_from_curp(subject["curp"]):
        birth = None
    subject_items = [
        _packed(_pack_curp, subject["curp"], text=False),
        _packed(_pack_name, subject["givenName"]),
        _packed(_pack_name, subject["familyName"]),
        _packed(_pack_name, subject["secondFamilyName"]) if "secondFamilyName" in subject
        else _UNDEFINED,
        birth,
        [
            INSTITUTIONS.index(coverage["institution"]),
            PROGRAMS.index(coverage["program"]) if coverage["program"] in _PROGRAM_SET
            else coverage["program"],
            _packed(_pack_digits, coverage["affiliationNumber"]),
            RELATIONSHIPS.index(coverage["beneficiaryRelationship"]),
            _packed(_pack_clues, coverage["adscriptionUnit"]),
            *([0] if "type" in coverage else []),
        ],
    ]  # fmt: skip
    if "id" in subject:
        subject_items.append(_packed(_pack_did_key, subject["id"]))
    first = credential["credentialStatus"][0]
    number = first["statusListCredential"].rsplit("/", 1)[-1]
    index = first["statusListIndex"]
    key_number = proof["verificationMethod"].removeprefix(f"{issuer}#key-")
    if _LIST_NUMBER.fullmatch(number) is None or _KEY_NUMBER.fullmatch(key_number) is None:
        raise _NotIssuerLayoutError  # (the read-back checks the rest of the template)
    return [
        0,
        _packed(_pack_uuid, credential["id"], text=False),
        0,
        ISSUERS.index(issuer),
        _packed(_pack_datetime, credential["validFrom"], text=False),
        _packed(_pack_datetime, credential["validUntil"], text=False),
        subject_items,
        [int(number), int(index)],
        0,
        [
            0,
            0,
            _packed(_pack_datetime, proof["created"], text=False),
            int(key_number),
            0,
            _packed(_pack_proof_value, proof["proofValue"], text=False),
        ],
    ]


def _packed(pack: Callable[[str, _Ctx], Any | None], value: Any, *, text: bool = True) -> Any:
    """``pack(value)``, or the text itself where the codec keeps text (else not our layout)."""
    if type(value) is not str:
        raise _NotIssuerLayoutError
    packed = pack(value, _CTX)
    if packed is None:
        if not text:
            raise _NotIssuerLayoutError
        return value
    return packed
