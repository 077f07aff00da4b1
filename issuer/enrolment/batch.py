"""Batch issuance: a chunk of people in a few statements, signed in worker processes.

What ``credencial-issuer bulk`` runs (:mod:`issuer.enrolment.bulk` reads the file and writes the
outputs).
For each chunk of requests, :meth:`BatchIssuer.submit` and :meth:`BatchIssuer.complete`:

1. one query finds the requests already issued (same idempotency key ``bulk:<row key>``: the
   stored credential is returned) and the people this batch already issued from other data;
2. one short transaction checks the signing key and allocates a block of status indices (the
   list's counter advanced by the block size, each index the list's keyed permutation of its
   counter: no index is ever handed out twice, by any process);
3. the credentials are built, signed and checked in worker processes (or in this one);
4. one transaction inserts every credential (``executemany``) and its audit entry (chained in
   memory, :func:`issuer.storage.audit.append_audit_many`), and commits.

A crash between 2 and 4 leaves at most one chunk of indices unused (never reused): the re-run
issues those people with fresh indices, exactly once. Two processes (or machines sharing
PostgreSQL) may run batches at the same time: allocation is transactional, the audit head row
serialises the inserts, and a request both issue is stored once (the unique idempotency key; the
loser returns the winner's credential).

The self-check of what is signed is split by what it protects against, so that it costs one
Ed25519 verification per credential instead of a second canonicalization:

- every signature is verified against the key's public key over the very bytes that were
  signed (:class:`_CheckedSigner`): a faulty signer or HSM is caught credential by credential;
- every credential passes the data model when it is built, and its card form must decode back
  to exactly the credential (:func:`verifier.encode_card`);
- the full verifier (canonicalization, proof, key, dates, model) runs on the first credential
  of every task and on a random sample: everything it checks beyond the two points above
  (issuer, key, verification method, proof options, contexts, status entries, code that builds
  the document) is the same for every credential of a chunk, so a fault there fails the sample.
  A failure aborts the run before the chunk is stored.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer.credentials.permutation import permute_range
from issuer.credentials.service import IssuerService, _request_hash, open_next_status_list
from issuer.credentials.signing import new_coverage_credential
from issuer.errors import ConflictError, IssuanceCheckError, ServiceError
from issuer.institutions import INSTITUTIONS, Institution
from issuer.keys.store import KeyHandle, open_keystore
from issuer.settings import IssuerSettings
from issuer.storage.audit import append_audit_many
from issuer.storage.tables import Credential, SigningKey, StatusList
from verifier import (
    ContextLoader,
    ReasonCode,
    Signer,
    TrustedKey,
    TrustStore,
    Verdict,
    Verifier,
    create_proof,
    decode_multikey,
    format_datetime,
)
from verifier._ed25519 import ed25519_verify

__all__ = [
    "BATCH_AUDIT_ACTION",
    "FULL_CHECK_ONE_IN",
    "BatchIssuer",
    "BatchOutcome",
    "BatchRequest",
    "allocate_indices",
    "wallet_line",
]

#: The audit action of a credential issued by a batch (the same as one issued alone).
BATCH_AUDIT_ACTION = "credential.issue"
#: Besides the first credential of every task, the full verifier checks about one in this many.
FULL_CHECK_ONE_IN = 64
_MAX_ATTEMPTS = 20
#: How long the signing workers may take to start (import, open the key store) before the run
#: goes on with those that are up.
_WORKERS_START_SECONDS = 120.0
_STOPPED = (
    "a signing worker process stopped ({}); nothing of this chunk was stored: "
    "run the same command again to resume"
)


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """One person to issue: the subject, and the idempotency key and hash of the request."""

    line: int
    subject: dict[str, Any]
    valid_until: datetime
    idempotency_key: str

    @property
    def curp(self) -> str:
        """The person's CURP."""
        return str(self.subject["curp"])

    @property
    def request_sha256(self) -> str:
        """The hash :meth:`IssuerService.issue` stores for the same request (same semantics)."""
        return _request_hash(
            {
                "credential": {"credentialSubject": self.subject},
                "validUntil": self.valid_until.isoformat(),
            }
        )


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What became of one request: a credential (new or found), or why there is none.

    ``wallet`` and ``card`` are the output files' contents when the worker made them; ``field``
    and ``error`` say what is wrong (``card`` errors come with a stored credential).
    """

    request: BatchRequest
    document: dict[str, Any] | None
    created: bool = False
    wallet: bytes | None = None
    card: str | None = None
    field: str = ""
    error: str | None = None


def wallet_line(document: Mapping[str, Any]) -> bytes:
    """A credential's line of wallet JSON in the bulk output: compact JSON (UTF-8) and a newline.

    The C encoder (``indent`` would take the pure-Python one: about 2.5 times as long).
    """
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


# -- allocation -----------------------------------------------------------------------------------


def allocate_indices(
    session: Session, institution: str, count: int, list_size: int
) -> list[tuple[int, int]]:
    """``count`` fresh ``(list number, index)`` pairs, in the caller's transaction.

    Takes a block from the lowest list with room (its row locked, its counter advanced by the
    block), continues in the next list when it fills, and opens a new list when none has room,
    exactly as one-at-a-time allocation does.
    """
    placed: list[tuple[int, int]] = []
    for _ in range(_MAX_ATTEMPTS + count // max(list_size, 1)):
        if len(placed) == count:
            return placed
        row = session.execute(
            select(
                StatusList.id,
                StatusList.number,
                StatusList.allocated,
                StatusList.size,
                StatusList.permutation_key,
            )
            .where(
                StatusList.institution_code == institution, StatusList.allocated < StatusList.size
            )
            .order_by(StatusList.number)
            .limit(1)
            .with_for_update()
        ).first()
        if row is not None:
            taken = min(count - len(placed), row.size - row.allocated)
            session.execute(
                update(StatusList)
                .where(StatusList.id == row.id)
                .values(allocated=row.allocated + taken)
            )
            indices = permute_range(
                row.permutation_key, row.allocated, row.allocated + taken, row.size
            )
            placed += [(row.number, index) for index in indices]
            continue
        open_next_status_list(session, institution, list_size)
    if len(placed) == count:
        return placed
    raise ServiceError("could not allocate status indices (too much contention)")


# -- signing (in a worker process or in this one) -------------------------------------------------


class _CheckedSigner:
    """A signer whose every signature is verified with the public key before it is used.

    With the verifier's own Ed25519 check (libsodium: about 65 µs here, against 160 µs with
    OpenSSL), the same check a front desk makes.
    """

    def __init__(self, signer: Signer, public_key_multibase: str) -> None:
        self._signer = signer
        self._public = decode_multikey(public_key_multibase)

    def sign(self, data: bytes) -> bytes:
        signature = self._signer.sign(data)
        if not ed25519_verify(self._public, signature, data):
            raise IssuanceCheckError(
                "the signer returned a signature that does not verify with its public key"
            )
        return signature


#: One credential to make: list number, index, subject, validUntil, full check or not.
_Job = tuple[int, int, dict[str, Any], datetime, bool]
#: What came of it: document, wallet bytes, card text, card error, build error.
_Made = tuple[dict[str, Any] | None, bytes | None, str | None, str | None, str | None]


class _Signing:
    """What signs in one process: the institution, the checked key and a verifier trusting it."""

    def __init__(self, institution: Institution, key: KeyHandle) -> None:
        self.institution = institution
        self.verification_method = key.verification_method
        self.signer = _CheckedSigner(key.signer, key.public_key_multibase)
        self.loader = ContextLoader()
        self.verifier = Verifier(
            TrustStore([
                TrustedKey.from_json({
                    "id": key.verification_method,
                    "controller": institution.did,
                    "publicKeyMultibase": key.public_key_multibase,
                })
            ])
        )  # fmt: skip

    def make(self, jobs: Sequence[_Job], now: datetime) -> list[_Made]:
        """Build, sign and check each credential; make its wallet JSON and card text."""
        from verifier import CardEncodingError, encode_card

        created = format_datetime(now)
        made: list[_Made] = []
        for number, index, subject, valid_until, full_check in jobs:
            try:
                document = new_coverage_credential(
                    self.institution, subject, status_list=number, status_index=index,
                    valid_from=now, valid_until=valid_until,
                )  # fmt: skip
            except ValueError as exc:  # pydantic's ValidationError is a ValueError
                made.append((None, None, None, None, f"not a valid credential: {exc}"))
                continue
            coverage = document["credentialSubject"]["coverage"]["institution"]
            if coverage != self.institution.code:
                message = f"{self.institution.code} cannot issue coverage of {coverage}"
                made.append((None, None, None, None, message))
                continue
            signed = create_proof(
                document, signer=self.signer, verification_method=self.verification_method,
                loader=self.loader, created=created,
            )  # fmt: skip
            if full_check:
                self._check(signed)
            wallet = wallet_line(signed)
            try:
                card, card_error = encode_card(signed), None
            except CardEncodingError as exc:
                card, card_error = None, str(exc)
            made.append((signed, wallet, card, card_error, None))
        return made

    def _check(self, signed: dict[str, Any]) -> None:
        result = self.verifier.check(signed)
        # A brand-new credential's status bits are known to be clear; only its lists are not held.
        problems = [r for r in result.reasons if r.code is not ReasonCode.STATUS_UNAVAILABLE]
        if result.verdict is Verdict.INVALID or problems:
            raise IssuanceCheckError(f"the issued credential does not verify: {problems}")


_WORKER: _Signing | None = None


def _start_worker(
    parent: int, settings: IssuerSettings, institution: str, key_id: str,
    verification_method: str, public_key_multibase: str,
) -> None:  # fmt: skip
    """Pool initializer: open the key store in this process (the key never crosses a pipe;
    with an HSM, each worker opens its own session)."""
    global _WORKER
    # The parent's pid comes from the parent: a parent killed while this process was still
    # starting must not be mistaken for the one that adopted us.
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the bulk process, which stops us

    pair = open_keystore(settings).load(institution, key_id)
    if pair.public_key_multibase != public_key_multibase:
        raise IssuanceCheckError(f"{institution} {key_id} is not the expected key")
    handle = KeyHandle(verification_method, public_key_multibase, pair)
    _WORKER = _Signing(INSTITUTIONS[institution], handle)


def _exit_with_parent(parent: int) -> None:
    """End this worker when the process that started it is gone (even killed with SIGKILL)."""
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)


def _worker_pid() -> int:
    """A started worker's pid (after a pause, so that one worker cannot answer for all)."""
    time.sleep(0.02)
    return os.getpid()


def _make_in_worker(jobs: list[_Job], now: datetime) -> list[_Made]:
    if _WORKER is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("worker not started")
    return _WORKER.make(jobs, now)


# -- the batch ------------------------------------------------------------------------------------


@dataclass
class _Pending:
    """A submitted chunk: its requests, their outcomes so far, and the credentials being made."""

    requests: Sequence[BatchRequest]
    outcomes: list[BatchOutcome | None]
    placed: list[tuple[int, int, int]]  # (position in the chunk, list number, index)
    now: datetime
    made: list[Future[list[_Made]]] | list[_Made]


class BatchIssuer:
    """Issues chunks of requests for one institution (see the module's description).

    ``workers`` > 0 signs in that many worker processes (started on the first chunk);
    0 signs in this process. Use it as a context manager (the workers stop on exit).
    """

    def __init__(
        self,
        service: IssuerService,
        institution: str,
        *,
        actor: str,
        batch: str | None = None,
        workers: int = 0,
        rng: random.Random | None = None,
    ) -> None:
        self.service = service
        self.institution = INSTITUTIONS[institution]
        self.actor = actor
        self.batch = batch
        self.workers = workers
        self._rng = rng or random.Random()  # noqa: S311 - sampling, not secrecy
        self._key = service.active_key(institution)
        self._key_id = self._key.verification_method.rsplit("#", 1)[1]
        self._signing = _Signing(self.institution, self._key)
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> BatchIssuer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker processes (pending work is cancelled)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _executor(self) -> ProcessPoolExecutor:
        """The worker pool, every worker started (the key store opened) before it is used.

        A pool starts a worker per task submitted; starting them all first keeps their start
        out of the first chunks, and a worker that cannot start stops the run before any
        status index is allocated for it.
        """
        if self._pool is None:
            settings = self.service.settings
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=get_context("spawn"),  # no inherited database connections
                initializer=_start_worker,
                initargs=(
                    os.getpid(),
                    settings,
                    self.institution.code,
                    self._key_id,
                    self._key.verification_method,
                    self._key.public_key_multibase,
                ),
            )
            started: set[int] = set()
            deadline = time.monotonic() + _WORKERS_START_SECONDS
            try:
                while len(started) < self.workers and time.monotonic() < deadline:
                    answers = [self._pool.submit(_worker_pid) for _ in range(self.workers)]
                    started.update(answer.result() for answer in answers)
            except BrokenExecutor as exc:  # could not open the key store, killed, ...
                raise ServiceError(_STOPPED.format(exc)) from exc
        return self._pool

    # -- submit: find, allocate, start signing --------------------------------------------------

    def submit(self, requests: Sequence[BatchRequest]) -> _Pending:
        """Look up, allocate for and start making the credentials of ``requests``."""
        outcomes: list[BatchOutcome | None] = [None] * len(requests)
        self._find(requests, outcomes)
        todo = [position for position, outcome in enumerate(outcomes) if outcome is None]
        now = datetime.now(UTC).replace(microsecond=0)
        if not todo:
            return _Pending(requests, outcomes, [], now, [])
        pool = self._executor() if self.workers > 0 else None
        with self.service.db.transaction() as session:
            self._check_key(session)
            places = allocate_indices(
                session, self.institution.code, len(todo), self.service.settings.status_list_size
            )
        placed = [(p, n, i) for p, (n, i) in zip(todo, places, strict=True)]
        jobs: list[_Job] = [
            (number, index, requests[p].subject, requests[p].valid_until, self._sampled())
            for p, number, index in placed
        ]
        if pool is None:
            jobs[0] = (*jobs[0][:4], True)
            return _Pending(requests, outcomes, placed, now, self._signing.make(jobs, now))
        size = -(-len(jobs) // self.workers)
        tasks = [jobs[start : start + size] for start in range(0, len(jobs), size)]
        try:
            futures = [
                pool.submit(_make_in_worker, [(*task[0][:4], True), *task[1:]], now)
                for task in tasks
            ]
        except BrokenExecutor as exc:  # a worker died since the last chunk
            raise ServiceError(_STOPPED.format(exc)) from exc
        return _Pending(requests, outcomes, placed, now, futures)

    def _sampled(self) -> bool:
        return self._rng.randrange(FULL_CHECK_ONE_IN) == 0

    def _check_key(self, session: Session) -> None:
        active = session.scalar(
            select(SigningKey.key_id)
            .where(
                SigningKey.institution_code == self.institution.code,
                SigningKey.retired_at.is_(None),
            )
            .order_by(SigningKey.id.desc())
            .limit(1)
        )
        if active != self._key_id:
            raise ServiceError(
                f"{self.institution.code}'s signing key changed during the run ({self._key_id} "
                f"is no longer active): run the same command again to continue with the new key"
            )

    def _find(self, requests: Sequence[BatchRequest], outcomes: list[BatchOutcome | None]) -> None:
        """Fill the outcomes of requests already issued, or refused (see the module docstring)."""
        code = self.institution.code
        pending = {requests[p].idempotency_key: p for p, o in enumerate(outcomes) if o is None}
        if not pending:
            return
        with self.service.db.read() as session:
            found = session.execute(
                select(
                    Credential.idempotency_key, Credential.request_sha256, Credential.document
                ).where(
                    Credential.institution_code == code,
                    Credential.idempotency_key.in_(list(pending)),
                )
            ).all()
            for key, request_hash, document in found:
                position = pending.pop(key)
                request = requests[position]
                if request_hash != request.request_sha256:
                    outcomes[position] = BatchOutcome(
                        request, None, field="credential",
                        error=ConflictError(
                            "this Idempotency-Key was used for a different request"
                        ).detail,
                    )  # fmt: skip
                else:
                    outcomes[position] = BatchOutcome(request, dict(document))
            if self.batch is None or not pending:
                return
            by_curp = {requests[p].curp: p for p in pending.values()}
            earlier = session.execute(
                select(Credential.curp, Credential.id).where(
                    Credential.institution_code == code,
                    Credential.curp.in_(list(by_curp)),
                    Credential.bulk_batch == self.batch,
                )
            ).all()
        for curp, credential_id in earlier:
            position = by_curp[curp]
            outcomes[position] = BatchOutcome(
                requests[position], None, field="curp",
                error=(
                    f"{curp} already has {credential_id} from this batch, issued from different "
                    "data; a batch is re-run unchanged: restore the row as it was, or issue the "
                    "correction in a new batch (another --out folder) and revoke the old one"
                ),
            )  # fmt: skip

    # -- complete: collect, store, commit ------------------------------------------------------

    def complete(self, pending: _Pending) -> list[BatchOutcome]:
        """Wait for the chunk's credentials, store them with their audit entries; the outcomes.

        Raises :class:`IssuanceCheckError` (nothing of the chunk stored) if a check failed.
        """
        made: list[_Made] = []
        try:
            for part in pending.made:
                made += part.result() if isinstance(part, Future) else [part]
        except BrokenExecutor as exc:  # killed (out of memory?)
            raise ServiceError(_STOPPED.format(exc)) from exc
        outcomes = pending.outcomes
        rows: list[dict[str, Any]] = []
        audit: list[tuple[str, dict[str, Any]]] = []
        new: dict[int, BatchOutcome] = {}
        for (position, number, index), (document, wallet, card, card_error, error) in zip(
            pending.placed, made, strict=True
        ):
            request = pending.requests[position]
            if document is None:
                new[position] = BatchOutcome(request, None, field="credential", error=error)
                continue
            new[position] = BatchOutcome(
                request, document, created=True, wallet=wallet, card=card,
                field="card" if card_error else "",
                error=f"issued, but no card can be made: {card_error}" if card_error else None,
            )  # fmt: skip
            rows.append(
                {
                    "id": document["id"],
                    "institution_code": self.institution.code,
                    "list_number": number,
                    "status_index": index,
                    "curp": document["credentialSubject"]["curp"],
                    "document": document,
                    "issued_at": pending.now,
                    "valid_until": request.valid_until,
                    "client_id": self.actor,
                    "idempotency_key": request.idempotency_key,
                    "request_sha256": request.request_sha256,
                    "suspended": False,
                    "revoked_at": None,
                    "bulk_batch": self.batch,
                }
            )
            audit.append(
                (
                    document["id"],
                    {"list": number, "index": index, "key": self._key.verification_method},
                )
            )
        self._store(rows, audit, new, pending.now)
        for position, outcome in new.items():
            outcomes[position] = outcome
        return [outcome for outcome in outcomes if outcome is not None]

    def _store(
        self,
        rows: list[dict[str, Any]],
        audit: list[tuple[str, dict[str, Any]]],
        new: dict[int, BatchOutcome],
        now: datetime,
    ) -> None:
        """Insert ``rows`` and their audit entries in one transaction.

        A row another process stored first (same idempotency key) becomes that credential.
        """
        for _ in range(_MAX_ATTEMPTS):
            if not rows:
                return
            try:
                with self.service.db.transaction() as session:
                    self._check_key(session)
                    session.connection().execute(insert(Credential), rows)
                    append_audit_many(
                        session, audit, institution=self.institution.code, actor=self.actor,
                        action=BATCH_AUDIT_ACTION, at=now,
                    )  # fmt: skip
                return
            except IntegrityError:
                keys = {row["idempotency_key"] for row in rows}
                with self.service.db.read() as session:
                    stored: dict[str, Any] = dict(
                        session.execute(
                            select(Credential.idempotency_key, Credential.document).where(
                                Credential.institution_code == self.institution.code,
                                Credential.idempotency_key.in_(list(keys)),
                            )
                        ).all()
                    )
                if not stored:
                    raise
                for position, outcome in list(new.items()):
                    document = stored.get(outcome.request.idempotency_key)
                    if document is not None and outcome.created:
                        new[position] = BatchOutcome(outcome.request, dict(document))
                keep = [i for i, row in enumerate(rows) if row["idempotency_key"] not in stored]
                rows = [rows[i] for i in keep]
                audit = [audit[i] for i in keep]
        raise ServiceError("could not store the batch (too much contention)")
