"""HTTP routes of consent requests and of the person's own routes (rules: ``consent/requests.py``).

- Requesters (API key, scope ``records``): ``POST /consent-requests`` files a request with the
  custodian (201: its id, state and the short ``uri`` a hospital screen shows as a QR; with
  ``?render=png`` also the QR image); ``GET /consent-requests/{id}``: its state and, once
  approved, the approved scope. Nothing else about the person.
- The person (no API key; a presentation of their coverage credential at the custodian, with a
  challenge from ``POST /institutions/{code}/consent/challenges``): ``GET /me/consent-requests``
  and ``GET /me/consent-requests/{id}`` (``Authorization: Presentation <base64url JSON>``, as
  ``GET /me/access-log``); ``POST /me/consent-requests/{id}/approval`` and ``.../denial`` (the
  presentation in the body signs the answer); ``GET /me/consent-grants``; ``GET /me/record``.
  Each takes ``?institution=`` (the custodian the presentation was made for).
"""

from __future__ import annotations

import base64
import io
from typing import Annotated, Any, Literal

import segno
from fastapi import APIRouter, Body, Depends, Header, Query
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse

from issuer.consent.models import (
    ApprovalRequest,
    ApprovalResponse,
    ConsentRequestCreate,
    ConsentRequestView,
    DenialRequest,
    DenialResponse,
    HolderGrants,
    HolderRequests,
    OwnRecord,
)
from issuer.consent.requests import REQUEST_ID_PATTERN, ConsentRequestInput, ConsentRequests
from issuer.consent.routes import access_problems, presentation_header
from issuer.consent.service import AccessControl
from issuer.credentials.dependencies import ServiceDep
from issuer.http.auth import require
from issuer.http.errors import problems
from issuer.http.params import NO_STORE, known_institution
from issuer.principal import Principal
from verifier import DATA_CLASSES

__all__ = ["router"]

router = APIRouter()

RecordsCaller = Annotated[Principal, Depends(require("records"))]
RequestId = Annotated[str, PathParam(pattern=REQUEST_ID_PATTERN, description="`CR-…`")]
Render = Annotated[
    Literal["png"] | None, Query(description="Also return the URI's QR, base64 PNG, in `qrImage`.")
]
Custodian = Annotated[
    str,
    Query(description="The custodian the presentation was made for: IMSS, ISSSTE, IMSS-BIENESTAR."),
]
PresentationAuth = Annotated[
    str | None,
    Header(
        alias="Authorization",
        description="`Presentation <base64url JSON>`: a presentation of the holder's coverage "
        "credential at the custodian (challenge: POST /institutions/{code}/consent/challenges).",
    ),
]


def _with_qr(view: dict[str, Any], render: str | None) -> dict[str, Any]:
    if render == "png":
        buffer = io.BytesIO()
        segno.make(view["uri"], error="m").save(buffer, kind="png", scale=6, border=4)
        view = {**view, "qrImage": base64.b64encode(buffer.getvalue()).decode("ascii")}
    return view


# -- the requester ---------------------------------------------------------------------------------


@router.post(
    "/consent-requests",
    tags=["consent"],
    summary="Ask a person for consent to another institution's data (scope records)",
    status_code=201,
    response_model=ConsentRequestView,
    responses=problems(400, 401, 403, 413, 422),
)
def create_consent_request(
    body: ConsentRequestCreate, principal: RecordsCaller, service: ServiceDep, render: Render = None
) -> Any:
    """Scope `records`. Filed with the custodian, which must hold a credential in force for the
    person (else 422 `NO_CREDENTIAL_AT_CUSTODIAN`); unknown purpose or data class: 422
    `PURPOSE_UNKNOWN`, `DATA_CLASS_UNKNOWN`. It expires unanswered after the
    `consent_request_ttl` setting (24 h). Show `uri` as a QR to the person (`?render=png`)."""
    spec = ConsentRequestInput(
        subject=body.subject,
        custodian=body.custodian,
        purpose=body.purpose,
        data_classes=tuple(body.data_classes),
        access_until=body.access_until,
        data_from=body.data_from,
        data_until=body.data_until,
        requester_unit=body.requester_unit,
    )
    with access_problems():
        view = ConsentRequests(service).create(principal, spec)
    return JSONResponse(_with_qr(view, render), status_code=201, headers=NO_STORE)


@router.get(
    "/consent-requests/{request_id}",
    tags=["consent"],
    summary="The state of one of the caller's consent requests",
    response_model=ConsentRequestView,
    responses=problems(401, 403, 404, 422),
)
def read_consent_request(
    request_id: RequestId, principal: RecordsCaller, service: ServiceDep, render: Render = None
) -> Any:
    """Scope `records`: pending, approved (with the approved scope), denied, expired or
    withdrawn. Another institution's request is 404, as one that does not exist."""
    with access_problems():
        view = ConsentRequests(service).requester_view(principal, request_id)
    return JSONResponse(_with_qr(view, render), headers=NO_STORE)


# -- the person ------------------------------------------------------------------------------------


@router.get(
    "/me/consent-requests",
    tags=["consent"],
    summary="Consent requests addressed to me at one custodian",
    response_model=HolderRequests,
    responses=problems(400, 401, 404, 422),
)
def my_consent_requests(
    service: ServiceDep,
    institution: Custodian,
    authorization: PresentationAuth = None,
    state: Annotated[
        Literal["pending", "approved", "denied", "expired", "withdrawn"] | None,
        Query(description="Only requests in this state (default: all)."),
    ] = None,
) -> Any:
    """Authenticated by a presentation of the holder's coverage credential at the custodian."""
    presentation = presentation_header(authorization)
    with access_problems():
        listed = ConsentRequests(service).holder_list(
            known_institution(institution), presentation, state
        )
    return JSONResponse(listed, headers=NO_STORE)


@router.get(
    "/me/consent-requests/{request_id}",
    tags=["consent"],
    summary="One consent request addressed to me",
    response_model=ConsentRequestView,
    responses=problems(400, 401, 404, 422),
)
def my_consent_request(
    request_id: RequestId,
    service: ServiceDep,
    institution: Custodian,
    authorization: PresentationAuth = None,
) -> Any:
    """A request addressed to someone else is 404, as one that does not exist."""
    presentation = presentation_header(authorization)
    with access_problems():
        view = ConsentRequests(service).holder_get(
            known_institution(institution), request_id, presentation
        )
    return JSONResponse(view, headers=NO_STORE)


@router.post(
    "/me/consent-requests/{request_id}/approval",
    tags=["consent"],
    summary="Approve a consent request, as asked or narrowed (signed grant, receipt)",
    status_code=201,
    response_model=ApprovalResponse,
    responses={**problems(400, 401, 404, 413, 422), **problems(409)},
)
def approve_consent_request(
    request_id: RequestId,
    body: Annotated[ApprovalRequest, Body()],
    service: ServiceDep,
    institution: Custodian,
) -> Any:
    """The grant is recorded with its receipt credential, linked to the request. Wider than
    asked: 422 `APPROVAL_WIDER_THAN_REQUEST`; expired: 409 `REQUEST_EXPIRED`; answered before:
    409 `REQUEST_ALREADY_ANSWERED`; a replayed presentation: 401 `CHALLENGE_REUSED`."""
    with access_problems():
        result = ConsentRequests(service).approve(
            known_institution(institution), request_id, body.grant, body.presentation
        )
    return JSONResponse(result, status_code=201, headers=NO_STORE)


@router.post(
    "/me/consent-requests/{request_id}/denial",
    tags=["consent"],
    summary="Deny a consent request",
    response_model=DenialResponse,
    responses={**problems(400, 401, 404, 413, 422), **problems(409)},
)
def deny_consent_request(
    request_id: RequestId,
    body: Annotated[DenialRequest, Body()],
    service: ServiceDep,
    institution: Custodian,
) -> Any:
    """The requester then reads `denied`, and nothing else."""
    with access_problems():
        result = ConsentRequests(service).deny(
            known_institution(institution), request_id, body.presentation
        )
    return JSONResponse(result, headers=NO_STORE)


@router.get(
    "/me/consent-grants",
    tags=["consent"],
    summary="My consent grants at one custodian (active, withdrawn, expired)",
    response_model=HolderGrants,
    responses=problems(400, 401, 404, 422),
)
def my_consent_grants(
    service: ServiceDep, institution: Custodian, authorization: PresentationAuth = None
) -> Any:
    """Withdraw one with `POST /institutions/{code}/consent/grants/{id}/withdrawal`."""
    presentation = presentation_header(authorization)
    with access_problems():
        grants = AccessControl(service).holder_grants(known_institution(institution), presentation)
    return JSONResponse(grants, headers=NO_STORE)


@router.get(
    "/me/record",
    tags=["consent"],
    summary="My own clinical record at one custodian (FHIR Bundle)",
    response_model=OwnRecord,
    responses=problems(400, 401, 404, 422),
)
def my_record(
    service: ServiceDep,
    institution: Custodian,
    authorization: PresentationAuth = None,
    data_class: Annotated[
        list[str] | None,
        Query(alias="dataClass", description=f"Of {list(DATA_CLASSES)} (default: all)."),
    ] = None,
) -> Any:
    """Each data class read is one entry in the person's access log, marked as their own."""
    presentation = presentation_header(authorization)
    with access_problems():
        record = AccessControl(service).own_record(
            known_institution(institution), presentation, data_class or []
        )
    return JSONResponse(record, headers=NO_STORE)
