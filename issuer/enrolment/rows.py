"""Enrolment records: the contract with the institutions' enrolment systems.

A batch is a CSV file with a header, or a JSON Lines file with the same keys (one object per
line), in UTF-8 or in the encoding named (:data:`ENCODINGS`: Windows-1252 and Latin-1 too).
Each row is checked field by field with the verifier's own rules and becomes either an
:class:`EnrolmentRecord` or a :class:`RowError`; reading never stops at a bad row.

Text is stripped of surrounding whitespace and put in Unicode NFC (so the same name always signs
the same bytes); nothing else is changed: no case folding, accents, Ñ, apostrophes and hyphens
stay as written. The one exception is ``relationship``, a term of a fixed vocabulary: its
spellings (``HIJA``, ``Conyuge``) become the term (:mod:`issuer.enrolment.relationships`).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from issuer.enrolment.first_lines import FirstLines
from issuer.enrolment.relationships import ACCEPTED_RELATIONSHIPS, relationship_term
from verifier import (
    INSTITUTION_CODES,
    RELATIONSHIP_TERMS_WRITTEN,
    CoverageSubject,
    IJsonError,
    KeyFormatError,
    curp_check_digit,
    decode_multikey,
    is_valid_clues,
    is_valid_curp,
    parse_json,
)
from verifier._identifiers import CURP_STATE_CODES
from verifier._modelcheck import conforms_to_subject_model

__all__ = [
    "COLUMNS",
    "ENCODINGS",
    "MEXICO_CITY",
    "OPTIONAL_COLUMNS",
    "RELATIONSHIPS",
    "Encoding",
    "EnrolmentFileError",
    "EnrolmentRecord",
    "RecordFormat",
    "RowError",
    "RowResult",
    "count_rows",
    "read_records",
    "record_format",
    "text_encoding",
]

#: Required columns, in the order of the documented header.
COLUMNS: tuple[str, ...] = (
    "curp",
    "given_names",
    "first_surname",
    "second_surname",
    "birth_date",
    "institution",
    "program",
    "affiliation_number",
    "relationship",
    "clues",
    "valid_until",
)
#: Columns that may be absent from the header (or the JSON object).
OPTIONAL_COLUMNS: tuple[str, ...] = ("holder_did",)
#: The ``relationship`` terms enrolment writes (each also accepted in capitals, without
#: accents, and as the synonyms of :mod:`issuer.enrolment.relationships`).
RELATIONSHIPS: tuple[str, ...] = RELATIONSHIP_TERMS_WRITTEN
#: "Today", for the date checks, is the calendar date in Mexico City (UTC−6, no DST since 2022).
MEXICO_CITY = timezone(timedelta(hours=-6), "UTC-06:00")

RecordFormat = Literal["csv", "jsonl"]
Encoding = Literal["utf-8", "utf-8-sig", "cp1252", "latin-1"]
#: The text encodings an enrolment file may be read in (``--encoding``); UTF-8 by default.
ENCODINGS: tuple[Encoding, ...] = ("utf-8", "utf-8-sig", "cp1252", "latin-1")

_KNOWN = frozenset(COLUMNS + OPTIONAL_COLUMNS)
_ORDER = {column: position for position, column in enumerate(COLUMNS + OPTIONAL_COLUMNS)}
_EMPTY_ALLOWED = frozenset({"second_surname", "holder_did"})
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_AFFILIATION = re.compile(r"[0-9A-Z-]{1,20}")
_CONSONANTS = frozenset("BCDFGHJKLMNPQRSTVWXYZ")
_DID_KEY = re.compile(r"did:key:(z6Mk[1-9A-HJ-NP-Za-km-z]+)")
_MAX_TEXT = 80
_BOM = b"\xef\xbb\xbf"
_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "cp1252": "Windows-1252", "latin-1": "Latin-1"}
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# The model's JSON names, mapped back to our columns (for the final model check).
_MODEL_FIELDS = {
    ("id",): "holder_did",
    ("curp",): "curp",
    ("givenName",): "given_names",
    ("familyName",): "first_surname",
    ("secondFamilyName",): "second_surname",
    ("birthDate",): "birth_date",
    ("coverage", "institution"): "institution",
    ("coverage", "program"): "program",
    ("coverage", "affiliationNumber"): "affiliation_number",
    ("coverage", "beneficiaryRelationship"): "relationship",
    ("coverage", "adscriptionUnit"): "clues",
}


class EnrolmentFileError(ValueError):
    """The file as a whole cannot be read (unknown format, bad header, not UTF-8 at all)."""


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem with one row: ``line`` is the file line where the row starts (1-based)."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


@dataclass(frozen=True, slots=True)
class EnrolmentRecord:
    """A valid row: one person's coverage, ready to become a credential subject."""

    line: int
    curp: str
    given_names: str
    first_surname: str
    second_surname: str | None
    birth_date: date
    institution: str
    program: str
    affiliation_number: str
    relationship: str
    clues: str
    valid_until_date: date
    holder_did: str | None = None

    def normalised(self) -> dict[str, str]:
        """Every column as normalised text (absent optional columns as ``""``)."""
        return {
            "curp": self.curp,
            "given_names": self.given_names,
            "first_surname": self.first_surname,
            "second_surname": self.second_surname or "",
            "birth_date": self.birth_date.isoformat(),
            "institution": self.institution,
            "program": self.program,
            "affiliation_number": self.affiliation_number,
            "relationship": self.relationship,
            "clues": self.clues,
            "valid_until": self.valid_until_date.isoformat(),
            "holder_did": self.holder_did or "",
        }

    @property
    def row_key(self) -> str:
        """SHA-256 (hex) of the normalised record: the same row always has the same key."""
        body = json.dumps(
            self.normalised(), sort_keys=True, ensure_ascii=False, separators=(",", ":")
        )
        return hashlib.sha256(body.encode("utf-8")).hexdigest()

    @property
    def valid_until(self) -> datetime:
        """The credential's ``validUntil``: 23:59:59 UTC of ``valid_until``.

        UTC, so that the card (which prints the UTC date) shows the enrolment's date.
        """
        return datetime.combine(self.valid_until_date, time(23, 59, 59), UTC)

    def subject(self) -> dict[str, Any]:
        """The ``credentialSubject`` of this person's credential."""
        subject: dict[str, Any] = {}
        if self.holder_did:
            subject["id"] = self.holder_did
        subject["curp"] = self.curp
        subject["givenName"] = self.given_names
        subject["familyName"] = self.first_surname
        if self.second_surname:
            subject["secondFamilyName"] = self.second_surname
        subject["birthDate"] = self.birth_date.isoformat()
        subject["coverage"] = {
            "institution": self.institution,
            "program": self.program,
            "affiliationNumber": self.affiliation_number,
            "beneficiaryRelationship": self.relationship,
            "adscriptionUnit": self.clues,
        }
        return subject


RowResult = EnrolmentRecord | RowError


# -- field rules ----------------------------------------------------------------------------------


def _curp_problem(value: str) -> str | None:
    """Why ``value`` is not a valid CURP, in words, or None if it is one."""
    if len(value) != 18:
        return f"must be 18 characters, not {len(value)}"
    if value != value.upper():
        return "must be written in capital letters"
    if not value[:4].isascii() or not value[:4].isalpha():
        return "characters 1-4 must be letters A-Z"
    if not value[4:10].isdigit():
        return "characters 5-10 must be the birth date as YYMMDD digits"
    if value[10] not in "HMX":
        return "character 11 (sex) must be H, M or X"
    if value[11:13] not in CURP_STATE_CODES:
        return f"unknown state code {value[11:13]!r} (characters 12-13)"
    if any(char not in _CONSONANTS for char in value[13:16]):
        return "characters 14-16 must be consonants"
    if not (value[16].isascii() and value[16].isalnum()) or not value[17].isdigit():
        return "character 17 must be a digit or letter and character 18 a digit"
    if _curp_date(value) is None:
        return f"{value[4:10]} is not a real date (YYMMDD)"
    if curp_check_digit(value[:17]) != value[17]:
        return "check digit is wrong"
    if not is_valid_curp(value):  # the verifier's rule is the final word
        return "not a valid CURP"
    return None


def _curp_date(curp: str) -> date | None:
    """The birth date a CURP spells: century from the homoclave (a digit before 2000)."""
    century = 1900 if curp[16].isdigit() else 2000
    try:
        return date(century + int(curp[4:6]), int(curp[6:8]), int(curp[8:10]))
    except ValueError:
        return None


def _text_problem(value: str) -> str | None:
    if len(value) > _MAX_TEXT:
        return f"at most {_MAX_TEXT} characters, not {len(value)}"
    control = _CONTROL.search(value)
    if control is not None:
        return f"contains a control character (U+{ord(control.group()):04X})"
    return None


def _date_value(value: str) -> tuple[date | None, str | None]:
    if _DATE.fullmatch(value) is None:
        return None, f"must be a date written YYYY-MM-DD, not {value!r}"
    try:
        return date.fromisoformat(value), None
    except ValueError:
        return None, f"{value} is not a real date"


def _holder_problem(value: str) -> str | None:
    match = _DID_KEY.fullmatch(value)
    if match is None:
        return "must be the holder's Ed25519 did:key (did:key:z6Mk…)"
    try:
        decode_multikey(match.group(1))
    except KeyFormatError as exc:
        return f"not an Ed25519 did:key: {exc}"
    return None


def _clean(value: str) -> str:
    return unicodedata.normalize("NFC", value.strip())


def _check_row(
    line: int, values: Mapping[str, str], today: date
) -> EnrolmentRecord | list[RowError]:
    """Validate one row's (already present, string) values."""
    errors: list[RowError] = []

    def fail(column: str, message: str) -> None:
        errors.append(RowError(line, column, message))

    clean = {column: _clean(values.get(column, "")) for column in (*COLUMNS, *OPTIONAL_COLUMNS)}
    for column in COLUMNS:
        if not clean[column] and column not in _EMPTY_ALLOWED:
            fail(column, "required, but empty")
    curp = clean["curp"]
    curp_problem = _curp_problem(curp) if curp else "required"
    if curp and curp_problem:
        fail("curp", curp_problem)
    for column in ("given_names", "first_surname", "second_surname", "program"):
        if clean[column] and (problem := _text_problem(clean[column])):
            fail(column, problem)
    birth_date = valid_until = None
    if clean["birth_date"]:
        birth_date, problem = _date_value(clean["birth_date"])
        if problem:
            fail("birth_date", problem)
        elif birth_date is not None and birth_date > today:
            fail("birth_date", f"{birth_date} is in the future")
        elif curp_problem is None and birth_date != (spelled := _curp_date(curp)):
            fail("birth_date", f"does not match the CURP, which gives {spelled}")
    if clean["institution"] and clean["institution"] not in INSTITUTION_CODES:
        fail("institution", _one_of(INSTITUTION_CODES, clean["institution"]))
    number = clean["affiliation_number"]
    if number and _AFFILIATION.fullmatch(number) is None:
        fail("affiliation_number", "must be 1 to 20 capital letters A-Z, digits or hyphens")
    relationship = relationship_term(clean["relationship"]) if clean["relationship"] else None
    if clean["relationship"] and relationship is None:
        message = f"must be one of {ACCEPTED_RELATIONSHIPS}, not {clean['relationship']!r}"
        fail("relationship", message + " (capitals and missing accents are fine)")
    if clean["clues"] and not is_valid_clues(clean["clues"]):
        fail("clues", "must be a CLUES code: five capital letters and six digits (DFIMS000014)")
    if clean["valid_until"]:
        valid_until, problem = _date_value(clean["valid_until"])
        if problem:
            fail("valid_until", problem)
        elif valid_until is not None and valid_until <= today:
            fail("valid_until", f"must be after today ({today}), not {valid_until}")
    if clean["holder_did"] and (problem := _holder_problem(clean["holder_did"])):
        fail("holder_did", problem)
    if errors or birth_date is None or valid_until is None:
        return sorted(errors, key=lambda error: _ORDER[error.field])
    record = EnrolmentRecord(
        line=line,
        curp=curp,
        given_names=clean["given_names"],
        first_surname=clean["first_surname"],
        second_surname=clean["second_surname"] or None,
        birth_date=birth_date,
        institution=clean["institution"],
        program=clean["program"],
        affiliation_number=number,
        relationship=relationship or "",
        clues=clean["clues"],
        valid_until_date=valid_until,
        holder_did=clean["holder_did"] or None,
    )
    subject = record.subject()
    if conforms_to_subject_model(subject):  # True only when the model surely accepts it
        return record
    try:  # the verifier's model is the final word on the subject
        CoverageSubject.model_validate(subject)
    except ValidationError as exc:
        return [
            RowError(line, _MODEL_FIELDS.get(tuple(map(str, e["loc"])), "row"), e["msg"])
            for e in exc.errors()
        ]
    return record


def _one_of(allowed: Iterable[str], value: str) -> str:
    return f"must be one of {', '.join(allowed)}, not {value!r}"


# -- reading files --------------------------------------------------------------------------------


def record_format(path: Path) -> RecordFormat:
    """The format of ``path`` by its extension: ``.csv``, or ``.jsonl`` / ``.ndjson``."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise EnrolmentFileError(f"{path}: unknown format {suffix!r}; use .csv or .jsonl")


def text_encoding(name: str) -> Encoding:
    """``name`` as one of :data:`ENCODINGS` (``windows-1252``, ``latin1``, ``UTF8`` included)."""
    try:
        found = codecs.lookup(name).name
    except LookupError:
        found = ""
    for encoding in ENCODINGS:
        if codecs.lookup(encoding).name == found:
            return encoding
    raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}, not {name!r}")


def _looks_like_utf8(raw: bytes) -> bool:
    """Whether ``raw`` has non-ASCII bytes that are all valid UTF-8 sequences: text written as
    UTF-8, which a single-byte encoding would silently turn into ``MARÃ\x8dA``."""
    if raw.isascii():
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decoded_lines(
    raw_lines: Iterable[bytes], errors: list[RowError], encoding: Encoding = "utf-8"
) -> Iterator[str]:
    """The lines as text; a line that is not valid in ``encoding`` is reported and skipped.

    UTF-8 is strict (a leading byte order mark is removed). A single-byte encoding refuses a byte
    it does not define (cp1252: 0x81, 0x8D, 0x8F, 0x90, 0x9D) and a line that is valid UTF-8 with
    accents: that file is UTF-8, and reading it as cp1252 would change every accented letter.
    """
    utf8 = encoding.startswith("utf-8")
    for number, raw in enumerate(raw_lines, start=1):
        if number == 1:
            if raw.startswith(_UTF16_BOMS):
                raise EnrolmentFileError("line 1: the file is UTF-16; save it as UTF-8")
            if raw.startswith(_BOM) and not utf8:
                raise EnrolmentFileError(
                    f"line 1: the file starts with a UTF-8 byte order mark, so it is UTF-8, "
                    f"not {encoding}; run without --encoding"
                )
            raw = raw.removeprefix(_BOM)
        if not utf8 and _looks_like_utf8(raw):
            seen = next(char for char in raw.decode("utf-8") if not char.isascii())
            utf8_bytes = seen.encode().hex(" ").upper()
            message = (
                f"this line is UTF-8 ({seen!r} written as the bytes {utf8_bytes}), and read as "
                f"{encoding} its accented letters would change; if the file is UTF-8, run "
                "without --encoding"
            )
            errors.append(RowError(number, "encoding", message))
            yield "\n"
            continue
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            hint = (
                "save the file as UTF-8, or name its encoding (--encoding cp1252, latin-1)"
                if utf8
                else "check the file's encoding"
            )
            byte = f"byte 0x{raw[exc.start]:02X} at column {exc.start + 1}"
            message = f"not {_NAMES[encoding]} ({byte}); {hint}"
            errors.append(RowError(number, "encoding", message))
            yield "\n"  # keep line numbers: an empty line in its place
            continue
        yield text


_Row = tuple[int, dict[str, str] | list[RowError]]


def _csv_rows(lines: Iterator[str], pending: list[RowError]) -> Iterator[_Row]:
    consumed = 0

    def counted() -> Iterator[str]:
        nonlocal consumed
        for line in lines:
            consumed += 1
            yield line

    reader = csv.reader(counted(), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise EnrolmentFileError("the file is empty (it needs a header line)") from None
    except csv.Error as exc:
        raise EnrolmentFileError(f"line 1: header: {exc}") from None
    if pending:
        raise EnrolmentFileError(str(pending[0]))
    names = [name.strip().lower() for name in header]
    missing = [column for column in COLUMNS if column not in names]
    unknown = [name for name in names if name not in _KNOWN]
    twice = sorted({name for name in names if names.count(name) > 1})
    problems = [
        *([f"missing column(s) {', '.join(missing)}"] if missing else []),
        *([f"unknown column(s) {', '.join(unknown)}"] if unknown else []),
        *([f"column(s) named twice: {', '.join(twice)}"] if twice else []),
    ]
    if problems:
        raise EnrolmentFileError(f"line 1: header: {'; '.join(problems)}")
    while True:
        start = consumed + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, [RowError(start, "row", f"not valid CSV: {exc}")]
            continue
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue  # blank line
        if len(fields) != len(names):
            message = f"has {len(fields)} fields, the header has {len(names)}"
            yield start, [RowError(start, "row", message)]
            continue
        yield start, dict(zip(names, fields, strict=True))


def _jsonl_rows(lines: Iterator[str]) -> Iterator[_Row]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = parse_json(line.rstrip("\r\n"))
        except IJsonError as exc:
            message = f"not valid JSON: {exc.message.removeprefix('not JSON: ')}"
            yield number, [RowError(number, "row", message)]
            continue
        if not isinstance(data, dict):
            yield number, [RowError(number, "row", "must be a JSON object")]
            continue
        errors: list[RowError] = []
        values: dict[str, str] = {}
        for key, value in data.items():
            if key not in _KNOWN:
                errors.append(RowError(number, str(key), "unknown field"))
            elif value is None and key in _EMPTY_ALLOWED:
                values[key] = ""
            elif not isinstance(value, str):
                message = f"must be a JSON string, not {_json_type(value)}"
                errors.append(RowError(number, key, message))
            else:
                values[key] = value
        errors += [RowError(number, c, "required, but missing") for c in COLUMNS if c not in data]
        yield number, errors or values


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, dict) else "null"


def read_records(
    path: Path | str,
    *,
    today: date | None = None,
    file_format: RecordFormat | None = None,
    encoding: Encoding = "utf-8",
) -> Iterator[RowResult]:
    """Every row of an enrolment file, in order: a record, or one error per problem found.

    ``today`` (default: today in Mexico City) is what ``valid_until`` must be after. A CURP seen
    on an earlier valid row makes a later row an error (one credential per person per batch).
    Raises :class:`EnrolmentFileError` (when the first item is requested) if the file cannot be
    read at all: unknown extension, empty, UTF-16, or a CSV header without the required columns.
    ``encoding`` is one of :data:`ENCODINGS` (strict UTF-8 by default; nothing is guessed).
    """
    path = Path(path)
    kind = file_format or record_format(path)
    day = today or datetime.now(MEXICO_CITY).date()
    seen = FirstLines()  # every CURP of the file, compactly (a national file is large)
    pending: list[RowError] = []
    with path.open("rb") as handle:
        lines = _decoded_lines(handle, pending, encoding)
        rows = _csv_rows(lines, pending) if kind == "csv" else _jsonl_rows(lines)
        for line, row in rows:
            while pending and pending[0].line <= line:
                yield pending.pop(0)
            checked = row if isinstance(row, list) else _check_row(line, row, day)
            if isinstance(checked, list):
                yield from checked
            elif (first := seen.get(checked.curp)) is not None:
                message = f"{checked.curp} is already on line {first}"
                yield RowError(line, "curp", message)
            else:
                seen.add(checked.curp, line)
                yield checked
        yield from pending


def count_rows(path: Path | str) -> int:
    """About how many rows a file has (non-blank lines, less the CSV header), for progress."""
    path = Path(path)
    with path.open("rb") as handle:
        count = sum(1 for line in handle if line.strip())
    return max(count - 1, 0) if record_format(path) == "csv" else count
