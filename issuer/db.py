"""Storage: the issuer's system of record (SQLAlchemy 2; SQLite with WAL, or PostgreSQL).

The schema is created and upgraded only by the Alembic migrations in ``issuer/migrations``; the
same migrations serve both databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

__all__ = [
    "ApiClient",
    "AuditEntry",
    "AuditHead",
    "Base",
    "Credential",
    "Database",
    "Institution",
    "SigningKey",
    "StatusEvent",
    "StatusList",
]


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime(timezone=True)}


class Institution(Base):
    """An issuing institution (IMSS, ISSSTE, IMSS-BIENESTAR)."""

    __tablename__ = "institutions"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    did: Mapped[str] = mapped_column(String(200), unique=True)


class SigningKey(Base):
    """An institution's signing key: public part here, private part in the key store."""

    __tablename__ = "signing_keys"
    __table_args__ = (UniqueConstraint("institution_code", "key_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"))
    key_id: Mapped[str] = mapped_column(String(64))
    public_key_multibase: Mapped[str] = mapped_column(String(80))
    backend: Mapped[str] = mapped_column(String(16), default="file")
    valid_from: Mapped[datetime]
    #: Set when the key is retired: it signs nothing after this, but stays listed.
    retired_at: Mapped[datetime | None] = mapped_column(default=None)
    #: Set when the private key is known to be compromised: proofs it created at or after this
    #: time are not to be trusted (a compromised key is also retired).
    compromised_at: Mapped[datetime | None] = mapped_column(default=None)


class ApiClient(Base):
    """An API client of one institution; only a hash of its secret is stored."""

    __tablename__ = "api_clients"
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"))
    name: Mapped[str] = mapped_column(String(200))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)


class StatusList(Base):
    """A pair of status lists (revocation and suspension) sharing one index space."""

    __tablename__ = "status_lists"
    __table_args__ = (UniqueConstraint("institution_code", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"))
    number: Mapped[int]
    size: Mapped[int]
    #: How many indices are handed out; the next index is ``permutation(allocated)``.
    allocated: Mapped[int] = mapped_column(default=0)
    #: Secret of the pseudo-random permutation that hides issuance order.
    permutation_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime]


class Credential(Base):
    """An issued credential: the signed JSON and its current status."""

    __tablename__ = "credentials"
    __table_args__ = (
        UniqueConstraint("institution_code", "list_number", "status_index"),
        UniqueConstraint("institution_code", "idempotency_key"),
        Index("ix_credentials_curp", "institution_code", "curp"),
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"))
    list_number: Mapped[int]
    status_index: Mapped[int]
    curp: Mapped[str] = mapped_column(String(18))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    issued_at: Mapped[datetime]
    valid_until: Mapped[datetime]
    client_id: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None)
    request_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    #: The ``credencial-issuer bulk`` batch (output folder) that issued it, if any.
    bulk_batch: Mapped[str | None] = mapped_column(String(32), default=None)


class StatusEvent(Base):
    """One status change, kept so a list can be served as it stood at any past moment."""

    __tablename__ = "status_events"
    __table_args__ = (Index("ix_status_events_list", "institution_code", "list_number", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    credential_id: Mapped[str] = mapped_column(ForeignKey("credentials.id"))
    institution_code: Mapped[str] = mapped_column(String(32))
    list_number: Mapped[int]
    status_index: Mapped[int]
    purpose: Mapped[str] = mapped_column(String(16))
    value: Mapped[bool]
    at: Mapped[datetime]


class AuditEntry(Base):
    """An append-only, hash-chained audit record."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    institution_code: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The single row that serialises audit appends: last sequence number and hash."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))
    notes: Mapped[str] = mapped_column(Text, default="")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Take the write lock at the start: two processes never deadlock upgrading a read lock.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_read(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")  # deferred: readers share WAL snapshots with writers


class Database:
    """An engine and a session factory for one database URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
            if path and path != ":memory:":
                self.read_engine: Engine = create_engine(url, connect_args={"timeout": 30})
                event.listen(self.read_engine, "connect", _sqlite_pragmas)
                event.listen(self.read_engine, "begin", _sqlite_begin_read)
            else:  # an in-memory database exists once per engine: share it
                self.read_engine = self.engine
        else:
            self.engine = create_engine(url, pool_pre_ping=True)
            self.read_engine = self.engine
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        """Whether this is the embedded SQLite database."""
        return self.engine.dialect.name == "sqlite"

    def migrate(self) -> None:
        """Bring the schema to the newest migration."""
        from .migrations import upgrade

        upgrade(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading only: on SQLite it does not take the write lock."""
        with self._read_sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        self.read_engine.dispose()
