"""HTTP routes of consent grants, judicial orders and the person's access log.

- Holders (no API key): ``POST /institutions/{code}/consent/challenges`` → a challenge and the
  domain; ``POST /institutions/{code}/consent/grants`` with the grant and a presentation signing
  it → 201 and a signed receipt credential; ``POST .../grants/{id}/withdrawal`` with a
  presentation signing the withdrawal; ``GET /me/access-log?institution=...`` with
  ``Authorization: Presentation <base64url JSON>`` (a presentation of the holder's coverage
  credential) → who accessed their data, when and under which grant.
- Receipt status lists (public, cached for one ``ttl``):
  ``GET /institutions/{code}/consent-status/{number}`` and, by Host,
  ``GET /credencial/consent-status/revocation/{number}``.
- Judicial orders: ``POST /judicial-orders`` (scope ``legal``: creates and approves as the legal
  unit), ``POST /judicial-orders/{id}/approvals`` (scope ``dpo``: a *different* client approves
  as data-protection officer; the order is effective from then on),
  ``POST /judicial-orders/{id}/revocation`` (scope ``legal`` or ``dpo``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, Field

from issuer.consent.models import (
    AccessLog,
    ConsentChallenge,
    ConsentRecorded,
    ConsentWithdrawn,
    JudicialOrderApproval,
    JudicialOrderCreated,
    JudicialOrderRevoked,
)
from issuer.consent.service import AccessControl, AccessError, JudicialOrderInput
from issuer.credentials.dependencies import ServiceDep
from issuer.http.auth import require
from issuer.http.errors import ApiError, problems
from issuer.http.params import (
    CLUES_PATTERN,
    CURP_PATTERN,
    NO_STORE,
    InstitutionCode,
    ListNumber,
    PresentedTo,
    RequestBody,
    host_institution,
    known_institution,
)
from issuer.principal import Principal
from verifier import DATA_CLASSES, HEALTH_PURPOSES, Grantee, parse_json

__all__ = ["access_problems", "presentation_header", "router"]

router = APIRouter()

LegalCaller = Annotated[Principal, Depends(require("legal"))]
DpoCaller = Annotated[Principal, Depends(require("dpo"))]
OrderCaller = Annotated[Principal, Depends(require("legal", "dpo"))]
GrantId = Annotated[str, PathParam(pattern=r"^urn:uuid:[0-9a-f-]{36}$")]


@contextmanager
def access_problems() -> Iterator[None]:
    """Answer an :class:`AccessError` as the problem it describes (status, detail, code)."""
    try:
        yield
    except AccessError as exc:
        raise ApiError(exc.status, exc.detail, code=exc.code) from None


class GrantRequest(RequestBody):
    """A consent grant and the holder's presentation that signs it."""

    grant: dict[str, Any] = Field(
        description="The grant: curp, grantees [{institution, unit?}], dataClasses, purposes, "
        "dataFrom?, dataUntil?, validFrom, validUntil, locations ['MX']."
    )
    presentation: dict[str, Any] = Field(
        description="A VerifiablePresentation of the holder's coverage credential whose id is "
        'consent_statement_id({"action": "consent.grant", "institution": CODE, "grant": ...}).'
    )


class WithdrawalRequest(RequestBody):
    """The holder's presentation that signs the withdrawal."""

    presentation: dict[str, Any] = Field(
        description='A presentation whose id is consent_statement_id({"action": '
        '"consent.withdraw", "grantId": ...}); no credential needed.'
    )


class GranteeModel(RequestBody):
    """A grantee institution, optionally one unit."""

    institution: Literal["IMSS", "ISSSTE", "IMSS-BIENESTAR"]
    unit: str | None = Field(default=None, pattern=CLUES_PATTERN)


class JudicialOrderRequest(RequestBody):
    """A judicial order as entered by the legal unit."""

    curp: str = Field(pattern=CURP_PATTERN)
    grantees: list[GranteeModel] = Field(min_length=1, max_length=3)
    data_classes: list[str] = Field(
        alias="dataClasses", min_length=1, max_length=8, description=f"Of {list(DATA_CLASSES)}."
    )
    purposes: list[str] = Field(
        default_factory=lambda: ["HLEGAL"],
        min_length=1,
        max_length=16,
        description=f"HL7 PurposeOfUse codes, of {list(HEALTH_PURPOSES)}.",
    )
    data_from: date | None = Field(default=None, alias="dataFrom")
    data_until: date | None = Field(default=None, alias="dataUntil")
    valid_until: AwareDatetime = Field(alias="validUntil")
    court: str = Field(min_length=1, max_length=300)
    case_reference: str = Field(alias="caseReference", min_length=1, max_length=100)
    order_date: date = Field(alias="orderDate")
    document_sha256: str = Field(alias="documentSha256", pattern=r"^[0-9a-f]{64}$")
    notify_subject_after: date | None = Field(default=None, alias="notifySubjectAfter")


@router.post(
    "/institutions/{code}/consent/challenges",
    tags=["consent"],
    summary="A single-use challenge for a holder presentation to this institution",
    response_model=ConsentChallenge,
    responses=problems(404, 422),
)
def consent_challenge(code: InstitutionCode, service: ServiceDep) -> dict[str, str]:
    """`{challenge, domain}`: sign a presentation with both within five minutes. No auth."""
    return AccessControl(service).issue_challenge(known_institution(code))


@router.post(
    "/institutions/{code}/consent/grants",
    tags=["consent"],
    summary="Record a consent grant signed by the holder; returns a signed receipt",
    status_code=201,
    response_model=ConsentRecorded,
    responses=problems(400, 401, 403, 404, 413, 422),
)
def record_consent(code: InstitutionCode, body: GrantRequest, service: ServiceDep) -> Any:
    """The receipt is a `ConsentReceiptCredential` with an entry in this institution's receipt
    status list; withdrawing the grant sets its bit. No API key: the presentation authenticates."""
    with access_problems():
        result = AccessControl(service).record_consent(
            known_institution(code), body.grant, body.presentation
        )
    return JSONResponse(result, status_code=201, headers=NO_STORE)


@router.post(
    "/institutions/{code}/consent/grants/{grant_id}/withdrawal",
    tags=["consent"],
    summary="Withdraw a consent grant (signed by the holder who gave it)",
    response_model=ConsentWithdrawn,
    responses=problems(400, 401, 403, 404, 413, 422),
)
def withdraw_consent(
    code: InstitutionCode, grant_id: GrantId, body: WithdrawalRequest, service: ServiceDep
) -> dict[str, str]:
    """Effective now, not retroactively; the receipt's revocation bit is set at once."""
    with access_problems():
        at = AccessControl(service).withdraw_consent(
            known_institution(code), grant_id, body.presentation
        )
    return {"grantId": grant_id, "withdrawnAt": at.strftime("%Y-%m-%dT%H:%M:%SZ")}


def _receipt_list(service: Any, code: str, number: int) -> JSONResponse:
    with access_problems():
        document = AccessControl(service).receipt_status_list(code, number)
    max_age = int(service.settings.consent_status_list_ttl.total_seconds())
    return JSONResponse(document, headers={"Cache-Control": f"public, max-age={max_age}"})


@router.get(
    "/institutions/{code}/consent-status/{number}",
    tags=["status lists"],
    summary="An institution's receipt status list (withdrawn consent grants)",
    response_class=JSONResponse,
    responses=problems(404, 422),
)
def receipt_status_list(code: InstitutionCode, number: ListNumber, service: ServiceDep) -> Any:
    """Signed BitstringStatusListCredential (purpose revocation); cached for its `ttl`."""
    return _receipt_list(service, known_institution(code), number)


@router.get(
    "/credencial/consent-status/revocation/{number}",
    tags=["status lists"],
    summary="A receipt status list at the URL receipts name (institution by Host)",
    response_class=JSONResponse,
    responses=problems(404, 422),
)
def hosted_receipt_status_list(request: Request, number: ListNumber, service: ServiceDep) -> Any:
    """The URL in receipts' `statusListCredential`."""
    return _receipt_list(service, host_institution(request), number)


def presentation_header(authorization: str | None) -> dict[str, Any]:
    """The holder presentation of ``Authorization: Presentation <base64url JSON>`` (401 without
    one, 400 when it is not base64url JSON)."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "presentation" or not value:
        raise ApiError(
            401, "send the holder presentation: Authorization: Presentation <base64url JSON>",
            code="UNAUTHENTICATED", headers={"WWW-Authenticate": 'Presentation realm="credencial"'},
        )  # fmt: skip
    try:
        raw = base64.urlsafe_b64decode(value.strip() + "=" * (-len(value.strip()) % 4))
        parsed = parse_json(raw)
    except (binascii.Error, ValueError, RecursionError):
        raise ApiError(400, "the presentation is not base64url JSON", code="MALFORMED") from None
    if not isinstance(parsed, dict):
        raise ApiError(400, "the presentation is not a JSON object", code="MALFORMED")
    return parsed


@router.get(
    "/me/access-log",
    tags=["consent"],
    summary="Who accessed my data, when, and under which grant",
    response_model=AccessLog,
    responses=problems(400, 401, 404, 422),
)
def access_log(
    service: ServiceDep,
    institution: PresentedTo,
    authorization: Annotated[str | None, Header()] = None,
) -> Any:
    """Authenticated by a presentation of the holder's coverage credential (challenge from
    `POST /institutions/{code}/consent/challenges`). Lists permitted accesses and refused
    requests recorded in the audit chain; accesses under a judicial order whose notification
    is deferred appear from the deferral date on."""
    presentation = presentation_header(authorization)
    control = AccessControl(service)
    with access_problems():
        _holder, curp = control.holder_curp(known_institution(institution), presentation)
        log = control.access_log(curp)
    return JSONResponse(log, headers=NO_STORE)


@router.post(
    "/judicial-orders",
    tags=["consent"],
    summary="Record a judicial order (legal unit); effective once the DPO approves",
    status_code=201,
    response_model=JudicialOrderCreated,
    responses=problems(400, 401, 403, 413, 422),
)
def create_judicial_order(
    body: JudicialOrderRequest, principal: LegalCaller, service: ServiceDep
) -> Any:
    """Scope `legal`. The caller's approval as legal unit is recorded with the order."""
    order = JudicialOrderInput(
        curp=body.curp,
        grantees=tuple(Grantee(g.institution, g.unit) for g in body.grantees),
        data_classes=frozenset(body.data_classes),
        purposes=frozenset(body.purposes),
        valid_until=body.valid_until,
        court=body.court,
        case_reference=body.case_reference,
        order_date=body.order_date,
        document_sha256=body.document_sha256,
        data_from=body.data_from,
        data_until=body.data_until,
        notify_subject_after=body.notify_subject_after,
    )
    with access_problems():
        grant_id = AccessControl(service).create_judicial_order(principal, order)
    return JSONResponse(
        {"grantId": grant_id, "approvedBy": ["legal"], "effective": False},
        status_code=201,
        headers=NO_STORE,
    )


@router.post(
    "/judicial-orders/{grant_id}/approvals",
    tags=["consent"],
    summary="Approve a judicial order as data-protection officer",
    response_model=JudicialOrderApproval,
    responses=problems(401, 403, 404, 409, 422),
)
def approve_judicial_order(
    grant_id: GrantId, principal: DpoCaller, service: ServiceDep
) -> dict[str, Any]:
    """Scope `dpo`, by a client other than the one that created the order (409 otherwise)."""
    with access_problems():
        return AccessControl(service).approve_judicial_order(principal, grant_id, "dpo")


@router.post(
    "/judicial-orders/{grant_id}/revocation",
    tags=["consent"],
    summary="Revoke a judicial order from now on",
    response_model=JudicialOrderRevoked,
    responses=problems(401, 403, 404, 422),
)
def revoke_judicial_order(
    grant_id: GrantId, principal: OrderCaller, service: ServiceDep
) -> dict[str, str]:
    """Scope `legal` or `dpo`. Accesses before the revocation stay lawful (and logged)."""
    with access_problems():
        at = AccessControl(service).revoke_judicial_order(principal, grant_id)
    return {"grantId": grant_id, "revokedAt": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
