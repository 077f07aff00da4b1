"""``credencial-issuer bulk``: outputs, per-row errors, idempotent re-runs, resume after a kill."""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import verifier
from issuer.cards.render import CARD_SIZE_PX
from issuer.cards.sheet import CARDS_PER_PAGE
from issuer.cli import run
from issuer.cli.operator import build_service
from issuer.credentials.service import IssuerService
from issuer.enrolment import bulk
from issuer.enrolment.bulk import BulkReport, Progress, output_name, part_name, read_outputs
from issuer.progress import Counts
from tests.issuer._enrolment_data import (
    count_credentials,
    operator_env,
    people,
    person,
    write_csv,
    write_jsonl,
)
from tests.issuer._pdf import pdf_objects
from verifier import CardEncodingError, Verdict, decode_card


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The SQLite file of the test issuer (passphrase and key folder set in the environment)."""
    return operator_env(monkeypatch, tmp_path)


def _bulk(
    capsys: pytest.CaptureFixture[str], source: Path, out: Path, db: Path, *extra: str
) -> tuple[int, str]:
    argv = ["bulk", str(source), "--institution", "IMSS", "--out", str(out), "--db", str(db)]
    status = run([*argv, *extra])
    return status, capsys.readouterr().err


def _service(db: Path) -> IssuerService:
    return build_service(str(db), bootstrap=False)


def _wallets(out: Path) -> dict[str, dict[str, Any]]:
    """The credentials of the output parts, by their stem (``output_name``)."""
    return {output_name(document): document for document, _ in read_outputs(out)}


def _errors_csv(out: Path) -> list[dict[str, str]]:
    with (out / "errors.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _assert_complete(out: Path, db: Path, rows: list[dict[str, str]], *, png: bool) -> None:
    """One credential per row in the database and every output file, each one verifying."""
    assert count_credentials(db) == {row["curp"]: 1 for row in rows}
    outputs = list(read_outputs(out))
    # In file order (the rows' order), each credential once.
    assert [doc["credentialSubject"]["curp"] for doc, _ in outputs] == [row["curp"] for row in rows]
    service = _service(db)
    try:
        verifier = service.verifier()
        for document, card_text in outputs:
            stem = output_name(document)
            assert stem == f"{document['credentialSubject']['curp']}-{document['id'][9:17]}"
            assert verifier.check(document).verdict is Verdict.VALID
            assert card_text is not None
            assert decode_card(card_text) == document
            if png:
                with Image.open(out / "cards" / f"{stem}.png") as image:
                    assert image.size == CARD_SIZE_PX
    finally:
        service.db.dispose()
    assert not list(out.rglob(".*.tmp"))


# -- the happy path -------------------------------------------------------------------------------


def test_bulk_issues_every_row_and_writes_its_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path
) -> None:
    rows = people(6)
    status, err = _bulk(capsys, write_csv(tmp_path / "p.csv", rows), tmp_path / "out", db)
    assert status == 0, err
    # One part: its wallet JSON lines and its card text lines. No image: printing is its own step.
    assert "6 rows: 6 issued, 0 already issued, 0 with errors; 2 files written" in err
    assert sorted(p.name for p in (tmp_path / "out" / "credentials").iterdir()) == [
        "part-000000.jsonl",
        "part-000000.txt",
    ]
    assert not (tmp_path / "out" / "cards").exists()
    assert not (tmp_path / "out" / "cards.pdf").exists()
    sheet = tmp_path / "out" / "cards.pdf"
    assert f"draw the cards with: credencial-issuer print {tmp_path / 'out'} --pdf {sheet}" in err
    _assert_complete(tmp_path / "out", db, rows, png=False)
    assert _errors_csv(tmp_path / "out") == []
    wallets = list(_wallets(tmp_path / "out").values())
    by_curp = {doc["credentialSubject"]["curp"]: doc for doc in wallets}
    for row in rows:
        document = by_curp[row["curp"]]
        assert document["credentialSubject"]["givenName"] == row["given_names"]
        assert document["validUntil"] == "2031-12-31T23:59:59Z"
        assert document["issuer"] == "did:web:imss.gob.mx"


def test_row_errors_are_listed_and_do_not_stop_the_batch(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path
) -> None:
    good = people(4)
    rows = [
        good[0],
        person(20, clues="nope"),
        good[1],
        person(21, institution="ISSSTE"),
        good[2],
        person(22, curp="", relationship="primo"),
        good[3],
    ]
    source = write_csv(tmp_path / "p.csv", rows)
    status, err = _bulk(capsys, source, tmp_path / "out", db, "--cards", "none")
    assert status == 1
    assert "7 rows: 4 issued, 0 already issued, 3 with errors" in err
    assert f"see {tmp_path / 'out' / 'errors.csv'}" in err
    assert [(e["line"], e["field"]) for e in _errors_csv(tmp_path / "out")] == [
        ("3", "clues"),
        ("5", "institution"),
        ("7", "curp"),
        ("7", "relationship"),
    ]
    assert "ISSSTE, but this batch is for IMSS" in _errors_csv(tmp_path / "out")[1]["message"]
    _assert_complete(tmp_path / "out", db, good, png=False)
    assert not (tmp_path / "out" / "cards").exists()


def test_jsonl_batches_work_the_same(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path
) -> None:
    rows = people(3)
    source = write_jsonl(tmp_path / "p.jsonl", rows)
    status, err = _bulk(capsys, source, tmp_path / "out", db, "--cards", "none")
    assert status == 0, err
    _assert_complete(tmp_path / "out", db, rows, png=False)
    # The same people as CSV are the same batch: nothing new is issued.
    status, err = _bulk(
        capsys, write_csv(tmp_path / "p.csv", rows), tmp_path / "out", db, "--cards", "none"
    )
    assert status == 0
    assert "3 rows: 0 issued, 3 already issued, 0 with errors; 0 files written" in err


def test_pdf_sheet_has_ten_cards_per_a4_page(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path
) -> None:
    rows = people(12)
    source = write_csv(tmp_path / "p.csv", rows)
    status, err = _bulk(capsys, source, tmp_path / "out", db, "--cards", "pdf")
    assert status == 0, err
    assert not (tmp_path / "out" / "cards").exists()
    objects = pdf_objects((tmp_path / "out" / "cards.pdf").read_bytes())
    pages = [body for body in objects.values() if b"/Type /Page " in body]
    assert len(pages) == 2 == -(-12 // CARDS_PER_PAGE)
    assert all(b"/MediaBox [0 0 595.276 841.890]" in page for page in pages)
    assert b"/Count 2" in objects[2]
    images = [body for body in objects.values() if b"/Subtype /Image" in body]
    assert len(images) == 12
    width, height = CARD_SIZE_PX
    stream = images[0].split(b"stream\n", 1)[1].rsplit(b"\nendstream", 1)[0]
    assert b"/ColorSpace [/Indexed /DeviceRGB " in images[0]  # the renderer's palette
    assert len(zlib.decompress(stream)) == width * height  # one byte per pixel
    sheet = tmp_path / "out" / "cards.pdf"
    before = sheet.stat().st_mtime_ns
    # Nothing changed: the sheet is not redrawn.
    assert _bulk(capsys, source, tmp_path / "out", db, "--cards", "pdf")[0] == 0
    assert sheet.stat().st_mtime_ns == before
    _assert_complete(tmp_path / "out", db, rows, png=False)
    # A batch of other rows: the sheet holds exactly those.
    fewer = write_csv(tmp_path / "fewer.csv", rows[:3])
    status, err = _bulk(capsys, fewer, tmp_path / "out", db, "--cards", "pdf")
    assert status == 0, err
    # The part (now 3 rows: its two files) and the sheet are written again.
    assert "0 issued, 3 already issued, 0 with errors; 3 files written" in err
    objects = pdf_objects(sheet.read_bytes())
    assert sum(b"/Subtype /Image" in body for body in objects.values()) == 3


# -- idempotent re-runs and resume ----------------------------------------------------------------


def test_a_rerun_issues_nothing_and_repairs_missing_or_damaged_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path
) -> None:
    rows = people(5)
    source, out = write_csv(tmp_path / "p.csv", rows), tmp_path / "out"
    assert _bulk(capsys, source, out, db, "--cards", "png")[0] == 0
    snapshot = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.suffix != ".csv"}
    stems = sorted(_wallets(out))
    status, err = _bulk(capsys, source, out, db, "--cards", "png")
    assert status == 0
    assert "5 rows: 0 issued, 5 already issued, 0 with errors; 0 files written" in err
    (out / "credentials" / "part-000000.jsonl").unlink()
    (out / "cards" / f"{stems[1]}.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    cards = out / "credentials" / "part-000000.txt"
    cards.write_text(cards.read_text().replace("\n", "\nSUS1:DAMAGED\n", 1))
    status, err = _bulk(capsys, source, out, db, "--cards", "png")
    assert status == 0
    assert "0 issued, 5 already issued, 0 with errors; 3 files written" in err
    assert {p: p.read_bytes() for p in snapshot} == snapshot
    _assert_complete(out, db, rows, png=True)


def test_outputs_come_in_parts_and_a_rerun_repairs_a_damaged_or_stale_part(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    db: Path,
) -> None:
    """Parts of ``PART_ROWS`` rows of the file: a row in error has no line; a part that
    differs from what it must hold is written again, parts a longer file left are removed."""
    monkeypatch.setattr(bulk, "PART_ROWS", 4)
    good = people(9)
    rows = [*good[:5], person(30, clues="nope"), *good[5:]]  # row 6 (line 7) in error
    source, out = write_csv(tmp_path / "p.csv", rows), tmp_path / "out"
    status, err = _bulk(capsys, source, out, db, "--cards", "none")
    assert status == 1
    assert "10 rows: 9 issued, 0 already issued, 1 with errors; 6 files written" in err
    folder = out / "credentials"
    assert sorted(p.name for p in folder.iterdir()) == [
        f"{part_name(n)}.{suffix}" for n in range(3) for suffix in ("jsonl", "txt")
    ]
    lengths = [len((folder / f"{part_name(n)}.jsonl").read_bytes().splitlines()) for n in range(3)]
    assert lengths == [4, 3, 2]
    _assert_complete(out, db, good, png=False)
    snapshot = {p: p.read_bytes() for p in folder.iterdir()}

    middle = folder / f"{part_name(1)}.jsonl"
    middle.write_bytes(middle.read_bytes()[:100])  # cut short
    (folder / f"{part_name(2)}.txt").unlink()
    for suffix in ("jsonl", "txt"):  # left by an earlier, longer file
        (folder / f"{part_name(7)}.{suffix}").write_text("{}\n")
    status, err = _bulk(capsys, source, out, db, "--cards", "none")
    assert status == 1
    assert "10 rows: 0 issued, 9 already issued, 1 with errors; 2 files written" in err
    assert {p: p.read_bytes() for p in folder.iterdir()} == snapshot

    # A file whose second part has only rows in error: that part has no files.
    only_errors = [*good[:4], *(person(40 + n, clues="nope") for n in range(4)), good[4]]
    status, err = _bulk(
        capsys, write_csv(tmp_path / "q.csv", only_errors), out, db, "--cards", "none"
    )
    assert status == 1
    assert "9 rows: 0 issued, 5 already issued, 4 with errors; 2 files written" in err
    assert sorted(p.name for p in folder.iterdir()) == [
        f"{part_name(n)}.{suffix}" for n in (0, 2) for suffix in ("jsonl", "txt")
    ]
    assert [d["credentialSubject"]["curp"] for d, _ in read_outputs(out)] == [
        row["curp"] for row in good[:5]
    ]


def test_a_credential_whose_card_cannot_be_made_has_an_empty_card_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    db: Path,
) -> None:
    """Issued and stored, listed in errors.csv, its card line empty; a re-run keeps it so."""
    rows = people(3)
    encode = verifier.encode_card

    def no_card_for_the_second(document: dict[str, Any]) -> str:
        if document["credentialSubject"]["curp"] == rows[1]["curp"]:
            raise CardEncodingError("card form cannot express credential: test")
        return encode(document)

    monkeypatch.setattr(verifier, "encode_card", no_card_for_the_second)  # the signing path
    monkeypatch.setattr(bulk, "encode_card", no_card_for_the_second)  # stored credentials
    source, out = write_csv(tmp_path / "p.csv", rows), tmp_path / "out"
    for run_number in range(2):
        status, err = _bulk(capsys, source, out, db, "--cards", "none")
        assert status == 1
        issued, files = (3, 2) if run_number == 0 else (0, 0)
        assert f"3 rows: {issued} issued, {3 - issued} already issued, 1 with errors; " in err
        assert f"; {files} files written" in err
        assert [(e["line"], e["field"]) for e in _errors_csv(out)] == [("3", "card")]
        assert "issued, but no card can be made" in _errors_csv(out)[0]["message"]
        outputs = list(read_outputs(out))
        assert [d["credentialSubject"]["curp"] for d, _ in outputs] == [r["curp"] for r in rows]
        assert [card is None for _, card in outputs] == [False, True, False]
    assert count_credentials(db) == {row["curp"]: 1 for row in rows}


def test_read_outputs_refuses_parts_that_do_not_match(tmp_path: Path) -> None:
    folder = tmp_path / "credentials"
    folder.mkdir()
    (folder / "part-000000.jsonl").write_text('{"a":1}\n{"a":2}\n')
    (folder / "part-000000.txt").write_text("SUS1:X\n")
    with pytest.raises(ValueError, match=r"part-000000\.jsonl and its \.txt differ"):
        list(read_outputs(tmp_path))
    (folder / "part-000000.txt").write_text("SUS1:X\n\n")
    assert list(read_outputs(tmp_path)) == [({"a": 1}, "SUS1:X"), ({"a": 2}, None)]


def test_resume_after_an_interruption_in_process(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    db: Path,
) -> None:
    """Ctrl-C while writing the 6th row's outputs: its chunk (rows 4-7) is committed."""
    rows = people(12)
    source, out = write_csv(tmp_path / "p.csv", rows), tmp_path / "out"
    outputs_of = bulk._outputs_of
    calls = 0

    def interrupted(outcome: Any, outputs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 6:
            raise KeyboardInterrupt
        return outputs_of(outcome, outputs)

    monkeypatch.setattr(bulk, "_outputs_of", interrupted)
    status, err = _bulk(capsys, source, out, db)
    assert status == 130
    assert "run the same command again to resume" in err
    assert len(count_credentials(db)) == 7  # chunks of 1, 2 and 4 rows committed
    assert not list((out / "credentials").iterdir())  # the part was not complete
    assert not (out / "errors.csv").exists()  # only a finished run publishes its error list
    monkeypatch.setattr(bulk, "_outputs_of", outputs_of)

    status, err = _bulk(capsys, source, out, db)
    assert status == 0, err
    # Rows 8 to 12 issued, and the part's 2 files.
    assert "12 rows: 5 issued, 7 already issued, 0 with errors; 2 files written" in err
    _assert_complete(out, db, rows, png=False)


def _credentials_in(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as connection:
            return int(connection.execute("SELECT COUNT(*) FROM credentials").fetchone()[0])
    except sqlite3.Error:  # not created or not migrated yet
        return 0


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["KILL", "TERM"])
def test_resume_after_a_kill(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path, signum: int
) -> None:
    """A real kill half way through a batch: re-run, no duplicates, nothing missing."""
    rows = people(240)  # enough that the kill lands mid-batch, now that no card is drawn
    source, out = write_csv(tmp_path / "p.csv", rows), tmp_path / "out"
    argv = ["bulk", str(source), "--institution", "IMSS", "--out", str(out), "--db", str(db)]
    child = subprocess.Popen(
        [sys.executable, "-c", "from issuer.cli import main; main()", *argv],
        cwd=tmp_path,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while _credentials_in(db) < 4:
            assert child.poll() is None, child.communicate()[1].decode()
            assert time.monotonic() < deadline, "the bulk run never got going"
            time.sleep(0.005)
        child.send_signal(signum)
        _, child_err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    if signum == signal.SIGKILL:
        assert child.returncode == -signal.SIGKILL
    else:  # SIGTERM stops it like Ctrl-C: cleanly, saying how to resume
        assert child.returncode == 130, child_err.decode()
        assert b"run the same command again to resume" in child_err
        assert not list(out.rglob(".*.tmp"))
        assert not (out / "errors.csv").exists()
    killed_at = _credentials_in(db)
    assert 4 <= killed_at < len(rows), "the kill came too late to interrupt the batch"

    status, err = _bulk(capsys, source, out, db)
    assert status == 0, err
    issued, existing = map(int, re.findall(r"(\d+) issued, (\d+) already issued", err)[0])
    assert (issued, existing) == (len(rows) - killed_at, killed_at)
    _assert_complete(out, db, rows, png=False)
    assert _errors_csv(out) == []


def test_a_stop_request_that_python_swallowed_still_stops_the_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path
) -> None:
    """SIGTERM raises KeyboardInterrupt where it lands; raised inside a weakref callback or a
    finalizer, Python only prints it. The handler also sets ``stop``, which the run checks
    between chunks: set here with no exception at all, the run still ends, and resumes."""
    rows = people(40)
    source, out = write_csv(tmp_path / "p.csv", rows), tmp_path / "out"
    stop = threading.Event()

    class StopAfterSomeRows(Progress):
        def update(self, done: int, report: Counts) -> None:
            super().update(done, report)
            if done >= 8:
                stop.set()  # as the signal handler does, its exception lost

    service = build_service(str(db))  # bootstrapped: migrations and keys, as bulk does
    try:
        with pytest.raises(KeyboardInterrupt):
            bulk.run_bulk(
                service, source, institution="IMSS", out=out, workers=0, chunk=4,
                progress=StopAfterSomeRows(len(rows), io.StringIO()), stop=stop,
            )  # fmt: skip
    finally:
        service.db.dispose()
    stopped_at = _credentials_in(db)
    assert 8 <= stopped_at < len(rows)
    status, err = _bulk(capsys, source, out, db)
    assert status == 0, err
    issued, existing = map(int, re.findall(r"(\d+) issued, (\d+) already issued", err)[0])
    assert (issued, existing) == (len(rows) - stopped_at, stopped_at)
    _assert_complete(out, db, rows, png=False)


# -- refusals -------------------------------------------------------------------------------------


def test_usage_errors_exit_64(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    db: Path,
) -> None:
    out = tmp_path / "out"
    source = write_csv(tmp_path / "p.csv", people(1))
    (tmp_path / "p.txt").write_text("x")
    header_only = tmp_path / "h.csv"
    header_only.write_text("curp,name\n")
    for args, message in [
        ([str(tmp_path / "p.txt")], "unknown format '.txt'"),
        ([str(tmp_path / "missing.csv")], "no such file"),
        ([str(header_only)], "line 1: header: missing column(s) given_names"),
    ]:
        status, err = _bulk(capsys, Path(args[0]), out, db)
        assert (status, message in err) == (64, True), err
    status = run(["bulk", str(source), "--institution", "PEMEX", "--out", str(out)])
    assert status == 64
    assert "unknown institution 'PEMEX'" in capsys.readouterr().err
    monkeypatch.delenv("CREDENCIAL_KEY_PASSPHRASE")
    status, err = _bulk(capsys, source, out, db)
    assert status == 64
    assert "set CREDENCIAL_KEY_PASSPHRASE" in err
    assert count_credentials(db) == {}


def test_one_run_per_output_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path
) -> None:
    import fcntl

    out = tmp_path / "out"
    out.mkdir()
    with (out / ".bulk.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        status, err = _bulk(capsys, write_csv(tmp_path / "p.csv", people(1)), out, db)
    assert status == 64
    assert "another bulk run is writing to" in err


# -- progress -------------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_without_a_terminal_prints_a_line_every_n_rows() -> None:
    stream = io.StringIO()
    progress = Progress(7, stream, every=3)
    report = BulkReport()
    for done in range(1, 8):
        report.issued = done
        progress.update(done, report)
    progress.close(report)
    lines = stream.getvalue().splitlines()
    assert [line.split(" rows")[0] for line in lines] == ["bulk: 3/7", "bulk: 6/7", "bulk: 7/7"]
    assert "\r" not in stream.getvalue()
    assert "7 new, 0 existing, 0 errors" in lines[-1]


def test_progress_on_a_terminal_redraws_one_line() -> None:
    stream = _Terminal()
    progress = Progress(200, stream)
    report = BulkReport()
    for done in range(1, 201):
        progress.update(done, report)
    progress.close(report)
    text = stream.getvalue()
    assert text.startswith("\rbulk [")
    assert text.count("\n") == 1
    assert text.rstrip("\n").rsplit("\r", 1)[1].startswith("bulk [########################] 100%")
