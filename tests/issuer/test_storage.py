"""Storage, on SQLite and PostgreSQL: migrations, allocation, history, audit, and concurrency.

Every test that takes ``database_url`` or ``service`` runs once per database (see conftest).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import delete, event, func, inspect, select, text, update
from sqlalchemy.orm import Session

from issuer.credentials.permutation import permute, permute_range
from issuer.credentials.service import IssuerService, StatusAction
from issuer.institutions import INSTITUTIONS
from issuer.principal import Principal
from issuer.settings import STATUS_LIST_SIZE
from issuer.storage.audit import (
    AuditProblem,
    _entry_hash,
    _fields,
    append_audit,
    verify_audit_chain,
)
from issuer.storage.database import Database
from issuer.storage.migrations import alembic_config
from issuer.storage.tables import AuditEntry, AuditHead, Base, Credential, StatusEvent, StatusList
from tests.issuer._workers import (
    change_status_many,
    issue_and_change_many,
    issue_many,
    run_in_processes,
)
from tests.strategies import example_credential
from verifier import (
    InMemoryStatusLists,
    ReasonCode,
    Verdict,
    Verifier,
    decode_status_bits,
    status_bit,
)

IMSS = Principal("test-client", "IMSS", frozenset({"issue", "status", "admin"}))
LIST_SIZE = STATUS_LIST_SIZE  # the issuer's default


# -- helpers ----------------------------------------------------------------------------------


@contextmanager
def _database(url: str) -> Iterator[Database]:
    database = Database(url)
    try:
        yield database
    finally:
        database.dispose()


def _revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _schema_diffs(database: Database) -> list[Any]:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def _issue(service: IssuerService, count: int) -> list[dict[str, Any]]:
    return [service.issue(IMSS, example_credential()).document for _ in range(count)]


def _place(document: dict[str, Any]) -> tuple[int, int]:
    """(list number, index) from a credential's status entries, which must agree."""
    revocation, suspension = document["credentialStatus"]
    assert (revocation["statusPurpose"], suspension["statusPurpose"]) == (
        "revocation",
        "suspension",
    )
    assert revocation["statusListIndex"] == suspension["statusListIndex"]
    number = int(revocation["statusListCredential"].rsplit("/", 1)[1])
    institution = INSTITUTIONS["IMSS"]
    assert revocation["statusListCredential"] == institution.status_list_url("revocation", number)
    assert suspension["statusListCredential"] == institution.status_list_url("suspension", number)
    return number, int(revocation["statusListIndex"])


def _bit(status_list: dict[str, Any], index: int) -> int:
    return status_bit(decode_status_bits(status_list["credentialSubject"]["encodedList"]), index)


def _lists(service: IssuerService) -> dict[int, StatusList]:
    with service.db.transaction() as session:
        rows = session.scalars(select(StatusList).where(StatusList.institution_code == "IMSS"))
        return {row.number: row for row in rows}


def _leave_free(service: IssuerService, number: int, free: int) -> None:
    """Pretend list ``number`` is full but for ``free`` entries (instead of issuing 131k)."""
    with service.db.transaction() as session:
        session.execute(
            update(StatusList)
            .where(StatusList.institution_code == "IMSS", StatusList.number == number)
            .values(allocated=StatusList.size - free)
        )


def _codes(verifier: Verifier, document: dict[str, Any]) -> tuple[Verdict, set[ReasonCode]]:
    result = verifier.check(document)
    return result.verdict, {reason.code for reason in result.reasons}


# -- migrations -------------------------------------------------------------------------------


def test_migrations_build_an_empty_database_and_a_second_run_changes_nothing(
    database_url: str,
) -> None:
    with _database(database_url) as database:
        assert inspect(database.engine).get_table_names() == []
        database.migrate()
        head = ScriptDirectory.from_config(alembic_config(database.engine)).get_current_head()
        assert head is not None
        assert _revision(database) == head
        tables = set(inspect(database.engine).get_table_names())
        assert tables == {*Base.metadata.tables, "alembic_version"}

        database.migrate()
        assert _revision(database) == head
        with database.transaction() as session:
            heads = session.execute(select(AuditHead.id, AuditHead.seq, AuditHead.hash)).all()
        assert [tuple(row) for row in heads] == [(1, 0, "0" * 64)]  # the genesis row, once


def test_the_migrated_schema_is_exactly_the_models(database_url: str) -> None:
    with _database(database_url) as database:
        database.migrate()
        assert _schema_diffs(database) == []
        # The comparison does see differences: drop an index the models declare.
        with database.engine.begin() as connection:
            connection.execute(text("DROP INDEX ix_credentials_curp"))
        diffs = _schema_diffs(database)
        assert [diff[0] for diff in diffs] == ["add_index"]
        assert diffs[0][1].name == "ix_credentials_curp"


def test_migrations_downgrade_to_nothing_and_upgrade_again(database_url: str) -> None:
    with _database(database_url) as database:
        database.migrate()
        command.downgrade(alembic_config(database.engine), "base")
        assert set(inspect(database.engine).get_table_names()) == {"alembic_version"}
        assert _revision(database) is None
        database.migrate()
        assert _schema_diffs(database) == []


# -- issuance and allocation ------------------------------------------------------------------


def test_issuance_stores_each_credential_at_a_unique_index_inside_its_list(
    service: IssuerService,
) -> None:
    documents = _issue(service, 12)
    with service.db.transaction() as session:
        rows = {row.id: row for row in session.scalars(select(Credential))}
        issue_entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "credential.issue")
        ).all()
    (status_list,) = _lists(service).values()

    assert set(rows) == {document["id"] for document in documents}
    for document in documents:
        row = rows[document["id"]]
        assert row.document == document
        assert _place(document) == (row.list_number, row.status_index) == (1, row.status_index)
        assert row.curp == document["credentialSubject"]["curp"]
        assert row.client_id == IMSS.client_id
        assert (row.suspended, row.revoked_at, row.idempotency_key) == (False, None, None)
    indices = [rows[document["id"]].status_index for document in documents]
    assert (status_list.size, status_list.allocated) == (LIST_SIZE, 12)
    assert all(0 <= index < status_list.size for index in indices)
    assert len(set(indices)) == len(indices)
    # The n-th credential of a list gets the n-th value of the list's keyed permutation.
    assert indices == [permute(status_list.permutation_key, n, LIST_SIZE) for n in range(12)]
    assert [(e.subject, e.details["index"]) for e in issue_entries] == [
        (document["id"], index) for document, index in zip(documents, indices, strict=True)
    ]
    verifier = service.verifier()
    assert verifier.check(documents[0]).verdict is Verdict.VALID
    assert verifier.check(documents[-1]).verdict is Verdict.VALID


def test_a_full_list_opens_the_next_one(service: IssuerService) -> None:
    _issue(service, 1)
    _leave_free(service, 1, 2)
    documents = _issue(service, 4)

    lists = _lists(service)
    assert set(lists) == {1, 2}
    first, second = lists[1], lists[2]
    assert _place(documents[0]) == (1, permute(first.permutation_key, LIST_SIZE - 2, LIST_SIZE))
    assert _place(documents[1]) == (1, permute(first.permutation_key, LIST_SIZE - 1, LIST_SIZE))
    assert _place(documents[2]) == (2, permute(second.permutation_key, 0, LIST_SIZE))
    assert _place(documents[3]) == (2, permute(second.permutation_key, 1, LIST_SIZE))
    assert (first.allocated, second.allocated, second.size) == (LIST_SIZE, 2, LIST_SIZE)
    assert first.permutation_key != second.permutation_key

    # Both lists are served, and the verifier reads a list-2 credential's status from list 2.
    assert service.verifier().check(documents[3]).verdict is Verdict.VALID
    service.change_status(IMSS, documents[3]["id"], StatusAction.REVOKE)
    verifier = service.verifier()
    assert _codes(verifier, documents[3]) == (Verdict.INVALID, {ReasonCode.REVOKED})
    assert verifier.check(documents[1]).verdict is Verdict.VALID
    revocation_2 = service.status_list_credential("IMSS", "revocation", 2)
    assert _bit(revocation_2, _place(documents[3])[1]) == 1


def test_two_transactions_finding_a_list_full_open_one_new_list(service: IssuerService) -> None:
    """A opens list 2 and commits between B's search for an open list and B's opening of one.

    B must then use list 2 instead of opening list 3 (the interleaving is forced with statement
    hooks; on PostgreSQL it also happens by itself when processes race at a list boundary).
    """
    if service.db.is_sqlite:
        pytest.skip("SQLite runs one writer at a time: transactions cannot interleave")
    _issue(service, 1)
    _leave_free(service, 1, 0)
    a_opened, b_searched, a_committed = threading.Event(), threading.Event(), threading.Event()
    names = {"A": "racer-a", "B": "racer-b"}

    def before_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        thread = threading.current_thread().name
        if thread == names["A"] and statement.startswith("INSERT INTO status_lists"):
            a_opened.set()
        elif thread == names["B"] and "max(status_lists.number)" in statement:
            b_searched.set()  # B found no open list; A commits list 2 now
            assert a_committed.wait(30)

    def before_commit(_conn: Any) -> None:
        if threading.current_thread().name == names["A"] and a_opened.is_set():
            assert b_searched.wait(30)

    documents: dict[str, dict[str, Any]] = {}

    def issue_as(racer: str) -> None:
        documents[racer] = service.issue(IMSS, example_credential()).document
        if racer == "A":
            a_committed.set()

    event.listen(service.db.engine, "before_cursor_execute", before_execute)
    event.listen(service.db.engine, "commit", before_commit)
    threads = {
        racer: threading.Thread(target=issue_as, args=(racer,), name=name)
        for racer, name in names.items()
    }
    try:
        threads["A"].start()
        assert a_opened.wait(30)
        threads["B"].start()
        for thread in threads.values():
            thread.join(60)
    finally:
        event.remove(service.db.engine, "before_cursor_execute", before_execute)
        event.remove(service.db.engine, "commit", before_commit)
    assert b_searched.is_set()
    assert a_committed.is_set()
    assert set(_lists(service)) == {1, 2}
    assert {_place(documents["A"])[0], _place(documents["B"])[0]} == {2}


def test_permutation_hands_out_every_index_exactly_once() -> None:
    key = bytes(range(32))
    for size in (1, 2, 3, 100, 1000, 4097):
        assert sorted(permute(key, n, size) for n in range(size)) == list(range(size))
    with pytest.raises(ValueError, match="outside"):
        permute(key, 4097, 4097)


# -- status history ---------------------------------------------------------------------------


def _moment() -> datetime:
    """Now, strictly between the events before and after (timestamps have microseconds)."""
    time.sleep(0.002)
    moment = datetime.now(UTC)
    time.sleep(0.002)
    return moment


def test_status_history_serves_each_list_as_it_stood(service: IssuerService) -> None:
    a, b = _issue(service, 2)
    (_, index_a), (_, index_b) = _place(a), _place(b)
    moments = [_moment()]
    service.change_status(IMSS, a["id"], StatusAction.SUSPEND)
    moments.append(_moment())
    service.change_status(IMSS, b["id"], StatusAction.REVOKE)
    moments.append(_moment())
    service.change_status(IMSS, a["id"], StatusAction.REINSTATE)
    moments.append(_moment())
    # (a suspended, b revoked) at each moment, then now (no timestamp).
    expected = [(0, 0), (1, 0), (1, 1), (0, 1), (0, 1)]
    trust = service.trust_store()

    for moment, (a_suspended, b_revoked) in zip([*moments, None], expected, strict=True):
        suspension = service.status_list_credential("IMSS", "suspension", 1, at=moment)
        revocation = service.status_list_credential("IMSS", "revocation", 1, at=moment)
        assert (_bit(suspension, index_a), _bit(revocation, index_b)) == (a_suspended, b_revoked)
        assert (_bit(revocation, index_a), _bit(suspension, index_b)) == (0, 0)
        if moment is not None:
            assert suspension["validFrom"] == moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        # What is served is what the verifier reads.
        verifier = Verifier(trust, status_lists=InMemoryStatusLists([suspension, revocation]))
        assert _codes(verifier, a) == (
            (Verdict.INVALID, {ReasonCode.SUSPENDED}) if a_suspended else (Verdict.VALID, set())
        )
        assert _codes(verifier, b) == (
            (Verdict.INVALID, {ReasonCode.REVOKED}) if b_revoked else (Verdict.VALID, set())
        )


def test_status_history_is_the_same_whatever_the_offset_of_the_timestamp(
    service: IssuerService,
) -> None:
    """``?timestamp=2026-06-01T06:00:00-06:00`` is the same moment as ``...12:00:00Z``."""
    (document,) = _issue(service, 1)
    index = _place(document)[1]
    before = _moment()
    service.change_status(IMSS, document["id"], StatusAction.SUSPEND)
    after = _moment()
    for offset in (timedelta(hours=-6), timedelta(hours=5, minutes=30)):
        zone = timezone(offset)
        for moment, suspended in ((before, 0), (after, 1)):
            served = service.status_list_credential(
                "IMSS", "suspension", 1, at=moment.astimezone(zone)
            )
            assert _bit(served, index) == suspended, (moment.astimezone(zone), suspended)


def test_a_change_committed_after_a_newer_one_still_reaches_the_served_list(
    service: IssuerService, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two status changes whose event ids commit out of order (possible on PostgreSQL)."""
    if service.db.is_sqlite:
        pytest.skip("SQLite runs one writer at a time: status events commit in id order")
    a, b = _issue(service, 2)
    (_, index_a), (_, index_b) = _place(a), _place(b)
    flushed, go = threading.Event(), threading.Event()

    def held_back(session: Any, **fields: Any) -> Any:
        if fields["subject"] == a["id"]:
            session.flush()  # a's status event now has its id, not yet committed
            flushed.set()
            assert go.wait(30)
        return append_audit(session, **fields)

    monkeypatch.setattr("issuer.credentials.service.append_audit", held_back)
    suspend_a = threading.Thread(
        target=service.change_status, args=(IMSS, a["id"], StatusAction.SUSPEND)
    )
    suspend_a.start()
    try:
        assert flushed.wait(30)
        service.change_status(IMSS, b["id"], StatusAction.SUSPEND)  # a higher id, committed first
        served = service.status_list_credential("IMSS", "suspension", 1)
        assert (_bit(served, index_a), _bit(served, index_b)) == (0, 1)
    finally:
        go.set()
        suspend_a.join(30)
    assert service.credential_status(IMSS, a["id"]) == {"revoked": False, "suspended": True}
    served = service.status_list_credential("IMSS", "suspension", 1)
    assert (_bit(served, index_a), _bit(served, index_b)) == (1, 1)


# -- audit ------------------------------------------------------------------------------------


def _busy_day(service: IssuerService) -> int:
    """Issue, change status, rotate a key, add a client; returns the number of audit entries."""
    a, b, _ = _issue(service, 3)
    service.change_status(IMSS, a["id"], StatusAction.SUSPEND)
    service.change_status(IMSS, a["id"], StatusAction.REINSTATE)
    service.change_status(IMSS, b["id"], StatusAction.REVOKE)
    service.rotate_key("IMSS", actor="operator")
    service.create_client("ISSSTE", "enrolment", ["issue"])
    _issue(service, 1)  # with the new key
    return 3 + 3 + 3 + 2 + 1 + 1  # bootstrap keys, issues, changes, rotation, client, issue


def _tamper_edit(session: Session, last: int) -> list[AuditProblem]:
    session.execute(update(AuditEntry).where(AuditEntry.seq == 5).values(actor="intruder"))
    return [AuditProblem(5, "content does not match its hash")]


def _tamper_edit_and_rehash(session: Session, last: int) -> list[AuditProblem]:
    entry = session.get(AuditEntry, 5)
    assert entry is not None
    entry.details = {"list": 1, "index": 0}
    session.flush()
    entry.hash = _entry_hash(entry.prev_hash, entry.seq, _fields(entry))
    return [AuditProblem(6, "does not chain to the previous entry")]


def _tamper_delete_middle(session: Session, last: int) -> list[AuditProblem]:
    session.execute(delete(AuditEntry).where(AuditEntry.seq == 5))
    return [
        AuditProblem(6, "entry 5 is missing"),
        AuditProblem(6, "does not chain to the previous entry"),
    ]


def _tamper_delete_last(session: Session, last: int) -> list[AuditProblem]:
    session.execute(delete(AuditEntry).where(AuditEntry.seq == last))
    return [AuditProblem(last, "entries after the last one were deleted")]


@pytest.mark.parametrize(
    "tamper",
    [_tamper_edit, _tamper_edit_and_rehash, _tamper_delete_middle, _tamper_delete_last],
    ids=["edit", "edit-and-rehash", "delete-middle", "delete-last"],
)
def test_the_audit_chain_verifies_and_shows_where_it_was_tampered_with(
    service: IssuerService, tamper: Callable[[Session, int], list[AuditProblem]]
) -> None:
    entries = _busy_day(service)
    with service.db.transaction() as session:
        actions = Counter(session.scalars(select(AuditEntry.action)))
        assert verify_audit_chain(session) == []
    assert sum(actions.values()) == entries
    assert actions == {
        "key.create": 4, "credential.issue": 4, "credential.suspend": 1,
        "credential.reinstate": 1, "credential.revoke": 1, "key.retire": 1, "client.create": 1,
    }  # fmt: skip
    with service.db.transaction() as session:
        expected = tamper(session, entries)
    with service.db.transaction() as session:
        assert verify_audit_chain(session) == expected


# -- several processes at once ----------------------------------------------------------------


def test_processes_issuing_at_once_get_unique_indices_and_lose_nothing(
    service: IssuerService,
) -> None:
    workers, per_worker, left_in_first = 3, 20, 10
    (first,) = _issue(service, 1)
    _leave_free(service, 1, left_in_first)  # the workers fill list 1 and race to open list 2
    url, key_dir = service.settings.database_url, str(service.settings.key_dir)

    payloads = run_in_processes(issue_many, [(url, key_dir, per_worker)] * workers)

    issued = {tuple(item) for payload in payloads.values() for item in payload}
    assert len(issued) == workers * per_worker
    with service.db.transaction() as session:
        stored = {
            (credential_id, number, index)
            for credential_id, number, index in session.execute(
                select(Credential.id, Credential.list_number, Credential.status_index)
            )
        }
        issue_subjects = Counter(
            session.scalars(
                select(AuditEntry.subject).where(AuditEntry.action == "credential.issue")
            )
        )
        assert verify_audit_chain(session) == []
    assert stored == issued | {(first["id"], *_place(first))}
    assert len({(number, index) for _, number, index in stored}) == len(stored)
    assert issue_subjects == Counter(credential_id for credential_id, _, _ in stored)

    lists = _lists(service)
    in_second = workers * per_worker - left_in_first
    assert set(lists) == {1, 2}  # one new list, however many processes found list 1 full
    assert (lists[1].allocated, lists[2].allocated) == (LIST_SIZE, in_second)
    by_list: dict[int, set[int]] = {1: set(), 2: set()}
    for _, number, index in issued:
        by_list[number].add(index)
    key_1, key_2 = lists[1].permutation_key, lists[2].permutation_key
    assert by_list[1] == {
        permute(key_1, n, LIST_SIZE) for n in range(LIST_SIZE - left_in_first, LIST_SIZE)
    }
    assert by_list[2] == {permute(key_2, n, LIST_SIZE) for n in range(in_second)}


def test_concurrent_status_changes_on_one_credential_lose_no_update(
    service: IssuerService,
) -> None:
    (document,) = _issue(service, 1)
    toggles = ["suspend", "reinstate"] * 6
    plans = [toggles, toggles[1:] + toggles[:1], [*toggles[:5], "revoke", *toggles[5:]]]
    url, key_dir = service.settings.database_url, str(service.settings.key_dir)

    payloads = run_in_processes(
        change_status_many, [(url, key_dir, document["id"], plan) for plan in plans]
    )

    outcomes = {worker: [tuple(item) for item in payload] for worker, payload in payloads.items()}
    assert [action for action, _ in outcomes[2]] == plans[2]
    assert all(outcome == "refused" for _, outcome in outcomes[2][6:])  # revocation is final
    done = [
        action for results in outcomes.values() for action, outcome in results if outcome == "done"
    ]
    with service.db.transaction() as session:
        events = session.execute(
            select(StatusEvent.purpose, StatusEvent.value)
            .where(StatusEvent.credential_id == document["id"])
            .order_by(StatusEvent.id)
        ).all()
        row = session.get(Credential, document["id"])
        assert row is not None
        audited = Counter(
            session.scalars(select(AuditEntry.action).where(AuditEntry.subject == document["id"]))
        )
        assert verify_audit_chain(session) == []

    # Every accepted change left exactly one event and one audit entry; none came after revocation.
    as_event = {
        "suspend": ("suspension", True),
        "reinstate": ("suspension", False),
        "revoke": ("revocation", True),
    }
    assert Counter(tuple(event) for event in events) == Counter(as_event[a] for a in done)
    assert audited == Counter({"credential.issue": 1}) + Counter(f"credential.{a}" for a in done)
    assert tuple(events[-1]) == ("revocation", True)
    # The stored state is the last event's, and so is the served list.
    suspensions = [value for purpose, value in events if purpose == "suspension"]
    last_suspension = suspensions[-1] if suspensions else False
    assert (row.revoked_at is not None, row.suspended) == (True, last_suspension)
    index = _place(document)[1]
    assert _bit(service.status_list_credential("IMSS", "revocation", 1), index) == 1
    assert _bit(service.status_list_credential("IMSS", "suspension", 1), index) == last_suspension
    with service.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(StatusEvent)) == len(done)


def test_processes_issuing_and_changing_status_at_once_lose_nothing(
    service: IssuerService,
) -> None:
    """Each process issues while it suspends, reinstates and revokes credentials of its own."""
    workers, per_worker, owned = 3, 8, 3
    existing = [document["id"] for document in _issue(service, workers * owned)]
    rng = random.Random(10)
    plans = []
    for worker in range(workers):
        mine = existing[worker * owned : (worker + 1) * owned]
        toggles = [rng.choice(("suspend", "reinstate")) for _ in range(9)]
        plan = [(mine[n % owned], action) for n, action in enumerate(toggles)]
        plans.append([*plan, (mine[0], "revoke"), (mine[0], "suspend")])  # the last is refused
    url, key_dir = service.settings.database_url, str(service.settings.key_dir)

    payloads = run_in_processes(
        issue_and_change_many, [(url, key_dir, per_worker, plan) for plan in plans]
    )

    issued = [tuple(item) for payload in payloads.values() for item in payload["issued"]]
    assert len(issued) == workers * per_worker
    with service.db.transaction() as session:
        rows = {row.id: row for row in session.scalars(select(Credential))}
        events = session.execute(
            select(StatusEvent.credential_id, StatusEvent.purpose, StatusEvent.value).order_by(
                StatusEvent.id
            )
        ).all()
        issue_subjects = Counter(
            session.scalars(
                select(AuditEntry.subject).where(AuditEntry.action == "credential.issue")
            )
        )
        assert verify_audit_chain(session) == []
    # No duplicate index, nothing lost: every credential stored once, at the place it was given.
    assert set(rows) == set(existing) | {credential_id for credential_id, _, _ in issued}
    assert {(rows[cid].list_number, rows[cid].status_index) for cid, _, _ in issued} == {
        (number, index) for _, number, index in issued
    }
    assert len({(row.list_number, row.status_index) for row in rows.values()}) == len(rows)
    assert _lists(service)[1].allocated == len(rows)
    assert issue_subjects == Counter(set(rows))
    # No lost update: each credential's events are exactly its owner's accepted changes, in order,
    # and the stored and served status is the last of them.
    as_event = {
        "suspend": ("suspension", True),
        "reinstate": ("suspension", False),
        "revoke": ("revocation", True),
    }
    accepted: dict[str, list[tuple[str, bool]]] = {cid: [] for cid in existing}
    for payload in payloads.values():
        for credential_id, action, outcome in payload["changes"]:
            revoked_before = as_event["revoke"] in accepted[credential_id]
            assert outcome == ("refused" if revoked_before else "done")
            if outcome == "done":
                accepted[credential_id].append(as_event[action])
    stored: dict[str, list[tuple[str, bool]]] = {cid: [] for cid in existing}
    for credential_id, purpose, value in events:
        stored[credential_id].append((purpose, value))
    assert stored == accepted
    revocation = service.status_list_credential("IMSS", "revocation", 1)
    suspension = service.status_list_credential("IMSS", "suspension", 1)
    for credential_id, row in rows.items():
        history = stored.get(credential_id, [])
        suspended = [value for purpose, value in history if purpose == "suspension"]
        revoked = ("revocation", True) in history
        assert (row.revoked_at is not None, row.suspended) == (
            revoked,
            bool(suspended and suspended[-1]),
        )
        assert _bit(revocation, row.status_index) == revoked
        assert _bit(suspension, row.status_index) == row.suspended


def test_permute_range_is_permute_over_a_block() -> None:
    """The batch path's precomputed HMAC states give exactly the one-at-a-time indices."""
    for key in (bytes(range(32)), b"k" * 64, b"long key " * 10):
        for size, start, stop in ((131_072, 0, 300), (131_072, 130_900, 131_072), (4097, 7, 99)):
            assert permute_range(key, start, stop, size) == [
                permute(key, n, size) for n in range(start, stop)
            ]
    assert permute_range(bytes(32), 5, 5, 10) == []
    with pytest.raises(ValueError, match="outside"):
        permute_range(bytes(32), 0, 11, 10)
