"""Printing beside issuing: the card renderer's rate at 300 dpi as a ratio to bulk issuance.

``python -m bench.printing [--rows N]`` (default 1,000 people). Rates are per CPU second of one
process ("per core"), which other jobs on a shared machine change least:

1. ``bulk``: ``run_bulk`` on a fresh SQLite database, signing in the bulk process, as
   ``credencial-issuer bulk`` does by default: no card image, only the card texts. This is the
   reference every printing figure is divided by (``÷ bulk``), measured in the same run.
2. ``render + PNG`` and ``render + PDF image``: each card text of that batch decoded and drawn,
   then encoded as the palette PNG of ``print --png`` or as the image object of a PDF sheet; and
   the PNG path again with the renderer's line caches emptied before every card (the worst
   case). Issue 19's goal: at least 100 cards per second per core (10 ms each) at 300 dpi,
   printed MET or NOT MET.
3. ``print --pdf``: ``credencial-issuer print`` over the batch's outputs with one worker per
   core, end to end: cards per CPU second of the command and its workers together, the wall-clock
   rate (with the load average, since the machine is shared), and the peak RSS of its largest
   worker for the batch and for a batch three times larger (memory must not grow with it).

Rounds of 2 are interleaved (bulk, render, bulk, render) and medians are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.issuance import _people_file, _service

__all__ = ["GOAL_PER_CORE", "main", "render_rates"]

#: Issue 19: cards rendered per second on one core at 300 dpi.
GOAL_PER_CORE = 100.0
ROWS = 1000
ROUNDS = 2


def _bulk_rate(workdir: Path, rows: int, round_number: int) -> tuple[float, Path]:
    """Credentials per CPU second of a default bulk run (one process, signing in it) on a fresh
    database."""
    from issuer.enrolment.bulk import run_bulk

    people = _people_file(workdir / f"people-{round_number}.csv", rows, start=round_number * rows)
    out = workdir / f"out-{round_number}"
    url = f"sqlite:///{workdir / f'bulk-{round_number}.db'}"
    with _service(url, workdir / f"keys-{round_number}") as service:
        service.active_key("IMSS")  # the key decrypted before the clock starts
        began = time.process_time()
        report = run_bulk(service, people, institution="IMSS", out=out, workers=0)
        elapsed = time.process_time() - began
    if report.issued != rows:
        raise SystemExit(f"bulk issued {report.issued} of {rows}")
    return rows / elapsed, out


def render_rates(texts: Sequence[str]) -> tuple[float, float, float]:
    """Cards per CPU second: decode + render + palette PNG; the same with the renderer's line
    caches emptied before every card (every line of text drawn, as if no two people shared a
    name, a programme or a validity period); decode + render + PDF image."""
    from issuer.cards import render
    from issuer.cards.sheet import _image_object
    from verifier import decode_card

    def uncached(card: object) -> bytes:
        render._sprite.cache_clear()
        render._fit_box.cache_clear()
        return render.card_png_bytes(card)  # type: ignore[arg-type]

    rates = []
    for encode in (render.card_png_bytes, uncached, _image_object):
        began = time.process_time()
        for text in texts:
            encode(render.render_card_text(decode_card(text), text))
        rates.append(len(texts) / (time.process_time() - began))
    return rates[0], rates[1], rates[2]


def _print_child(argv: Sequence[str]) -> None:
    """``--child OUT_DIR PDF``: print the batch; its rate and its workers' peak RSS as JSON."""
    from issuer.cards.printing import print_cards

    out, pdf = argv
    began = time.perf_counter()
    report = print_cards([Path(out)], pdf=Path(pdf))
    elapsed = time.perf_counter() - began
    own, workers = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    cpu = own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime
    print(
        json.dumps(
            {
                "rate": report.printed / elapsed,
                "cpu_ms": 1000 * cpu / report.printed,
                "worker_kib": workers.ru_maxrss,
            }
        )
    )


def _print_run(out: Path, pdf: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.printing", "--child", str(out), str(pdf)],
        check=True,
        capture_output=True,
        text=True,
    )
    data: dict[str, float] = json.loads(result.stdout)
    return data


def main(argv: Sequence[str] | None = None) -> None:
    """Measure issuing and printing in the same run and print the ratios."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["--child"]:
        _print_child(arguments[1:])
        return
    parser = argparse.ArgumentParser(prog="python -m bench.printing")
    parser.add_argument("--rows", type=int, default=ROWS, help="people per batch")
    rows = max(parser.parse_args(arguments).rows, 20)
    from issuer.enrolment.bulk import read_outputs

    cores = os.cpu_count() or 1
    bulk: list[float] = []
    png: list[float] = []
    uncached: list[float] = []
    pdf_image: list[float] = []
    with tempfile.TemporaryDirectory(prefix="credencial-bench-print-") as tmp:
        workdir = Path(tmp)
        outs = []
        for round_number in range(ROUNDS):
            rate, out = _bulk_rate(workdir, rows, round_number)
            bulk.append(rate)
            outs.append(out)
            texts = [text for _, text in read_outputs(out) if text]
            png_rate, uncached_rate, pdf_rate = render_rates(texts)
            png.append(png_rate)
            uncached.append(uncached_rate)
            pdf_image.append(pdf_rate)
        printed = _print_run(outs[0], workdir / "sheet.pdf")
        big = workdir / "big"
        (big / "credentials").mkdir(parents=True)
        for copy in range(3):  # the same cards three times: a batch three times larger
            for part in sorted((outs[0] / "credentials").glob("part-*.txt")):
                number = int(part.stem.removeprefix("part-")) + copy * 1000
                (big / "credentials" / f"part-{number:06d}.txt").write_bytes(part.read_bytes())
        printed_big = _print_run(big, workdir / "big.pdf")
    reference = statistics.median(bulk)
    print(
        f"\nPrinting beside issuing ({rows:,} people, {cores} CPUs, medians of {ROUNDS} "
        f"interleaved rounds). Per core: items per CPU second of one process (what other jobs "
        f"on this shared machine change least); ÷ bulk: divided by the rate of `bulk` (default: "
        f"card texts, no image; one process, signing in it) measured in this run."
    )
    print(f"  {'path':<44} {'per core/s':>11} {'CPU ms':>8} {'÷ bulk':>7}")

    def row(name: str, rate: float, note: str = "") -> None:
        print(f"  {name:<44} {rate:>11,.1f} {1000 / rate:>8.2f} {rate / reference:>7.2f} {note}")

    row("bulk (issue, no image)", reference)
    median_png = statistics.median(png)
    verdict = "MET" if median_png >= GOAL_PER_CORE else "NOT MET"
    row("render + PNG at 300 dpi", median_png, f"goal ≥ {GOAL_PER_CORE:.0f}/s: {verdict}")
    median_uncached = statistics.median(uncached)
    verdict = "MET" if median_uncached >= GOAL_PER_CORE else "NOT MET"
    row("render + PNG, no line cache", median_uncached, f"(worst case: {verdict})")
    row("render + PDF image at 300 dpi", statistics.median(pdf_image))
    row(f"print --pdf, {cores} workers, CPU of all", 1000 / printed["cpu_ms"])
    print(
        f"  print --pdf, {cores} workers, wall clock: {printed['rate']:,.1f} cards/s "
        f"({printed['rate'] / cores:,.1f} per core; load average now "
        f"{os.getloadavg()[0]:.1f} on {cores} CPUs)"
    )
    print(
        f"  print --pdf memory: largest worker peak RSS {printed['worker_kib'] / 1024:.0f} MiB "
        f"for {rows:,} cards, {printed_big['worker_kib'] / 1024:.0f} MiB for {3 * rows:,}"
    )


if __name__ == "__main__":
    main()
