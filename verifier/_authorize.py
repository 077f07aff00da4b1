"""The access decision point: may this institution read this person's data, for this purpose?

Pure and offline: :func:`authorize` looks only at its arguments (a request, the grants the caller
holds, a reference time) and returns a :class:`Decision`. No grant, no access (default deny).

Rules, in the order they are applied:

1. A malformed request is denied (``REQUEST_INVALID``); a malformed grant permits nothing
   (``GRANT_INVALID``).
2. A recipient outside Mexico is denied whatever the grants say (``RECIPIENT_OUTSIDE_MEXICO``).
3. Marketing (``HMARKT``) is never a health-system purpose: denied (``PURPOSE_FORBIDDEN``).
4. A grant permits only if *every* condition holds: same subject; in force at ``now`` (started,
   not expired, not withdrawn or revoked); the requester (and, when the grant names one, the
   unit) is a grantee; the data class and the purpose are named in the grant (exact match:
   nothing is implied, least of all research); the recipient's location is one the grant allows;
   the data period asked for overlaps the period the grant covers; a judicial order carries the
   approvals of two distinct roles by two distinct actors.
5. The first grant that permits (consent grants before judicial orders, then by id) is the one
   the decision names; otherwise the decision is a deny listing each grant's first failure.

Withdrawal and revocation are not retroactive: a decision taken before ``withdrawn_at`` stays a
permit; the same request after it is denied.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from ._identifiers import INSTITUTION_CODES, is_valid_clues, is_valid_curp

__all__ = [
    "DATA_CLASSES",
    "HEALTH_PURPOSES",
    "JUDICIAL_ORDER_ROLES",
    "AccessDecision",
    "AccessRequest",
    "AuthorizationCode",
    "AuthorizationReason",
    "ConsentGrant",
    "Grant",
    "Grantee",
    "JudicialApproval",
    "JudicialOrderGrant",
    "authorize",
]

#: Data classes a grant can name: coverage data, the clinical-record (ECE) summary, the full ECE.
DATA_CLASSES: tuple[str, ...] = ("coverage", "ece.summary", "ece.full")

#: HL7 v3 PurposeOfUse codes a grant may name (health-system purposes, plus research, which must
#: always be named explicitly). Marketing (``HMARKT``) is not among them: no grant can allow it.
HEALTH_PURPOSES: tuple[str, ...] = (
    "TREAT",  # treatment
    "ETREAT",  # emergency treatment
    "COC",  # continuity of care
    "CAREMGT",  # care management
    "PATRQT",  # requested by the patient
    "HPAYMT",  # healthcare payment (coverage checks)
    "PUBHLTH",  # public health
    "HLEGAL",  # legal (a judicial order)
    "HRESCH",  # research: only when a grant names it, never implied
)
_FORBIDDEN_PURPOSES = frozenset({"HMARKT"})

#: The roles whose approvals make a judicial-order grant effective: both, by distinct actors.
JUDICIAL_ORDER_ROLES: frozenset[str] = frozenset({"legal", "dpo"})

_COUNTRY = re.compile(r"[A-Z]{2}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class AuthorizationCode(StrEnum):
    """Stable codes of access decisions. Never renamed: audit entries and clients key on them."""

    PERMITTED_BY_CONSENT = "PERMITTED_BY_CONSENT"
    PERMITTED_BY_JUDICIAL_ORDER = "PERMITTED_BY_JUDICIAL_ORDER"
    REQUEST_INVALID = "REQUEST_INVALID"
    GRANT_INVALID = "GRANT_INVALID"
    RECIPIENT_OUTSIDE_MEXICO = "RECIPIENT_OUTSIDE_MEXICO"
    PURPOSE_FORBIDDEN = "PURPOSE_FORBIDDEN"
    NO_GRANT = "NO_GRANT"
    GRANT_NOT_YET_VALID = "GRANT_NOT_YET_VALID"
    GRANT_EXPIRED = "GRANT_EXPIRED"
    GRANT_WITHDRAWN = "GRANT_WITHDRAWN"
    GRANT_REVOKED = "GRANT_REVOKED"
    REQUESTER_NOT_GRANTED = "REQUESTER_NOT_GRANTED"
    UNIT_NOT_GRANTED = "UNIT_NOT_GRANTED"
    DATA_CLASS_NOT_GRANTED = "DATA_CLASS_NOT_GRANTED"
    PURPOSE_NOT_GRANTED = "PURPOSE_NOT_GRANTED"
    LOCATION_NOT_GRANTED = "LOCATION_NOT_GRANTED"
    DATA_PERIOD_NOT_COVERED = "DATA_PERIOD_NOT_COVERED"
    JUDICIAL_ORDER_NOT_APPROVED = "JUDICIAL_ORDER_NOT_APPROVED"


@dataclass(frozen=True, slots=True)
class AuthorizationReason:
    """Why a decision came out as it did: a stable code, a message, and the grant concerned.

    ``names_requester``: the grant concerned names the requesting institution as a grantee (so
    the reason is about the requester's own grant, which it may be told); reasons about the
    request itself have no grant and are the requester's own too.
    """

    code: AuthorizationCode
    message: str
    grant_id: str | None = None
    names_requester: bool = True

    def to_json(self) -> dict[str, str]:
        """``{"code", "message"[, "grantId"]}``."""
        data = {"code": self.code.value, "message": self.message}
        if self.grant_id is not None:
            data["grantId"] = self.grant_id
        return data


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """One institution asks for one data class of one person, for one purpose.

    ``data_from`` / ``data_until`` (inclusive dates) bound the period of the data asked for;
    ``None`` means unbounded on that side. ``recipient_country`` is an ISO 3166-1 alpha-2 code.
    """

    requester: str
    requester_unit: str | None
    subject: str
    data_class: str
    purpose: str
    recipient_country: str
    data_from: date | None = None
    data_until: date | None = None

    def problems(self) -> list[str]:
        """What is malformed in the request (empty when it is well formed)."""
        found = []
        if self.requester not in INSTITUTION_CODES:
            found.append(f"unknown requester institution {self.requester!r}")
        if self.requester_unit is not None and not is_valid_clues(self.requester_unit):
            found.append(f"requester unit {self.requester_unit!r} is not a CLUES")
        if not is_valid_curp(self.subject):
            found.append("subject is not a valid CURP")
        if self.data_class not in DATA_CLASSES:
            found.append(f"unknown data class {self.data_class!r}")
        if not isinstance(self.purpose, str) or not self.purpose:
            found.append("purpose is missing")
        if not _COUNTRY.fullmatch(self.recipient_country or ""):
            found.append("recipient_country is not an ISO 3166-1 alpha-2 code")
        if self.data_from and self.data_until and self.data_from > self.data_until:
            found.append("data_from is after data_until")
        return found


@dataclass(frozen=True, slots=True)
class Grantee:
    """An institution a grant names, optionally only one of its units (CLUES)."""

    institution: str
    unit: str | None = None

    def covers(self, institution: str, unit: str | None) -> bool:
        """Whether a requester (institution, unit) falls under this grantee."""
        return self.institution == institution and (self.unit is None or self.unit == unit)


@dataclass(frozen=True, slots=True)
class _GrantScope:
    """What every grant has: who, what, why, which data period, and when it is in force."""

    grant_id: str
    subject: str
    grantees: tuple[Grantee, ...]
    data_classes: frozenset[str]
    purposes: frozenset[str]
    valid_from: datetime
    valid_until: datetime
    data_from: date | None = None
    data_until: date | None = None
    locations: frozenset[str] = frozenset({"MX"})

    def scope_problems(self) -> list[str]:
        """What makes this grant unusable as written (unknown classes, forbidden purposes...)."""
        found = []
        if not self.grant_id:
            found.append("grant_id is empty")
        if not is_valid_curp(self.subject):
            found.append("subject is not a valid CURP")
        if not self.grantees:
            found.append("no grantee")
        for grantee in self.grantees:
            if grantee.institution not in INSTITUTION_CODES:
                found.append(f"unknown grantee institution {grantee.institution!r}")
            if grantee.unit is not None and not is_valid_clues(grantee.unit):
                found.append(f"grantee unit {grantee.unit!r} is not a CLUES")
        if not self.data_classes or not self.data_classes <= set(DATA_CLASSES):
            found.append(f"data classes must be a non-empty subset of {list(DATA_CLASSES)}")
        if not self.purposes or not self.purposes <= set(HEALTH_PURPOSES):
            found.append(f"purposes must be a non-empty subset of {list(HEALTH_PURPOSES)}")
        if self.locations != frozenset({"MX"}):
            found.append("locations must be exactly ['MX']: data never leaves Mexico")
        if self.valid_from.tzinfo is None or self.valid_until.tzinfo is None:
            found.append("validity times must be timezone-aware")
        elif self.valid_until <= self.valid_from:
            found.append("valid_until must be after valid_from")
        if self.data_from and self.data_until and self.data_from > self.data_until:
            found.append("data_from is after data_until")
        return found


@dataclass(frozen=True, slots=True)
class ConsentGrant(_GrantScope):
    """A grant signed by the person (the holder ``grantor``, a did:key); withdrawable."""

    grantor: str = ""
    withdrawn_at: datetime | None = None
    kind: Literal["consent"] = "consent"


@dataclass(frozen=True, slots=True)
class JudicialApproval:
    """One role's approval of a judicial order: the role and the authenticated actor."""

    role: str
    actor: str
    at: datetime


@dataclass(frozen=True, slots=True)
class JudicialOrderGrant(_GrantScope):
    """A grant that comes from a court order, created and approved inside the institution."""

    court: str = ""
    case_reference: str = ""
    order_date: date | None = None
    document_sha256: str = ""
    approvals: tuple[JudicialApproval, ...] = ()
    revoked_at: datetime | None = None
    #: The subject is notified of the order unless the order defers it until this date.
    notify_subject_after: date | None = None
    kind: Literal["judicial-order"] = "judicial-order"

    def order_problems(self) -> list[str]:
        """What the order itself lacks (court, case, date, document hash)."""
        found = self.scope_problems()
        if not self.court.strip():
            found.append("court is missing")
        if not self.case_reference.strip():
            found.append("case_reference is missing")
        if self.order_date is None:
            found.append("order_date is missing")
        if not _SHA256_HEX.fullmatch(self.document_sha256):
            found.append("document_sha256 is not 64 lowercase hex digits")
        return found

    def is_approved(self) -> bool:
        """Both required roles approved, by two distinct actors."""
        by_role: dict[str, set[str]] = {}
        for approval in self.approvals:
            by_role.setdefault(approval.role, set()).add(approval.actor)
        if not set(by_role) >= JUDICIAL_ORDER_ROLES:
            return False
        legal, dpo = by_role["legal"], by_role["dpo"]
        return any(a != b for a in legal for b in dpo)


#: A grant the decision point understands.
Grant = ConsentGrant | JudicialOrderGrant


@dataclass(frozen=True, slots=True)
class AccessDecision:
    """Permit or deny, with reasons; a permit names its grant and the data period it allows."""

    permit: bool
    reasons: tuple[AuthorizationReason, ...]
    request: AccessRequest
    decided_at: datetime
    grant_id: str | None = None
    grant_kind: str | None = None
    data_from: date | None = None
    data_until: date | None = None
    codes: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "codes", tuple(reason.code.value for reason in self.reasons))

    @property
    def outcome(self) -> Literal["permit", "deny"]:
        """``"permit"`` or ``"deny"``."""
        return "permit" if self.permit else "deny"

    def to_json(self) -> dict[str, object]:
        """The decision as JSON (what the audit log and the API record)."""
        return {
            "outcome": self.outcome,
            "grantId": self.grant_id,
            "grantKind": self.grant_kind,
            "dataFrom": self.data_from.isoformat() if self.data_from else None,
            "dataUntil": self.data_until.isoformat() if self.data_until else None,
            "reasons": [reason.to_json() for reason in self.reasons],
        }

    def to_requester_json(self) -> dict[str, object]:
        """The decision as the requesting institution may see it (least disclosure).

        Only reasons about the request itself or about grants that name the requester; the
        person's grants to others, their withdrawals and any court order for another institution
        never appear. A denial with nothing left to say is ``NO_GRANT``: the requester cannot
        tell "no grant at all" from "grants for others only".
        """
        mine = tuple(r for r in self.reasons if r.grant_id is None or r.names_requester)
        if not self.permit and not mine:
            mine = (
                AuthorizationReason(
                    AuthorizationCode.NO_GRANT,
                    f"no grant of this person covers {self.request.requester}",
                ),
            )
        return {**self.to_json(), "reasons": [reason.to_json() for reason in mine]}


def _first_failure(
    grant: Grant, request: AccessRequest, now: datetime
) -> AuthorizationReason | None:
    """The first condition ``grant`` fails for ``request`` at ``now`` (None: it permits)."""
    code = AuthorizationCode

    names_requester = any(g.institution == request.requester for g in grant.grantees)

    def fail(reason_code: AuthorizationCode, message: str) -> AuthorizationReason:
        return AuthorizationReason(reason_code, message, grant.grant_id, names_requester)

    problems = (
        grant.order_problems() if isinstance(grant, JudicialOrderGrant) else grant.scope_problems()
    )
    if problems:
        return fail(code.GRANT_INVALID, f"the grant is malformed: {problems[0]}")
    if isinstance(grant, ConsentGrant) and grant.withdrawn_at and now >= grant.withdrawn_at:
        return fail(code.GRANT_WITHDRAWN, f"withdrawn at {grant.withdrawn_at.isoformat()}")
    if isinstance(grant, JudicialOrderGrant):
        if grant.revoked_at and now >= grant.revoked_at:
            return fail(code.GRANT_REVOKED, f"revoked at {grant.revoked_at.isoformat()}")
        if not grant.is_approved():
            roles = sorted({approval.role for approval in grant.approvals})
            return fail(
                code.JUDICIAL_ORDER_NOT_APPROVED,
                f"a judicial order needs approvals by {sorted(JUDICIAL_ORDER_ROLES)} from two "
                f"distinct actors; it has {roles}",
            )
    if now < grant.valid_from:
        return fail(code.GRANT_NOT_YET_VALID, f"in force from {grant.valid_from.isoformat()}")
    if now >= grant.valid_until:
        return fail(code.GRANT_EXPIRED, f"expired at {grant.valid_until.isoformat()}")
    if not any(g.institution == request.requester for g in grant.grantees):
        return fail(code.REQUESTER_NOT_GRANTED, f"{request.requester} is not a grantee")
    if not any(g.covers(request.requester, request.requester_unit) for g in grant.grantees):
        return fail(code.UNIT_NOT_GRANTED, f"unit {request.requester_unit} is not a granted unit")
    if request.data_class not in grant.data_classes:
        return fail(code.DATA_CLASS_NOT_GRANTED, f"{request.data_class} is not granted")
    if request.purpose not in grant.purposes:
        return fail(code.PURPOSE_NOT_GRANTED, f"purpose {request.purpose} is not granted")
    if request.recipient_country not in grant.locations:
        return fail(code.LOCATION_NOT_GRANTED, f"{request.recipient_country} is not granted")
    start, end = _overlap(grant, request)
    if start is not None and end is not None and start > end:
        return fail(code.DATA_PERIOD_NOT_COVERED, "the data period asked for is not granted")
    return None


def _overlap(grant: Grant, request: AccessRequest) -> tuple[date | None, date | None]:
    starts = [d for d in (grant.data_from, request.data_from) if d is not None]
    ends = [d for d in (grant.data_until, request.data_until) if d is not None]
    return (max(starts) if starts else None, min(ends) if ends else None)


def authorize(request: AccessRequest, grants: Iterable[Grant], now: datetime) -> AccessDecision:
    """Decide ``request`` against ``grants`` at ``now`` (timezone-aware). Default deny."""
    if now.tzinfo is None:
        raise ValueError("the reference time must be timezone-aware")
    code = AuthorizationCode

    def deny(*reasons: AuthorizationReason) -> AccessDecision:
        return AccessDecision(False, reasons, request, now)

    problems = request.problems()
    if problems:
        return deny(AuthorizationReason(code.REQUEST_INVALID, "; ".join(problems)))
    if request.recipient_country != "MX":
        return deny(
            AuthorizationReason(
                code.RECIPIENT_OUTSIDE_MEXICO,
                f"the recipient is in {request.recipient_country}: data never leaves Mexico",
            )
        )
    if request.purpose in _FORBIDDEN_PURPOSES:
        return deny(
            AuthorizationReason(
                code.PURPOSE_FORBIDDEN,
                f"{request.purpose} is not a health-system purpose: no grant can allow it",
            )
        )
    if request.purpose not in HEALTH_PURPOSES:
        return deny(AuthorizationReason(code.REQUEST_INVALID, f"unknown purpose {request.purpose}"))
    mine = sorted(
        (grant for grant in grants if grant.subject == request.subject),
        key=lambda grant: (grant.kind != "consent", grant.grant_id),
    )
    if not mine:
        return deny(AuthorizationReason(code.NO_GRANT, "no grant covers this person"))
    failures = []
    for grant in mine:
        failure = _first_failure(grant, request, now)
        if failure is None:
            permitted_by = (
                code.PERMITTED_BY_CONSENT
                if isinstance(grant, ConsentGrant)
                else code.PERMITTED_BY_JUDICIAL_ORDER
            )
            start, end = _overlap(grant, request)
            return AccessDecision(
                True,
                (AuthorizationReason(permitted_by, f"by {grant.grant_id}", grant.grant_id),),
                request,
                now,
                grant_id=grant.grant_id,
                grant_kind=grant.kind,
                data_from=start,
                data_until=end,
            )
        failures.append(failure)
    return deny(*failures)
