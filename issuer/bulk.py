"""Bulk issuance: one credential per valid row of an enrolment file, resumable and idempotent.

Each row is issued with the idempotency key ``bulk:<row key>`` (SHA-256 of the normalised row),
so re-running a batch returns the credentials already stored instead of issuing them again, and
a run that was interrupted (Ctrl-C, kill, power cut) loses nothing that was committed. Every
output file is written to a temporary file and renamed into place, and a re-run writes any that
are missing or incomplete:

- ``DIR/credentials/<CURP>-<first 8 hex of the credential id>.json``: the wallet JSON;
- ``DIR/credentials/<CURP>-<...>.txt``: the card text (``SUS1:...``);
- ``DIR/cards/<CURP>-<...>.png`` (``--cards png``), or ``DIR/cards.pdf`` (``--cards pdf``: every
  card of the batch in file order, ten per A4 page at actual size);
- ``DIR/errors.csv``: ``line,field,message`` for every row that was not issued.

Rows are issued in chunks (:mod:`issuer._batch`): one transaction allocates a chunk's status
indices, worker processes sign (``workers``), one transaction stores the chunk's credentials and
audit entries, and the files are written after that commit. Chunks start at one row and double up
to ``chunk`` rows, so a run shows progress (and commits) from its first row.
``DIR/.batch`` names the batch: re-running it with a person's row changed is an error for that
row (the person keeps the one credential the batch gave them), not a second credential.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import itertools
import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, TextIO

from verifier import CardEncodingError, encode_card

from ._batch import BatchIssuer, BatchOutcome, BatchRequest
from .enrolment import EnrolmentRecord, RowError, RowResult, read_records
from .service import IssuerService, Principal

__all__ = [
    "AUTO_WORKERS_FROM",
    "CARD_OUTPUTS",
    "DEFAULT_CHUNK",
    "MAX_CHUNK",
    "BulkReport",
    "CardOutput",
    "Progress",
    "atomic_write",
    "cli_principal",
    "output_name",
    "run_bulk",
]

CardOutput = Literal["png", "pdf", "none"]
CARD_OUTPUTS: tuple[CardOutput, ...] = ("png", "pdf", "none")
#: Rows per chunk at most (one transaction each), by default and at all (a chunk's keys are
#: looked up with one ``IN (...)``, and SQLite binds at most 32,766 parameters).
DEFAULT_CHUNK = 512
MAX_CHUNK = 10_000
#: With ``workers=None``, files of at least this many rows are signed in worker processes.
AUTO_WORKERS_FROM = 2000
_WRITER_THREADS = 4
_PNG_END = b"IEND\xaeB`\x82"
_TMP_SUFFIX = ".tmp"


def cli_principal(institution: str) -> Principal:
    """The principal of an operator at the command line (actor ``cli``, every scope)."""
    return Principal("cli", institution, frozenset({"issue", "status", "admin"}))


def output_name(document: Mapping[str, Any]) -> str:
    """``<CURP>-<first 8 hex of the id>``: the stem of a credential's output files."""
    short = str(document["id"]).removeprefix("urn:uuid:")[:8]
    return f"{document['credentialSubject']['curp']}-{short}"


def atomic_write(path: Path, data: bytes | Callable[[BinaryIO], None]) -> None:
    """Write ``data`` (or what the callback writes) to a temporary file, then rename it in place.

    A reader never sees a partial file; a crash leaves at most a hidden ``.*.tmp`` file behind.
    """
    temporary = _temporary_name(path)
    try:
        with os.fdopen(_create(temporary), "wb") as handle:
            if isinstance(data, bytes):
                handle.write(data)
            else:
                data(handle)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _temporary_name(path: Path) -> Path:
    """A hidden, random name beside ``path``."""
    return path.with_name(f".{path.name}.{secrets.token_hex(8)}{_TMP_SUFFIX}")


def _create(path: Path) -> int:
    """Create ``path`` (never an existing file), with permissions as ``open`` gives after umask."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)


def _remove_stale_temporaries(*folders: Path) -> None:
    for folder in folders:
        for leftover in folder.glob(f".*{_TMP_SUFFIX}"):
            with contextlib.suppress(OSError):
                leftover.unlink()


class Progress:
    """A progress bar on a terminal; without one, a line every ``every`` rows (no spam in logs)."""

    def __init__(
        self,
        total: int | None,
        stream: TextIO | None = None,
        *,
        every: int = 100,
        label: str = "bulk",
    ) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.every = max(every, 1)
        self.label = label
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._started = time.monotonic()
        self._drawn = 0.0
        self._done = self._printed = 0

    def _line(self, done: int, report: BulkReport) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = done / elapsed
        counts = f"{report.issued} new, {report.existing} existing, {report.errors} errors"
        if not self.total:
            return f"{self.label}: {done} rows · {rate:.1f}/s · {counts}"
        share = min(done / self.total, 1.0)
        eta = (self.total - done) / rate if rate > 0 and done < self.total else 0.0
        minutes, seconds = divmod(int(eta), 60)
        if self.tty:
            filled = int(share * 24)
            bar = "#" * filled + "." * (24 - filled)
            return (
                f"{self.label} [{bar}] {share:4.0%} {done}/{self.total} · {rate:.1f}/s · "
                f"ETA {minutes}:{seconds:02d} · {counts}"
            )
        return f"{self.label}: {done}/{self.total} rows ({share:.0%}) · {rate:.1f}/s · {counts}"

    def update(self, done: int, report: BulkReport) -> None:
        """``done`` rows are finished."""
        self._done = done
        if self.tty:
            now = time.monotonic()
            if now - self._drawn >= 0.1:
                self._drawn = now
                self.stream.write("\r" + self._line(done, report) + "\x1b[K")
                self.stream.flush()
        elif done % self.every == 0:
            self._printed = done
            print(self._line(done, report), file=self.stream, flush=True)

    def close(self, report: BulkReport) -> None:
        """Draw the final state and end the line."""
        line = self._line(self._done, report)
        if self.tty:
            self.stream.write("\r" + line + "\x1b[K\n")
        elif self._printed != self._done or not self._done:
            self.stream.write(line + "\n")
        self.stream.flush()


@dataclass
class BulkReport:
    """What a run did."""

    rows: int = 0  #: rows read (valid or not)
    issued: int = 0  #: credentials issued now
    existing: int = 0  #: credentials found already issued (an earlier run)
    errors: int = 0  #: rows not issued (see errors.csv)
    files_written: int = 0  #: output files written (new, missing or incomplete before)


class _Outputs:
    """The run's output folder: credentials, cards and the error list."""

    def __init__(self, out: Path, cards: CardOutput) -> None:
        self.out = out
        self.cards = cards
        self.credentials = out / "credentials"
        self.card_dir = out / "cards"
        self.credentials.mkdir(parents=True, exist_ok=True)
        if cards == "png":
            self.card_dir.mkdir(exist_ok=True)
        _remove_stale_temporaries(out, self.credentials, self.card_dir)
        self.sheet_sources: list[Path] = []  # wallet JSON files, in row order, for the PDF
        self.writers: Executor | None = None  # writes files in threads (the I/O releases the GIL)

    def _put(self, path: Path, data: bytes, *, new: bool = False) -> int:
        """Write ``path`` unless it already holds exactly ``data``; 1 if written."""
        try:
            if not new and path.read_bytes() == data:
                return 0
        except FileNotFoundError:
            pass
        atomic_write(path, data)
        return 1

    def batch_id(self) -> str:
        """The batch's id, from ``DIR/.batch`` (created on the first run)."""
        path = self.out / ".batch"
        try:
            return path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            batch = secrets.token_hex(16)
            atomic_write(path, f"{batch}\n".encode())
            return batch

    def write(
        self,
        document: Mapping[str, Any],
        wallet_json: bytes | None = None,
        card_text: str | None = None,
        *,
        new: bool = False,
    ) -> int:
        """Write a credential's files; returns how many were (re)written.

        ``wallet_json`` and ``card_text`` are the files' contents if already made; ``new``
        says the credential was just issued (its files cannot exist: nothing to compare).
        """
        stem = output_name(document)
        wallet = self.credentials / f"{stem}.json"
        if wallet_json is None:
            text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
            wallet_json = text.encode("utf-8")
        written = self._put(wallet, wallet_json, new=new)
        if card_text is None:
            card_text = encode_card(document)  # CardEncodingError: reported for this row
        written += self._put(self.credentials / f"{stem}.txt", (card_text + "\n").encode(), new=new)
        if self.cards == "png":
            png = self.card_dir / f"{stem}.png"
            if not _complete_png(png):
                atomic_write(png, _card_png(document, card_text))
                written += 1
        return written

    def write_sheet(self) -> int:
        """Write ``cards.pdf`` unless it already holds exactly this run's cards; 1 if written.

        The PDF records a digest of its credentials, in order, in its ``/Keywords``.
        """
        path = self.out / "cards.pdf"
        if self.cards != "pdf" or not self.sheet_sources:
            return 0
        names = "\n".join(source.name for source in self.sheet_sources)
        keywords = f"credencial-batch:{hashlib.sha256(names.encode()).hexdigest()}"
        if _tail_has(path, keywords.encode()):
            return 0
        from ._card_render import render_card_text
        from ._card_sheet import CardSheet

        def draw(handle: BinaryIO) -> None:
            sheet = CardSheet(handle, keywords=keywords)
            for source in self.sheet_sources:
                document = json.loads(source.read_text(encoding="utf-8"))
                try:
                    sheet.add(render_card_text(document, encode_card(document)))
                except CardEncodingError:
                    continue  # already reported for its row
            sheet.close()

        atomic_write(path, draw)
        return 1


def _tail_has(path: Path, marker: bytes, size: int = 4096) -> bool:
    """Whether the last ``size`` bytes of ``path`` contain ``marker``."""
    try:
        with path.open("rb") as handle:
            handle.seek(max(path.stat().st_size - size, 0))
            return marker in handle.read()
    except OSError:
        return False


def _complete_png(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            handle.seek(-len(_PNG_END), os.SEEK_END)
            return handle.read() == _PNG_END
    except OSError:
        return False


def _card_png(document: Mapping[str, Any], card_text: str) -> bytes:
    """The card PNG (zlib level 6: about 4× faster than ``card_png``'s optimized output)."""
    from ._card_render import DPI, render_card_text

    buffer = io.BytesIO()
    render_card_text(document, card_text).save(buffer, format="PNG", dpi=(DPI, DPI))
    return buffer.getvalue()


@contextlib.contextmanager
def _errors_file(out: Path) -> Iterator[csv.DictWriter[str]]:
    """``errors.csv``, written to a temporary file and renamed when the run completes."""
    temporary = _temporary_name(out / "errors.csv")
    try:
        with os.fdopen(_create(temporary), "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=("line", "field", "message"))
            writer.writeheader()
            yield writer
        os.replace(temporary, out / "errors.csv")
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """One bulk run per output folder at a time (POSIX advisory lock on ``DIR/.bulk.lock``)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with (out / ".bulk.lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OSError(f"another bulk run is writing to {out}") from None
        yield


def run_bulk(
    service: IssuerService,
    source: Path,
    *,
    institution: str,
    out: Path,
    cards: CardOutput = "png",
    progress: Progress | None = None,
    workers: int | None = None,
    chunk: int = DEFAULT_CHUNK,
) -> BulkReport:
    """Issue one credential per valid row of ``source`` for ``institution``; write ``out``.

    ``workers`` processes sign (0: this process signs; ``None``: as many as CPUs for a file of
    :data:`AUTO_WORKERS_FROM` rows or more, else 0); ``chunk`` rows at most are stored per
    transaction (:data:`MAX_CHUNK` at most). Raises :class:`issuer.enrolment.EnrolmentFileError`
    before issuing anything if the file cannot be read at all. Row problems go to ``errors.csv``
    and never stop the run.
    """
    principal = cli_principal(institution)
    if workers is None:
        from .enrolment import count_rows

        large = count_rows(source) >= AUTO_WORKERS_FROM
        workers = min(os.cpu_count() or 1, 8) if large else 0
    out.mkdir(parents=True, exist_ok=True)
    with _exclusive(out), ThreadPoolExecutor(_WRITER_THREADS, "bulk-write") as writers:
        outputs = _Outputs(out, cards)  # first: it removes what an interrupted run left
        outputs.writers = writers
        with BatchIssuer(
            service,
            institution,
            actor=principal.client_id,
            batch=outputs.batch_id(),
            workers=workers,
        ) as issuer:
            largest = min(max(chunk, 1), MAX_CHUNK)
            report = _run_rows(issuer, principal, source, outputs, progress, largest)
    if progress is not None:
        progress.close(report)
    return report


@dataclass
class _Row:
    """One row of the file: its problems so far, and its request if it has none."""

    line: int
    problems: list[RowError]
    request: BatchRequest | None = None


def _rows(results: Iterator[RowResult], institution: str) -> Iterator[_Row]:
    for line, group in itertools.groupby(results, key=lambda item: item.line):
        items = list(group)
        problems = [item for item in items if isinstance(item, RowError)]
        records = [item for item in items if isinstance(item, EnrolmentRecord)]
        if problems or not records:
            yield _Row(line, problems)
        elif records[0].institution != institution:
            message = f"{records[0].institution}, but this batch is for {institution}"
            yield _Row(line, [RowError(line, "institution", message)])
        else:
            yield _Row(line, [], _request(records[0]))


def _request(record: EnrolmentRecord) -> BatchRequest:
    return BatchRequest(record.line, record.subject(), record.valid_until, f"bulk:{record.row_key}")


def _chunks(rows: Iterator[_Row], largest: int) -> Iterator[list[_Row]]:
    """Chunks of 1, 2, 4, ... rows, up to ``largest``."""
    size = 1
    while chunk := list(itertools.islice(rows, size)):
        yield chunk
        size = min(size * 2, largest)


def _run_rows(
    issuer: BatchIssuer,
    principal: Principal,
    source: Path,
    outputs: _Outputs,
    progress: Progress | None,
    chunk: int,
) -> BulkReport:
    report = BulkReport()
    with _errors_file(outputs.out) as errors:

        def collect(written: _Collect | None) -> None:
            if written is not None:
                written(report, errors, progress)

        # A pipeline: chunk k+1 is signed while chunk k is stored and chunk k-1's files written.
        previous: tuple[list[_Row], Any] | None = None
        writing: _Collect | None = None
        for rows in _chunks(_rows(read_records(source), principal.institution), chunk):
            submitted = issuer.submit([row.request for row in rows if row.request is not None])
            collect(writing)
            writing = _store(issuer, *previous, outputs) if previous is not None else None
            previous = (rows, submitted)
        collect(writing)
        if previous is not None:
            collect(_store(issuer, *previous, outputs))
        report.files_written += outputs.write_sheet()
    return report


_Written = tuple[int, RowError | None]  # files written, the row's error
_Collect = Callable[[BulkReport, "csv.DictWriter[str]", Progress | None], None]


def _store(issuer: BatchIssuer, rows: list[_Row], submitted: Any, outputs: _Outputs) -> _Collect:
    """Store a chunk and start writing its files (in threads).

    Returns what waits for the files and then counts the rows and lists their errors, in file
    order (call it once).
    """
    outcomes = issuer.complete(submitted)
    if outputs.writers is not None:
        written: Iterator[_Written | Future[_Written]] = iter(
            [outputs.writers.submit(_write_outcome, outcome, outputs) for outcome in outcomes]
        )
    else:
        written = (_write_outcome(outcome, outputs) for outcome in outcomes)

    def collect(report: BulkReport, errors: csv.DictWriter[str], progress: Progress | None) -> None:
        by_request = iter(outcomes)
        for row in rows:
            problems = row.problems
            if row.request is not None:
                outcome, result = next(by_request), next(written)
                files, problem = result.result() if isinstance(result, Future) else result
                report.files_written += files
                if outcome.document is not None:
                    report.issued += outcome.created
                    report.existing += not outcome.created
                    if outputs.cards == "pdf":
                        stem = output_name(outcome.document)
                        outputs.sheet_sources.append(outputs.credentials / f"{stem}.json")
                problems = [problem] if problem else []
            report.rows += 1
            if problems:
                report.errors += 1
                for error in problems:
                    errors.writerow(
                        {"line": error.line, "field": error.field, "message": error.message}
                    )
            if progress is not None:
                progress.update(report.rows, report)

    return collect


def _write_outcome(outcome: BatchOutcome, outputs: _Outputs) -> tuple[int, RowError | None]:
    """Write one request's files: how many were written, and the row's error if it has one."""
    line = outcome.request.line
    if outcome.document is None:
        return 0, RowError(line, outcome.field, outcome.error or "not issued")
    try:  # a card that cannot be made (outcome.card None) is made again here, and fails
        files = outputs.write(outcome.document, outcome.wallet, outcome.card, new=outcome.created)
    except CardEncodingError as exc:
        return 0, RowError(line, "card", f"issued, but no card can be made: {exc}")
    return files, None
