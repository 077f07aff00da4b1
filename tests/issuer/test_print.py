"""Printing as its own step: ``credencial-issuer print`` over bulk outputs or card texts."""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from issuer.cards import printing
from issuer.cards.printing import CardSourceError, card_file_stem, card_texts, print_cards
from issuer.cards.render import CARD_SIZE_PX
from issuer.cards.sheet import _BOTTOM, _CARD_H, _CARD_W, _LEFT, _PAGE_H, _PAGE_W
from issuer.cli import run
from issuer.enrolment.bulk import read_outputs
from issuer.institutions import INSTITUTIONS
from issuer.keys.files import Ed25519KeyPair
from tests.conftest import Issuers, make_issuers
from tests.issuer._enrolment_data import operator_env, person, write_csv
from tests.issuer._pdf import page_images, pdf_objects
from tests.strategies import example_credential
from verifier import decode_card, encode_card

GIVEN = ("ANA", "JOSÉ", "MARÍA", "RENÉ", "LUZ", "ÑUÑO", "SOFÍA", "IÑAKI")


@pytest.fixture(scope="module")
def issuers() -> Issuers:
    return make_issuers(
        {
            code: Ed25519KeyPair(
                Ed25519PrivateKey.from_private_bytes(
                    hashlib.sha256(f"print/{code}".encode()).digest()
                )
            )
            for code in INSTITUTIONS
        }
    )


@pytest.fixture(scope="module")
def texts(issuers: Issuers) -> list[str]:
    """35 card texts of different people (names, ids), signed."""
    made = []
    for number in range(35):
        unsigned = copy.deepcopy(example_credential())
        unsigned["id"] = f"urn:uuid:{number:08x}-0000-4000-8000-000000000000"
        unsigned["credentialSubject"]["givenName"] = f"{GIVEN[number % len(GIVEN)]} {number}"[:-3]
        made.append(encode_card(issuers.sign(unsigned)))
    return made


def _write(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(f"{text}\n" for text in texts), encoding="utf-8")
    return path


def _read_qr(image: Image.Image) -> str:
    found = zxingcpp.read_barcodes(
        image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    )
    (text,) = {str(barcode.text) for barcode in found}  # one symbol (found once or more)
    return text


def _sheet_texts(pdf: Path) -> list[list[str]]:
    return [
        [_read_qr(card) for card in page] for page in page_images(pdf_objects(pdf.read_bytes()))
    ]


# -- PDF sheets -----------------------------------------------------------------------------------


def test_pdf_sheets_hold_every_card_in_order_ten_a_page(tmp_path: Path, texts: list[str]) -> None:
    source = _write(tmp_path / "cards.txt", texts)
    report = print_cards([source], pdf=tmp_path / "out.pdf", workers=0)
    assert (report.cards, report.printed, report.existing, report.errors) == (35, 35, 0, [])
    assert report.pages == 4
    pages = _sheet_texts(tmp_path / "out.pdf")
    assert [len(page) for page in pages] == [10, 10, 10, 5]
    assert [text for page in pages for text in page] == texts  # each card decodes to its text
    assert not (tmp_path / "out.pdf.parts").exists()  # the segments are joined and removed
    assert not list(tmp_path.glob(".*.tmp"))


def test_cut_marks_sit_outside_the_cards_on_every_cutting_line(
    tmp_path: Path, texts: list[str]
) -> None:
    print_cards([_write(tmp_path / "c.txt", texts[:3])], pdf=tmp_path / "o.pdf", workers=0)
    objects = pdf_objects((tmp_path / "o.pdf").read_bytes())
    content = next(body for body in objects.values() if b" Do Q" in body)
    lines = [
        tuple(map(float, found))
        for found in re.findall(rb"([\d.]+) ([\d.]+) m ([\d.]+) ([\d.]+) l", content)
    ]
    assert len(lines) == 2 * 3 + 2 * 6  # three vertical cutting lines, six horizontal ones
    top, right = _BOTTOM + 5 * _CARD_H, _LEFT + 2 * _CARD_W
    for x1, y1, x2, y2 in lines:
        assert min(x1, x2) > 0
        assert max(x1, x2) < _PAGE_W
        assert min(y1, y2) > 0
        assert max(y1, y2) < _PAGE_H
        outside_columns = max(x1, x2) < _LEFT or min(x1, x2) > right
        outside_rows = max(y1, y2) < _BOTTOM or min(y1, y2) > top
        assert outside_columns or outside_rows  # never over a card
        if x1 == x2:  # vertical: on a column edge
            assert any(abs(x1 - (_LEFT + c * _CARD_W)) < 0.01 for c in range(3))
        else:
            assert y1 == y2
            assert any(abs(y1 - (_BOTTOM + r * _CARD_H)) < 0.01 for r in range(6))


def test_workers_make_the_same_file(tmp_path: Path, texts: list[str]) -> None:
    source = _write(tmp_path / "cards.txt", texts)
    print_cards([source], pdf=tmp_path / "one.pdf", workers=0)
    print_cards([source], pdf=tmp_path / "two.pdf", workers=2)
    assert (tmp_path / "one.pdf").read_bytes() == (tmp_path / "two.pdf").read_bytes()


def test_the_same_cards_again_draw_nothing_other_cards_redraw(
    tmp_path: Path, texts: list[str]
) -> None:
    source, pdf = _write(tmp_path / "cards.txt", texts[:12]), tmp_path / "out.pdf"
    print_cards([source], pdf=pdf, workers=0)
    before = pdf.stat().st_mtime_ns
    again = print_cards([source], pdf=pdf, workers=0)
    assert (again.printed, again.existing) == (0, 12)
    assert pdf.stat().st_mtime_ns == before
    _write(source, texts[:3])
    fewer = print_cards([source], pdf=pdf, workers=0)
    assert (fewer.printed, fewer.existing) == (3, 0)
    assert _sheet_texts(pdf) == [texts[:3]]


class _InterruptedError(Exception):
    """Stands for Ctrl-C or a kill (pytest keeps KeyboardInterrupt for itself)."""


def _interrupt_at(monkeypatch: pytest.MonkeyPatch, card: int) -> list[int]:
    """Make the ``card``-th drawing raise :class:`_InterruptedError` once; the list counts drawings
    (set it to ``[0]`` to count again, with no interruption)."""
    draw = printing._draw
    calls = [0, card]

    def counted(document: dict[str, Any], text: str, ecc: str) -> Any:
        calls[0] += 1
        if len(calls) > 1 and calls[0] == calls[1]:
            raise _InterruptedError
        return draw(document, text, ecc)

    monkeypatch.setattr(printing, "_draw", counted)
    return calls


def test_an_interrupted_pdf_resumes_without_redrawing_or_losing_a_card(
    tmp_path: Path, texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(printing, "SEGMENT_CARDS", 10)
    source, pdf = _write(tmp_path / "cards.txt", texts), tmp_path / "out.pdf"
    calls = _interrupt_at(monkeypatch, 25)
    with pytest.raises(_InterruptedError):
        print_cards([source], pdf=pdf, workers=0)
    assert not pdf.exists()
    parts = sorted(path.name for path in (tmp_path / "out.pdf.parts").iterdir())
    assert parts == [f"segment-00000{n}.{kind}" for n in (0, 1) for kind in ("json", "pdf")]
    calls[:] = [0]
    report = print_cards([source], pdf=pdf, workers=0)
    assert calls[0] == 15  # only the cards of the unfinished segments are drawn
    assert (report.printed, report.existing, report.pages) == (15, 20, 4)
    assert [text for page in _sheet_texts(pdf) for text in page] == texts


def test_an_interrupted_png_run_resumes(
    tmp_path: Path, texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source, out = _write(tmp_path / "cards.txt", texts[:12]), tmp_path / "png"
    calls = _interrupt_at(monkeypatch, 6)
    with pytest.raises(_InterruptedError):
        print_cards([source], png=out, workers=0)
    assert len(list(out.glob("*.png"))) == 5
    assert not list(out.glob(".*"))  # no partial file is left where a card was being written
    calls[:] = [0]
    report = print_cards([source], png=out, workers=0)
    assert calls[0] == 7
    assert (report.printed, report.existing) == (7, 5)
    for text in texts[:12]:
        path = out / f"{card_file_stem(decode_card(text))}.png"
        with Image.open(path) as image:
            assert image.size == CARD_SIZE_PX
            assert image.mode == "P"
            assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
            assert _read_qr(image) == text


def test_a_line_that_is_not_card_text_is_reported_and_the_others_are_drawn(
    tmp_path: Path, texts: list[str]
) -> None:
    source = _write(tmp_path / "cards.txt", [texts[0], "SUS1:NOT A CARD", "", texts[1]])
    report = print_cards([source], pdf=tmp_path / "out.pdf", workers=0)
    assert report.printed == 2
    [error] = report.errors
    assert error.startswith(f"{source}:2: not a card text this issuer can print: ")
    assert _sheet_texts(tmp_path / "out.pdf") == [[texts[0], texts[1]]]


def test_sources_that_cannot_be_read_are_refused_before_drawing(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for source, message in [
        (tmp_path / "missing.txt", "no such file or folder"),
        (tmp_path / "empty", "not a bulk output folder"),
    ]:
        with pytest.raises(CardSourceError, match=message):
            print_cards([source], pdf=tmp_path / "o.pdf")
    assert not (tmp_path / "o.pdf").exists()


def test_blank_lines_are_not_cards(tmp_path: Path, texts: list[str]) -> None:
    source = _write(tmp_path / "cards.txt", ["", texts[0], "  ", texts[1]])
    assert list(card_texts([source])) == [(f"{source}:2", texts[0]), (f"{source}:4", texts[1])]


# -- from bulk's outputs, on the command line -----------------------------------------------------


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return operator_env(monkeypatch, tmp_path)


def _institution_rows() -> Iterator[dict[str, str]]:
    """Rows as an enrolment system exports them: capitals, no accents, both genders."""
    written = ["HIJA", "CONYUGE", "esposa", "ESPOSO", "Concubina", "CONCUBINARIO", "MADRE",
               "padre", "TITULAR", "Hijo", "cónyuge", "OTRA"]  # fmt: skip
    for number, relationship in enumerate(written, start=1):
        yield person(number, given_names="MARÍA JOSÉ", first_surname="PEÑA",
                     relationship=relationship)  # fmt: skip


def test_a_cp1252_batch_as_institutions_write_it_issues_then_prints(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path
) -> None:
    rows = [*_institution_rows(), person(40, relationship="primo")]
    source = tmp_path / "export.csv"
    source.write_bytes(write_csv(tmp_path / "u.csv", rows).read_text("utf-8").encode("cp1252"))
    out = tmp_path / "out"
    argv = ["bulk", str(source), "--institution", "IMSS", "--out", str(out), "--db", str(db)]
    assert run([*argv, "--encoding", "cp1252"]) == 1  # one row is refused
    err = capsys.readouterr().err
    assert "13 rows: 12 issued, 0 already issued, 1 with errors; 2 files written" in err
    errors = (out / "errors.csv").read_text(encoding="utf-8")
    assert '14,relationship,"must be one of titular, cónyuge, esposa, esposo, concubina' in errors
    issued = [document for document, _ in read_outputs(out)]
    assert [d["credentialSubject"]["coverage"]["beneficiaryRelationship"] for d in issued] == [
        "hija", "cónyuge", "esposa", "esposo", "concubina", "concubino", "madre", "padre",
        "titular", "hijo", "cónyuge", "otro",
    ]  # fmt: skip
    assert issued[0]["credentialSubject"]["givenName"] == "MARÍA JOSÉ"
    assert not list(out.glob("cards*"))

    sheet = tmp_path / "sheet.pdf"
    assert run(["print", str(out), "--pdf", str(sheet), "--workers", "2"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(sheet)
    assert "print: 12 cards: 12 drawn, 0 already drawn, 0 not drawn, 2 pages" in captured.err
    printed = [text for page in _sheet_texts(sheet) for text in page]
    assert printed == [text for _, text in read_outputs(out)]
    assert [decode_card(text) for text in printed] == issued


def test_print_command_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, texts: list[str]
) -> None:
    assert run(["print", str(tmp_path / "nothing"), "--pdf", str(tmp_path / "o.pdf")]) == 64
    assert "no such file or folder" in capsys.readouterr().err
    source = _write(tmp_path / "c.txt", [texts[0]])
    assert run(["print", str(source)]) == 64  # --pdf or --png is required
    both = ["print", str(source), "--pdf", "a.pdf", "--png", "d"]
    assert run(both) == 64
    capsys.readouterr()
    bad = _write(tmp_path / "bad.txt", [texts[0], "SUS1:XX"])
    assert run(["print", str(bad), "--png", str(tmp_path / "png"), "--workers", "0"]) == 1
    err = capsys.readouterr().err
    assert f"print: {bad}:2: not a card text this issuer can print" in err
    assert len(list((tmp_path / "png").glob("*.png"))) == 1
