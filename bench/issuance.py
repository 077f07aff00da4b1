"""Issuance throughput: credentials per second, single requests and bulk, SQLite and PostgreSQL.

Each figure is the wall time of N issuances in a row (allocate a status index, sign, verify with
the verifier, store, append to the audit log, commit), printed beside the raw Ed25519 signature
rate measured in the same run: ``credentials/s ÷ signatures/s`` says how far issuance is from
the physical floor of one signature per credential, whatever the machine (its inverse, also
printed as ``sigs/cred``, is how many raw signatures one credential costs).

- single requests: ``POST /credentials/issue`` through the FastAPI app (in-process TestClient),
  one request per credential, each authenticated with an API key;
- bulk: ``IssuerService.issue`` called in a loop in one process (what ``credencial-issuer bulk``
  does per row).

PostgreSQL runs on a throwaway server (``tests/postgres.py``) when its binaries are installed.
"""

from __future__ import annotations

import importlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from issuer._demo import DEMO_PEOPLE
from issuer._keys import Ed25519KeyPair
from issuer.service import IssuerService, Principal
from issuer.settings import IssuerSettings

__all__ = ["main"]

#: Credentials per measurement: one request each through the API, and in one bulk loop.
SINGLE_REQUESTS = 50
BULK = 100
SIGNATURES = 2000


def _signature_rate(count: int = SIGNATURES) -> float:
    """Raw Ed25519 signatures per second over 64 bytes (median of five batches): the reference."""
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


@contextmanager
def _service(database_url: str, workdir: Path) -> Iterator[IssuerService]:
    settings = IssuerSettings(
        _env_file=None,
        database_url=database_url,
        key_dir=workdir / "keys",
        key_passphrase=SecretStr("bench"),
    )
    service = IssuerService(settings)
    try:
        service.bootstrap()
        yield service
    finally:
        service.db.dispose()


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
    create_app = getattr(importlib.import_module("issuer.api"), "create_app", None)
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


def _bulk(service: IssuerService, count: int) -> tuple[str, float]:
    principal = Principal("bench-bulk", "IMSS", frozenset({"issue"}))
    return "bulk: IssuerService.issue in one process", _rate(
        lambda: service.issue(principal, {"credentialSubject": _subject()}), count
    )


def _measure(database_url: str, workdir: Path) -> list[tuple[str, int, float]]:
    with _service(database_url, workdir) as service:
        single = _single_requests(service, SINGLE_REQUESTS)
        bulk = _bulk(service, BULK)
    return [(single[0], SINGLE_REQUESTS, single[1]), (bulk[0], BULK, bulk[1])]


def _print(database: str, rows: list[tuple[str, int, float]], signatures: float) -> None:
    print(f"\n{database}")
    for name, count, rate in rows:
        print(
            f"  {name:<46} {count:>5} {rate:>9,.1f}/s {1e3 / rate:>8.1f}ms "
            f"{rate / signatures:>10.5f} {signatures / rate:>12,.0f}"
        )


def main() -> None:
    """Measure issuance throughput on SQLite, and on PostgreSQL when it can be started."""
    start = time.perf_counter()
    signatures = _signature_rate()
    print(
        f"\nIssuance throughput (credentials/s; ratio = credentials/s ÷ raw Ed25519 "
        f"signatures/s, {signatures:,.0f}/s in this run)"
    )
    print(
        f"  {'path':<46} {'N':>5} {'per second':>11} {'per cred':>10} {'ratio':>10} "
        f"{'sigs/cred':>12}"
    )
    with tempfile.TemporaryDirectory(prefix="credencial-bench-") as tmp:
        workdir = Path(tmp)
        _print(
            "SQLite (WAL, file)",
            _measure(f"sqlite:///{workdir / 'issuer.db'}", workdir / "sqlite"),
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
                    url = server.url(server.create_database("bench"))
                    rows = _measure(url, workdir / "postgresql")
                finally:
                    server.stop()
                _print(
                    "PostgreSQL (throwaway local server, Unix socket, fsync off)", rows, signatures
                )
    sys.stdout.flush()
    print(f"({time.perf_counter() - start:.1f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
