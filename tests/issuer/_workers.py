"""Work done in separate OS processes by the concurrency tests (importable by spawned children).

Each worker builds its own :class:`IssuerService` on the shared database and key directory, waits
on a barrier so that all of them start together, does its part, and puts one result tuple on the
queue: ``("ok", worker, payload)`` or ``("error", worker, traceback)``.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from multiprocessing import get_context
from pathlib import Path
from queue import Empty
from typing import Any, Protocol

from pydantic import SecretStr

from issuer.credentials.service import IssuerService, StatusAction
from issuer.errors import ConflictError
from issuer.principal import Principal
from issuer.settings import IssuerSettings
from tests.strategies import example_credential

__all__ = [
    "KEY_PASSPHRASE",
    "change_status_many",
    "issue_and_change_many",
    "issue_many",
    "make_settings",
    "run_in_processes",
]

#: The passphrase of the test key stores.
KEY_PASSPHRASE = "test"
#: How long a worker may take before the test gives up on it (seconds).
WORKER_TIMEOUT = 120.0


class _Barrier(Protocol):
    def wait(self, timeout: float | None = None) -> int: ...


class _Queue(Protocol):
    def put(self, obj: Any) -> None: ...


def make_settings(database_url: str, key_dir: Path) -> IssuerSettings:
    """Settings of a test service: no ``.env`` file, keys under ``key_dir``, no auth limit."""
    return IssuerSettings(
        _env_file=None,
        database_url=database_url,
        key_dir=key_dir,
        key_passphrase=SecretStr(KEY_PASSPHRASE),
        # The authorization tests fail authentication on purpose, many times from one address;
        # the limit itself is tested in test_hardening.py.
        auth_failure_limit=1_000_000,
    )


def _work(
    worker: int,
    database_url: str,
    key_dir: str,
    barrier: _Barrier,
    results: _Queue,
    body: Callable[[IssuerService], Any],
) -> None:
    service = IssuerService(make_settings(database_url, Path(key_dir)))
    try:
        service.active_key("IMSS")  # decrypt the key (slow on purpose) before the race starts
        barrier.wait(timeout=WORKER_TIMEOUT)
        results.put(("ok", worker, body(service)))
    except BaseException:  # reported to the test, which fails with the child's traceback
        results.put(("error", worker, traceback.format_exc()))
    finally:
        service.db.dispose()


def issue_many(
    worker: int, database_url: str, key_dir: str, count: int, barrier: _Barrier, results: _Queue
) -> None:
    """Issue ``count`` IMSS credentials; payload: ``[(id, list number, index), ...]``."""
    principal = Principal(f"worker-{worker}", "IMSS", frozenset({"issue"}))

    def body(service: IssuerService) -> list[tuple[str, int, int]]:
        issued = []
        for _ in range(count):
            document = service.issue(principal, example_credential()).document
            entry = document["credentialStatus"][0]
            number = int(entry["statusListCredential"].rsplit("/", 1)[1])
            issued.append((document["id"], number, int(entry["statusListIndex"])))
        return issued

    _work(worker, database_url, key_dir, barrier, results, body)


def change_status_many(
    worker: int,
    database_url: str,
    key_dir: str,
    credential_id: str,
    actions: Sequence[str],
    barrier: _Barrier,
    results: _Queue,
) -> None:
    """Apply ``actions`` to one credential in order; payload: ``[(action, "done"|"refused")]``.

    A refusal is the :class:`ConflictError` of a change after revocation; anything else fails.
    """
    principal = Principal(f"worker-{worker}", "IMSS", frozenset({"status"}))

    def body(service: IssuerService) -> list[tuple[str, str]]:
        outcomes = []
        for action in actions:
            try:
                service.change_status(principal, credential_id, StatusAction(action))
                outcomes.append((action, "done"))
            except ConflictError:
                outcomes.append((action, "refused"))
        return outcomes

    _work(worker, database_url, key_dir, barrier, results, body)


def issue_and_change_many(
    worker: int,
    database_url: str,
    key_dir: str,
    count: int,
    changes: Sequence[tuple[str, str]],
    barrier: _Barrier,
    results: _Queue,
) -> None:
    """Issue ``count`` IMSS credentials with ``changes`` (``(credential id, action)``) in between.

    Payload: ``{"issued": [(id, list number, index), ...], "changes": [(id, action, outcome)]}``,
    outcome ``done`` or ``refused`` (a change after revocation); anything else fails.
    """
    principal = Principal(f"worker-{worker}", "IMSS", frozenset({"issue", "status"}))

    def body(service: IssuerService) -> dict[str, list[tuple[Any, ...]]]:
        issued: list[tuple[Any, ...]] = []
        outcomes: list[tuple[Any, ...]] = []
        pending = list(changes)
        for step in range(count + len(changes)):
            if pending and (step % 2 or len(issued) == count):
                credential_id, action = pending.pop(0)
                try:
                    service.change_status(principal, credential_id, StatusAction(action))
                    outcomes.append((credential_id, action, "done"))
                except ConflictError:
                    outcomes.append((credential_id, action, "refused"))
            else:
                document = service.issue(principal, example_credential()).document
                entry = document["credentialStatus"][0]
                number = int(entry["statusListCredential"].rsplit("/", 1)[1])
                issued.append((document["id"], number, int(entry["statusListIndex"])))
        return {"issued": issued, "changes": outcomes}

    _work(worker, database_url, key_dir, barrier, results, body)


def run_in_processes(
    target: Callable[..., None], arguments: Sequence[tuple[Any, ...]]
) -> dict[int, Any]:
    """Run ``target(worker, *arguments[worker], barrier, queue)`` in one spawned process each.

    Returns each worker's payload; raises ``AssertionError`` with the child's traceback when one
    failed, or when one did not report within :data:`WORKER_TIMEOUT`.
    """
    context = get_context("spawn")  # a fresh interpreter: no inherited connections or locks
    barrier = context.Barrier(len(arguments))
    queue = context.Queue()
    processes = [
        context.Process(target=target, args=(worker, *args, barrier, queue), daemon=True)
        for worker, args in enumerate(arguments)
    ]
    for process in processes:
        process.start()
    reports: list[tuple[str, int, Any]] = []
    try:
        for _ in processes:
            try:
                reports.append(queue.get(timeout=WORKER_TIMEOUT))
            except Empty:
                raise AssertionError(f"a worker did not report within {WORKER_TIMEOUT} s") from None
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
        queue.close()
        queue.join_thread()
    errors = [f"worker {worker}:\n{detail}" for kind, worker, detail in reports if kind != "ok"]
    assert not errors, "\n".join(errors)
    return {worker: payload for _, worker, payload in reports}
