"""Routes of administration (scope ``admin``): the institution's signing keys and API clients."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from issuer.credentials.dependencies import ServiceDep
from issuer.credentials.models import (
    ClientRequest,
    ClientResponse,
    KeyListResponse,
    RotateKeyResponse,
)
from issuer.credentials.service import IssuerService
from issuer.http.auth import AdminCaller
from issuer.http.errors import problems

__all__ = ["router"]

router = APIRouter()


def _keys(service: IssuerService, institution: str) -> dict[str, Any]:
    document = service.did_document(institution)
    active = document["assertionMethod"]
    return {
        "institution": institution,
        "did": document["id"],
        "activeKey": active[-1] if active else None,
        "keys": document["verificationMethod"],
    }


@router.get(
    "/admin/keys",
    tags=["administration"],
    summary="The caller's institution's keys",
    response_model=KeyListResponse,
    response_model_exclude_none=True,
    responses=problems(401, 403),
)
def list_keys(principal: AdminCaller, service: ServiceDep) -> dict[str, Any]:
    """Scope `admin`."""
    return _keys(service, principal.institution)


@router.post(
    "/admin/keys/rotate",
    tags=["administration"],
    summary="Rotate the caller's institution's signing key",
    status_code=201,
    response_model=RotateKeyResponse,
    response_model_exclude_none=True,
    responses=problems(401, 403),
)
def rotate_key(principal: AdminCaller, service: ServiceDep) -> dict[str, Any]:
    """A new key signs from now on; the old one is retired but stays listed in the DID
    document (with `validUntil`), so what it signed still verifies. Scope `admin`."""
    service.rotate_key(principal.institution, actor=principal.client_id)
    return _keys(service, principal.institution)


@router.post(
    "/admin/clients",
    tags=["administration"],
    summary="Create an API client of the caller's institution",
    status_code=201,
    response_model=ClientResponse,
    responses=problems(400, 401, 403, 413, 422),
)
def create_client(
    body: ClientRequest, principal: AdminCaller, service: ServiceDep
) -> dict[str, Any]:
    """Returns the API key once (only its hash is stored). Scope `admin`."""
    scopes = sorted(set(body.scopes))
    api_key = service.create_client(
        principal.institution, body.name, scopes, actor=principal.client_id
    )
    return {
        "clientId": api_key.partition(".")[0],
        "apiKey": api_key,
        "institution": principal.institution,
        "name": body.name,
        "scopes": scopes,
    }
