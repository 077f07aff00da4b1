"""Consent-gated access: grants, judicial orders, access decisions and the person's access log.

The rules behind the routes of ``consent/routes.py`` and ``consent/records.py`` (HTTP-free):

- **Consent grants** are signed by the holder: a presentation (challenge and domain from the
  institution) whose ``id`` is :func:`verifier.consent_statement_id` of the statement
  ``{"action": "consent.grant", "institution": ..., "grant": {...}}`` and which carries the
  holder's coverage credential (that binds the holder's did:key to the CURP the grant is about).
  The institution records the grant with the presentation as evidence and returns a signed
  ``ConsentReceiptCredential`` with a revocation entry in its own **receipt status list**.
- **Withdrawal** is a presentation by the same holder over ``{"action": "consent.withdraw",
  "grantId": ...}``; it takes effect at the moment it is recorded (never earlier: it is not
  retroactive) and sets the receipt's revocation bit, so offline desks see it within one ``ttl``.
- **Judicial orders** are created by an API client with scope ``legal`` (the legal unit's
  approval) and become effective once a *different* client with scope ``dpo`` (the
  data-protection officer) approves; each approval is an audited action of an authenticated
  client. The subject is notified (a row in ``subject_notifications``) when the order becomes
  effective, or at the date the order defers notification to.
- **Decisions**: :meth:`AccessControl.decide` runs :func:`verifier.authorize` over the grants the
  custodian holds and appends exactly one audit entry (``access.permit`` / ``access.deny``) in the
  same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import schemas
from issuer.credentials.service import IssuerService
from issuer.credentials.signing import new_status_list_credential, random_status_index
from issuer.errors import ServiceError
from issuer.institutions import INSTITUTIONS
from issuer.principal import Principal
from issuer.storage.audit import append_audit
from issuer.storage.challenges import DatabaseChallengeStore
from issuer.storage.database import utc
from issuer.storage.tables import (
    AuditEntry,
    ClinicalRecord,
    ConsentRequestRow,
    GrantRecord,
    JudicialApprovalRow,
    SubjectNotification,
)
from verifier import (
    CONSENT_RECEIPT_TYPE,
    CREDENTIALS_V2_URL,
    DATA_CLASSES,
    AccessDecision,
    AccessRequest,
    ConsentGrant,
    Grant,
    Grantee,
    JudicialApproval,
    JudicialOrderGrant,
    PresentationResult,
    PresentationVerifier,
    Verdict,
    authorize,
    consent_grant_from_json,
    consent_statement_id,
    encode_status_bits,
    format_datetime,
)

__all__ = [
    "ACCESS_ACTIONS",
    "AccessControl",
    "AccessError",
    "JudicialOrderInput",
    "institution_domain",
    "receipt_document",
    "record_entries",
    "require_statement",
]

#: Audit actions of access decisions (what the person's access log lists).
ACCESS_ACTIONS = ("access.permit", "access.deny")
_RECEIPT_PURPOSE = "revocation"


class AccessError(ServiceError):
    """A refused consent or access operation, with a stable ``code`` and an HTTP ``status``."""

    def __init__(self, status: int, detail: str, code: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code


def institution_domain(code: str) -> str:
    """The domain presentations to ``code`` must name (its did:web host, e.g. ``imss.gob.mx``)."""
    return INSTITUTIONS[code].did.removeprefix("did:web:").replace("%3A", ":")


def receipt_status_list_url(code: str, number: int) -> str:
    """Where ``code`` publishes its receipt status list ``number``."""
    return (
        f"https://{institution_domain(code)}/credencial/consent-status/{_RECEIPT_PURPOSE}/{number}"
    )


@dataclass(frozen=True)
class JudicialOrderInput:
    """What the legal unit enters for a judicial order (validated by :class:`AccessControl`)."""

    curp: str
    grantees: tuple[Grantee, ...]
    data_classes: frozenset[str]
    purposes: frozenset[str]
    valid_until: datetime
    court: str
    case_reference: str
    order_date: date
    document_sha256: str
    data_from: date | None = None
    data_until: date | None = None
    notify_subject_after: date | None = None


def _date_text(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None


def receipt_document(
    institution: str,
    holder: str,
    grant: Mapping[str, Any],
    number: int,
    index: int,
    now: datetime,
    receipt_id: str | None = None,
) -> dict[str, Any]:
    """The unsigned ``ConsentReceiptCredential`` of ``grant`` (with its ``id``), entry ``index``
    of ``institution``'s receipt status list ``number``."""
    return {
        "@context": [CREDENTIALS_V2_URL, schemas.CONSENT_CONTEXT_URL],
        "id": receipt_id or f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", CONSENT_RECEIPT_TYPE],
        "issuer": INSTITUTIONS[institution].did,
        "validFrom": format_datetime(now),
        "validUntil": grant["validUntil"],
        "credentialSubject": {"id": holder, "consentGrant": dict(grant)},
        "credentialStatus": {
            "type": "BitstringStatusListEntry",
            "statusPurpose": _RECEIPT_PURPOSE,
            "statusListIndex": str(index),
            "statusListCredential": receipt_status_list_url(institution, number),
        },
    }


def record_entries(
    session: Session,
    custodian: str,
    curp: str,
    data_class: str,
    data_from: date | None = None,
    data_until: date | None = None,
) -> list[dict[str, Any]]:
    """The FHIR resources of ``curp``'s record at ``custodian`` in one class, dated inside the
    period when one is given, in the order they were stored."""
    query = select(ClinicalRecord).where(
        ClinicalRecord.institution_code == custodian,
        ClinicalRecord.subject_curp == curp,
        ClinicalRecord.data_class == data_class,
    )
    if data_from is not None:
        query = query.where(ClinicalRecord.effective_date >= data_from)
    if data_until is not None:
        query = query.where(ClinicalRecord.effective_date <= data_until)
    return [row.resource for row in session.scalars(query.order_by(ClinicalRecord.id))]


def require_statement(presentation: Mapping[str, Any], statement: dict[str, Any]) -> None:
    """The holder signs a statement by making it the presentation's ``id``; anything else is a
    presentation for something else (``STATEMENT_MISMATCH``)."""
    if presentation.get("id") != consent_statement_id(statement):
        shape = ", ".join(f'"{k}": ...' for k in statement if k != "action")
        raise AccessError(
            400,
            "the presentation's id must be consent_statement_id of "
            f'{{"action": "{statement["action"]}", {shape}}}',
            "STATEMENT_MISMATCH",
        )


class AccessControl:
    """Grants, orders, decisions and access logs over one :class:`IssuerService`."""

    def __init__(
        self, service: IssuerService, challenges: DatabaseChallengeStore | None = None
    ) -> None:
        self.service = service
        self.challenges = challenges or DatabaseChallengeStore(service.db)

    # -- holders --------------------------------------------------------------------------------

    def issue_challenge(self, institution: str, now: datetime | None = None) -> dict[str, str]:
        """A challenge and the domain a presentation to ``institution`` must name."""
        domain = institution_domain(institution)
        challenge = self.challenges.issue(domain, now or datetime.now(UTC))
        return {"challenge": challenge, "domain": domain}

    def _verify_presentation(
        self,
        institution: str,
        presentation: Mapping[str, Any],
        *,
        now: datetime,
        require_credentials: bool,
    ) -> PresentationResult:
        verifier = PresentationVerifier(self.service.verifier(), self.challenges)
        result = verifier.check(
            presentation,
            domain=institution_domain(institution),
            now=now,
            require_credentials=require_credentials,
        )
        if not result.is_valid:
            reasons = list(result.reasons) or [
                reason for item in result.credentials for reason in item.reasons
            ]
            first = reasons[0] if reasons else None
            detail = f"{result.verdict.value}: {first.detail if first else 'not verified'}"
            raise AccessError(401, detail, first.code.value if first else "PRESENTATION_INVALID")
        return result

    def holder_curp(
        self, institution: str, presentation: Mapping[str, Any], now: datetime | None = None
    ) -> tuple[str, str]:
        """(holder DID, CURP) of a presentation that carries the holder's coverage credential."""
        result = self._verify_presentation(
            institution, presentation, now=now or datetime.now(UTC), require_credentials=True
        )
        return self._holder_and_curp(result)

    def holder_coverage(
        self, institution: str, presentation: Mapping[str, Any], now: datetime | None = None
    ) -> tuple[str, str, str]:
        """(holder DID, CURP, coverage institution) of a presentation of one coverage credential."""
        result = self._verify_presentation(
            institution, presentation, now=now or datetime.now(UTC), require_credentials=True
        )
        holder, curp = self._holder_and_curp(result)
        covered = {
            (item.credential["credentialSubject"].get("coverage") or {}).get("institution")
            for item in result.credentials
            if item.credential is not None
        }
        if len(covered) != 1 or None in covered:
            raise AccessError(401, "present exactly one coverage credential", "HOLDER_UNKNOWN")
        return holder, curp, str(covered.pop())

    @staticmethod
    def _holder_and_curp(result: PresentationResult) -> tuple[str, str]:
        curps = {
            item.credential["credentialSubject"].get("curp")
            for item in result.credentials
            if item.verdict is Verdict.VALID and item.credential is not None
        }
        if len(curps) != 1 or not all(isinstance(c, str) for c in curps) or result.holder is None:
            raise AccessError(
                401, "present exactly one person's coverage credential", "HOLDER_UNKNOWN"
            )
        return result.holder, str(curps.pop())

    # -- consent grants -------------------------------------------------------------------------

    def record_consent(
        self,
        institution: str,
        grant: Mapping[str, Any],
        presentation: Mapping[str, Any],
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Record a holder-signed grant; return ``{"grantId", "receipt"}``."""
        moment = (now or datetime.now(UTC)).replace(microsecond=0)
        statement = {"action": "consent.grant", "institution": institution, "grant": dict(grant)}
        require_statement(presentation, statement)
        result = self._verify_presentation(
            institution, presentation, now=moment, require_credentials=True
        )
        holder, curp = self._holder_and_curp(result)
        return self.store_grant(institution, holder, curp, grant, presentation, moment)

    def check_grant(
        self, holder: str, curp: str, grant: Mapping[str, Any], moment: datetime
    ) -> tuple[str, ConsentGrant]:
        """A new grant id and the parsed grant, if ``holder`` (``curp``) may sign it now."""
        grant_id = f"urn:uuid:{uuid.uuid4()}"
        try:
            parsed = consent_grant_from_json(grant, grant_id=grant_id, grantor=holder)
        except ValueError as exc:
            raise AccessError(
                422, f"the consent grant is invalid: {exc}", "GRANT_INVALID"
            ) from None
        if parsed.subject != curp:
            raise AccessError(
                403, "a person can only grant access to their own data", "SUBJECT_MISMATCH"
            )
        if parsed.valid_from < moment - timedelta(minutes=5):
            raise AccessError(422, "a consent grant cannot start in the past", "GRANT_INVALID")
        if parsed.valid_until <= moment:
            raise AccessError(422, "the consent grant has already ended", "GRANT_INVALID")
        return grant_id, parsed

    def store_grant(
        self,
        institution: str,
        holder: str,
        curp: str,
        grant: Mapping[str, Any],
        presentation: Mapping[str, Any],
        moment: datetime,
        *,
        checked: tuple[str, ConsentGrant] | None = None,
        action: str = "consent.grant",
        details: Mapping[str, Any] | None = None,
        link: Callable[[Session, str], None] | None = None,
    ) -> dict[str, Any]:
        """Record the grant ``holder`` signed with its receipt and one audit entry (``action``);
        ``link`` runs in the same transaction (it may refuse, and then nothing is recorded)."""
        grant_id, parsed = checked or self.check_grant(holder, curp, grant, moment)
        document = {"id": grant_id, **grant}
        for _ in range(20):
            try:
                with self.service.db.transaction() as session:
                    number, index = self._receipt_slot(session, institution)
                    receipt = self._receipt(institution, holder, document, number, index, moment)
                    session.add(
                        GrantRecord(
                            id=grant_id, institution_code=institution, kind="consent",
                            subject_curp=curp, grantor=holder, document=document,
                            valid_from=parsed.valid_from, valid_until=parsed.valid_until,
                            created_at=moment, created_by=holder,
                            presentation=dict(presentation), receipt=receipt,
                            receipt_list_number=number, receipt_index=index,
                        )
                    )  # fmt: skip
                    session.flush()
                    if link is not None:
                        link(session, grant_id)
                    append_audit(
                        session, institution=institution, actor="holder", action=action,
                        subject=curp, at=moment,
                        details={"grantId": grant_id, "receiptList": number,
                                 "receiptIndex": index, **(details or {})},
                    )  # fmt: skip
                return {"grantId": grant_id, "receipt": receipt}
            except IntegrityError:  # the random receipt index was taken: draw again
                continue
        raise AccessError(503, "could not allocate a receipt status index", "CONTENTION")

    def _receipt_slot(self, session: Session, institution: str) -> tuple[int, int]:
        """A random free index in the open receipt list (a new list once one is half full)."""
        size = self.service.settings.status_list_size
        rows = session.execute(
            select(GrantRecord.receipt_list_number, func.count())
            .where(
                GrantRecord.institution_code == institution,
                GrantRecord.receipt_list_number.is_not(None),
            )
            .group_by(GrantRecord.receipt_list_number)
        ).all()
        per_list = {number: int(count) for number, count in rows if number is not None}
        number = 1
        while per_list.get(number, 0) >= size // 2:
            number += 1
        return number, random_status_index(size)

    def _receipt(
        self,
        institution: str,
        holder: str,
        grant: Mapping[str, Any],
        number: int,
        index: int,
        now: datetime,
    ) -> dict[str, Any]:
        document = receipt_document(institution, holder, grant, number, index, now)
        return self.service.sign_checked(institution, document, now)

    def withdraw_consent(
        self,
        institution: str,
        grant_id: str,
        presentation: Mapping[str, Any],
        now: datetime | None = None,
    ) -> datetime:
        """Withdraw a grant with the grantor's signed statement; returns when it took effect."""
        moment = (now or datetime.now(UTC)).replace(microsecond=0)
        statement = {"action": "consent.withdraw", "grantId": grant_id}
        require_statement(presentation, statement)
        # The presentation first: a caller who cannot sign learns nothing of which grants exist,
        # and a grant of someone else is answered exactly as one that does not exist.
        result = self._verify_presentation(
            institution, presentation, now=moment, require_credentials=False
        )
        with self.service.db.read() as session:
            row = session.get(GrantRecord, grant_id)
            if (
                row is None
                or row.institution_code != institution
                or row.kind != "consent"
                or row.grantor != result.holder
            ):
                raise AccessError(404, f"no consent grant {grant_id} of yours", "NOT_FOUND")
        with self.service.db.transaction() as session:
            row = session.get(GrantRecord, grant_id)
            assert row is not None
            if row.ended_at is not None:
                return utc(row.ended_at)
            row.ended_at = moment
            append_audit(
                session, institution=institution, actor="holder", action="consent.withdraw",
                subject=row.subject_curp, at=moment, details={"grantId": grant_id},
            )  # fmt: skip
        return moment

    def receipt_status_list(self, institution: str, number: int) -> dict[str, Any]:
        """The signed receipt status list: bits of withdrawn grants set (valid for
        ``consent_status_list_ttl``)."""
        if institution not in INSTITUTIONS or number < 1:
            raise AccessError(404, "no such receipt status list", "NOT_FOUND")
        with self.service.db.read() as session:
            withdrawn = session.scalars(
                select(GrantRecord.receipt_index).where(
                    GrantRecord.institution_code == institution,
                    GrantRecord.receipt_list_number == number,
                    GrantRecord.ended_at.is_not(None),
                )
            ).all()
        now = datetime.now(UTC).replace(microsecond=0)
        size = self.service.settings.status_list_size
        bits = bytearray(size // 8)
        for index in withdrawn:
            if index is not None:
                bits[index >> 3] |= 0x80 >> (index & 7)
        inst = INSTITUTIONS[institution]
        unsigned = new_status_list_credential(
            inst, receipt_status_list_url(institution, number), purpose=_RECEIPT_PURPOSE,
            valid_from=now, ttl=self.service.settings.consent_status_list_ttl, size=size,
        )  # fmt: skip
        unsigned["credentialSubject"]["encodedList"] = encode_status_bits(bytes(bits))
        return self.service.sign_checked(institution, unsigned, now)

    # -- judicial orders ------------------------------------------------------------------------

    def create_judicial_order(
        self, principal: Principal, order: JudicialOrderInput, now: datetime | None = None
    ) -> str:
        """Record an order created by the legal unit (scope ``legal``): its first approval."""
        moment = (now or datetime.now(UTC)).replace(microsecond=0)
        grant_id = f"urn:uuid:{uuid.uuid4()}"
        document = {
            "curp": order.curp,
            "grantees": [
                {"institution": g.institution, **({"unit": g.unit} if g.unit else {})}
                for g in order.grantees
            ],
            "dataClasses": sorted(order.data_classes),
            "purposes": sorted(order.purposes),
            "dataFrom": _date_text(order.data_from),
            "dataUntil": _date_text(order.data_until),
            "court": order.court,
            "caseReference": order.case_reference,
            "orderDate": order.order_date.isoformat(),
            "documentSha256": order.document_sha256,
        }
        candidate = self._order_grant(
            grant_id, document, moment, order.valid_until, approvals=(), revoked_at=None
        )
        problems = candidate.order_problems()
        if problems:
            raise AccessError(
                422, f"the judicial order is invalid: {'; '.join(problems)}", "ORDER_INVALID"
            )
        with self.service.db.transaction() as session:
            session.add(
                GrantRecord(
                    id=grant_id, institution_code=principal.institution, kind="judicial-order",
                    subject_curp=order.curp, document=document, valid_from=moment,
                    valid_until=order.valid_until, created_at=moment,
                    created_by=principal.client_id,
                    notify_subject_after=order.notify_subject_after,
                )
            )  # fmt: skip
            session.flush()
            session.add(
                JudicialApprovalRow(
                    grant_id=grant_id, role="legal", actor=principal.client_id, at=moment
                )
            )
            append_audit(
                session, institution=principal.institution, actor=principal.client_id,
                action="order.create", subject=order.curp, at=moment,
                details={"grantId": grant_id, "role": "legal", "court": order.court,
                         "caseReference": order.case_reference,
                         "documentSha256": order.document_sha256},
            )  # fmt: skip
        return grant_id

    def approve_judicial_order(
        self, principal: Principal, grant_id: str, role: str, now: datetime | None = None
    ) -> dict[str, Any]:
        """Add ``role``'s approval by ``principal`` (a client that has not approved it yet)."""
        moment = (now or datetime.now(UTC)).replace(microsecond=0)
        with self.service.db.transaction() as session:
            row = self._order_row(session, principal, grant_id)
            approvals = session.scalars(
                select(JudicialApprovalRow).where(JudicialApprovalRow.grant_id == grant_id)
            ).all()
            if any(a.role == role for a in approvals):
                raise AccessError(409, f"the {role} role has already approved", "ALREADY_APPROVED")
            if any(a.actor == principal.client_id for a in approvals):
                raise AccessError(
                    409, "the two approvals must come from two distinct clients", "SAME_ACTOR"
                )
            session.add(
                JudicialApprovalRow(
                    grant_id=grant_id, role=role, actor=principal.client_id, at=moment
                )
            )
            append_audit(
                session, institution=principal.institution, actor=principal.client_id,
                action="order.approve", subject=row.subject_curp, at=moment,
                details={"grantId": grant_id, "role": role},
            )  # fmt: skip
            roles = {a.role for a in approvals} | {role}
            effective = roles >= {"legal", "dpo"}
            if effective:
                deferred = row.notify_subject_after
                due = (
                    datetime.combine(deferred, time(), tzinfo=UTC)
                    if deferred is not None
                    else moment
                )
                session.add(
                    SubjectNotification(
                        institution_code=row.institution_code, subject_curp=row.subject_curp,
                        grant_id=grant_id, due_at=max(due, moment), created_at=moment,
                    )
                )  # fmt: skip
        return {"grantId": grant_id, "approvedBy": sorted(roles), "effective": effective}

    def revoke_judicial_order(
        self, principal: Principal, grant_id: str, now: datetime | None = None
    ) -> datetime:
        """Revoke an order from now on (not retroactively)."""
        moment = (now or datetime.now(UTC)).replace(microsecond=0)
        with self.service.db.transaction() as session:
            row = self._order_row(session, principal, grant_id)
            if row.ended_at is None:
                row.ended_at = moment
                append_audit(
                    session, institution=principal.institution, actor=principal.client_id,
                    action="order.revoke", subject=row.subject_curp, at=moment,
                    details={"grantId": grant_id},
                )  # fmt: skip
            return utc(row.ended_at)

    def _order_row(self, session: Session, principal: Principal, grant_id: str) -> GrantRecord:
        row = session.get(GrantRecord, grant_id)
        # Another institution's order is answered exactly as one that does not exist.
        if (
            row is None
            or row.kind != "judicial-order"
            or row.institution_code != principal.institution
        ):
            raise AccessError(404, f"no judicial order {grant_id} of yours", "NOT_FOUND")
        return row

    @staticmethod
    def _order_grant(
        grant_id: str,
        document: Mapping[str, Any],
        valid_from: datetime,
        valid_until: datetime,
        *,
        approvals: tuple[JudicialApproval, ...],
        revoked_at: datetime | None,
    ) -> JudicialOrderGrant:
        return JudicialOrderGrant(
            grant_id=grant_id,
            subject=document["curp"],
            grantees=tuple(Grantee(g["institution"], g.get("unit")) for g in document["grantees"]),
            data_classes=frozenset(document["dataClasses"]),
            purposes=frozenset(document["purposes"]),
            valid_from=valid_from,
            valid_until=valid_until,
            data_from=_parse_date(document.get("dataFrom")),
            data_until=_parse_date(document.get("dataUntil")),
            court=document["court"],
            case_reference=document["caseReference"],
            order_date=_parse_date(document["orderDate"]),
            document_sha256=document["documentSha256"],
            approvals=approvals,
            revoked_at=revoked_at,
        )

    # -- decisions ------------------------------------------------------------------------------

    def grants(self, session: Session, custodian: str, curp: str) -> list[Grant]:
        """Every grant ``custodian`` holds about ``curp``, as the decision point's models."""
        rows = session.scalars(
            select(GrantRecord).where(
                GrantRecord.institution_code == custodian, GrantRecord.subject_curp == curp
            )
        ).all()
        found: list[Grant] = []
        for row in rows:
            ended = utc(row.ended_at) if row.ended_at is not None else None
            if row.kind == "consent":
                try:
                    found.append(
                        consent_grant_from_json(
                            {k: v for k, v in row.document.items() if k != "id"},
                            grant_id=row.id, grantor=row.grantor or "", withdrawn_at=ended,
                        )
                    )  # fmt: skip
                except ValueError:
                    continue
            else:
                approvals = tuple(
                    JudicialApproval(a.role, a.actor, utc(a.at))
                    for a in session.scalars(
                        select(JudicialApprovalRow).where(JudicialApprovalRow.grant_id == row.id)
                    )
                )
                found.append(
                    self._order_grant(
                        row.id, row.document, utc(row.valid_from), utc(row.valid_until),
                        approvals=approvals, revoked_at=ended,
                    )
                )  # fmt: skip
        return found

    def decide(
        self,
        session: Session,
        custodian: str,
        request: AccessRequest,
        *,
        actor: str,
        now: datetime,
    ) -> AccessDecision:
        """Decide ``request`` against ``custodian``'s grants and audit it, once, in ``session``."""
        decision = authorize(request, self.grants(session, custodian, request.subject), now)
        append_audit(
            session,
            institution=custodian,
            actor=actor,
            action=f"access.{decision.outcome}",
            subject=request.subject if len(request.subject) <= 200 else request.subject[:200],
            at=now,
            details={
                "requester": request.requester,
                "requesterUnit": request.requester_unit,
                "purpose": request.purpose,
                "dataClass": request.data_class,
                "recipientCountry": request.recipient_country,
                "grantId": decision.grant_id,
                "grantKind": decision.grant_kind,
                "outcome": decision.outcome,
                "reasons": list(decision.codes),
            },
        )
        return decision

    # -- the person's view ----------------------------------------------------------------------

    def holder_grants(
        self, institution: str, presentation: Mapping[str, Any], now: datetime | None = None
    ) -> dict[str, Any]:
        """The consent grants ``institution`` holds about the presenting person, newest first."""
        moment = now or datetime.now(UTC)
        _holder, curp = self.holder_curp(institution, presentation, moment)
        with self.service.db.read() as session:
            rows = session.scalars(
                select(GrantRecord)
                .where(
                    GrantRecord.institution_code == institution,
                    GrantRecord.subject_curp == curp,
                    GrantRecord.kind == "consent",
                )
                .order_by(GrantRecord.created_at.desc(), GrantRecord.id)
            ).all()
            requests = dict(
                session.execute(
                    select(ConsentRequestRow.grant_id, ConsentRequestRow.id).where(
                        ConsentRequestRow.grant_id.in_([row.id for row in rows])
                    )
                ).all()
            )
        grants = []
        for row in rows:
            document = row.document
            ended = utc(row.ended_at) if row.ended_at is not None else None
            state = (
                "withdrawn"
                if ended is not None
                else "expired"
                if utc(row.valid_until) <= moment
                else "active"
            )
            grants.append({
                "grantId": row.id,
                "requestId": requests.get(row.id),
                "state": state,
                "grantees": document.get("grantees"),
                "dataClasses": document.get("dataClasses"),
                "purposes": document.get("purposes"),
                "dataFrom": document.get("dataFrom"),
                "dataUntil": document.get("dataUntil"),
                "validFrom": document.get("validFrom"),
                "validUntil": document.get("validUntil"),
                "withdrawnAt": format_datetime(ended) if ended is not None else None,
            })  # fmt: skip
        return {"curp": curp, "custodian": institution, "grants": grants}

    def own_record(
        self,
        institution: str,
        presentation: Mapping[str, Any],
        data_classes: Sequence[str],
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """The presenting person's own record at ``institution``: a FHIR Bundle of
        ``data_classes``; each class read is one ``access.permit`` entry in their access log."""
        moment = now or datetime.now(UTC)
        holder, curp = self.holder_curp(institution, presentation, moment)
        classes = list(dict.fromkeys(data_classes)) or list(DATA_CLASSES)
        unknown = [c for c in classes if c not in DATA_CLASSES]
        if unknown:
            raise AccessError(
                422, f"unknown data class {unknown[0]!r}; of {list(DATA_CLASSES)}",
                "DATA_CLASS_UNKNOWN",
            )  # fmt: skip
        entries: list[dict[str, Any]] = []
        with self.service.db.transaction() as session:
            for data_class in classes:
                rows = record_entries(session, institution, curp, data_class)
                entries.extend({"resource": r, "search": {"mode": "match"}} for r in rows)
                append_audit(
                    session, institution=institution, actor="holder", action="access.permit",
                    subject=curp, at=moment,
                    details={"requester": holder, "requesterUnit": None, "purpose": "PATRQT",
                             "dataClass": data_class, "recipientCountry": "MX",
                             "grantId": None, "grantKind": "self", "outcome": "permit",
                             "reasons": []},
                )  # fmt: skip
        bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
        return {"curp": curp, "custodian": institution, "dataClasses": classes, "bundle": bundle}

    def access_log(self, curp: str, now: datetime | None = None) -> dict[str, Any]:
        """Who asked for ``curp``'s data, when, for what and under which grant.

        Accesses under a judicial order whose notification is deferred stay hidden until the
        deferral date; everything else is shown as recorded in the audit chain.
        """
        moment = now or datetime.now(UTC)
        with self.service.db.read() as session:
            entries = session.scalars(
                select(AuditEntry)
                .where(AuditEntry.subject == curp, AuditEntry.action.in_(ACCESS_ACTIONS))
                .order_by(AuditEntry.seq)
            ).all()
            hidden = {
                row.id
                for row in session.scalars(
                    select(GrantRecord).where(
                        GrantRecord.subject_curp == curp,
                        GrantRecord.kind == "judicial-order",
                        GrantRecord.notify_subject_after.is_not(None),
                    )
                )
                if row.notify_subject_after is not None and row.notify_subject_after > moment.date()
            }
            notices = session.scalars(
                select(SubjectNotification)
                .where(SubjectNotification.subject_curp == curp)
                .order_by(SubjectNotification.id)
            ).all()
            orders = {
                n.grant_id: session.get(GrantRecord, n.grant_id)
                for n in notices
                if utc(n.due_at) <= moment
            }
        accesses, refused = [], []
        for entry in entries:
            details = entry.details
            if details.get("grantId") in hidden:
                continue
            item = {
                "at": format_datetime(utc(entry.at)),
                "custodian": entry.institution_code,
                "requester": details.get("requester"),
                "requesterUnit": details.get("requesterUnit"),
                "purpose": details.get("purpose"),
                "dataClass": details.get("dataClass"),
                "grantId": details.get("grantId"),
                "grantKind": details.get("grantKind"),
                "self": details.get("grantKind") == "self",
                "auditSeq": entry.seq,
            }
            if details.get("outcome") == "permit":
                accesses.append(item)
            else:
                refused.append({**item, "reasons": details.get("reasons", [])})
        judicial = [
            {
                "grantId": grant_id,
                "institution": row.institution_code,
                "court": row.document.get("court"),
                "caseReference": row.document.get("caseReference"),
                "orderDate": row.document.get("orderDate"),
                "documentSha256": row.document.get("documentSha256"),
                "dataClasses": row.document.get("dataClasses"),
            }
            for grant_id, row in orders.items()
            if row is not None
        ]
        return {"curp": curp, "accesses": accesses, "refused": refused, "judicialOrders": judicial}
