"""The append-only, hash-chained audit log: who did what, when, with which client."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from issuer.storage.tables import AuditEntry, AuditHead

__all__ = [
    "GENESIS_HASH",
    "AuditProblem",
    "append_audit",
    "append_audit_many",
    "verify_audit_chain",
]

GENESIS_HASH = "0" * 64


def _entry_hash(prev_hash: str, seq: int, fields: Mapping[str, Any]) -> str:
    body = json.dumps({"seq": seq, **fields}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def _fields(entry: AuditEntry) -> dict[str, Any]:
    at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
    return {
        "at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "institution": entry.institution_code,
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "details": entry.details,
    }


def append_audit(
    session: Session,
    *,
    institution: str,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction (committed or rolled back with it).

    The single ``audit_head`` row is updated first, which locks it: concurrent appenders, even in
    other processes, are serialised and the chain never forks.
    """
    head = session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.hash)
    ).one()  # fmt: skip  (the row is created by the first migration)
    seq, prev_hash = head.seq, head.hash
    entry = AuditEntry(
        seq=seq,
        at=(at or datetime.now(UTC)),
        institution_code=institution,
        actor=actor,
        action=action,
        subject=subject,
        details=dict(details or {}),
        prev_hash=prev_hash,
        hash="",
    )
    entry.hash = _entry_hash(prev_hash, seq, _fields(entry))
    session.add(entry)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=entry.hash))
    return entry


def append_audit_many(
    session: Session,
    entries: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    institution: str,
    actor: str,
    action: str,
    at: datetime | None = None,
) -> None:
    """Append one entry per ``(subject, details)`` in the caller's transaction, in one statement.

    The same chain as :func:`append_audit` gives, entry by entry: the head row is advanced by
    ``len(entries)`` (which locks it), the hashes are chained in memory, the entries inserted
    with one ``executemany`` and the head's hash set to the last one.
    """
    if not entries:
        return
    head = session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=AuditHead.seq + len(entries))
        .returning(AuditHead.seq, AuditHead.hash)
    ).one()
    moment = at or datetime.now(UTC)
    at_text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    prev_hash, seq = head.hash, head.seq - len(entries)
    rows: list[dict[str, Any]] = []
    for subject, details in entries:
        seq += 1
        fields = {
            "at": at_text,
            "institution": institution,
            "actor": actor,
            "action": action,
            "subject": subject,
            "details": dict(details),
        }  # what _fields reads back from the stored entry
        entry_hash = _entry_hash(prev_hash, seq, fields)
        rows.append(
            {
                "seq": seq,
                "at": moment,
                "institution_code": institution,
                "actor": actor,
                "action": action,
                "subject": subject,
                "details": fields["details"],
                "prev_hash": prev_hash,
                "hash": entry_hash,
            }
        )
        prev_hash = entry_hash
    session.connection().execute(insert(AuditEntry), rows)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=prev_hash))


@dataclass(frozen=True)
class AuditProblem:
    """Where the chain breaks and why."""

    seq: int
    reason: str


def verify_audit_chain(session: Session) -> list[AuditProblem]:
    """Recompute the whole chain; an edited, inserted or deleted entry shows up as a problem."""
    problems: list[AuditProblem] = []
    prev_hash, expected_seq = GENESIS_HASH, 1
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
        if entry.seq != expected_seq:
            problems.append(AuditProblem(entry.seq, f"entry {expected_seq} is missing"))
        if entry.prev_hash != prev_hash:
            problems.append(AuditProblem(entry.seq, "does not chain to the previous entry"))
        if _entry_hash(entry.prev_hash, entry.seq, _fields(entry)) != entry.hash:
            problems.append(AuditProblem(entry.seq, "content does not match its hash"))
        prev_hash, expected_seq = entry.hash, entry.seq + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != expected_seq - 1 or head.hash != prev_hash):
        problems.append(AuditProblem(head.seq, "entries after the last one were deleted"))
    return problems
