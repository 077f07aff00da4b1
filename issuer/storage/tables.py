"""The issuer's tables (SQLAlchemy 2 declarative models): its system of record.

The schema is created and upgraded only by the Alembic migrations in
``issuer/storage/migrations``; the same migrations serve SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime
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
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ApiClient",
    "AuditEntry",
    "AuditHead",
    "Base",
    "BiometricTemplate",
    "ClinicalRecord",
    "ConsentRequestRow",
    "Credential",
    "GrantRecord",
    "Institution",
    "JudicialApprovalRow",
    "Oid4vciAccessToken",
    "Oid4vciOffer",
    "PresentationChallenge",
    "SigningKey",
    "StatusEvent",
    "StatusList",
    "SubjectNotification",
    "UnitFeed",
    "WalletCredential",
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
    #: A person's access log reads the decisions about them (issue 7).
    __table_args__ = (Index("ix_audit_log_subject_action", "subject", "action"),)
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


class Oid4vciOffer(Base):
    """An OpenID4VCI credential offer (pre-authorized code flow) for one issued credential.

    Only hashes are stored: of the pre-authorized code, and of the transaction code salted with
    the pre-authorized code. The code is single use (``redeemed_at``); wrong transaction codes
    are counted and lock the offer (``locked_at``) at the limit.
    """

    __tablename__ = "oid4vci_offers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"))
    credential_id: Mapped[str] = mapped_column(ForeignKey("credentials.id"))
    tx_code_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    tx_code_failures: Mapped[int] = mapped_column(default=0)
    client_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    redeemed_at: Mapped[datetime | None] = mapped_column(default=None)
    locked_at: Mapped[datetime | None] = mapped_column(default=None)


class Oid4vciAccessToken(Base):
    """An access token of the credential endpoint (hash only), good for one credential."""

    __tablename__ = "oid4vci_access_tokens"
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("oid4vci_offers.id"))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class WalletCredential(Base):
    """The wallet form of an issued credential: bound to a holder's did:key, same status entry.

    ``base_credential_id`` is the credential (card form) whose subject, validity and status
    entries it repeats, so one suspension or revocation of that credential covers both forms.
    """

    __tablename__ = "wallet_credentials"
    __table_args__ = (Index("ix_wallet_credentials_base", "base_credential_id"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    base_credential_id: Mapped[str] = mapped_column(ForeignKey("credentials.id"))
    institution_code: Mapped[str] = mapped_column(String(32))
    holder: Mapped[str] = mapped_column(String(128))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    issued_at: Mapped[datetime]


class PresentationChallenge(Base):
    """A single-use challenge (hash only) for a domain: presentation challenges and c_nonces.

    ``purpose`` keeps the two apart: a presentation challenge is never accepted as a c_nonce.
    """

    __tablename__ = "presentation_challenges"
    __table_args__ = (Index("ix_presentation_challenges_expiry", "expires_at"),)
    challenge_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    domain: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    consumed_at: Mapped[datetime | None] = mapped_column(default=None)


class GrantRecord(Base):
    """A consent or judicial-order grant recorded by the institution that holds the data."""

    __tablename__ = "access_grants"
    __table_args__ = (
        UniqueConstraint("institution_code", "receipt_list_number", "receipt_index"),
        Index("ix_access_grants_subject", "subject_curp"),
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"))
    #: ``consent`` or ``judicial-order``.
    kind: Mapped[str] = mapped_column(String(16))
    subject_curp: Mapped[str] = mapped_column(String(18))
    #: The holder's did:key (consent grants only).
    grantor: Mapped[str | None] = mapped_column(String(200), default=None)
    #: The grant's scope as JSON (grantees, data classes, purposes, periods, order particulars).
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    #: Withdrawal (consent) or revocation (judicial order); never earlier than it was recorded.
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    #: The holder's signed presentation that carried the grant (consent grants: the evidence).
    presentation: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    #: The signed receipt credential and its entry in the institution's receipt status list.
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    receipt_list_number: Mapped[int | None] = mapped_column(default=None)
    receipt_index: Mapped[int | None] = mapped_column(default=None)
    #: Judicial orders: the subject is not told before this date (None: told at once).
    notify_subject_after: Mapped[date | None] = mapped_column(default=None)


class JudicialApprovalRow(Base):
    """One role's approval of a judicial order, by an authenticated API client."""

    __tablename__ = "judicial_approvals"
    __table_args__ = (UniqueConstraint("grant_id", "role"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey("access_grants.id"))
    role: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


class SubjectNotification(Base):
    """A notice owed to a person (a judicial order about them), due at ``due_at``."""

    __tablename__ = "subject_notifications"
    __table_args__ = (Index("ix_subject_notifications_curp", "subject_curp"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"))
    subject_curp: Mapped[str] = mapped_column(String(18))
    grant_id: Mapped[str] = mapped_column(ForeignKey("access_grants.id"))
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]


class ClinicalRecord(Base):
    """One FHIR resource of a person's clinical record, tagged with its data class and date."""

    __tablename__ = "clinical_records"
    __table_args__ = (Index("ix_clinical_records_subject", "institution_code", "subject_curp"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"))
    subject_curp: Mapped[str] = mapped_column(String(18))
    data_class: Mapped[str] = mapped_column(String(32))
    effective_date: Mapped[date]
    resource: Mapped[dict[str, Any]] = mapped_column(JSON)


class ConsentRequestRow(Base):
    """An institution's request for a person's consent, filed with the custodian of the data.

    ``state`` is ``pending`` until the person approves (``grant_id`` names the consent grant the
    approval recorded) or denies it, or it expires unanswered (``expires_at``).
    """

    __tablename__ = "consent_requests"
    __table_args__ = (
        Index("ix_consent_requests_subject", "custodian_code", "subject_curp", "state"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    requester_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"))
    requester_unit: Mapped[str | None] = mapped_column(String(11), default=None)
    #: The API client that filed it.
    requested_by: Mapped[str] = mapped_column(String(200))
    custodian_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"))
    subject_curp: Mapped[str] = mapped_column(String(18))
    purpose: Mapped[str] = mapped_column(String(16))
    data_classes: Mapped[list[str]] = mapped_column(JSON)
    data_from: Mapped[date | None] = mapped_column(default=None)
    data_until: Mapped[date | None] = mapped_column(default=None)
    access_until: Mapped[datetime]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    #: ``pending``, ``approved``, ``denied`` or ``expired``.
    state: Mapped[str] = mapped_column(String(16))
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    grant_id: Mapped[str | None] = mapped_column(ForeignKey("access_grants.id"), default=None)


class UnitFeed(Base):
    """An institution's signed feed of medical units and their availability (the latest one)."""

    __tablename__ = "unit_feeds"
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"), primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime]


class BiometricTemplate(Base):
    """A biometric template captured at enrolment. It never leaves the enrolment boundary."""

    __tablename__ = "biometric_templates"
    __table_args__ = (UniqueConstraint("institution_code", "subject_curp", "modality"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"))
    subject_curp: Mapped[str] = mapped_column(String(18))
    modality: Mapped[str] = mapped_column(String(16))
    template: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
