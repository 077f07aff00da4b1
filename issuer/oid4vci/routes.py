"""OpenID for Verifiable Credential Issuance 1.0: the HTTP endpoints (pre-authorized code flow).

Spec: https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html (final, 2025;
section numbers below are that document's). The flow itself is :mod:`issuer.oid4vci.flow`.

Each institution is its own Credential Issuer and Authorization Server, identified by
``https://`` + its did:web domain (``https://imss.gob.mx``); the endpoints below answer for the
institution whose domain is the request's Host, like ``/.well-known/did.json``.

- ``POST /oid4vci/offers`` (API key, scope ``issue``): the enrolment desk offers the wallet form
  of a credential: the Credential Offer, its ``openid-credential-offer://`` URI for the QR, and
  the 6-digit transaction code (PIN) to tell the person by another channel.
- ``GET /.well-known/openid-credential-issuer`` (§12.2), ``GET
  /.well-known/oauth-authorization-server`` (RFC 8414 with §12.3's parameter).
- ``POST /oid4vci/token`` (§6): ``grant_type=urn:ietf:params:oauth:grant-type:pre-authorized_code``,
  ``pre-authorized_code``, ``tx_code``; the code is single use and short-lived, a wrong PIN is
  counted and the third locks the offer. Errors are OAuth JSON (``invalid_grant`` ...).
- ``POST /oid4vci/nonce`` (§7): a fresh single-use ``c_nonce``.
- ``POST /oid4vci/credential`` (§8): ``Authorization: Bearer`` + ``{"credential_configuration_id":
  "HealthCoverageCredential", "proofs": {"jwt": [<key proof>]}}`` → ``{"credentials":
  [{"credential": <ldp_vc>}]}`` bound to the proof's did:key.
"""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

import segno
from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from issuer.credentials.dependencies import ServiceDep, require_owned
from issuer.credentials.models import CREDENTIAL_ID_PATTERN
from issuer.credentials.service import IssuerService
from issuer.http.auth import IssueCaller
from issuer.http.errors import problems
from issuer.http.params import host_institution
from issuer.institutions import INSTITUTIONS
from issuer.oid4vci.flow import (
    CONFIGURATION_ID,
    PRE_AUTHORIZED_GRANT,
    CredentialRequestError,
    InvalidTokenError,
    Oid4vciIssuer,
    TokenError,
    authorization_server_metadata,
    issuer_metadata,
)
from issuer.storage.challenges import ChallengeLimitError
from verifier import parse_json

__all__ = ["OfferRequest", "OfferResponse", "router"]

router = APIRouter(tags=["OpenID4VCI"])

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
#: Largest token request or credential request read (a key proof is well under 1 kB).
_MAX_REQUEST = 16 * 1024


def _flow(service: IssuerService) -> Oid4vciIssuer:
    return Oid4vciIssuer(service)


def _now() -> datetime:
    return datetime.now(UTC)


def _oauth_error(status: int, error: str, description: str, **headers: str) -> JSONResponse:
    ascii_description = description.encode("ascii", "replace").decode().replace('"', "'")
    return JSONResponse(
        {"error": error, "error_description": ascii_description},
        status_code=status,
        headers={**_NO_STORE, **headers},
    )


# -- the desk -------------------------------------------------------------------------------------


class OfferRequest(BaseModel):
    """Offer the wallet form of an issued credential."""

    model_config = ConfigDict(extra="forbid")

    credential_id: str = Field(alias="credentialId", pattern=CREDENTIAL_ID_PATTERN)
    tx_code: bool = Field(
        default=True,
        alias="txCode",
        description="Require a 6-digit transaction code (PIN), told to the person apart from "
        "the QR (recommended: someone who photographs the QR cannot redeem it).",
    )


class OfferResponse(BaseModel):
    """The offer, what the QR holds, and the PIN (shown once)."""

    credential_offer: dict[str, Any] = Field(alias="credentialOffer")
    credential_offer_uri: str = Field(alias="credentialOfferUri")
    tx_code: str | None = Field(alias="txCode")
    expires_at: str = Field(alias="expiresAt")
    qr_image: str | None = Field(default=None, alias="qrImage")


@router.post(
    "/oid4vci/offers",
    summary="Offer a credential to the person's wallet (pre-authorized code, QR and PIN)",
    status_code=201,
    response_model=OfferResponse,
    response_model_exclude_none=True,
    responses=problems(400, 401, 403, 404, 413, 422),
)
def create_offer(
    body: Annotated[OfferRequest, Body()],
    principal: IssueCaller,
    service: ServiceDep,
    render: Annotated[
        bool, Query(description="Also return the QR as a base64 PNG in `qrImage`.")
    ] = False,
) -> dict[str, Any]:
    """Scope `issue`. The credential must be of the caller's institution, in force, and neither
    suspended nor revoked. The pre-authorized code lives 10 minutes and is single use."""
    require_owned(service, principal, body.credential_id)
    created = _flow(service).create_offer(principal, body.credential_id, tx_code=body.tx_code)
    result: dict[str, Any] = {
        "credentialOffer": created.offer,
        "credentialOfferUri": created.uri,
        "txCode": created.tx_code,
        "expiresAt": created.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if render:
        buffer = io.BytesIO()
        segno.make(created.uri, error="m").save(buffer, kind="png", scale=6, border=4)
        result["qrImage"] = base64.b64encode(buffer.getvalue()).decode("ascii")
    return result


# -- metadata -------------------------------------------------------------------------------------


@router.get(
    "/.well-known/openid-credential-issuer",
    summary="Credential Issuer Metadata of the institution at this Host",
    response_class=JSONResponse,
    responses=problems(404),
)
def credential_issuer_metadata(request: Request) -> JSONResponse:
    """OpenID4VCI 1.0 §12.2. No auth."""
    institution = INSTITUTIONS[host_institution(request)]
    return JSONResponse(issuer_metadata(institution), headers={"Cache-Control": "max-age=3600"})


@router.get(
    "/.well-known/oauth-authorization-server",
    summary="OAuth 2.0 Authorization Server Metadata (pre-authorized code grant)",
    response_class=JSONResponse,
    responses=problems(404),
)
def oauth_server_metadata(request: Request) -> JSONResponse:
    """RFC 8414, with `pre-authorized_grant_anonymous_access_supported` (§12.3). No auth."""
    institution = INSTITUTIONS[host_institution(request)]
    return JSONResponse(
        authorization_server_metadata(institution), headers={"Cache-Control": "max-age=3600"}
    )


# -- token, nonce, credential ---------------------------------------------------------------------


async def _raw_body(request: Request) -> bytes | None:
    """The body, or None when it is larger than ``_MAX_REQUEST``."""
    body = await request.body()
    return body if len(body) <= _MAX_REQUEST else None


RawBody = Annotated[bytes | None, Depends(_raw_body)]


def _form(request: Request, body: bytes | None) -> dict[str, list[str]]:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise TokenError("invalid_request", "the body must be application/x-www-form-urlencoded")
    if body is None:
        raise TokenError("invalid_request", "the body is too large")
    try:
        text = body.decode("ascii")
        return parse_qs(text, keep_blank_values=True, strict_parsing=False, max_num_fields=16)
    except (UnicodeDecodeError, ValueError):
        raise TokenError("invalid_request", "the body is not a valid form") from None


_TOKEN_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type", "pre-authorized_code"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": [PRE_AUTHORIZED_GRANT]},
                        "pre-authorized_code": {"type": "string"},
                        "tx_code": {"type": "string", "description": "the PIN from the desk"},
                    },
                }
            }
        },
    }
}
_CREDENTIAL_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "example": {
                    "credential_configuration_id": CONFIGURATION_ID,
                    "proofs": {"jwt": ["eyJ0eXAiOiJvcGVuaWQ0dmNpLXByb29mK2p3dCIs…"]},
                }
            }
        },
    }
}


@router.post(
    "/oid4vci/token",
    summary="Token Endpoint: pre-authorized code (and PIN) for an access token",
    response_class=JSONResponse,
    openapi_extra=_TOKEN_FORM,
)
def token(request: Request, body: RawBody, service: ServiceDep) -> JSONResponse:
    """OpenID4VCI 1.0 §6 (pre-authorized code grant, anonymous). `application/x-www-form-
    urlencoded`. Errors: 400 `{"error": "invalid_request" | "invalid_grant" |
    "unsupported_grant_type", "error_description": ...}`."""
    institution = host_institution(request)
    try:
        issued = _flow(service).redeem(institution, _form(request, body), _now())
    except TokenError as exc:
        return _oauth_error(400, exc.error, exc.description)
    return JSONResponse(
        {"access_token": issued.access_token, "token_type": "Bearer",
         "expires_in": issued.expires_in},
        headers=_NO_STORE,
    )  # fmt: skip


@router.post(
    "/oid4vci/nonce",
    summary="Nonce Endpoint: a fresh c_nonce for the key proof",
    response_class=JSONResponse,
)
def nonce(request: Request, service: ServiceDep) -> JSONResponse:
    """OpenID4VCI 1.0 §7. Single use, valid 5 minutes. No auth."""
    institution = host_institution(request)
    try:
        c_nonce = _flow(service).nonce(institution, _now())
    except ChallengeLimitError as exc:
        return _oauth_error(503, "temporarily_unavailable", str(exc), **{"Retry-After": "60"})
    return JSONResponse({"c_nonce": c_nonce}, headers=_NO_STORE)


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > 200:
        return None
    return value


@router.post(
    "/oid4vci/credential",
    summary="Credential Endpoint: the wallet credential, bound to the key proof's did:key",
    response_class=JSONResponse,
    openapi_extra=_CREDENTIAL_BODY,
)
def credential(request: Request, body: RawBody, service: ServiceDep) -> JSONResponse:
    """OpenID4VCI 1.0 §8. `Authorization: Bearer <access_token>` (401 `invalid_token` when
    missing, unknown, used or expired); errors 400 `invalid_credential_request`,
    `unknown_credential_configuration`, `invalid_proof`, `invalid_nonce`,
    `credential_request_denied`."""
    institution = host_institution(request)
    access_token = _bearer(request)
    challenge = 'Bearer realm="credencial"'
    if access_token is None:
        return _oauth_error(
            401, "invalid_token", "an access token is required",
            **{"WWW-Authenticate": challenge},
        )  # fmt: skip
    try:
        if body is None:
            raise CredentialRequestError("invalid_credential_request", "the body is too large")
        try:
            payload = parse_json(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise CredentialRequestError(
                "invalid_credential_request", "the body is not JSON"
            ) from None
        document = _flow(service).issue_credential(institution, access_token, payload, _now())
    except InvalidTokenError as exc:
        return _oauth_error(
            401, "invalid_token", str(exc),
            **{"WWW-Authenticate": f'{challenge}, error="invalid_token"'},
        )  # fmt: skip
    except CredentialRequestError as exc:
        return _oauth_error(400, exc.error, exc.description)
    return JSONResponse({"credentials": [{"credential": document}]}, headers=_NO_STORE)
