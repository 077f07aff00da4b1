"""Routes of what an institution publishes, public and cacheable: status lists, DID documents.

Status lists are served at the URL credentials name (``/credencial/status/…``, the institution
chosen by the Host) and at ``/institutions/{code}/status/…``, with ``Cache-Control`` matching their
``ttl``; ``?timestamp=`` serves a list as it stood at a past moment. The did:web documents list
every key with its validity (retired keys stay listed, so what they signed still verifies).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from issuer.credentials.dependencies import ServiceDep
from issuer.credentials.service import IssuerService
from issuer.http.errors import problems
from issuer.http.params import InstitutionCode, ListNumber, host_institution

__all__ = ["router"]

router = APIRouter()

Purpose = Annotated[Literal["revocation", "suspension"], PathParam()]
Timestamp = Annotated[
    AwareDatetime | None,
    Query(
        description="Serve the list as it stood at this moment (with a time zone, e.g. "
        "2026-03-01T12:00:00Z); default: now.",
    ),
]


def _as_of(timestamp: datetime | None) -> datetime | None:
    if timestamp is None:
        return None
    try:
        moment = timestamp.astimezone(UTC)
    except OverflowError:
        moment = None
    if moment is None or moment > datetime.now(UTC):
        why = "out of range" if moment is None else "in the future"
        raise RequestValidationError([
            {"type": "value_error", "loc": ("query", "timestamp"), "msg": f"the moment is {why}"}
        ])  # fmt: skip
    return moment


def _status_list(
    service: IssuerService, code: str, purpose: str, number: int, timestamp: datetime | None
) -> JSONResponse:
    document = service.status_list_credential(code, purpose, number, at=_as_of(timestamp))
    max_age = int(service.settings.status_list_ttl.total_seconds())
    return JSONResponse(document, headers={"Cache-Control": f"public, max-age={max_age}"})


_STATUS_LIST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The signed BitstringStatusListCredential; `Cache-Control: public, "
        "max-age=<ttl seconds>` matches its `ttl`",
        "content": {"application/json": {}},
    },
    **problems(404, 422),
}


@router.get(
    "/institutions/{code}/status/{purpose}/{number}",
    tags=["status lists"],
    summary="An institution's status list",
    response_class=JSONResponse,
    responses=_STATUS_LIST_RESPONSES,
)
def institution_status_list(
    code: InstitutionCode,
    purpose: Purpose,
    number: ListNumber,
    service: ServiceDep,
    timestamp: Timestamp = None,
) -> JSONResponse:
    """The signed list, now or (with `?timestamp=`) as it stood then. No auth."""
    return _status_list(service, code.upper(), purpose, number, timestamp)


@router.get(
    "/credencial/status/{purpose}/{number}",
    tags=["status lists"],
    summary="A status list at the URL credentials name (institution by Host)",
    response_class=JSONResponse,
    responses=_STATUS_LIST_RESPONSES,
)
def hosted_status_list(
    request: Request,
    purpose: Purpose,
    number: ListNumber,
    service: ServiceDep,
    timestamp: Timestamp = None,
) -> JSONResponse:
    """The URL in credentials' `statusListCredential` (e.g. `https://imss.gob.mx/credencial/
    status/revocation/1`): the institution is the one whose did:web domain is the Host."""
    return _status_list(service, host_institution(request), purpose, number, timestamp)


_DID_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The did:web document: every key as a Multikey verification method",
        "content": {"application/json": {}},
    },
    **problems(404, 422),
}


@router.get(
    "/.well-known/did.json",
    tags=["DID documents"],
    summary="The did:web document of the institution at this Host",
    response_class=JSONResponse,
    responses=_DID_RESPONSES,
)
def well_known_did(request: Request, service: ServiceDep) -> JSONResponse:
    """Resolves `did:web:<host>`: the keys with their validity (retired ones stay listed)."""
    return JSONResponse(service.did_document(host_institution(request)))


@router.get(
    "/institutions/{code}/did.json",
    tags=["DID documents"],
    summary="An institution's did:web document",
    response_class=JSONResponse,
    responses=_DID_RESPONSES,
)
def institution_did(code: InstitutionCode, service: ServiceDep) -> JSONResponse:
    """The same document as `/.well-known/did.json` at the institution's domain. No auth."""
    return JSONResponse(service.did_document(code.upper()))
