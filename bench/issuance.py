"""Issuance throughput: one request at a time, and bulk issuance end to end; SQLite, PostgreSQL.

Bulk end to end is what ``credencial-issuer bulk PEOPLE.csv --cards none`` does: read and check
the people file, allocate status indices, sign, check, store each credential with its audit
entry, write the wallet JSON and the card text. Each bulk figure runs in a fresh process (so
its memory is its own) on a fresh database, and is printed beside two references measured in
the same run, because these machines are noisy:

- ``÷ insert``: the rate of a bare ``executemany`` insert of the same credential rows into the
  same database, one commit per 512 rows (what storage alone allows);
- ``÷ sign``: the rate of bare Ed25519 signatures over 64 bytes (one per credential is the
  cryptographic floor; ``sign ÷ rate``, printed as ``sigs/cred``, is what a credential costs).

The clock starts when the first chunk (one row) is stored: the rest of the run is the steady
state a national batch lives in (worker processes started, key decrypted, connections made).

Memory: the peak resident set (RSS) of the bulk process and of its largest signing worker, and
how the bulk process's RSS grows per 1,000 rows from row 2,048 (chunks at full size) to the end.

Each database is measured with the signing in the bulk process, then with 1, 2 and 3 signing
workers (how throughput grows with workers on this machine's CPUs). PostgreSQL runs on a
throwaway server (``tests/postgres.py``) when its binaries are installed, and adds two bulk
processes sharing the database at the same time (the path to many machines).

The run ends with issue 9's goal 3: bulk end to end at ≥ 2,000 credentials per second on SQLite
on this machine (130 million in under 18 hours), with MET or NOT MET, beside the same figures on
PostgreSQL and the rate by number of workers.

``python -m bench.issuance [--rows N]`` (default 4,000 rows per bulk figure).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from issuer.credentials.service import IssuerService
from issuer.demo import DEMO_PEOPLE
from issuer.keys.files import Ed25519KeyPair
from issuer.principal import Principal
from issuer.settings import IssuerSettings

__all__ = ["main"]

#: Credentials per measurement: one request each through the API, and one at a time in a loop.
SINGLE_REQUESTS = 50
ONE_AT_A_TIME = 100
#: Rows per bulk measurement (``--rows``).
BULK_ROWS = 4000
#: Issue 9, goal 3: bulk issuance end to end on SQLite on this machine, credentials per second.
GOAL_RATE = 2000.0
#: Signing workers measured (0: signing in the bulk process).
WORKER_COUNTS = (0, 1, 2, 3)
#: The name of the bulk figure with ``workers`` signing workers in one process.
_ONE_PROCESS = "bulk: 1 process, signing in it"
_TWO_PROCESSES = "bulk: 2 processes sharing the database"
_STEADY_FROM = 2048
SIGNATURES = 2000
_PASSPHRASE = "bench"  # noqa: S105 (a throwaway key store of the benchmark)
_CONSONANTS = "BCDFGHJKLMNPQRSTVWXYZ"
_NAMES = (
    ("MARÍA GUADALUPE", "HERNÁNDEZ", "DE LA O"),
    ("José Ángel", "Peña", "Muñoz-Ibáñez"),
    ("RENÉ", "O'FARRILL", ""),
    ("ÑUSTA", "AÑORVE-CÚRCUMA", "SAÚL"),
)


def _signature_rate(count: int = SIGNATURES) -> float:
    """Raw Ed25519 signatures per second over 64 bytes (median of five batches): a reference."""
    key = Ed25519KeyPair.generate()
    message = b"\x01" * 64
    batch = max(1, count // 5)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(batch):
            key.sign(message)
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def _settings(database_url: str, workdir: Path) -> IssuerSettings:
    return IssuerSettings(
        _env_file=None,
        database_url=database_url,
        key_dir=workdir / "keys",
        key_passphrase=SecretStr(_PASSPHRASE),
    )


@contextmanager
def _service(database_url: str, workdir: Path) -> Iterator[IssuerService]:
    service = IssuerService(_settings(database_url, workdir))
    try:
        service.bootstrap()
        yield service
    finally:
        service.db.dispose()


# -- one request at a time (the baseline) ---------------------------------------------------------


def _rate(issue_one: Callable[[], object], count: int) -> float:
    issue_one()  # warm-up: keys decrypted, status list opened, connections made
    start = time.perf_counter()
    for _ in range(count):
        issue_one()
    return count / (time.perf_counter() - start)


def _subject() -> dict[str, Any]:
    return dict(DEMO_PEOPLE["credential"])


def _single_requests(service: IssuerService, count: int) -> tuple[str, float]:
    """Rate of ``POST /credentials/issue`` (or of ``issue`` calls when there is no API yet)."""
    create_app = getattr(importlib.import_module("issuer.app"), "create_app", None)
    if create_app is None:
        principal = Principal("bench", "IMSS", frozenset({"issue"}))
        return "single: IssuerService.issue (no API)", _rate(
            lambda: service.issue(principal, {"credentialSubject": _subject()}), count
        )
    from fastapi.testclient import TestClient

    api_key = service.create_client("IMSS", "bench", ["issue"], actor="bench")
    body = {"credential": {"credentialSubject": _subject()}}
    headers = {"Authorization": f"Bearer {api_key}"}
    with TestClient(create_app(service.settings, service)) as client:

        def issue_one() -> None:
            response = client.post("/credentials/issue", json=body, headers=headers)
            if response.status_code != 201:
                raise RuntimeError(f"issue failed: {response.status_code} {response.text}")

        return "single requests: POST /credentials/issue", _rate(issue_one, count)


def _one_at_a_time(service: IssuerService, count: int) -> float:
    principal = Principal("bench-loop", "IMSS", frozenset({"issue"}))
    return _rate(lambda: service.issue(principal, {"credentialSubject": _subject()}), count)


# -- the storage reference ------------------------------------------------------------------------


def _insert_rate(database_url: str, workdir: Path, rows: int) -> float:
    """Bare ``executemany`` inserts of credential rows (a real signed document each), per second."""
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from issuer.storage.tables import Credential

    with _service(database_url, workdir) as service:
        document = service.issue(
            Principal("bench-ref", "IMSS", frozenset({"issue"})), {"credentialSubject": _subject()}
        ).document
        now = datetime.now(UTC)
        batch = [
            {
                "id": f"urn:uuid:bench-{n}", "institution_code": "IMSS", "list_number": 999,
                "status_index": n, "curp": f"{n:018d}", "document": {**document, "n": n},
                "issued_at": now, "valid_until": now, "client_id": "bench",
                "idempotency_key": f"bench:{n}", "request_sha256": "0" * 64, "suspended": False,
                "revoked_at": None,
            }
            for n in range(rows)
        ]  # fmt: skip
        start = time.perf_counter()
        for first in range(0, rows, 512):
            with service.db.transaction() as session:
                session.connection().execute(insert(Credential), batch[first : first + 512])
        return rows / (time.perf_counter() - start)


# -- bulk, each run in its own process ------------------------------------------------------------


def _curp(number: int, birth: date) -> str:
    from verifier import curp_check_digit

    consonants = "".join(
        _CONSONANTS[(number // len(_CONSONANTS) ** i) % len(_CONSONANTS)] for i in range(3)
    )
    homoclave = "0" if birth.year < 2000 else "A"
    first17 = f"PEMA{birth:%y%m%d}{'HM'[number % 2]}DF{consonants}{homoclave}"
    return first17 + curp_check_digit(first17)


def _people_file(path: Path, rows: int, start: int = 0) -> Path:
    """A CSV enrolment file of ``rows`` distinct, valid people (accents, Ñ, apostrophes)."""
    import csv

    from issuer.enrolment.rows import COLUMNS

    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for number in range(start, start + rows):
            birth = date(1950 + number % 60, 1 + number % 12, 1 + number % 28)
            given, first, second = _NAMES[number % len(_NAMES)]
            writer.writerow(
                {
                    "curp": _curp(number, birth),
                    "given_names": given,
                    "first_surname": first,
                    "second_surname": second,
                    "birth_date": birth.isoformat(),
                    "institution": "IMSS",
                    "program": "Régimen Obligatorio",
                    "affiliation_number": f"{number:011d}",
                    "relationship": ("titular", "CONYUGE", "HIJA", "hijo")[number % 4],
                    "clues": f"DFIMS{number % 1_000_000:06d}",
                    "valid_until": "2031-12-31",
                }
            )
    return path


def _rss_kib() -> int:
    """This process's resident set now (KiB), from /proc; its peak where /proc is missing."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _cpu_seconds() -> float | None:
    """CPU time (user + system) of this process and of the processes it started, from /proc."""
    try:
        pids = [os.getpid()]
        for task in os.listdir(f"/proc/{os.getpid()}/task"):
            with open(f"/proc/{os.getpid()}/task/{task}/children", encoding="ascii") as handle:
                pids += [int(pid) for pid in handle.read().split()]
        ticks = 0
        for pid in pids:
            with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _child(argv: Sequence[str]) -> None:
    """``--child URL WORKDIR SOURCE OUT WORKERS GO``: one bulk run; prints its figures as JSON."""
    from issuer.enrolment.bulk import Progress, run_bulk
    from issuer.progress import Counts

    url, workdir, source, out, workers, go = argv
    with Path(source).open(encoding="utf-8") as handle:
        total = sum(1 for _ in handle) - 1
    marks: dict[str, int] = {}
    # Chunks reach their full size at row 1,023 and three are in flight by row 2,048.
    mark = _STEADY_FROM if total >= _STEADY_FROM + 1000 else total // 2
    first: list[tuple[float, int, float | None]] = []  # (when, rows done, CPU) after chunk 1
    cpu_at_end: list[float | None] = []

    class Sampling(Progress):
        def update(self, done: int, counts: Counts) -> None:
            if not first:
                first.append((time.time(), done, _cpu_seconds()))
            if done == total:
                cpu_at_end.append(_cpu_seconds())  # before the signing workers stop
            if done in (mark, total):
                marks.setdefault(str(done), _rss_kib())

    service = IssuerService(_settings(url, Path(workdir)))
    service.active_key("IMSS")  # the key decrypted before the clock starts
    Path(f"{go}.ready.{os.getpid()}").touch()
    while not Path(go).exists():
        time.sleep(0.005)
    report = run_bulk(
        service, Path(source), institution="IMSS", out=Path(out), cards="none",
        progress=Sampling(total, open(os.devnull, "w")), workers=int(workers),  # noqa: SIM115
    )  # fmt: skip
    ended = time.time()
    service.db.dispose()
    if report.issued != total:
        raise SystemExit(f"bulk issued {report.issued} of {total}: {report}")
    half, end = marks.get(str(mark), 0), marks.get(str(total), 0)
    cpu_start = first[0][2]
    print(
        json.dumps(
            {
                "rows": total - first[0][1],
                "cpu_seconds": (cpu_at_end[0] - cpu_start)
                if cpu_at_end and cpu_at_end[0] is not None and cpu_start is not None
                else None,
                "started": first[0][0],
                "ended": ended,
                "rss_peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "worker_rss_peak_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                "rss_growth_kib_per_1000": (end - half) * 1000 / max(total - mark, 1),
            }
        )
    )


def _bulk(
    url: str, workdir: Path, runs: Sequence[tuple[Path, Path]], workers: int
) -> dict[str, float]:
    """Bulk runs (one per ``(source, out)``) in parallel processes, started together."""
    go = workdir / f"go-{time.monotonic_ns()}"
    command = [sys.executable, "-m", "bench.issuance", "--child", url, str(workdir)]
    children = [
        subprocess.Popen(
            [*command, str(source), str(out), str(workers), str(go)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        for source, out in runs
    ]
    while len(list(workdir.glob(f"{go.name}.ready.*"))) < len(children):
        if any(child.poll() is not None for child in children):
            break
        time.sleep(0.01)
    go.touch()
    figures = []
    for child in children:
        output, _ = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"bulk bench child failed ({child.returncode})")
        figures.append(json.loads(output.strip().splitlines()[-1]))
    wall = max(f["ended"] for f in figures) - min(f["started"] for f in figures)
    return {
        "rate": sum(f["rows"] for f in figures) / wall,
        "rss_peak_mib": max(f["rss_peak_kib"] for f in figures) / 1024,
        "worker_rss_peak_mib": max(f["worker_rss_peak_kib"] for f in figures) / 1024,
        "growth_kib": max(f["rss_growth_kib_per_1000"] for f in figures),
        "cpu_ms_per_credential": (
            1e3 * sum(f["cpu_seconds"] for f in figures) / sum(f["rows"] for f in figures)
            if all(f["cpu_seconds"] is not None for f in figures)
            else float("nan")
        ),
    }


def _workers_name(workers: int) -> str:
    if workers == 0:
        return _ONE_PROCESS
    return f"bulk: 1 process, {workers} signing worker{'s' if workers > 1 else ''}"


def _measure(
    database: str, url_of: Callable[[str], str], workdir: Path, rows: int, signatures: float
) -> dict[str, tuple[float, float, float]]:
    """Every figure for one database; ``url_of(name)`` gives a fresh database's URL.

    Returns each bulk figure's rate, its ratio to the bare insert and its CPU ms per
    credential, by name.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    with _service(url_of("single"), workdir / "single") as service:
        single_name, single = _single_requests(service, SINGLE_REQUESTS)
        loop = _one_at_a_time(service, ONE_AT_A_TIME)
    insert = _insert_rate(url_of("reference"), workdir / "reference", max(rows, 2000))
    people = [_people_file(workdir / f"people-{n}.csv", rows, start=n * rows) for n in range(2)]
    cpus = os.cpu_count() or 1
    lines: list[tuple[str, int, float, dict[str, float] | None]] = [
        ("reference: executemany insert, 512 rows/commit", max(rows, 2000), insert, None),
        (single_name, SINGLE_REQUESTS, single, None),
        ("one at a time: IssuerService.issue", ONE_AT_A_TIME, loop, None),
    ]

    def bulk(name: str, processes: int, workers: int) -> None:
        name_of_db = f"bulk{len(lines)}"
        url, home = url_of(name_of_db), workdir / name_of_db
        with _service(url, home):
            pass  # schema and keys, before the clock
        runs = [(people[n], home / f"out-{n}") for n in range(processes)]
        figures = _bulk(url, home, runs, workers)
        lines.append((name, rows * processes, figures["rate"], figures))

    for workers in sorted({*WORKER_COUNTS, cpus}):
        bulk(_workers_name(workers), 1, workers)
    if database.startswith("PostgreSQL"):
        bulk(_TWO_PROCESSES, 2, 0)
    print(f"\n{database}")
    for name, count, rate, figures in lines:
        memory = (
            f"{figures['rss_peak_mib']:>7.0f} {figures['worker_rss_peak_mib']:>7.0f} "
            f"{figures['growth_kib']:>8.0f} {figures['cpu_ms_per_credential']:>11.2f}"
            if figures
            else ""
        )
        print(
            f"  {name:<48} {count:>5} {rate:>9,.1f}/s {rate / insert:>8.4f} "
            f"{rate / signatures:>8.4f} {signatures / rate:>9,.1f} {memory}"
        )
    by_name = {name: rate for name, _, rate, _ in lines}
    one = by_name[_ONE_PROCESS]
    two = by_name.get(_TWO_PROCESSES)
    best = max(rate for _, _, rate, figures in lines if figures)
    cpu = min(figures["cpu_ms_per_credential"] for _, _, _, figures in lines if figures)
    print(
        f"  bulk ÷ one at a time: {one / loop:.1f}×; 130 million at the best bulk rate: "
        f"{130e6 / best / 3600:.0f} h" + (f"; 2 processes ÷ 1: {two / one:.2f}×" if two else "")
    )
    print(
        f"  least CPU per credential: {cpu:.2f} ms, so {os.cpu_count()} free CPUs allow "
        f"{(os.cpu_count() or 1) * 1e3 / cpu:,.0f}/s (130 million in "
        f"{130e6 * cpu / 1e3 / (os.cpu_count() or 1) / 3600:.0f} h)"
    )
    return {
        name: (rate, rate / insert, figures["cpu_ms_per_credential"])
        for name, _, rate, figures in lines
        if figures
    }


def _goal(results: dict[str, dict[str, tuple[float, float, float]]]) -> None:
    """Issue 9, goal 3: the SQLite figure against 2,000/s; the same on PostgreSQL; by workers."""
    cpus = os.cpu_count() or 1
    print(
        f"\nGoal 3 (issue 9): bulk issuance end to end (people file → stored credentials with "
        f"status indices and audit entries → wallet JSON and card text written), "
        f"≥ {GOAL_RATE:,.0f}/s on SQLite on this {cpus}-CPU machine (130 million in < 18 h)"
    )
    print(
        f"  {'database':<12} {'path':<42} {'per second':>11} {'÷ insert':>8} {'130 M in':>8} "
        f"{'CPU ms/cred':>11} {'CPUs allow':>10}"
    )

    def row(database: str, name: str, verdict: str = "") -> None:
        rate, ratio, cpu = results[database][name]
        print(
            f"  {database:<12} {name.removeprefix('bulk: '):<42} {rate:>9,.0f}/s {ratio:>8.4f} "
            f"{130e6 / rate / 3600:>6.0f} h {cpu:>11.2f} {cpus * 1e3 / cpu:>8,.0f}/s  {verdict}"
        )

    goal_name = _workers_name(cpus)
    sqlite_rate, _, sqlite_cpu = results["SQLite"][goal_name]
    verdict = "MET" if sqlite_rate >= GOAL_RATE else "NOT MET"
    possible = "would" if cpus * 1e3 / sqlite_cpu >= GOAL_RATE else "would not"
    row(
        "SQLite",
        goal_name,
        f"{verdict} ({sqlite_rate / GOAL_RATE:.2f}× the goal; its CPU time {possible} allow "
        f"it on {cpus} free CPUs)",
    )
    row("SQLite", _ONE_PROCESS)
    if "PostgreSQL" in results:
        postgres = results["PostgreSQL"]
        row("PostgreSQL", goal_name)
        row("PostgreSQL", _ONE_PROCESS)
        row(
            "PostgreSQL",
            _TWO_PROCESSES,
            f"{postgres[_TWO_PROCESSES][0] / postgres[_ONE_PROCESS][0]:.2f}× one process",
        )
    for database, figures in results.items():
        growth = ", ".join(
            f"{workers}: {figures[_workers_name(workers)][0]:,.0f}/s "
            f"({figures[_workers_name(workers)][0] / figures[_ONE_PROCESS][0]:.2f}×)"
            for workers in sorted({*WORKER_COUNTS, cpus})
        )
        print(f"  {database}, rate by signing workers (0: in the bulk process): {growth}")


def main(argv: Sequence[str] | None = None) -> None:
    """Measure issuance throughput on SQLite, and on PostgreSQL when it can be started."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["--child"]:
        _child(arguments[1:])
        return
    parser = argparse.ArgumentParser(prog="python -m bench.issuance")
    parser.add_argument("--rows", type=int, default=BULK_ROWS, help="rows per bulk figure")
    rows = max(parser.parse_args(arguments).rows, 8)
    start = time.perf_counter()
    signatures = _signature_rate()
    print(
        f"\nIssuance throughput (credentials/s). ÷ insert: bare executemany insert rate on the "
        f"same database; ÷ sign: raw Ed25519 signatures/s ({signatures:,.0f}/s in this run).\n"
        f"Memory (bulk only): peak RSS MiB of the bulk process and of its largest signing "
        f"worker, and KiB the bulk process grows per 1,000 rows. CPU ms/cred: CPU time of the "
        f"bulk processes and their workers per credential (less sensitive to other load than "
        f"the rate; {os.cpu_count()} CPUs ÷ it is the rate this machine's CPUs would allow)."
    )
    print(
        f"  {'path':<48} {'N':>5} {'per second':>11} {'÷ insert':>8} {'÷ sign':>8} "
        f"{'sigs/cred':>9} {'RSS':>7} {'worker':>7} {'KiB/1k':>8} {'CPU ms/cred':>11}"
    )
    results: dict[str, dict[str, tuple[float, float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="credencial-bench-") as tmp:
        workdir = Path(tmp)
        results["SQLite"] = _measure(
            "SQLite (WAL, file)",
            lambda name: f"sqlite:///{workdir / 'sqlite' / name}.db",
            workdir / "sqlite",
            rows,
            signatures,
        )
        try:
            from tests.postgres import PostgresServer
        except ImportError as exc:  # bench run outside a checkout with the tests
            print(f"\nPostgreSQL: skipped ({exc})")
        else:
            try:
                server = PostgresServer().start()
            except RuntimeError as exc:  # no binaries or driver (PostgresUnavailableError), or
                print(f"\nPostgreSQL: skipped ({exc})")  # a server that would not start
            else:
                try:
                    results["PostgreSQL"] = _measure(
                        "PostgreSQL (throwaway local server, Unix socket, fsync off)",
                        lambda name: server.url(server.create_database(name)),
                        workdir / "postgresql",
                        rows,
                        signatures,
                    )
                finally:
                    server.stop()
    _goal(results)
    sys.stdout.flush()
    print(f"({time.perf_counter() - start:.1f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
