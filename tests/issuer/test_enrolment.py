"""Enrolment records: per-field errors with line numbers, names kept exactly, CSV = JSONL."""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from issuer.credentials.service import IssuerService
from issuer.enrolment.rows import (
    COLUMNS,
    RELATIONSHIPS,
    EnrolmentFileError,
    EnrolmentRecord,
    RowError,
    RowResult,
    read_records,
    text_encoding,
)
from tests.issuer._enrolment_data import make_curp, person, write_csv, write_jsonl
from tests.issuer._workers import make_settings
from tests.strategies import names
from verifier import Coverage, CoverageSubject, Verdict, is_valid_curp

TODAY = date(2026, 6, 1)
HOLDER = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


def _read(path: Path) -> list[RowResult]:
    return list(read_records(path, today=TODAY))


def _errors(results: list[RowResult]) -> list[RowError]:
    return [item for item in results if isinstance(item, RowError)]


def _records(results: list[RowResult]) -> list[EnrolmentRecord]:
    return [item for item in results if isinstance(item, EnrolmentRecord)]


@pytest.fixture
def service(tmp_path: Path) -> Iterator[IssuerService]:
    """An issuer on an SQLite file in ``tmp_path`` (this module's own, SQLite only)."""
    issuer = IssuerService(make_settings(f"sqlite:///{tmp_path / 'i.db'}", tmp_path / "keys"))
    issuer.bootstrap()
    yield issuer
    issuer.db.dispose()


# -- the happy path -------------------------------------------------------------------------------


def test_a_valid_row_becomes_a_subject(tmp_path: Path) -> None:
    row = person(1, holder_did=HOLDER)
    [record] = _read(write_csv(tmp_path / "p.csv", [row]))
    assert isinstance(record, EnrolmentRecord)
    assert record.line == 2
    assert record.subject() == {
        "id": HOLDER,
        "curp": row["curp"],
        "givenName": row["given_names"],
        "familyName": row["first_surname"],
        "secondFamilyName": row["second_surname"],
        "birthDate": row["birth_date"],
        "coverage": {
            "institution": "IMSS",
            "program": "Régimen Obligatorio",
            "affiliationNumber": row["affiliation_number"],
            "beneficiaryRelationship": row["relationship"],
            "adscriptionUnit": row["clues"],
        },
    }
    CoverageSubject.model_validate(record.subject())
    assert record.valid_until == datetime(2031, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert len(record.row_key) == 64
    int(record.row_key, 16)


def test_empty_second_surname_and_holder_are_omitted(tmp_path: Path) -> None:
    [record] = _read(write_csv(tmp_path / "p.csv", [person(2, holder_did="")]))
    assert isinstance(record, EnrolmentRecord)
    assert record.second_surname is None
    assert "secondFamilyName" not in record.subject()
    assert "id" not in record.subject()


def test_row_key_is_stable_and_distinguishes_rows(tmp_path: Path) -> None:
    rows = [person(1), person(2), person(3)]
    first = [r.row_key for r in _records(_read(write_csv(tmp_path / "a.csv", rows)))]
    # Same rows, reordered, with surrounding blanks and a BOM: same keys.
    padded = [{key: f"  {value} " for key, value in row.items()} for row in reversed(rows)]
    path = write_csv(tmp_path / "b.csv", padded)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    second = [r.row_key for r in _records(_read(path))]
    assert second == first[::-1]
    assert len(set(first)) == 3
    changed = _records(_read(write_csv(tmp_path / "c.csv", [person(1, valid_until="2032-01-01")])))
    assert changed[0].row_key != first[0]


# -- per-field errors -----------------------------------------------------------------------------

GOOD = person(1)
_BAD_CHECK = GOOD["curp"][:17] + str((int(GOOD["curp"][17]) + 1) % 10)

BAD_FIELDS = [
    ("curp", "", "required"),
    ("curp", _BAD_CHECK, "check digit is wrong"),
    ("curp", GOOD["curp"][:17], "must be 18 characters, not 17"),
    ("curp", GOOD["curp"].lower(), "capital letters"),
    ("curp", GOOD["curp"][:11] + "XX" + GOOD["curp"][13:], "unknown state code 'XX'"),
    ("curp", GOOD["curp"][:4] + "991332" + GOOD["curp"][10:], "not a real date"),
    ("given_names", "", "required"),
    ("given_names", "A" * 81, "at most 80 characters"),
    ("given_names", "ANA\tMARÍA", "control character (U+0009)"),
    ("first_surname", " ", "required"),
    ("first_surname", "PÉREZ\x7f", "control character (U+007F)"),
    ("second_surname", "B" * 81, "at most 80 characters"),
    ("birth_date", "", "required"),
    ("birth_date", "14/03/1985", "YYYY-MM-DD"),
    ("birth_date", "1985-02-30", "not a real date"),
    ("birth_date", "2027-01-01", "in the future"),
    ("birth_date", "1951-02-03", "does not match the CURP, which gives 1951-02-02"),
    ("institution", "imss", "must be one of IMSS, ISSSTE, IMSS-BIENESTAR"),
    ("institution", "PEMEX", "not 'PEMEX'"),
    ("program", "", "required"),
    ("program", "P" * 81, "at most 80 characters"),
    ("affiliation_number", "12 34", "capital letters A-Z, digits or hyphens"),
    ("affiliation_number", "1" * 21, "1 to 20"),
    ("relationship", "primo", "must be one of titular, cónyuge, esposa, esposo, concubina,"),
    ("relationship", "hijastra", "concubino, hija, hijo, madre, padre, otro, not 'hijastra'"),
    ("relationship", "HIJ0", "not 'HIJ0' (capitals and missing accents are fine)"),
    ("relationship", "esposa(o)", "not 'esposa(o)'"),
    ("clues", "DFIMS00001", "five capital letters and six digits"),
    ("clues", "dfims000001", "CLUES"),
    ("valid_until", "", "required"),
    ("valid_until", "2031-13-01", "not a real date"),
    ("valid_until", "2031-12-31T00:00:00Z", "YYYY-MM-DD"),
    ("valid_until", TODAY.isoformat(), f"must be after today ({TODAY})"),
    ("valid_until", "2020-01-01", "after today"),
    ("holder_did", "did:web:example.com", "Ed25519 did:key"),
    ("holder_did", "did:key:z6MkhaXgBZDvotDkL", "not an Ed25519 did:key"),
]


def test_every_column_has_a_rule() -> None:
    assert {column for column, _, _ in BAD_FIELDS} == {*COLUMNS, "holder_did"}


@pytest.mark.parametrize(("column", "value", "message"), BAD_FIELDS)
def test_bad_field_is_reported_with_line_and_column(
    tmp_path: Path, column: str, value: str, message: str
) -> None:
    rows = [person(2), person(1, **{column: value}), person(3)]
    results = _read(write_csv(tmp_path / "p.csv", rows))
    [error] = _errors(results)
    assert (error.line, error.field) == (3, column)
    assert message in error.message
    assert str(error).startswith(f"line 3: {column}: ")
    assert [r.line for r in _records(results)] == [2, 4]  # the run goes on


def test_several_problems_in_one_row_are_all_reported_in_column_order(tmp_path: Path) -> None:
    row = person(1, clues="X", curp=_BAD_CHECK, relationship="primo", given_names="")
    errors = _errors(_read(write_csv(tmp_path / "p.csv", [row])))
    assert [(e.line, e.field) for e in errors] == [
        (2, "curp"),
        (2, "given_names"),
        (2, "relationship"),
        (2, "clues"),
    ]


def test_relationships_are_the_vocabulary_written_today() -> None:
    assert RELATIONSHIPS == (
        "titular", "cónyuge", "esposa", "esposo", "concubina", "concubino",
        "hija", "hijo", "madre", "padre", "otro",
    )  # fmt: skip
    assert set(RELATIONSHIPS) <= set(
        get_args(Coverage.model_fields["beneficiary_relationship"].annotation)
    )
    assert Coverage.model_fields["beneficiary_relationship"].is_required()


@pytest.mark.parametrize(
    ("written", "term"),
    [
        ("hija", "hija"),
        ("HIJA", "hija"),
        ("Hijo", "hijo"),
        ("cónyuge", "cónyuge"),
        ("Cónyuge", "cónyuge"),
        ("CONYUGE", "cónyuge"),
        ("conyuge", "cónyuge"),  # version 1's spelling: written as people read it now
        ("CÓNYUGE", "cónyuge"),
        ("co\u0301nyuge", "cónyuge"),  # decomposed: o + combining acute
        ("esposa", "esposa"),
        ("ESPOSO", "esposo"),
        ("Concubina", "concubina"),
        ("CONCUBINO", "concubino"),
        ("concubinario", "concubino"),
        ("MADRE", "madre"),
        ("Padre", "padre"),
        ("TITULAR", "titular"),
        (" otra ", "otro"),
    ],
)
def test_relationships_as_institutions_write_them(tmp_path: Path, written: str, term: str) -> None:
    [record] = _read(write_csv(tmp_path / "p.csv", [person(1, relationship=written)]))
    assert isinstance(record, EnrolmentRecord)
    assert record.relationship == term
    assert record.subject()["coverage"]["beneficiaryRelationship"] == term


def test_spellings_of_one_term_are_one_row(tmp_path: Path) -> None:
    """The row key is the normalised row: ``HIJA`` and ``hija`` are the same enrolment."""
    upper = _records(_read(write_csv(tmp_path / "a.csv", [person(1, relationship="HIJA")])))
    lower = _records(_read(write_csv(tmp_path / "b.csv", [person(1, relationship="hija")])))
    assert upper[0].row_key == lower[0].row_key


def test_the_same_curp_twice_is_an_error_on_the_later_line(tmp_path: Path) -> None:
    rows = [person(1), person(2), person(1, given_names="OTRA")]
    results = _read(write_csv(tmp_path / "p.csv", rows))
    assert _errors(results) == [RowError(4, "curp", f"{GOOD['curp']} is already on line 2")]


def test_csv_structure_errors_keep_line_numbers(tmp_path: Path) -> None:
    header = ",".join(COLUMNS)
    good = ",".join(person(1).values())
    multi = ",".join(person(2, program='"Régimen\nObligatorio"').values())
    short = "HEOG850314MDFRXD08,only,three"
    rest = ",".join(person(3).values())
    path = tmp_path / "p.csv"
    path.write_text(f"{header}\n{good}\n\n{multi}\n{short}\n{rest}\n", encoding="utf-8")
    results = _read(path)
    assert [str(e) for e in _errors(results)] == [
        "line 4: program: contains a control character (U+000A)",
        "line 6: row: has 3 fields, the header has 11",
    ]
    assert [r.line for r in _records(results)] == [2, 7]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ([c for c in COLUMNS if c != "clues"], "missing column(s) clues"),
        ([*COLUMNS, "email"], "unknown column(s) email"),
        ([*COLUMNS, "curp"], "column(s) named twice: curp"),
    ],
)
def test_bad_header_refuses_the_file(tmp_path: Path, header: list[str], message: str) -> None:
    row = {key: value for key, value in person(1).items() if key in header}
    path = write_csv(tmp_path / "p.csv", [row], header=header)
    with pytest.raises(EnrolmentFileError, match="line 1: header") as caught:
        _read(path)
    assert message in str(caught.value)


def test_a_header_in_any_case_with_blanks_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    header = ", ".join(column.upper() for column in COLUMNS)
    path.write_text(f"{header}\n{','.join(person(1).values())}\n", encoding="utf-8")
    assert len(_records(_read(path))) == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("p.csv", b"", "empty"),
        ("p.csv", "curp\n".encode("utf-16"), "UTF-16"),
        ("p.xlsx", b"PK", "unknown format '.xlsx'"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(EnrolmentFileError, match=message):
        _read(path)


def test_a_latin1_line_is_reported_and_the_others_are_read(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [person(1), person(2), person(3)])
    lines = path.read_bytes().split(b"\n")
    lines[2] = ",".join(person(2).values()).encode("latin-1")  # 'É' as one byte 0xC9
    path.write_bytes(b"\n".join(lines))
    results = _read(path)
    [error] = _errors(results)
    assert (error.line, error.field) == (3, "encoding")
    assert "not UTF-8 (byte 0x" in error.message
    assert "save the file as UTF-8" in error.message
    assert [r.line for r in _records(results)] == [2, 4]


def _institution_rows() -> list[dict[str, str]]:
    """Rows as enrolment systems export them: capitals, relationships without accents."""
    return [
        person(1, given_names="MARÍA JOSÉ", first_surname="PEÑA", relationship="HIJA"),
        person(2, given_names="RENÉ", first_surname="O’FARRILL", relationship="CONYUGE"),
        person(3, given_names="ANA", first_surname="MUÑOZ", relationship="Concubina"),
    ]


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_a_file_in_a_named_single_byte_encoding_reads_as_its_utf8_twin(
    tmp_path: Path, encoding: str
) -> None:
    rows = _institution_rows()
    if encoding == "latin-1":  # Latin-1 has no curly apostrophe
        rows[1]["first_surname"] = "O'FARRILL"
    utf8 = write_csv(tmp_path / "u.csv", rows)
    other = tmp_path / "w.csv"
    other.write_bytes(utf8.read_text(encoding="utf-8").encode(encoding))
    assert other.read_bytes() != utf8.read_bytes()  # accents are single bytes now
    read = list(read_records(other, today=TODAY, encoding=encoding))  # type: ignore[arg-type]
    assert not _errors(read)
    assert read == _read(utf8)
    assert [r.relationship for r in _records(read)] == ["hija", "cónyuge", "concubina"]
    assert _records(read)[0].given_names == "MARÍA JOSÉ"


def test_a_byte_cp1252_does_not_define_is_an_error_naming_its_line(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_bytes(write_csv(tmp_path / "u.csv", _institution_rows()).read_bytes())
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"RENE", b"RENE").replace(b"O\xe2\x80\x99", b"O\x81")
    lines[1] = lines[1].decode("utf-8").encode("cp1252")
    lines[3] = lines[3].decode("utf-8").encode("cp1252")
    path.write_bytes(b"\n".join(lines))
    results = list(read_records(path, today=TODAY, encoding="cp1252"))
    [error] = _errors(results)
    assert (error.line, error.field) == (3, "encoding")
    assert "not Windows-1252 (byte 0x81 at column" in error.message
    assert [r.line for r in _records(results)] == [2, 4]  # the other rows are issued


def test_a_utf8_file_read_as_cp1252_is_refused_line_by_line_not_garbled(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "u.csv", _institution_rows())
    results = list(read_records(path, today=TODAY, encoding="cp1252"))
    errors = _errors(results)
    assert [(e.line, e.field) for e in errors] == [
        (2, "encoding"),
        (3, "encoding"),
        (4, "encoding"),
    ]
    assert "this line is UTF-8 ('Í' written as the bytes C3 8D)" in errors[0].message
    assert "run without --encoding" in errors[0].message
    assert not _records(results)


def test_the_default_utf8_error_names_the_encoding_option(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_bytes(
        write_csv(tmp_path / "u.csv", _institution_rows()).read_text("utf-8").encode("cp1252")
    )
    errors = _errors(_read(path))
    assert [e.line for e in errors] == [2, 3, 4]
    assert "--encoding cp1252" in errors[0].message


def test_a_utf8_bom_with_a_single_byte_encoding_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [person(1)])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    with pytest.raises(EnrolmentFileError, match="byte order mark, so it is UTF-8, not cp1252"):
        list(read_records(path, today=TODAY, encoding="cp1252"))
    assert len(_records(list(read_records(path, today=TODAY, encoding="utf-8-sig")))) == 1


@pytest.mark.parametrize(
    ("name", "encoding"),
    [("cp1252", "cp1252"), ("windows-1252", "cp1252"), ("Latin-1", "latin-1"),
     ("iso-8859-1", "latin-1"), ("UTF8", "utf-8"), ("utf-8-sig", "utf-8-sig")],
)  # fmt: skip
def test_encoding_names(name: str, encoding: str) -> None:
    assert text_encoding(name) == encoding


@pytest.mark.parametrize("name", ["utf-16", "cp850", "ascii", "guess"])
def test_other_encodings_are_refused_naming_the_accepted_ones(name: str) -> None:
    with pytest.raises(ValueError, match="must be one of utf-8, utf-8-sig, cp1252, latin-1"):
        text_encoding(name)


def test_a_bom_is_stripped(tmp_path: Path) -> None:
    for path in (
        write_csv(tmp_path / "p.csv", [person(1)]),
        write_jsonl(tmp_path / "p.jsonl", [person(1)]),
    ):
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
        assert [r.curp for r in _records(_read(path))] == [GOOD["curp"]]


# -- JSON Lines -----------------------------------------------------------------------------------


def test_jsonl_errors_name_the_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    missing = {k: v for k, v in person(4).items() if k != "clues"}
    lines = [
        person(1),
        None,  # blank line
        {**person(2), "affiliation_number": 12345678901},
        {**person(3), "email": "x@example.com", "second_surname": None},
        missing,
        "[1, 2]",
        '{"curp": ',
        person(5),
    ]
    text = "\n".join(
        "" if line is None else line if isinstance(line, str) else json.dumps(line)
        for line in lines
    )
    path.write_text(text + "\n", encoding="utf-8")
    results = _read(path)
    assert [str(e) for e in _errors(results)] == [
        "line 3: affiliation_number: must be a JSON string, not a number",
        "line 4: email: unknown field",
        "line 5: clues: required, but missing",
        "line 6: row: must be a JSON object",
        "line 7: row: not valid JSON: Expecting value (column 10)",
    ]
    assert [r.line for r in _records(results)] == [1, 8]


# -- names survive --------------------------------------------------------------------------------


def test_names_survive_byte_for_byte_into_the_signed_credential(
    tmp_path: Path, service: IssuerService
) -> None:
    from issuer.principal import cli_principal

    rows = [person(n) for n in range(6)]
    records = _records(_read(write_csv(tmp_path / "p.csv", rows)))
    assert len(records) == 6
    for row, record in zip(rows, records, strict=True):
        issued = service.issue(
            cli_principal("IMSS"),
            {"credentialSubject": record.subject()},
            valid_until=record.valid_until,
        ).document
        subject = issued["credentialSubject"]
        for key, column in (
            ("givenName", "given_names"),
            ("familyName", "first_surname"),
            ("secondFamilyName", "second_surname"),
        ):
            expected = row[column].encode("utf-8")
            assert subject.get(key, "").encode("utf-8") == expected
        assert service.verifier().check(issued).verdict is Verdict.VALID


def test_names_are_nfc_normalised_and_stripped(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "JOSÉ PEÑA")
    assert decomposed != "JOSÉ PEÑA"
    row = person(1, given_names=f"\u00a0 {decomposed}\t", first_surname="O'NEILL  -  ÑIGUEZ")
    [record] = _records(_read(write_csv(tmp_path / "p.csv", [row])))
    assert record.given_names == "JOSÉ PEÑA"  # NFC, surrounding blanks gone
    assert record.first_surname == "O'NEILL  -  ÑIGUEZ"  # inner spacing untouched


@settings(max_examples=60, deadline=None)
@given(given_names=names(), first=names(), second=names())
def test_any_spanish_name_survives_a_csv_round_trip(
    given_names: str, first: str, second: str
) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    row = person(1, given_names=given_names, first_surname=first, second_surname=second)
    writer.writerow(row)
    content = buffer.getvalue().encode("utf-8")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "p.csv"
        path.write_bytes(content)
        [record] = list(read_records(path, today=TODAY))
    assert isinstance(record, EnrolmentRecord), record
    subject = record.subject()
    assert (subject["givenName"], subject["familyName"], subject["secondFamilyName"]) == (
        given_names,
        first,
        second,
    )


@given(st.integers(0, 10_000))
def test_test_curps_are_valid(number: int) -> None:
    assert is_valid_curp(make_curp(number, date(2001, 2, 3)))


# -- CSV and JSONL are the same batch -------------------------------------------------------------


def test_csv_and_jsonl_give_the_same_credentials(tmp_path: Path, service: IssuerService) -> None:
    from issuer.principal import cli_principal

    rows = [person(n, holder_did=HOLDER if n % 2 else "") for n in range(1, 7)]
    from_csv = _records(_read(write_csv(tmp_path / "p.csv", rows)))
    from_jsonl = _records(_read(write_jsonl(tmp_path / "p.jsonl", rows)))
    assert [r.subject() for r in from_csv] == [r.subject() for r in from_jsonl]
    assert [r.row_key for r in from_csv] == [r.row_key for r in from_jsonl]

    def issue(record: EnrolmentRecord) -> dict[str, object]:
        return service.issue(
            cli_principal("IMSS"),
            {"credentialSubject": record.subject()},
            valid_until=record.valid_until,
            idempotency_key=f"bulk:{record.row_key}",
        ).document

    csv_docs = [issue(r) for r in from_csv]
    jsonl_docs = [issue(r) for r in from_jsonl]
    assert csv_docs == jsonl_docs  # the same batch: found, not issued again


# -- the documented contract ----------------------------------------------------------------------

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_example_and_table_match_the_code(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Enrolment records", 1)[1].split("\n## ", 1)[0]
    example = section.split("```csv\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.csv"
    path.write_text(example, encoding="utf-8")
    results = list(read_records(path, today=date(2026, 1, 1)))
    assert _errors(results) == []
    records = _records(results)
    assert [r.first_surname for r in records] == ["HERNÁNDEZ", "O'FARRILL", "Peña"]
    assert records[2].second_surname == "Muñoz-Ibáñez"
    documented = re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)
    assert documented == [*COLUMNS, "holder_did"]
