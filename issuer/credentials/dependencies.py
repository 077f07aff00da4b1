"""What the routes of every domain take from the credentials domain: the service, owned ids."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi import Path as PathParam

from issuer.credentials.models import CREDENTIAL_ID_PATTERN, IDEMPOTENCY_KEY_PATTERN
from issuer.credentials.service import IssuerService
from issuer.errors import NotFoundError
from issuer.http.errors import ApiError
from issuer.principal import Principal

__all__ = [
    "CredentialId",
    "IdempotencyKey",
    "ServiceDep",
    "require_owned",
    "require_same_institution",
]


def _service(request: Request) -> IssuerService:
    """The service the application holds."""
    service: IssuerService = request.app.state.service
    return service


ServiceDep = Annotated[IssuerService, Depends(_service)]

CredentialId = Annotated[
    str,
    PathParam(
        pattern=CREDENTIAL_ID_PATTERN,
        description="The credential's id, e.g. urn:uuid:0b5c6f2e-8a41-4d1e-9a7b-3c2d1e0f9a8b",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Makes a retry safe: the same key and body return the stored credential "
        "(200); the same key with a different body is 409. Printable ASCII, at most 200.",
    ),
]


def require_owned(service: IssuerService, principal: Principal, credential_id: str) -> None:
    """404 unless the caller's institution issued this credential: another institution's
    credential is answered exactly as one that does not exist (no existence oracle)."""
    try:
        owner = service.credential_institution(credential_id)
    except NotFoundError:
        owner = None
    if owner != principal.institution:
        raise ApiError(404, f"no credential {credential_id} of yours", code="NOT_FOUND")


def require_same_institution(principal: Principal, institution: str, what: str) -> None:
    """403 unless ``institution`` is the caller's (``what`` names the thing, e.g. "coverage of")."""
    if institution != principal.institution:
        raise ApiError(
            403, f"{principal.institution} cannot issue {what} {institution}",
            code="OTHER_INSTITUTION",
        )  # fmt: skip
