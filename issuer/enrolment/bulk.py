"""Bulk issuance: one credential per valid row of an enrolment file, resumable and idempotent.

Each row is issued with the idempotency key ``bulk:<row key>`` (SHA-256 of the normalised row),
so re-running a batch returns the credentials already stored instead of issuing them again, and
a run that was interrupted (Ctrl-C, kill, power cut) loses nothing that was committed. Every
output file is written to a temporary file and renamed into place, and a re-run writes any that
are missing or differ from what they must hold:

- ``DIR/credentials/part-NNNNNN.jsonl``: the wallet JSON of the credentials of rows
  ``NNNNNN × PART_ROWS + 1`` to ``(NNNNNN + 1) × PART_ROWS`` of the file (rows counted without the
  header), one compact JSON credential per line, in file order;
- ``DIR/credentials/part-NNNNNN.txt``: their card texts (``SUS1:...``), line for line (an empty
  line where a credential has no card: the row is in ``errors.csv``);
- only with ``--cards png`` or ``--cards pdf`` (by default no image is drawn: printing is its own
  step, ``credencial-issuer print DIR``, :mod:`issuer.cards.printing`, run after the issuing):
  ``DIR/cards/<CURP>-<first 8 hex of the credential id>.png``, or
  ``DIR/cards.pdf`` (every card of the batch in file order, ten per A4 page at
  actual size);
- ``DIR/errors.csv``: ``line,field,message`` for every row that was not issued.

:func:`read_outputs` reads the parts back. Two files per part instead of two per person: a
national batch is about 63,000 files, not 260 million, and writing them costs a few
microseconds per person instead of about 150.

Rows are issued in chunks (:mod:`issuer.enrolment.batch`): one transaction allocates a chunk's
status indices, worker processes sign (``workers``), one transaction stores the chunk's
credentials and audit entries, and the files are written after that commit. Chunks start at one
row and double up to ``chunk`` rows, so a run shows progress (and commits) from its first row.
``DIR/.batch`` names the batch: re-running it with a person's row changed is an error for that
row (the person keeps the one credential the batch gave them), not a second credential.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from issuer.cards.printing import PrintReport, card_file_stem, print_cards
from issuer.credentials.service import IssuerService
from issuer.enrolment.batch import BatchIssuer, BatchOutcome, BatchRequest, wallet_line
from issuer.enrolment.rows import Encoding, EnrolmentRecord, RowError, RowResult, read_records
from issuer.principal import Principal, cli_principal
from issuer.progress import Progress
from issuer.storage.files import atomic_write, create_new, remove_stale_temporaries, temporary_name
from verifier import CardEncodingError, encode_card, parse_json

__all__ = [
    "AUTO_WORKERS_FROM",
    "CARD_OUTPUTS",
    "DEFAULT_CHUNK",
    "MAX_CHUNK",
    "PART_ROWS",
    "BulkReport",
    "CardOutput",
    "Progress",
    "output_name",
    "part_name",
    "read_outputs",
    "run_bulk",
    "wallet_line",
]

CardOutput = Literal["png", "pdf", "none"]
CARD_OUTPUTS: tuple[CardOutput, ...] = ("png", "pdf", "none")
#: Rows per chunk at most (one transaction each), by default and at all (a chunk's keys are
#: looked up with one ``IN (...)``, and SQLite binds at most 32,766 parameters).
DEFAULT_CHUNK = 512
MAX_CHUNK = 10_000
#: With ``workers=None``, files of at least this many rows are signed in worker processes.
AUTO_WORKERS_FROM = 2000
#: Rows of the file per output part (``part-NNNNNN.jsonl`` and ``.txt``).
PART_ROWS = 4096
_WRITER_THREADS = 4


#: ``<CURP>-<first 8 hex of the id>``: the stem of a credential's card file.
output_name = card_file_stem


def part_name(number: int) -> str:
    """``part-NNNNNN``: the stem of the output files of rows ``number × PART_ROWS + 1`` on."""
    return f"part-{number:06d}"


def read_outputs(out: Path) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Every credential of the output folder ``out`` with its card text (None: no card), in
    file order. Raises :class:`ValueError` if a part's two files do not match line for line."""
    for wallets in sorted((out / "credentials").glob("part-*.jsonl")):
        cards = wallets.with_suffix(".txt").read_text(encoding="utf-8").splitlines()
        documents = wallets.read_bytes().splitlines()
        if len(cards) != len(documents):
            raise ValueError(f"{wallets.name} and its .txt differ in length")
        for document, card in zip(documents, cards, strict=True):
            yield parse_json(document), card or None


@dataclass
class BulkReport:
    """What a run did."""

    rows: int = 0  #: rows read (valid or not)
    issued: int = 0  #: credentials issued now
    existing: int = 0  #: credentials found already issued (an earlier run)
    errors: int = 0  #: rows not issued (see errors.csv)
    files_written: int = 0  #: output files written (new, missing or incomplete before)
    printed: PrintReport | None = None  #: the cards drawn (``cards`` png or pdf)

    def summary(self) -> str:
        """The counts, for the progress line."""
        return f"{self.issued} new, {self.existing} existing, {self.errors} errors"


class _Outputs:
    """The run's output folder: the parts of wallet JSON and card text, cards, the error list."""

    def __init__(self, out: Path, cards: CardOutput) -> None:
        self.out = out
        self.cards = cards
        self.credentials = out / "credentials"
        self.credentials.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(out, self.credentials)
        self.writers: Executor | None = None  # encodes the cards of stored credentials again
        self.part = 0  # the part being filled
        self.wallets: list[bytes] = []  # its wallet JSON lines
        self.card_lines: list[bytes] = []  # and card text lines
        self.any_new = False  # whether it holds a credential issued in this run

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

    def add(self, row: int, wallet: bytes, card_text: str | None, *, new: bool) -> int:
        """Add the credential of the ``row``-th row (0-based, in file order) to its part.

        Rows come in file order; returns how many files were written (parts that this row
        completed).
        """
        written = self.advance(row)
        self.wallets.append(wallet)
        self.card_lines.append(b"\n" if card_text is None else (card_text + "\n").encode())
        self.any_new |= new
        return written

    def advance(self, row: int) -> int:
        """Write the parts that end before the ``row``-th row; how many files were written."""
        written = 0
        while row // PART_ROWS > self.part:
            written += self._flush()
            self.part += 1
        return written

    def _flush(self) -> int:
        """Write the current part's two files (or remove them if it has no credential)."""
        stem = self.credentials / part_name(self.part)
        wallets, cards = stem.with_suffix(".jsonl"), stem.with_suffix(".txt")
        if not self.wallets:
            for path in (wallets, cards):
                path.unlink(missing_ok=True)
            return 0
        written = self._put(wallets, b"".join(self.wallets), new=self.any_new)
        written += self._put(cards, b"".join(self.card_lines), new=self.any_new)
        self.wallets, self.card_lines, self.any_new = [], [], False
        return written

    def finish(self) -> int:
        """Write the last part; remove parts beyond it (of a longer file); files written."""
        written = self._flush()
        for path in self.credentials.glob("part-*"):
            number = path.stem.removeprefix("part-")
            if number.isdigit() and int(number) > self.part:
                path.unlink(missing_ok=True)
        return written


@contextlib.contextmanager
def _errors_file(out: Path) -> Iterator[csv.DictWriter[str]]:
    """``errors.csv``, written to a temporary file and renamed when the run completes."""
    temporary = temporary_name(out / "errors.csv")
    try:
        with os.fdopen(create_new(temporary), "w", encoding="utf-8", newline="") as handle:
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
    cards: CardOutput = "none",
    progress: Progress | None = None,
    workers: int | None = None,
    chunk: int = DEFAULT_CHUNK,
    encoding: Encoding = "utf-8",
    print_progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> BulkReport:
    """Issue one credential per valid row of ``source`` for ``institution``; write ``out``.

    ``workers`` processes sign (0: this process signs; ``None``: as many as CPUs for a file of
    :data:`AUTO_WORKERS_FROM` rows or more, else 0); ``chunk`` rows at most are stored per
    transaction (:data:`MAX_CHUNK` at most). Raises
    :class:`issuer.enrolment.rows.EnrolmentFileError` before issuing anything if the file cannot
    be read at all. Row problems go to ``errors.csv`` and never stop the run. ``encoding`` is
    the file's (:data:`issuer.enrolment.rows.ENCODINGS`; strict UTF-8 by default).

    ``cards`` ``png`` or ``pdf`` draws the cards once everything is issued, exactly as
    ``credencial-issuer print`` would (:func:`issuer.cards.printing.print_cards`, one worker per
    CPU, progress on ``print_progress``); by default none are drawn.

    ``stop``, once set (by a signal handler, say), ends the run with ``KeyboardInterrupt``
    after the chunk in hand: what is stored stays stored, and the same run resumes. It is the
    backstop for an interrupt that Python swallowed (one raised inside a finalizer or a weakref
    callback is only printed).
    """
    principal = cli_principal(institution)
    if workers is None:
        from issuer.enrolment.rows import count_rows

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
            report = _run_rows(
                issuer, principal, source, outputs, progress, largest, encoding, stop
            )
        if progress is not None:
            progress.close(report)
        if cards != "none":
            report.printed = _print(out, cards, print_progress)
            report.files_written += report.printed.files_written
    return report


def _print(out: Path, cards: CardOutput, progress: Progress | None) -> PrintReport:
    """Draw the batch's cards, as ``credencial-issuer print`` does."""

    def total(count: int) -> None:
        if progress is not None:
            progress.total = count

    png, pdf = (out / "cards", None) if cards == "png" else (None, out / "cards.pdf")
    return print_cards([out], png=png, pdf=pdf, progress=progress, on_total=total)


@dataclass
class _Row:
    """One row of the file: its problems so far, and its request if it has none."""

    ordinal: int  # 0-based, in file order: its output part is ordinal // PART_ROWS
    line: int
    problems: list[RowError]
    request: BatchRequest | None = None


def _rows(results: Iterator[RowResult], institution: str) -> Iterator[_Row]:
    groups = itertools.groupby(results, key=lambda item: item.line)
    for ordinal, (line, group) in enumerate(groups):
        items = list(group)
        problems = [item for item in items if isinstance(item, RowError)]
        records = [item for item in items if isinstance(item, EnrolmentRecord)]
        if problems or not records:
            yield _Row(ordinal, line, problems)
        elif records[0].institution != institution:
            message = f"{records[0].institution}, but this batch is for {institution}"
            yield _Row(ordinal, line, [RowError(line, "institution", message)])
        else:
            yield _Row(ordinal, line, [], _request(records[0]))


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
    encoding: Encoding,
    stop: threading.Event | None = None,
) -> BulkReport:
    report = BulkReport()
    with _errors_file(outputs.out) as errors:

        def collect(written: _Collect | None) -> None:
            if written is not None:
                written(report, errors, progress)

        # A pipeline: chunk k+1 is signed while chunk k is stored and chunk k-1's files written.
        previous: tuple[list[_Row], Any] | None = None
        writing: _Collect | None = None
        for rows in _chunks(
            _rows(read_records(source, encoding=encoding), principal.institution), chunk
        ):
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt
            submitted = issuer.submit([row.request for row in rows if row.request is not None])
            collect(writing)
            writing = _store(issuer, *previous, outputs) if previous is not None else None
            previous = (rows, submitted)
        collect(writing)
        if previous is not None:
            collect(_store(issuer, *previous, outputs))
        report.files_written += outputs.finish()
    return report


_Made = tuple[bytes | None, str | None, RowError | None]  # wallet, card, error
_Collect = Callable[[BulkReport, "csv.DictWriter[str]", Progress | None], None]


def _store(issuer: BatchIssuer, rows: list[_Row], submitted: Any, outputs: _Outputs) -> _Collect:
    """Store a chunk and start making what its files need (in threads where there is work).

    Returns what adds the rows to their parts (writing each part it completes), counts them and
    lists their errors, in file order (call it once).
    """
    outcomes = issuer.complete(submitted)
    made: list[_Made | Future[_Made]] = []
    for outcome in outcomes:
        if outcome.document is None or outcome.created or outputs.writers is None:
            made.append(_outputs_of(outcome, outputs))
        else:  # a stored credential's card to encode again
            made.append(outputs.writers.submit(_outputs_of, outcome, outputs))

    def collect(report: BulkReport, errors: csv.DictWriter[str], progress: Progress | None) -> None:
        by_request = zip(outcomes, made, strict=True)
        for row in rows:
            problems = row.problems
            if row.request is not None:
                outcome, result = next(by_request)
                wallet, card, problem = result.result() if isinstance(result, Future) else result
                if outcome.document is not None and wallet is not None:
                    report.issued += outcome.created
                    report.existing += not outcome.created
                    report.files_written += outputs.add(
                        row.ordinal, wallet, card, new=outcome.created
                    )
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
        if rows:
            report.files_written += outputs.advance(rows[-1].ordinal + 1)

    return collect


def _outputs_of(outcome: BatchOutcome, outputs: _Outputs) -> _Made:
    """A request's wallet line and card text (made again for a credential found stored), and
    the row's error if it has one."""
    line = outcome.request.line
    document = outcome.document
    if document is None:
        return None, None, RowError(line, outcome.field, outcome.error or "not issued")
    wallet = outcome.wallet if outcome.wallet is not None else wallet_line(document)
    card, problem = outcome.card, None
    if outcome.error is not None:  # issued, but no card could be made
        problem = RowError(line, outcome.field, outcome.error)
    elif card is None:
        try:
            card = encode_card(document)
        except CardEncodingError as exc:
            problem = RowError(line, "card", f"issued, but no card can be made: {exc}")
    return wallet, card, problem
