"""The batch path of bulk issuance: block allocation, one transaction per chunk, exactly once.

Each test runs on SQLite and on PostgreSQL (``database_url``). What they hold to, whatever
happens to a run: no status index is used twice, every credential is stored with its audit
entry, the audit chain verifies, a re-run completes the batch exactly once, and every stored
credential verifies.
"""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from issuer.cli.operator import build_service
from issuer.credentials.permutation import permute
from issuer.credentials.service import IssuerService
from issuer.enrolment import batch
from issuer.enrolment.batch import BatchIssuer, allocate_indices
from issuer.enrolment.bulk import _request, read_outputs, run_bulk
from issuer.enrolment.rows import EnrolmentRecord, read_records
from issuer.errors import IssuanceCheckError, ServiceError
from issuer.storage.audit import append_audit, verify_audit_chain
from issuer.storage.tables import AuditEntry, Credential, StatusList
from tests.issuer._enrolment_data import (
    count_credentials,
    operator_env,
    people,
    person,
    write_csv,
)
from tests.issuer._workers import WORKER_TIMEOUT, make_settings, run_in_processes
from verifier import Verdict

LIST_SIZE = 64  # for allocate_indices called directly: blocks cross from one list to the next


def _leave_free(service: IssuerService, free: int) -> None:
    """Open IMSS's first status list and use all of it but ``free`` entries."""
    size = service.settings.status_list_size
    with service.db.transaction() as session:
        allocate_indices(session, "IMSS", 1, size)
        session.execute(update(StatusList).values(allocated=size - free))


def _errors(out: Path) -> list[dict[str, str]]:
    with (out / "errors.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _stored(service: IssuerService) -> list[tuple[str, str, int, int]]:
    """``(curp, id, list, index)`` of every stored credential."""
    with service.db.read() as session:
        rows = session.execute(
            select(Credential.curp, Credential.id, Credential.list_number, Credential.status_index)
        ).all()
    return [(curp, id_, number, index) for curp, id_, number, index in rows]


def _assert_sound(service: IssuerService, curps: list[str]) -> None:
    """Each person once, no index twice, one audit entry each, the chain intact, all VALID."""
    stored = _stored(service)
    assert Counter(curp for curp, *_ in stored) == Counter(curps)
    places = [(number, index) for *_, number, index in stored]
    assert len(set(places)) == len(places)
    assert all(0 <= index < service.settings.status_list_size for _, index in places)
    with service.db.read() as session:
        assert verify_audit_chain(session) == []
        subjects = session.scalars(
            select(AuditEntry.subject).where(AuditEntry.action == "credential.issue")
        ).all()
        assert sorted(subjects) == sorted(id_ for _, id_, *_ in stored)
        documents = session.scalars(select(Credential.document)).all()
    verifier = service.verifier()
    for document in documents:
        assert verifier.check(document).verdict is Verdict.VALID


# -- allocation -----------------------------------------------------------------------------------


def test_a_block_continues_into_a_new_list_and_follows_the_permutation(
    service: IssuerService,
) -> None:
    with service.db.transaction() as session:
        first = allocate_indices(session, "IMSS", LIST_SIZE - 10, LIST_SIZE)
    with service.db.transaction() as session:
        second = allocate_indices(session, "IMSS", 30, LIST_SIZE)
    with service.db.read() as session:
        keys = dict(session.execute(select(StatusList.number, StatusList.permutation_key)).all())
        allocated = dict(session.execute(select(StatusList.number, StatusList.allocated)).all())
    assert allocated == {1: LIST_SIZE, 2: 20}
    assert first + second == [
        *((1, permute(keys[1], n, LIST_SIZE)) for n in range(LIST_SIZE)),
        *((2, permute(keys[2], n, LIST_SIZE)) for n in range(20)),
    ]
    # A block larger than a whole list spans several.
    with service.db.transaction() as session:
        third = allocate_indices(session, "IMSS", 2 * LIST_SIZE + 5, LIST_SIZE)
    assert Counter(number for number, _ in third) == {2: 44, 3: LIST_SIZE, 4: 25}
    every = first + second + third
    assert len(set(every)) == len(every)


def test_a_rolled_back_allocation_hands_out_its_indices_again(
    service: IssuerService,
) -> None:
    with service.db.transaction() as session:
        allocate_indices(session, "IMSS", 1, LIST_SIZE)
    lost: list[tuple[int, int]] = []

    def crash_after_allocating() -> None:
        with service.db.transaction() as session:
            lost.extend(allocate_indices(session, "IMSS", 5, LIST_SIZE))
            raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        crash_after_allocating()
    with service.db.transaction() as session:
        assert allocate_indices(session, "IMSS", 5, LIST_SIZE) == lost


# -- the batch path -------------------------------------------------------------------------------


def test_a_batch_in_worker_processes_is_stored_whole_and_verifies(
    service: IssuerService, tmp_path: Path
) -> None:
    """Chunks of 1, 2, 4, 8, 8, ... rows across two status lists, signed by two worker processes."""
    small_lists = service
    _leave_free(service, 20)
    rows = people(60)
    with small_lists.db.transaction() as session:  # an entry before: the chain continues from it
        append_audit(session, institution="IMSS", actor="t", action="test", subject="before")
    report = run_bulk(
        small_lists, write_csv(tmp_path / "p.csv", rows), institution="IMSS",
        out=tmp_path / "out", cards="none", workers=2, chunk=8,
    )  # fmt: skip
    assert (report.rows, report.issued, report.existing, report.errors) == (60, 60, 0, 0)
    assert report.files_written == 2  # one part: its wallet JSON and card text
    _assert_sound(small_lists, [row["curp"] for row in rows])
    assert Counter(number for *_, number, _ in _stored(small_lists)) == {1: 20, 2: 40}
    with small_lists.db.transaction() as session:  # and continues after the batch
        append_audit(session, institution="IMSS", actor="t", action="test", subject="after")
    with small_lists.db.read() as session:
        assert verify_audit_chain(session) == []
    # The same file again: nothing new, nothing written.
    again = run_bulk(
        small_lists, tmp_path / "p.csv", institution="IMSS", out=tmp_path / "out",
        cards="none", workers=0,
    )  # fmt: skip
    assert (again.issued, again.existing, again.files_written) == (0, 60, 0)


def test_a_crash_between_allocation_and_storing_is_completed_exactly_once(
    service: IssuerService, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    small_lists = service
    _leave_free(service, 10)  # the lost chunk and the re-run cross into the second list
    rows = people(40)
    source, out = write_csv(tmp_path / "p.csv", rows), tmp_path / "out"
    store = BatchIssuer._store
    calls = 0

    def crashing_store(self: BatchIssuer, *args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 4:  # chunks of 1, 2, 4 stored; the chunk of 8 was allocated and signed
            raise KeyboardInterrupt
        store(self, *args)

    monkeypatch.setattr(BatchIssuer, "_store", crashing_store)
    with pytest.raises(KeyboardInterrupt):
        run_bulk(small_lists, source, institution="IMSS", out=out, cards="none", chunk=8)
    assert len(_stored(small_lists)) == 7
    with small_lists.db.read() as session:
        allocated = session.scalar(select(func.sum(StatusList.allocated)))
    # 7 stored; lost: the chunk being stored and the next one, allocated ahead while it signed
    used = service.settings.status_list_size - 10 + 7 + 8 + 8
    assert allocated == used  # allocated, never stored: left unused, never handed out again
    monkeypatch.setattr(BatchIssuer, "_store", store)

    report = run_bulk(small_lists, source, institution="IMSS", out=out, cards="none", chunk=8)
    assert (report.issued, report.existing, report.errors) == (33, 7, 0)
    _assert_sound(small_lists, [row["curp"] for row in rows])
    assert len(list(read_outputs(out))) == 40


def test_a_changed_row_in_a_rerun_is_refused_and_not_issued_twice(
    service: IssuerService, tmp_path: Path
) -> None:
    rows = people(5)
    out = tmp_path / "out"
    run_bulk(service, write_csv(tmp_path / "p.csv", rows), institution="IMSS", out=out,
             cards="none")  # fmt: skip
    changed = [*rows[:2], {**rows[2], "given_names": "OTRO NOMBRE"}, *rows[3:]]
    report = run_bulk(
        service, write_csv(tmp_path / "changed.csv", changed), institution="IMSS", out=out,
        cards="none",
    )  # fmt: skip
    assert (report.issued, report.existing, report.errors) == (0, 4, 1)
    [error] = _errors(out)
    assert (error["line"], error["field"]) == ("4", "curp")
    assert f"{rows[2]['curp']} already has urn:uuid:" in error["message"]
    assert "from this batch, issued from different data" in error["message"]
    _assert_sound(service, [row["curp"] for row in rows])
    # A new batch (another output folder) may correct the person: a second credential.
    report = run_bulk(
        service, tmp_path / "changed.csv", institution="IMSS", out=tmp_path / "correction",
        cards="none",
    )  # fmt: skip
    assert (report.issued, report.existing, report.errors) == (1, 4, 0)


def test_a_stored_request_that_differs_under_the_same_key_is_a_conflict(
    service: IssuerService, tmp_path: Path
) -> None:
    rows = people(3)
    source, out = write_csv(tmp_path / "p.csv", rows), tmp_path / "out"
    run_bulk(service, source, institution="IMSS", out=out, cards="none")
    with service.db.transaction() as session:
        session.execute(
            update(Credential)
            .where(Credential.curp == rows[1]["curp"])
            .values(request_sha256="0" * 64)
        )
    report = run_bulk(service, source, institution="IMSS", out=out, cards="none")
    assert (report.issued, report.existing, report.errors) == (0, 2, 1)
    assert [(e["line"], e["field"], e["message"]) for e in _errors(out)] == [
        ("3", "credential", "this Idempotency-Key was used for a different request")
    ]


def test_a_signature_that_does_not_verify_stops_the_run_before_anything_is_stored(
    service: IssuerService, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    class FlippingSigner:
        def __init__(self, signer: Any) -> None:
            self.signer = signer

        def sign(self, data: bytes) -> bytes:
            signature = bytearray(self.signer.sign(data))
            signature[0] ^= 1
            return bytes(signature)

    init = batch._CheckedSigner.__init__

    def faulty(self: batch._CheckedSigner, signer: Any, public: str) -> None:
        init(self, FlippingSigner(signer), public)

    monkeypatch.setattr(batch._CheckedSigner, "__init__", faulty)
    with pytest.raises(IssuanceCheckError, match="does not verify with its public key"):
        run_bulk(service, write_csv(tmp_path / "p.csv", people(3)), institution="IMSS",
                 out=tmp_path / "out", cards="none", workers=0)  # fmt: skip
    assert _stored(service) == []
    assert not list((tmp_path / "out" / "credentials").iterdir())


def test_a_signing_worker_that_cannot_start_stops_the_run_with_a_clear_error(
    service: IssuerService, tmp_path: Path
) -> None:
    records = read_records(write_csv(tmp_path / "p.csv", people(2)))
    requests = [_request(r) for r in records if isinstance(r, EnrolmentRecord)]
    with service.db.read() as session:
        allocated = session.scalar(select(func.sum(StatusList.allocated)))
    with BatchIssuer(service, "IMSS", actor="cli", batch="x", workers=2) as issuer:
        # the worker opens the key store its settings name: one without the key
        service.settings = service.settings.model_copy(update={"key_dir": tmp_path / "no-keys"})
        with pytest.raises(ServiceError, match="a signing worker process stopped") as raised:
            issuer.submit(requests)
    assert "nothing of this chunk was stored" in raised.value.detail
    assert _stored(service) == []
    with service.db.read() as session:  # stopped before allocating: no index left unused
        assert session.scalar(select(func.sum(StatusList.allocated))) == allocated


def test_a_signing_worker_killed_during_the_run_stops_it_with_a_clear_error(
    service: IssuerService, tmp_path: Path
) -> None:
    records = read_records(write_csv(tmp_path / "p.csv", people(2)))
    requests = [_request(r) for r in records if isinstance(r, EnrolmentRecord)]
    with BatchIssuer(service, "IMSS", actor="cli", batch="x", workers=1) as issuer:
        issuer.submit(requests[:1])  # the worker is up
        pool = issuer._executor()
        pid = pool.submit(batch._worker_pid).result()
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(ServiceError, match="a signing worker process stopped") as raised:
            issuer.complete(issuer.submit(requests[1:]))
    assert "nothing of this chunk was stored" in raised.value.detail


def test_a_key_rotated_during_the_run_stops_it_and_the_rerun_signs_with_the_new_key(
    service: IssuerService, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rows = people(12)
    source, out = write_csv(tmp_path / "p.csv", rows), tmp_path / "out"
    submit = BatchIssuer.submit
    calls = 0

    def rotating_submit(self: BatchIssuer, requests: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            service.rotate_key("IMSS", actor="test")
        return submit(self, requests)

    monkeypatch.setattr(BatchIssuer, "submit", rotating_submit)
    with pytest.raises(ServiceError, match="signing key changed during the run"):
        run_bulk(service, source, institution="IMSS", out=out, cards="none", workers=0)
    monkeypatch.setattr(BatchIssuer, "submit", submit)
    done = len(_stored(service))
    assert 0 < done < len(rows)
    report = run_bulk(service, source, institution="IMSS", out=out, cards="none", workers=0)
    assert (report.issued, report.existing) == (len(rows) - done, done)
    methods = Counter(
        doc["proof"]["verificationMethod"][-5:]
        for doc in (service.get_credential(_principal(), id_) for _, id_, *_ in _stored(service))
    )
    assert methods == {"key-1": done, "key-2": len(rows) - done}
    _assert_sound(service, [row["curp"] for row in rows])


def _principal() -> Any:
    from issuer.principal import cli_principal

    return cli_principal("IMSS")


# -- several processes sharing the database -------------------------------------------------------


def bulk_in_process(
    worker: int,
    database_url: str,
    key_dir: str,
    source: str,
    out: str,
    barrier: Any,
    results: Any,
) -> None:
    """A bulk run of ``source`` into ``out`` in this process (spawned by the test)."""
    service = IssuerService(make_settings(database_url, Path(key_dir)))
    try:
        service.active_key("IMSS")
        barrier.wait(timeout=WORKER_TIMEOUT)
        report = run_bulk(
            service, Path(source), institution="IMSS", out=Path(out), cards="none", chunk=4
        )
        results.put(("ok", worker, (report.issued, report.existing, report.errors)))
    except BaseException:
        results.put(("error", worker, traceback.format_exc()))
    finally:
        service.db.dispose()


def test_two_processes_share_the_database_without_a_duplicate(
    service: IssuerService, database_url: str, tmp_path: Path
) -> None:
    """Two runs of the same file at once, into two folders: each person issued once."""
    rows = people(16)
    source = write_csv(tmp_path / "p.csv", rows)
    key_dir = str(service.settings.key_dir)
    reports = run_in_processes(
        bulk_in_process,
        [(database_url, key_dir, str(source), str(tmp_path / folder)) for folder in "ab"],
    )
    assert reports[0][0] + reports[1][0] == 16  # issued by one run or the other
    assert reports[0][0] + reports[0][1] == reports[1][0] + reports[1][1] == 16
    _assert_sound(service, [row["curp"] for row in rows])
    # Both folders hold the same credential of each person.
    outputs = [list(read_outputs(tmp_path / folder)) for folder in "ab"]
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == 16


def test_a_request_stored_by_another_issuer_meanwhile_is_returned_not_stored_twice(
    service: IssuerService, tmp_path: Path
) -> None:
    """Both look it up before either stores it: the second store finds the first's credential."""
    records = read_records(write_csv(tmp_path / "p.csv", people(3)))
    requests = [_request(r) for r in records if isinstance(r, EnrolmentRecord)]
    with (
        BatchIssuer(service, "IMSS", actor="cli", batch="a") as first,
        BatchIssuer(service, "IMSS", actor="cli", batch="b") as second,
    ):
        pending_first = first.submit(requests)
        pending_second = second.submit(requests[1:])
        stored = first.complete(pending_first)
        raced = second.complete(pending_second)
    assert [o.created for o in stored] == [True, True, True]
    assert [o.created for o in raced] == [False, False]
    assert [o.document for o in raced] == [o.document for o in stored[1:]]
    _assert_sound(service, [r.curp for r in requests])


def test_rows_issued_one_at_a_time_by_an_earlier_version_are_found_not_reissued(
    service: IssuerService, tmp_path: Path
) -> None:
    """``IssuerService.issue`` with the key ``bulk:<row key>`` is what ``bulk`` did before."""
    source = write_csv(tmp_path / "p.csv", people(3))
    [first, *_] = [r for r in read_records(source) if isinstance(r, EnrolmentRecord)]
    earlier = service.issue(
        _principal(), {"credentialSubject": first.subject()}, valid_until=first.valid_until,
        idempotency_key=f"bulk:{first.row_key}",
    ).document  # fmt: skip
    report = run_bulk(service, source, institution="IMSS", out=tmp_path / "out", cards="none")
    assert (report.issued, report.existing, report.errors) == (2, 1, 0)
    assert _errors(tmp_path / "out") == []
    assert next(iter(read_outputs(tmp_path / "out")))[0] == earlier


def test_rows_of_another_institution_are_errors_in_the_batch_path(
    service: IssuerService, tmp_path: Path
) -> None:
    rows = [*people(2), person(50, institution="ISSSTE")]
    out = tmp_path / "out"
    report = run_bulk(service, write_csv(tmp_path / "p.csv", rows), institution="IMSS",
                      out=out, cards="none")  # fmt: skip
    assert (report.issued, report.errors) == (2, 1)
    assert _errors(out)[0]["field"] == "institution"


# -- a kill with signing workers ------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started (Linux /proc)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _issued(db: Path) -> int:
    try:
        return sum(count_credentials(db).values())
    except sqlite3.Error:  # not created or not migrated yet
        return 0


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_sigkill_with_signing_workers_leaves_no_worker_behind_and_resumes_exactly_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    db = operator_env(monkeypatch, tmp_path)
    rows = people(60)
    source, out = write_csv(tmp_path / "p.csv", rows), tmp_path / "out"
    argv = ["bulk", str(source), "--institution", "IMSS", "--out", str(out), "--db", str(db),
            "--cards", "none", "--workers", "2", "--chunk", "4"]  # fmt: skip
    child = subprocess.Popen(
        [sys.executable, "-c", "from issuer.cli import main; main()", *argv],
        cwd=tmp_path, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while _issued(db) < 8:
            assert child.poll() is None, child.communicate()[1].decode()
            assert time.monotonic() < deadline, "the bulk run never got going"
            workers = _children(child.pid) or workers
            time.sleep(0.01)
        workers = _children(child.pid) or workers
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=180)  # generous: spawned workers start slowly under load
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert workers, "the run started no worker process"
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers):  # they notice their parent is gone
        assert time.monotonic() < deadline, "a signing worker outlived the killed bulk process"
        time.sleep(0.05)
    killed_at = _issued(db)
    assert 8 <= killed_at < len(rows), "the kill came too late to interrupt the batch"
    service = build_service(str(db), bootstrap=False)
    try:
        report = run_bulk(service, source, institution="IMSS", out=out, cards="none", workers=0)
        assert (report.issued, report.existing, report.errors) == (60 - killed_at, killed_at, 0)
        _assert_sound(service, [row["curp"] for row in rows])
    finally:
        service.db.dispose()
