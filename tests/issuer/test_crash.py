"""Crash safety: the issuer killed (SIGKILL) at seeded random points, restarted, and checked.

Two kinds of process are killed, on SQLite (WAL) and on PostgreSQL (``postgresql`` marker):

- ``credencial-issuer bulk`` part-way through a batch (during start-up, migration, issuance or
  the writing of output files), then re-run; the last run completes the batch;
- ``credencial-issuer serve`` while two clients issue credentials (with an ``Idempotency-Key``,
  retried until answered) and suspend, reinstate and revoke them over HTTP.

After every kill: the audit chain verifies, every list's allocated indices are exactly the first
``allocated`` values of its permutation (none used twice, none lost), every credential has its
issuance audit entry and every audit entry its credential, and every status event its audit entry.
At the end: each batch row or idempotency key has exactly one credential, every acknowledged status
change is stored (and an unanswered one wholly or not at all), and the served lists agree.

``CREDENCIAL_CRASH_ROUNDS`` sets the kills per test (``make crash``: a long profile);
``CREDENCIAL_CRASH_SEED`` the seed of every random choice (printed when a test fails). Only the
choices are seeded: where exactly a kill lands also depends on the machine's timing.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from issuer.cli import run
from issuer.credentials.permutation import permute
from issuer.credentials.service import IssuerService
from issuer.enrolment.bulk import read_outputs
from issuer.keys.store import FileKeyStore
from issuer.principal import Principal
from issuer.settings import IssuerSettings
from issuer.storage.audit import verify_audit_chain
from issuer.storage.database import Database
from issuer.storage.tables import AuditEntry, Credential, StatusEvent, StatusList
from tests.issuer._enrolment_data import KEY_PASSPHRASE, people, write_csv
from verifier import Verdict, decode_card, decode_status_bits, status_bit

ROUNDS_ENV = "CREDENCIAL_CRASH_ROUNDS"
SEED_ENV = "CREDENCIAL_CRASH_SEED"
_DEFAULT_SEED = 10_2026
#: Kills per test in ``make test``: 20 in all (14 on SQLite, 6 on PostgreSQL); a process start
#: costs about a second, so the long profile is ``make crash``.
_DEFAULT_ROUNDS = {("bulk", "sqlite"): 8, ("serve", "sqlite"): 6}
_DEFAULT_ROUNDS_POSTGRESQL = 3
_CLI = [sys.executable, "-c", "from issuer.cli import main; main()"]
_TIMEOUT = 60.0


def _rounds(kind: str, database_url: str) -> int:
    configured = os.environ.get(ROUNDS_ENV)
    if configured:
        return int(configured)
    dialect = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    return _DEFAULT_ROUNDS.get((kind, dialect), _DEFAULT_ROUNDS_POSTGRESQL)


@pytest.fixture
def rng(request: pytest.FixtureRequest, database_url: str) -> random.Random:
    """The test's random source: the seed, the test and the database decide every choice."""
    seed = int(os.environ.get(SEED_ENV, _DEFAULT_SEED))
    print(f"crash test seed: {SEED_ENV}={seed} ({request.node.nodeid})")
    return random.Random(f"{seed}:{request.node.originalname}:{database_url.split(':')[0]}")


@pytest.fixture
def issuer_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> dict[str, str]:
    """The environment of the issuer processes (also set here, for the in-process CLI)."""
    env = {
        "CREDENCIAL_DATABASE_URL": database_url,
        "CREDENCIAL_KEY_DIR": str(tmp_path / "keys"),
        "CREDENCIAL_KEY_PASSPHRASE": KEY_PASSPHRASE,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return {**os.environ, **env}


# -- the invariants that hold after every kill ----------------------------------------------------


@dataclass
class _Stored:
    """What the database holds: credentials and their status events, in commit order."""

    credentials: dict[str, Credential] = field(default_factory=dict)
    events: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)


_EVENT_OF_ACTION = {
    "credential.suspend": ("suspension", True),
    "credential.reinstate": ("suspension", False),
    "credential.revoke": ("revocation", True),
}


def _audit_verify(capsys: pytest.CaptureFixture[str], database_url: str) -> None:
    """``credencial-issuer audit verify`` exits 0 and says the chain is intact."""
    status = run(["audit", "verify", "--db", database_url])
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert "audit: intact:" in out


def _check_consistent(database_url: str, *, block_allocation: bool = False) -> _Stored:
    """Assert the invariants a kill must never break; returns what is stored.

    ``block_allocation``: bulk issuance takes status indices a chunk at a time, so a kill may
    leave allocated indices unused (never reused, see docs/bulk-issuance.md); one-at-a-time
    issuance leaves none.
    """
    database = Database(database_url)
    try:
        if not inspect(database.engine).has_table("audit_log"):
            return _Stored()  # killed before the first migration committed: nothing at all
        with database.read() as session:
            assert verify_audit_chain(session) == []
            credentials = {row.id: row for row in session.scalars(select(Credential))}
            lists = session.scalars(select(StatusList)).all()
            issued = session.execute(
                select(AuditEntry.subject, AuditEntry.details)
                .where(AuditEntry.action == "credential.issue")
                .order_by(AuditEntry.seq)
            ).all()
            changes = session.execute(
                select(AuditEntry.subject, AuditEntry.action)
                .where(AuditEntry.action.in_(list(_EVENT_OF_ACTION)))
                .order_by(AuditEntry.seq)
            ).all()
            events = session.execute(
                select(StatusEvent.credential_id, StatusEvent.purpose, StatusEvent.value).order_by(
                    StatusEvent.id
                )
            ).all()
            event_count = session.scalar(select(func.count()).select_from(StatusEvent))
    finally:
        database.dispose()

    # No index used twice, none outside what was allocated; one at a time, none handed out
    # without its credential: list n's credentials hold exactly the first `allocated` values.
    for status_list in lists:
        indices = sorted(
            row.status_index
            for row in credentials.values()
            if (row.institution_code, row.list_number)
            == (status_list.institution_code, status_list.number)
        )
        expected = sorted(
            permute(status_list.permutation_key, n, status_list.size)
            for n in range(status_list.allocated)
        )
        if block_allocation:
            assert len(set(indices)) == len(indices), f"list {status_list.number}: index reused"
            assert set(indices) <= set(expected), f"list {status_list.number}: index not allocated"
        else:
            assert indices == expected, f"list {status_list.number}: allocation, records differ"
    assert {(row.institution_code, row.list_number) for row in credentials.values()} <= {
        (status_list.institution_code, status_list.number) for status_list in lists
    }
    # Every credential has exactly one issuance audit entry naming its place, and vice versa.
    assert Counter(subject for subject, _ in issued) == Counter(set(credentials))
    for subject, details in issued:
        row = credentials[subject]
        assert (details["list"], details["index"]) == (row.list_number, row.status_index)
    # Every status event has its audit entry (same credential, same change, same order).
    by_credential: dict[str, list[tuple[str, bool]]] = {}
    for credential_id, purpose, value in events:
        by_credential.setdefault(credential_id, []).append((purpose, value))
    audited: dict[str, list[tuple[str, bool]]] = {}
    for subject, action in changes:
        audited.setdefault(subject, []).append(_EVENT_OF_ACTION[action])
    assert by_credential == audited
    assert event_count == len(events)
    # The stored status is the last event's (and nothing follows a revocation).
    for credential_id, row in credentials.items():
        history = by_credential.get(credential_id, [])
        revoked = ("revocation", True) in history
        if revoked:
            assert history[-1] == ("revocation", True)
        suspended = [value for purpose, value in history if purpose == "suspension"]
        assert (row.revoked_at is not None, row.suspended) == (
            revoked,
            suspended[-1] if suspended else False,
        )
    return _Stored(credentials, by_credential)


# -- processes ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _Issuer:
    """One ``credencial-issuer`` process; its output goes to a log file (shown on failure)."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                [*_CLI, *argv],
                env=env,
                cwd=log.parent,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def running(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> bool:
        """SIGKILL; True if it was still running (a real kill), False if it had already ended."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        returncode = self.process.wait(timeout=_TIMEOUT)
        return returncode == -signal.SIGKILL

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _count(database: Database) -> int:
    """Credentials stored now (0 before the schema exists)."""
    try:
        with database.engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(Credential)) or 0)
    except SQLAlchemyError:  # no table yet, or a database mid-migration
        return 0


def _wait(condition: Callable[[], bool], issuer: _Issuer, what: str) -> None:
    deadline = time.monotonic() + _TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"{what}: timed out\n{issuer.output()}"
        time.sleep(0.002)


def _wait_for_credentials(database: Database, count: int, issuer: _Issuer) -> None:
    """Until ``count`` credentials are stored, or the process has ended."""
    _wait(lambda: _count(database) >= count or not issuer.running(), issuer, "issuing")


# -- bulk issuance --------------------------------------------------------------------------------


def test_bulk_killed_at_random_points_completes_the_batch_exactly_once(
    database_url: str,
    tmp_path: Path,
    issuer_env: dict[str, str],
    rng: random.Random,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rounds = _rounds("bulk", database_url)
    rows = people(rounds * 3 + 12)
    source, out = write_csv(tmp_path / "people.csv", rows), tmp_path / "out"
    argv = ["bulk", str(source), "--institution", "IMSS", "--out", str(out), "--db", database_url]
    poll = Database(database_url)
    kills = runs = 0
    landed: Counter[str] = Counter()  # where the kills landed
    try:
        while kills < rounds:
            runs += 1
            assert runs <= 3 * rounds, f"only {kills} of {runs} runs were killed while running"
            before = _count(poll)
            cards = rng.choice(("none", "none", "png"))
            anywhere = before >= len(rows) or rng.random() < 0.25
            delay = rng.uniform(0.0, 1.5) if anywhere else rng.uniform(0.0, 0.05)
            target = before + rng.randint(1, 3)
            bulk = _Issuer([*argv, "--cards", cards], issuer_env, tmp_path / f"bulk-{runs}.log")
            try:
                if not anywhere:  # in the middle of issuance: after a few more credentials
                    _wait_for_credentials(poll, target, bulk)
                time.sleep(delay)
            finally:
                killed = bulk.kill()
            assert killed or bulk.process.returncode == 0, bulk.output()
            kills += killed
            if killed:
                after = _count(poll)
                landed["before its first new credential"] += after == before
                landed["after new credentials"] += after > before
                landed["with every row already issued"] += before == len(rows)
            _check_consistent(database_url, block_allocation=True)
            _audit_verify(capsys, database_url)
        left = len(rows) - _count(poll)
    finally:
        poll.dispose()

    # Restarted once more, the batch completes: what is left is issued, nothing twice.
    status = run([*argv, "--cards", "none"])
    err = capsys.readouterr().err
    assert status == 0, err
    assert f"{len(rows)} rows: {left} issued, {len(rows) - left} already issued, 0 with" in err
    stored = _check_consistent(database_url, block_allocation=True)
    _audit_verify(capsys, database_url)
    assert Counter(row.curp for row in stored.credentials.values()) == {
        row["curp"]: 1 for row in rows
    }
    assert len({row.idempotency_key for row in stored.credentials.values()}) == len(rows)
    # Every credential has its complete files, and there is no file of anything not stored.
    outputs = {document["id"]: (document, card) for document, card in read_outputs(out)}
    assert len(outputs) == len(rows)
    for row in stored.credentials.values():
        document, card = outputs[row.id]
        assert document == row.document
        assert card is not None
        assert decode_card(card) == row.document
    assert not list(out.rglob(".*.tmp"))
    # And a further run finds everything done.
    assert run([*argv, "--cards", "none"]) == 0
    err = capsys.readouterr().err
    assert f"{len(rows)} rows: 0 issued, {len(rows)} already issued, 0 with errors; 0 files" in err
    print(f"bulk: {kills} kills in {runs} runs: {dict(landed)}")


# -- the API: issuance and status changes ---------------------------------------------------------

_WEIGHTS = {"suspend": 45, "reinstate": 45, "revoke": 6}


_MAX_ISSUED = 8  # credentials per client


def _subjects(directory: Path, count: int, start: int) -> list[dict[str, Any]]:
    """Credential subjects (as the API takes them) of ``count`` enrolment rows."""
    from issuer.enrolment.rows import EnrolmentRecord, read_records

    path = write_csv(directory / f"subjects-{start}.csv", people(count, start=start))
    records = list(read_records(path))
    assert all(isinstance(record, EnrolmentRecord) for record in records)
    return [record.subject() for record in records if isinstance(record, EnrolmentRecord)]


class _Client(threading.Thread):
    """Issues (each with its own Idempotency-Key, retried until answered) and changes status.

    ``log`` holds, per credential, every status change sent and its outcome: ``done`` (200),
    ``refused`` (409: revoked before) or ``unknown`` (the server died before answering).
    """

    def __init__(
        self,
        number: int,
        port: int,
        api_key: str,
        subjects: list[dict[str, Any]],
        rng: random.Random,
        up: threading.Event,
    ) -> None:
        super().__init__(name=f"crash-client-{number}", daemon=True)
        self.number, self.port, self.api_key, self.rng, self.up = number, port, api_key, rng, up
        self.subjects = subjects
        self.stop = threading.Event()
        self.issued: dict[str, str] = {}  # Idempotency-Key -> credential id
        self.log: dict[str, list[tuple[str, str]]] = {}
        self.failures: list[str] = []
        self.answered = 0  # status changes answered (done or refused)
        self._connection: http.client.HTTPConnection | None = None

    def _post(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        if self._connection is None:
            self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=_TIMEOUT)
        try:
            self._connection.request(
                "POST", path, body=json.dumps(body).encode(),
                headers={"Authorization": f"Bearer {self.api_key}",
                         "Content-Type": "application/json", **headers},
            )  # fmt: skip
            response = self._connection.getresponse()
            return response.status, json.loads(response.read() or b"null")
        except BaseException:
            self._connection.close()
            self._connection = None
            raise

    def _issue(self, sequence: int) -> None:
        key = f"crash-{self.number}-{sequence}"
        body = {"credential": {"credentialSubject": self.subjects[sequence]}}
        while True:  # retried with the same key until answered: issued exactly once
            self.up.wait(_TIMEOUT)
            try:
                status, answer = self._post("/credentials/issue", body, {"Idempotency-Key": key})
            except (OSError, http.client.HTTPException):
                if self.stop.is_set():  # the test is over (it failed): no more retries
                    return
                continue
            if status not in (200, 201):
                self.failures.append(f"issue {key}: {status} {answer}")
                return
            self.issued[key] = answer["verifiableCredential"]["id"]
            self.log.setdefault(self.issued[key], [])
            return

    def _change(self) -> None:
        credential_id = self.rng.choice(sorted(self.log))
        (action,) = self.rng.choices(list(_WEIGHTS), weights=list(_WEIGHTS.values()))
        self.up.wait(_TIMEOUT)
        try:
            status, answer = self._post(
                "/credentials/status", {"credentialId": credential_id, "action": action}, {}
            )
        except (OSError, http.client.HTTPException):
            outcome = "unknown"
        else:
            outcome = {200: "done", 409: "refused"}.get(status, "")
            if not outcome:
                self.failures.append(f"{action} {credential_id}: {status} {answer}")
        self.log[credential_id].append((action, outcome or "error"))
        if outcome != "unknown":
            self.answered += 1

    def run(self) -> None:
        try:
            sequence = 0
            while not self.stop.is_set():
                if not self.log or (len(self.log) < _MAX_ISSUED and self.rng.random() < 0.2):
                    self._issue(sequence)
                    sequence += 1
                else:
                    self._change()
        except BaseException as exc:  # reported by the test
            self.failures.append(repr(exc))
        finally:
            if self._connection is not None:
                self._connection.close()


def _explains(log: Sequence[tuple[str, str]], events: Sequence[tuple[str, bool]]) -> bool:
    """Whether ``events`` is what ``log`` leads to: every change ``done`` stored, every one
    ``refused`` not, each ``unknown`` one either stored or not, in the order sent."""
    reachable = {0}
    for action, outcome in log:
        event = _EVENT_OF_ACTION[f"credential.{action}"]
        following = set()
        for position in reachable:
            if outcome in ("refused", "unknown"):
                following.add(position)
            if outcome in ("done", "unknown") and events[position : position + 1] == [event]:
                following.add(position + 1)
        reachable = following
    return len(events) in reachable


class _Server:
    """``credencial-issuer serve`` on a loopback port, restarted after each kill."""

    def __init__(self, env: dict[str, str], directory: Path) -> None:
        self.env, self.directory, self.port = env, directory, _free_port()
        self.starts = 0
        self.issuer: _Issuer | None = None

    def start(self) -> None:
        self.starts += 1
        argv = ["serve", "--port", str(self.port)]
        self.issuer = issuer = _Issuer(argv, self.env, self.directory / f"serve-{self.starts}.log")
        _wait(self._ready, issuer, "the server starting")

    def _ready(self) -> bool:
        assert self.issuer is not None
        assert self.issuer.running(), self.issuer.output()
        try:
            self.get("/institutions/IMSS/did.json")
        except OSError:
            return False
        return True

    def get(self, path: str) -> Any:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=_TIMEOUT)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            assert response.status == 200, response.read()
            return json.loads(response.read())
        finally:
            connection.close()

    def kill(self) -> bool:
        assert self.issuer is not None
        return self.issuer.kill()

    def wait_for_answers(self, clients: Sequence[_Client], count: int) -> None:
        """Until the clients have had ``count`` more status changes answered."""
        assert self.issuer is not None

        def answered() -> int:
            return sum(client.answered for client in clients)

        target = answered() + count
        _wait(lambda: answered() >= target, self.issuer, "status changes")


def test_server_killed_during_issuance_and_status_changes_loses_nothing(
    database_url: str,
    tmp_path: Path,
    issuer_env: dict[str, str],
    rng: random.Random,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rounds = _rounds("serve", database_url)
    argv = ["clients", "create", "--institution", "IMSS", "--scopes", "issue,status"]
    assert run([*argv, "--db", database_url]) == 0
    api_key = capsys.readouterr().out.strip()
    server, up = _Server(issuer_env, tmp_path), threading.Event()
    clients = []
    for number in (0, 1):
        subjects = _subjects(tmp_path, _MAX_ISSUED, 1000 * (number + 1))
        client_rng = random.Random(rng.random())
        clients.append(_Client(number, server.port, api_key, subjects, client_rng, up))
    kills = 0
    try:
        for client in clients:
            client.start()
        for _ in range(rounds):
            server.start()
            up.set()
            # A random point among the status changes: after a few more are answered, and then
            # up to a few requests later.
            server.wait_for_answers(clients, rng.randint(1, 6))
            time.sleep(rng.uniform(0.0, 0.05))
            up.clear()
            kills += server.kill()
            _check_consistent(database_url)
            _audit_verify(capsys, database_url)
        server.start()  # once more, to finish what the clients are doing
        up.set()
        time.sleep(0.2)
        for client in clients:
            client.stop.set()
        for client in clients:
            client.join(_TIMEOUT)
        lists = {
            purpose: decode_status_bits(
                server.get(f"/institutions/IMSS/status/{purpose}/1")["credentialSubject"][
                    "encodedList"
                ]
            )
            for purpose in ("revocation", "suspension")
        }
    finally:
        up.set()
        for client in clients:
            client.stop.set()
        server.kill()
    assert kills == rounds, "the server was not running when killed"
    assert not [failure for client in clients for failure in client.failures]

    stored = _check_consistent(database_url)
    _audit_verify(capsys, database_url)
    sent = [outcome for client in clients for log in client.log.values() for _, outcome in log]
    print(
        f"serve: {kills} kills; status changes sent: {dict(Counter(sent))}; "
        f"credentials issued: {len(stored.credentials)}"
    )
    assert sent.count("done") + sent.count("refused") >= rounds
    # Every Idempotency-Key has exactly one credential: the one its (last) answer named.
    by_key = {row.idempotency_key: row.id for row in stored.credentials.values()}
    issued = {key: cid for client in clients for key, cid in client.issued.items()}
    assert by_key == issued
    assert len(stored.credentials) == len(issued)
    # Every acknowledged change is stored, every refused one is not, in the order sent.
    for client in clients:
        for credential_id, log in client.log.items():
            events = stored.events.get(credential_id, [])
            assert _explains(log, events), (credential_id, log, events)
    # What the restarted server serves is what is stored.
    for row in stored.credentials.values():
        assert status_bit(lists["revocation"], row.status_index) == (row.revoked_at is not None)
        assert status_bit(lists["suspension"], row.status_index) == row.suspended


def test_explains_accepts_only_histories_the_log_allows() -> None:
    suspend, reinstate = ("suspension", True), ("suspension", False)
    log = [("suspend", "done"), ("reinstate", "unknown"), ("suspend", "done")]
    assert _explains(log, [suspend, reinstate, suspend])
    assert _explains(log, [suspend, suspend])
    assert not _explains(log, [suspend])  # an acknowledged change lost
    assert not _explains(log, [suspend, suspend, reinstate])  # out of order
    assert not _explains([("revoke", "refused")], [("revocation", True)])  # refused, yet stored


# -- a crash between a key file and its row -------------------------------------------------------


def test_a_key_file_orphaned_by_a_crash_is_adopted_not_a_dead_end(settings: IssuerSettings) -> None:
    """Killed after writing a new key's file but before committing its row: the file is kept.

    The key was never published (no row, no audit entry, nothing signed), so the next attempt
    takes it as the new key instead of failing on the existing file for ever.
    """
    keys = FileKeyStore(settings.key_dir, settings.key_passphrase.get_secret_value())
    orphan = keys.create("IMSS", "key-1")  # what bootstrap had written when it was killed
    service = IssuerService(settings)
    try:
        service.bootstrap()
        assert service.active_key("IMSS").public_key_multibase == orphan.public_key_multibase
        orphan_2 = keys.create("IMSS", "key-2")  # the same during a rotation
        assert service.rotate_key("IMSS", actor="test") == "key-2"
        active = service.active_key("IMSS")
        assert active.public_key_multibase == orphan_2.public_key_multibase
        subject = _subjects(settings.key_dir.parent, 1, 7)[0]
        principal = Principal("test", "IMSS", frozenset({"issue"}))
        document = service.issue(principal, {"credentialSubject": subject}).document
        assert service.verifier().check(document).verdict is Verdict.VALID
    finally:
        service.db.dispose()
    _check_consistent(settings.database_url)


def test_a_key_file_appears_whole_or_not_at_all(
    settings: IssuerSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed while writing a key file: no partial file at the key's path, nothing to adopt."""
    keys = FileKeyStore(settings.key_dir, settings.key_passphrase.get_secret_value())
    written: list[Path] = []

    def killed(source: str, _destination: str) -> None:
        written.append(Path(source))
        raise KeyboardInterrupt  # stands for the kill: after the write, before the link

    monkeypatch.setattr("issuer.keys.store.os.link", killed)
    with pytest.raises(KeyboardInterrupt):
        keys.create("IMSS", "key-1")
    monkeypatch.undo()
    assert written
    assert not (settings.key_dir / "imss" / "key-1.pem").exists()
    service = IssuerService(settings)
    try:
        service.bootstrap()  # creates key-1 afresh
        assert service.active_key("IMSS").verification_method.endswith("#key-1")
    finally:
        service.db.dispose()
    with pytest.raises(FileExistsError):
        keys.create("IMSS", "key-1")  # an existing key is never replaced
