"""Consent requests: an institution asks a person for consent; the person approves or denies.

The rules behind ``consent/request_routes.py`` (HTTP-free), after ABDM's consent manager:

- A **requester** (an API client with scope ``records``) files a request with the **custodian**
  that holds the data: the person (CURP), one purpose, data classes, the period of data and the
  end of access. The custodian must hold a credential in force for that person. The request
  expires unanswered after ``IssuerSettings.consent_request_ttl`` (24 h by default).
- The **person** lists the requests addressed to them and reads one with a presentation of the
  custodian's coverage credential (the same authentication as the access log), and answers:
  **approve** (the consent grant of :meth:`AccessControl.store_grant`, signed over the statement
  ``{"action": "consent.grant", "institution", "grant", "request"}``, as asked or narrowed: never
  wider) or **deny** (``{"action": "consent.deny", "institution", "request"}``).
- The requester reads **its own** request's state (pending, approved with the approved scope,
  denied, expired, withdrawn) and nothing else about the person.
- Least disclosure: a request that is not the caller's, or not addressed to the presenting
  person, is answered exactly like one that does not exist (``REQUEST_NOT_FOUND``).
- Every step is one audit entry (``consent.request.create`` / ``.approve`` / ``.deny`` /
  ``.expire``); every refusal is one entry ``consent.request.refuse`` with its code, and nothing
  else is recorded.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from issuer.consent.service import (
    AccessControl,
    AccessError,
    institution_domain,
    require_statement,
)
from issuer.credentials.service import IssuerService
from issuer.institutions import INSTITUTIONS
from issuer.principal import Principal
from issuer.storage.audit import append_audit
from issuer.storage.database import utc
from issuer.storage.tables import ConsentRequestRow, Credential, GrantRecord
from verifier import DATA_CLASSES, HEALTH_PURPOSES, ConsentGrant, format_datetime

__all__ = [
    "REFUSAL_ACTION",
    "REQUEST_ID_PATTERN",
    "REQUEST_STATES",
    "ConsentRequestInput",
    "ConsentRequests",
    "request_uri",
    "request_view",
]

#: A request id: ``CR-`` and 16 base32 characters (80 random bits).
REQUEST_ID_PATTERN = r"^CR-[A-Z2-7]{16}$"
#: What a request's state can be (``withdrawn``: approved, then the person withdrew the grant).
REQUEST_STATES = ("pending", "approved", "denied", "expired", "withdrawn")
#: The audit action of every refused step.
REFUSAL_ACTION = "consent.request.refuse"
_MARKETING = "HMARKT"


def _new_request_id() -> str:
    return "CR-" + base64.b32encode(secrets.token_bytes(10)).decode("ascii")


def request_uri(custodian: str, request_id: str) -> str:
    """The short URI a hospital screen shows as a QR: ``https://<custodian domain>/r/<id>``."""
    return f"https://{institution_domain(custodian)}/r/{request_id}"


def _date_text(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class ConsentRequestInput:
    """What a requester asks for (validated by :meth:`ConsentRequests.create`)."""

    subject: str
    custodian: str
    purpose: str
    data_classes: tuple[str, ...]
    access_until: datetime
    data_from: date | None = None
    data_until: date | None = None
    requester_unit: str | None = None


@dataclass
class _Step:
    """Who is doing which step, for the refusal's audit entry (filled in as it becomes known)."""

    name: str
    institution: str
    actor: str
    subject: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def _not_found(request_id: str) -> AccessError:
    # The same answer whether the request does not exist, is another institution's, or is
    # addressed to someone else: a refusal never tells whose it is.
    return AccessError(404, f"no consent request {request_id} for you", "REQUEST_NOT_FOUND")


class ConsentRequests:
    """Consent requests over one :class:`IssuerService` (grants through :class:`AccessControl`)."""

    def __init__(self, service: IssuerService, control: AccessControl | None = None) -> None:
        self.service = service
        self.control = control or AccessControl(service)

    # -- audit of refusals ----------------------------------------------------------------------

    @contextmanager
    def _refusals(self, step: _Step) -> Iterator[_Step]:
        """Record one ``consent.request.refuse`` entry for an :class:`AccessError`, re-raised."""
        try:
            yield step
        except AccessError as exc:
            with self.service.db.transaction() as session:
                append_audit(
                    session, institution=step.institution, actor=step.actor[:64],
                    action=REFUSAL_ACTION, subject=step.subject,
                    details={"step": step.name, "code": exc.code, "status": exc.status,
                             **step.details},
                )  # fmt: skip
            raise

    # -- the requester --------------------------------------------------------------------------

    def create(
        self, principal: Principal, spec: ConsentRequestInput, now: datetime | None = None
    ) -> dict[str, Any]:
        """File a request with the custodian; returns the requester's view (state pending)."""
        moment = (now or datetime.now(UTC)).replace(microsecond=0)
        step = _Step("create", spec.custodian, principal.client_id, spec.subject,
                     {"requester": principal.institution, "custodian": spec.custodian})  # fmt: skip
        with self._refusals(step):
            self._check_request(principal, spec, moment)
            request_id = _new_request_id()
            step.details["requestId"] = request_id
            classes = list(dict.fromkeys(spec.data_classes))
            with self.service.db.transaction() as session:
                if not self._covered(session, spec.custodian, spec.subject, moment):
                    raise AccessError(
                        422,
                        f"{spec.custodian} holds no credential in force for this person",
                        "NO_CREDENTIAL_AT_CUSTODIAN",
                    )
                row = ConsentRequestRow(
                    id=request_id, requester_code=principal.institution,
                    requester_unit=spec.requester_unit, requested_by=principal.client_id,
                    custodian_code=spec.custodian, subject_curp=spec.subject,
                    purpose=spec.purpose, data_classes=classes, data_from=spec.data_from,
                    data_until=spec.data_until, access_until=spec.access_until.astimezone(UTC),
                    created_at=moment,
                    expires_at=moment + self.service.settings.consent_request_ttl,
                    state="pending",
                )  # fmt: skip
                session.add(row)
                append_audit(
                    session, institution=spec.custodian, actor=principal.client_id,
                    action="consent.request.create", subject=spec.subject, at=moment,
                    details={"requestId": request_id, "requester": principal.institution,
                             "requesterUnit": spec.requester_unit, "purpose": spec.purpose,
                             "dataClasses": classes},
                )  # fmt: skip
                session.flush()
                return self._view(row, None, for_requester=True)

    @staticmethod
    def _check_request(principal: Principal, spec: ConsentRequestInput, moment: datetime) -> None:
        if spec.custodian not in INSTITUTIONS:
            raise AccessError(422, f"unknown custodian {spec.custodian!r}", "CUSTODIAN_UNKNOWN")
        if spec.custodian == principal.institution:
            raise AccessError(
                422, "an institution does not ask consent for data it holds itself",
                "SAME_INSTITUTION",
            )  # fmt: skip
        if spec.purpose == _MARKETING:
            raise AccessError(
                422, "marketing (HMARKT) can never be asked for or granted", "PURPOSE_FORBIDDEN"
            )
        if spec.purpose not in HEALTH_PURPOSES:
            raise AccessError(
                422,
                f"unknown purpose {spec.purpose!r}; one of {list(HEALTH_PURPOSES)}",
                "PURPOSE_UNKNOWN",
            )
        unknown = [c for c in spec.data_classes if c not in DATA_CLASSES]
        if unknown or not spec.data_classes:
            raise AccessError(
                422,
                f"unknown data class {unknown[0] if unknown else ''!r}; of {list(DATA_CLASSES)}",
                "DATA_CLASS_UNKNOWN",
            )
        if spec.data_from and spec.data_until and spec.data_from > spec.data_until:
            raise AccessError(422, "dataFrom is after dataUntil", "PERIOD_INVALID")
        if spec.access_until <= moment:
            raise AccessError(422, "accessUntil must be in the future", "PERIOD_INVALID")

    @staticmethod
    def _covered(session: Session, custodian: str, curp: str, moment: datetime) -> bool:
        found = session.scalars(
            select(Credential.id).where(
                Credential.institution_code == custodian,
                Credential.curp == curp,
                Credential.revoked_at.is_(None),
                Credential.valid_until > moment,
            )
        ).first()
        return found is not None

    def requester_view(
        self, principal: Principal, request_id: str, now: datetime | None = None
    ) -> dict[str, Any]:
        """The state of one of the caller's institution's requests (and nothing else)."""
        moment = now or datetime.now(UTC)
        step = _Step("read", principal.institution, principal.client_id,
                     details={"requestId": request_id})  # fmt: skip
        with self._refusals(step), self.service.db.transaction() as session:
            row = session.get(ConsentRequestRow, request_id)
            if row is None or row.requester_code != principal.institution:
                raise _not_found(request_id)
            self._expire(session, row, moment)
            return self._view(row, self._grant(session, row), for_requester=True)

    # -- the person -----------------------------------------------------------------------------

    def holder_list(
        self,
        institution: str,
        presentation: Mapping[str, Any],
        state: str | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """The requests addressed to the presenting person at ``institution``, newest first."""
        moment = now or datetime.now(UTC)
        step = _Step("list", institution, "holder")
        with self._refusals(step):
            holder, curp = self.control.holder_curp(institution, presentation, moment)
            step.actor, step.subject = holder, curp
            with self.service.db.transaction() as session:
                rows = session.scalars(
                    select(ConsentRequestRow)
                    .where(
                        ConsentRequestRow.custodian_code == institution,
                        ConsentRequestRow.subject_curp == curp,
                    )
                    .order_by(ConsentRequestRow.created_at.desc(), ConsentRequestRow.id)
                    .limit(200)
                ).all()
                views = []
                for row in rows:
                    self._expire(session, row, moment)
                    view = self._view(row, self._grant(session, row), for_requester=False)
                    if state is None or view["state"] == state:
                        views.append(view)
        return {"curp": curp, "custodian": institution, "requests": views}

    def holder_get(
        self,
        institution: str,
        request_id: str,
        presentation: Mapping[str, Any],
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """One request addressed to the presenting person."""
        moment = now or datetime.now(UTC)
        step = _Step("read", institution, "holder", details={"requestId": request_id})
        with self._refusals(step):
            holder, curp = self.control.holder_curp(institution, presentation, moment)
            step.actor, step.subject = holder, curp
            with self.service.db.transaction() as session:
                row = self._addressed(session, institution, request_id, curp)
                self._expire(session, row, moment)
                return self._view(row, self._grant(session, row), for_requester=False)

    def approve(
        self,
        institution: str,
        request_id: str,
        grant: Mapping[str, Any],
        presentation: Mapping[str, Any],
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Record the person's grant answering ``request_id`` (as asked or narrower)."""
        moment = (now or datetime.now(UTC)).replace(microsecond=0)
        step = _Step("approve", institution, "holder", details={"requestId": request_id})
        with self._refusals(step):
            statement = {"action": "consent.grant", "institution": institution,
                         "grant": dict(grant), "request": request_id}  # fmt: skip
            require_statement(presentation, statement)
            holder, curp = self.control.holder_curp(institution, presentation, moment)
            step.actor, step.subject = holder, curp
            with self.service.db.transaction() as session:
                row = self._addressed(session, institution, request_id, curp)
                self._expire(session, row, moment)
                state, expires_at, asked = row.state, utc(row.expires_at), self._asked(row)
            _require_pending(state, expires_at)
            checked = self.control.check_grant(holder, curp, grant, moment)
            wider = _wider(checked[1], asked)
            if wider:
                raise AccessError(
                    422, f"the approval is wider than the request: {'; '.join(wider)}",
                    "APPROVAL_WIDER_THAN_REQUEST",
                )  # fmt: skip
            narrowed = _narrowed(checked[1], asked)

            def link(session: Session, grant_id: str) -> None:
                self._answer(session, request_id, "approved", moment, grant_id)

            stored = self.control.store_grant(
                institution, holder, curp, grant, presentation, moment, checked=checked,
                action="consent.request.approve",
                details={"requestId": request_id, "narrowed": narrowed},
                link=link,
            )  # fmt: skip
        return {"requestId": request_id, "state": "approved", "narrowed": narrowed, **stored}

    def deny(
        self,
        institution: str,
        request_id: str,
        presentation: Mapping[str, Any],
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Record the person's denial of ``request_id``."""
        moment = (now or datetime.now(UTC)).replace(microsecond=0)
        step = _Step("deny", institution, "holder", details={"requestId": request_id})
        with self._refusals(step):
            statement = {"action": "consent.deny", "institution": institution,
                         "request": request_id}  # fmt: skip
            require_statement(presentation, statement)
            holder, curp = self.control.holder_curp(institution, presentation, moment)
            step.actor, step.subject = holder, curp
            with self.service.db.transaction() as session:
                row = self._addressed(session, institution, request_id, curp)
                self._expire(session, row, moment)
                state, expires_at = row.state, utc(row.expires_at)
            _require_pending(state, expires_at)
            with self.service.db.transaction() as session:
                self._answer(session, request_id, "denied", moment, None)
                append_audit(
                    session, institution=institution, actor="holder",
                    action="consent.request.deny", subject=curp, at=moment,
                    details={"requestId": request_id},
                )  # fmt: skip
        return {"requestId": request_id, "state": "denied", "answeredAt": format_datetime(moment)}

    # -- rows -----------------------------------------------------------------------------------

    @staticmethod
    def _addressed(
        session: Session, institution: str, request_id: str, curp: str
    ) -> ConsentRequestRow:
        row = session.get(ConsentRequestRow, request_id)
        if row is None or row.custodian_code != institution or row.subject_curp != curp:
            raise _not_found(request_id)
        return row

    @staticmethod
    def _answer(
        session: Session, request_id: str, state: str, moment: datetime, grant_id: str | None
    ) -> None:
        """Move a pending, unexpired request to ``state``; a concurrent answer loses (409)."""
        changed = session.execute(
            update(ConsentRequestRow)
            .where(
                ConsentRequestRow.id == request_id,
                ConsentRequestRow.state == "pending",
                ConsentRequestRow.expires_at > moment,
            )
            .values(state=state, answered_at=moment, grant_id=grant_id)
        ).rowcount  # type: ignore[attr-defined]
        if changed != 1:
            raise AccessError(
                409, "the request was already answered or has expired", "REQUEST_ALREADY_ANSWERED"
            )

    def _expire(self, session: Session, row: ConsentRequestRow, moment: datetime) -> None:
        """A pending request past its expiry becomes ``expired``, audited once."""
        if row.state != "pending" or utc(row.expires_at) > moment:
            return
        changed = session.execute(
            update(ConsentRequestRow)
            .where(ConsentRequestRow.id == row.id, ConsentRequestRow.state == "pending")
            .values(state="expired")
        ).rowcount  # type: ignore[attr-defined]
        session.refresh(row)
        if changed == 1:
            append_audit(
                session, institution=row.custodian_code, actor="system",
                action="consent.request.expire", subject=row.subject_curp, at=moment,
                details={"requestId": row.id, "expiredAt": format_datetime(utc(row.expires_at))},
            )  # fmt: skip

    @staticmethod
    def _grant(session: Session, row: ConsentRequestRow) -> GrantRecord | None:
        return session.get(GrantRecord, row.grant_id) if row.grant_id else None

    @staticmethod
    def _asked(row: ConsentRequestRow) -> dict[str, Any]:
        return {
            "requester": row.requester_code,
            "requesterUnit": row.requester_unit,
            "curp": row.subject_curp,
            "purpose": row.purpose,
            "dataClasses": list(row.data_classes),
            "dataFrom": row.data_from,
            "dataUntil": row.data_until,
            "accessUntil": utc(row.access_until),
        }

    @staticmethod
    def _view(
        row: ConsentRequestRow, grant: GrantRecord | None, *, for_requester: bool
    ) -> dict[str, Any]:
        return request_view(row, grant, for_requester=for_requester)


def request_view(
    row: ConsentRequestRow, grant: GrantRecord | None, *, for_requester: bool
) -> dict[str, Any]:
    """A request as its requester or its person sees it (the same facts: theirs)."""
    state = row.state
    approved = None
    if state == "approved" and grant is not None:
        document = grant.document
        approved = {
            "grantId": grant.id,
            "dataClasses": document.get("dataClasses"),
            "dataFrom": document.get("dataFrom"),
            "dataUntil": document.get("dataUntil"),
            "accessFrom": document.get("validFrom"),
            "accessUntil": document.get("validUntil"),
        }
        if grant.ended_at is not None:
            state = "withdrawn"
            approved["withdrawnAt"] = format_datetime(utc(grant.ended_at))
    view: dict[str, Any] = {
        "id": row.id,
        "uri": request_uri(row.custodian_code, row.id),
        "state": state,
        "requester": row.requester_code,
        "requesterUnit": row.requester_unit,
        "custodian": row.custodian_code,
        "purpose": row.purpose,
        "dataClasses": list(row.data_classes),
        "dataFrom": _date_text(row.data_from),
        "dataUntil": _date_text(row.data_until),
        "accessUntil": format_datetime(utc(row.access_until)),
        "createdAt": format_datetime(utc(row.created_at)),
        "expiresAt": format_datetime(utc(row.expires_at)),
        "answeredAt": format_datetime(utc(row.answered_at)) if row.answered_at else None,
        "approved": approved,
    }
    if for_requester:
        view["subject"] = row.subject_curp  # what it sent; nothing more about the person
    else:
        view["requesterName"] = INSTITUTIONS[row.requester_code].name
    return view


def _require_pending(state: str, expires_at: datetime) -> None:
    if state == "expired":
        raise AccessError(
            409, f"the request expired unanswered at {format_datetime(expires_at)}",
            "REQUEST_EXPIRED",
        )  # fmt: skip
    if state != "pending":
        raise AccessError(
            409, f"the request was already answered ({state})", "REQUEST_ALREADY_ANSWERED"
        )


def _wider(grant: ConsentGrant, asked: Mapping[str, Any]) -> list[str]:
    """How ``grant`` exceeds the request (empty: it is the request or narrower)."""
    found = []
    expected = {(asked["requester"], asked["requesterUnit"])}
    if {(g.institution, g.unit) for g in grant.grantees} != expected:
        found.append(f"grantees must be exactly the requester {asked['requester']}")
    if grant.purposes != {asked["purpose"]}:
        found.append(f"purposes must be exactly [{asked['purpose']!r}]")
    extra = sorted(grant.data_classes - set(asked["dataClasses"]))
    if extra:
        found.append(f"data classes not asked for: {extra}")
    if asked["dataFrom"] is not None and (
        grant.data_from is None or grant.data_from < asked["dataFrom"]
    ):
        found.append(f"dataFrom must be on or after {asked['dataFrom']}")
    if asked["dataUntil"] is not None and (
        grant.data_until is None or grant.data_until > asked["dataUntil"]
    ):
        found.append(f"dataUntil must be on or before {asked['dataUntil']}")
    if grant.valid_until > asked["accessUntil"]:
        found.append(f"validUntil must be on or before {format_datetime(asked['accessUntil'])}")
    return found


def _narrowed(grant: ConsentGrant, asked: Mapping[str, Any]) -> bool:
    """Whether ``grant`` (not wider) gives less than was asked."""
    return (
        grant.data_classes != set(asked["dataClasses"])
        or grant.data_from != asked["dataFrom"]
        or grant.data_until != asked["dataUntil"]
        or grant.valid_until < asked["accessUntil"]
    )
