"""Enrolment rows for the bulk and operator tests: valid people, files, and an issuer set-up."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path

import pytest

from issuer.enrolment.rows import COLUMNS, OPTIONAL_COLUMNS
from verifier import curp_check_digit

__all__ = [
    "KEY_PASSPHRASE",
    "NAMES",
    "count_credentials",
    "make_curp",
    "operator_env",
    "people",
    "person",
    "write_csv",
    "write_jsonl",
]

KEY_PASSPHRASE = "bulk-test-passphrase"

#: Names as enrolment systems send them: accents, Ñ, apostrophes, hyphens, particles, mixed case.
NAMES: tuple[tuple[str, str, str], ...] = (
    ("MARÍA GUADALUPE DEL SOCORRO", "HERNÁNDEZ", "DE LA O"),
    ("José Ángel", "Peña", "Muñoz-Ibáñez"),
    ("RENÉ", "O'FARRILL", ""),
    ("Ximena Zoé", "D'Artagnan", "Güemes"),
    ("ÑUSTA", "AÑORVE-CÚRCUMA", "SAÚL"),
    ("Anaïs Élodie", "Mc Gregor", "del Río"),
)
_SURNAME_CONSONANTS = "BCDFGHJKLMNPQRSTVWXYZ"


def make_curp(number: int, birth: date) -> str:
    """A valid CURP for someone born on ``birth``, distinct for each ``number``."""
    consonants = "".join(
        _SURNAME_CONSONANTS[(number // len(_SURNAME_CONSONANTS) ** i) % len(_SURNAME_CONSONANTS)]
        for i in range(3)
    )
    homoclave = "0" if birth.year < 2000 else "A"
    first17 = f"PEMA{birth:%y%m%d}{'HM'[number % 2]}DF{consonants}{homoclave}"
    return first17 + curp_check_digit(first17)


def person(number: int, institution: str = "IMSS", **changes: str) -> dict[str, str]:
    """One valid enrolment row (as text), with ``changes`` applied."""
    birth = date(1950 + number % 60, 1 + number % 12, 1 + number % 28)
    given, first, second = NAMES[number % len(NAMES)]
    row = {
        "curp": make_curp(number, birth),
        "given_names": given,
        "first_surname": first,
        "second_surname": second,
        "birth_date": birth.isoformat(),
        "institution": institution,
        "program": "Régimen Obligatorio",
        "affiliation_number": f"{number:011d}",
        "relationship": ("titular", "cónyuge", "hija")[number % 3],
        "clues": f"DFIMS{number:06d}",
        "valid_until": "2031-12-31",
    }
    row.update(changes)
    return row


def people(count: int, institution: str = "IMSS", start: int = 1) -> list[dict[str, str]]:
    """``count`` valid, distinct rows."""
    return [person(number, institution) for number in range(start, start + count)]


def write_csv(
    path: Path, rows: Iterable[Mapping[str, str]], *, header: Iterable[str] | None = None
) -> Path:
    """A UTF-8 CSV enrolment file with the documented header (plus ``holder_did`` if used)."""
    rows = list(rows)
    columns = list(header) if header is not None else list(COLUMNS)
    if header is None and any(OPTIONAL_COLUMNS[0] in row for row in rows):
        columns.append(OPTIONAL_COLUMNS[0])
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    return path


def write_jsonl(path: Path, rows: Iterable[Mapping[str, object]]) -> Path:
    """A JSON Lines enrolment file, one object per line."""
    lines = [json.dumps(dict(row), ensure_ascii=False) for row in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def operator_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Work in ``tmp_path`` with the key passphrase set; returns the SQLite database path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CREDENCIAL_KEY_PASSPHRASE", KEY_PASSPHRASE)
    monkeypatch.setenv("CREDENCIAL_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.delenv("CREDENCIAL_DATABASE_URL", raising=False)
    return tmp_path / "issuer.db"


def count_credentials(db: Path) -> dict[str, int]:
    """Credentials per CURP, read straight from the SQLite file."""
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT curp, COUNT(*) FROM credentials GROUP BY curp")
        return dict(rows.fetchall())
