"""Printing as its own step: card images and print-shop sheets from card texts.

``credencial-issuer print`` reads card texts (``SUS1:...``), from a bulk output folder
(``credentials/part-*.txt``, in file order) or from any text files of one card text per line,
and draws them, when and where the printing happens:

- ``--png DIR``: ``DIR/<CURP>-<first 8 hex of the credential id>.png`` per card (palette PNG,
  300 dpi). A re-run skips every complete PNG, so an interrupted run resumes where it stopped.
- ``--pdf OUT.pdf``: A4 sheets of ten cards with cut marks (:mod:`issuer.cards.sheet`), made in
  segments of :data:`SEGMENT_CARDS` cards under ``OUT.pdf.parts/``, each written whole (temporary
  file, then rename) and recorded with a digest of its card texts; a re-run redoes only the
  segments that are missing or made from other texts, then joins them into ``OUT.pdf`` and
  removes the folder. The PDF records a digest of all its card texts: a re-run with the same
  texts finds it complete and draws nothing.

Work is spread over worker processes (one per core by default), at most two segments per worker
in flight, so memory does not grow with the number of cards. Card texts are decoded (not
verified: the verifier does that where the card is read) to print the holder's details; a line
that is not card text is reported with its file and line, and the others are printed.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import shutil
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, BinaryIO

from issuer.progress import Progress
from issuer.storage.files import atomic_write, remove_stale_temporaries
from verifier import parse_json

__all__ = [
    "SEGMENT_CARDS",
    "CardSourceError",
    "PrintReport",
    "card_file_stem",
    "card_texts",
    "print_cards",
]

#: Cards per unit of work (a worker's task, and a segment of the PDF: 20 pages).
SEGMENT_CARDS = 200
_PNG_END = b"IEND\xaeB`\x82"


class CardSourceError(ValueError):
    """A source of card texts cannot be read at all (missing, or a folder without parts)."""


def card_file_stem(document: Mapping[str, Any]) -> str:
    """``<CURP>-<first 8 hex of the id>``: the stem of a credential's card file."""
    short = str(document["id"]).removeprefix("urn:uuid:")[:8]
    return f"{document['credentialSubject']['curp']}-{short}"


@dataclass
class PrintReport:
    """What a print run did."""

    cards: int = 0  #: card texts read
    printed: int = 0  #: cards drawn now
    existing: int = 0  #: cards found already drawn (an earlier run)
    errors: list[str] = field(default_factory=list)  #: ``file:line: why`` of cards not drawn
    pages: int = 0  #: PDF pages
    files_written: int = 0  #: PNG files, or 1 for the PDF when it was (re)written

    def summary(self) -> str:
        """The counts, for the progress line."""
        return f"{self.printed} drawn, {self.existing} already drawn, {len(self.errors)} errors"


# -- reading card texts ---------------------------------------------------------------------------


def _files(source: Path) -> list[Path]:
    if source.is_dir():
        parts = sorted((source / "credentials").glob("part-*.txt"))
        if not parts:
            raise CardSourceError(f"{source}: no credentials/part-*.txt (not a bulk output folder)")
        return parts
    if not source.is_file():
        raise CardSourceError(f"{source}: no such file or folder")
    return [source]


def card_texts(sources: Sequence[Path]) -> Iterator[tuple[str, str]]:
    """``(where, text)`` of every card text of ``sources`` in order, ``where`` as ``file:line``.

    Blank lines are skipped: in a bulk part, a credential without a card (reported by bulk).
    Raises :class:`CardSourceError` at once if a source cannot be read.
    """
    files = [path for source in sources for path in _files(Path(source))]
    for path in files:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                text = raw.decode("utf-8", errors="replace").strip()
                if text:
                    yield f"{path}:{number}", text


# -- drawing (in the workers) ----------------------------------------------------------------------

_Task = tuple[str, int, list[tuple[str, str]], str, str]  # kind, segment, cards, target, ecc
_Done = tuple[int, int, list[str], int]  # drawn, existing, errors, pages


def _complete_png(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            handle.seek(-len(_PNG_END), os.SEEK_END)
            return handle.read() == _PNG_END
    except OSError:
        return False


def _decoded(where: str, text: str, errors: list[str]) -> dict[str, Any] | None:
    from verifier import CardFormatError, IndeterminateError, decode_card

    try:
        return decode_card(text)
    except (CardFormatError, IndeterminateError, ValueError) as exc:
        errors.append(f"{where}: not a card text this issuer can print: {exc}")
        return None


def _draw(document: dict[str, Any], text: str, ecc: str) -> Any:
    from issuer.cards.render import ecc_level, render_card_text

    return render_card_text(document, text, ecc=ecc_level(ecc))


def _segment_digest(cards: Iterable[tuple[str, str]], ecc: str) -> str:
    digest = hashlib.sha256(f"ecc={ecc}\n".encode())
    for _, text in cards:
        digest.update(text.encode() + b"\n")
    return digest.hexdigest()


def _segment_paths(parts: Path, segment: int) -> tuple[Path, Path]:
    stem = parts / f"segment-{segment:06d}"
    return stem.with_suffix(".pdf"), stem.with_suffix(".json")


def _run_task(task: _Task) -> _Done:
    """Draw one task's cards: PNG files, or one PDF segment."""
    kind, segment, cards, target, ecc = task
    errors: list[str] = []
    if kind == "png":
        from issuer.cards.render import card_png_bytes

        drawn = existing = 0
        for where, text in cards:
            document = _decoded(where, text, errors)
            if document is None:
                continue
            path = Path(target) / f"{card_file_stem(document)}.png"
            if _complete_png(path):
                existing += 1
                continue
            atomic_write(path, card_png_bytes(_draw(document, text, ecc)))
            drawn += 1
        return drawn, existing, errors, 0
    from issuer.cards.sheet import SegmentIndex, SheetSegment

    pdf, record = _segment_paths(Path(target), segment)
    digest = _segment_digest(cards, ecc)
    with contextlib.suppress(OSError, ValueError, KeyError):
        done = parse_json(record.read_text(encoding="utf-8"))
        if done["digest"] == digest and pdf.is_file():
            index = SegmentIndex.from_json(done["index"])
            return 0, index.cards, list(done["errors"]), index.pages
    first_page = segment * SEGMENT_CARDS // 10
    result: list[SegmentIndex] = []

    def write(handle: Any) -> None:
        sheet = SheetSegment(handle, first_page)
        for where, text in cards:
            document = _decoded(where, text, errors)
            if document is not None:
                sheet.add(_draw(document, text, ecc))
        result.append(sheet.close())

    atomic_write(pdf, write)
    index = result[0]
    entry = {"digest": digest, "index": index.to_json(), "errors": errors}
    atomic_write(record, json.dumps(entry).encode())
    return index.cards, 0, errors, index.pages


# -- the run --------------------------------------------------------------------------------------


def _pdf_keywords(digest: str) -> str:
    return f"credencial-cards:{digest}"


def _tail_has(path: Path, marker: bytes, size: int = 4096) -> bool:
    try:
        with path.open("rb") as handle:
            handle.seek(max(path.stat().st_size - size, 0))
            return marker in handle.read()
    except OSError:
        return False


def _survey(sources: Sequence[Path], ecc: str) -> tuple[int, str]:
    """How many card texts ``sources`` hold, and the digest of them all (one quick read)."""
    digest = hashlib.sha256(f"ecc={ecc}\n".encode())
    count = 0
    for _, text in card_texts(sources):
        digest.update(text.encode() + b"\n")
        count += 1
    return count, digest.hexdigest()


def print_cards(
    sources: Sequence[Path],
    *,
    png: Path | None = None,
    pdf: Path | None = None,
    workers: int | None = None,
    ecc: str = "M",
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
) -> PrintReport:
    """Draw every card text of ``sources`` as PNG files in ``png`` or as sheets in ``pdf``.

    ``workers`` processes draw (``None``: one per CPU; 0: this process). ``on_total`` is told
    the number of card texts before drawing starts (for a progress bar). Raises
    :class:`CardSourceError` before drawing anything if a source cannot be read.
    """
    if (png is None) == (pdf is None):
        raise ValueError("give exactly one of png and pdf")
    total, digest = _survey(sources, ecc)
    if on_total is not None:
        on_total(total)
    report = PrintReport(cards=total)
    if not total:
        return report  # nothing to draw: no file is written
    if pdf is not None and _tail_has(pdf, _pdf_keywords(digest).encode()):
        report.existing = total  # the same cards, already joined into this PDF
        return report
    if png is not None:
        png.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(png)
        target, kind = png, "png"
    else:
        assert pdf is not None
        target, kind = pdf.with_name(pdf.name + ".parts"), "pdf"
        target.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(target)
        for stale in target.glob("segment-*"):  # from an earlier run with more cards
            number = stale.stem.removeprefix("segment-")
            if number.isdigit() and int(number) * SEGMENT_CARDS >= max(total, 1):
                stale.unlink()
    tasks = (
        (kind, number, cards, str(target), ecc)
        for number, cards in enumerate(_batches(card_texts(sources), SEGMENT_CARDS))
    )
    count = (os.cpu_count() or 1) if workers is None else workers
    segments = 0
    for done_cards, (drawn, existing, errors, pages) in _map(tasks, count):
        report.printed += drawn
        report.existing += existing
        report.errors += errors
        report.pages += pages
        segments += 1
        if progress is not None:
            progress.update(min(done_cards, total), report)
    report.files_written = report.printed if png is not None else 0
    if pdf is not None:
        _join(pdf, target, segments, digest)
        report.files_written = 1
    if progress is not None:
        progress.close(report)
    return report


def _batches(items: Iterator[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    while batch := list(itertools.islice(items, size)):
        yield batch


def _map(tasks: Iterator[_Task], workers: int) -> Iterator[tuple[int, _Done]]:
    """Each task's result in order, with the number of cards done so far; in ``workers``
    processes with at most two tasks each in flight (0: in this process)."""
    done = 0
    if workers <= 0:
        for task in tasks:
            done += len(task[2])
            yield done, _run_task(task)
        return
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("spawn"),  # no inherited lock, database connection or thread
        initializer=_start_worker,
        initargs=(os.getpid(),),
    )
    with pool:
        pending: deque[tuple[int, Future[_Done]]] = deque()
        try:
            for task in tasks:
                pending.append((len(task[2]), pool.submit(_run_task, task)))
                if len(pending) >= 2 * workers:
                    size, future = pending.popleft()
                    done += size
                    yield done, future.result()
            while pending:
                size, future = pending.popleft()
                done += size
                yield done, future.result()
        except BaseException:
            for _, future in pending:
                future.cancel()
            raise


def _start_worker(parent: int) -> None:
    """Pool initializer: Ctrl-C stops the parent, which stops us; and we end when the parent is
    gone (even killed with SIGKILL), never drawing on as an orphan."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)


def _join(pdf: Path, parts: Path, segments: int, digest: str) -> None:
    """Join the segments into ``pdf`` (written whole, then renamed); remove the parts."""
    from issuer.cards.sheet import SegmentIndex, join_segments

    files = [_segment_paths(parts, number)[0] for number in range(segments)]

    def index_of(path: Path) -> SegmentIndex:
        record = parse_json(path.with_suffix(".json").read_text(encoding="utf-8"))
        return SegmentIndex.from_json(record["index"])

    def write(handle: BinaryIO) -> None:
        join_segments(handle, files, index_of, keywords=_pdf_keywords(digest))

    atomic_write(pdf, write)
    shutil.rmtree(parts)
