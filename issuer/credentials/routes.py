"""Routes of issuing and of the caller's own credentials: issue, enrol, read, render, status.

- **Idempotency**: ``Idempotency-Key`` on the issuing endpoints. The first request answers 201;
  a retry with the same key and body answers **200** with the same credential (nothing is
  issued twice); the same key with a different body is 409.
- An institution never reads, renders, suspends or revokes another institution's credential: it
  is answered 404 exactly as an id that does not exist (no oracle of which ids exist). Issuing in
  another institution's name is 403 (code ``OTHER_INSTITUTION``).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

import schemas
from issuer.cards.render import card_pdf, card_png
from issuer.credentials.dependencies import (
    CredentialId,
    IdempotencyKey,
    ServiceDep,
    require_owned,
    require_same_institution,
)
from issuer.credentials.models import (
    EXAMPLE_SUBJECT,
    CredentialResponse,
    EnrolmentRequest,
    EnrolmentResponse,
    IssueRequest,
    IssueResponse,
    StatusRequest,
    StatusResponse,
)
from issuer.credentials.service import IssuerService
from issuer.http.auth import IssueCaller, ReaderCaller, StatusCaller
from issuer.http.errors import ApiError, problems
from issuer.institutions import INSTITUTIONS
from issuer.principal import Principal
from verifier import CREDENTIALS_V2_URL, CoverageSubject, encode_card

__all__ = ["router"]

# -- issuing --------------------------------------------------------------------------------------

router = APIRouter()

_ISSUE_EXAMPLES: dict[str, Any] = {
    "minimal": {
        "summary": "Only the subject (the issuer fills in everything else)",
        "value": {"credential": {"credentialSubject": EXAMPLE_SUBJECT}},
    },
    "vc-api": {
        "summary": "VC API form, with an explicit end of validity",
        "value": {
            "credential": {
                "@context": [CREDENTIALS_V2_URL, schemas.CREDENCIAL_CONTEXT_URL],
                "type": ["VerifiableCredential", "HealthCoverageCredential"],
                "credentialSubject": EXAMPLE_SUBJECT,
            },
            "options": {"validUntil": "2031-01-15T00:00:00Z"},
        },
    },
}
_ENROLMENT_EXAMPLES: dict[str, Any] = {
    "person": {
        "summary": "A person covered by IMSS",
        "value": {**EXAMPLE_SUBJECT, "validUntil": "2031-01-15T00:00:00Z"},
    },
}


def _issue(
    service: IssuerService,
    principal: Principal,
    subject: dict[str, Any],
    valid_until: datetime | None,
    idempotency_key: str | None,
    response: Response,
) -> dict[str, Any]:
    issued = service.issue(
        principal,
        {"credentialSubject": subject},
        valid_until=valid_until,
        idempotency_key=idempotency_key,
    )
    response.status_code = 201 if issued.created else 200
    response.headers["Location"] = f"/credentials/{issued.document['id']}"
    return issued.document


@router.post(
    "/credentials/issue",
    tags=["issuing"],
    summary="Issue a credential (VC API)",
    status_code=201,
    response_model=IssueResponse,
    responses={
        200: {"model": IssueResponse, "description": "Idempotent retry: the stored credential"},
        **problems(400, 401, 403, 409, 413, 422),
    },
)
def issue_credential(
    body: Annotated[IssueRequest, Body(openapi_examples=_ISSUE_EXAMPLES)],
    principal: IssueCaller,
    service: ServiceDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Sign a health-coverage credential for `credential.credentialSubject`.

    The issuer fills in `@context`, `id`, `type`, `issuer`, `validFrom`, `validUntil`
    (`options.validUntil` or the default validity), the revocation and suspension status
    entries, `credentialSchema` and the proof; every credential is verified before it is
    returned. Scope `issue`; the coverage must be of the caller's institution (else 403).
    """
    template = body.credential
    named = template.issuer_id()
    institution = INSTITUTIONS[principal.institution]
    if named is not None and named != institution.did:
        raise ApiError(
            403, f"{principal.institution} cannot issue as {named}", code="OTHER_INSTITUTION"
        )
    subject = template.credential_subject.to_json()
    require_same_institution(principal, subject["coverage"]["institution"], "coverage of")
    document = _issue(
        service, principal, subject, body.options.valid_until, idempotency_key, response
    )
    return {"verifiableCredential": document}


def _validated_subject(subject: dict[str, Any]) -> dict[str, Any]:
    """The subject checked by the verifier's model; its errors become per-field 422 errors."""
    try:
        return CoverageSubject.model_validate(subject).to_json()
    except ValidationError as exc:
        errors = []
        for error in exc.errors(include_url=False, include_context=False, include_input=False):
            loc = tuple("holderDid" if part == "id" else part for part in error["loc"])
            errors.append({**error, "loc": ("body", *loc)})
        raise RequestValidationError(errors) from None


@router.post(
    "/enrolments",
    tags=["issuing"],
    summary="Issue from a person's enrolment data; card text and card image",
    status_code=201,
    response_model=EnrolmentResponse,
    response_model_exclude_none=True,
    responses={
        200: {"model": EnrolmentResponse, "description": "Idempotent retry"},
        **problems(400, 401, 403, 409, 413, 422),
    },
)
def enrol(
    body: Annotated[EnrolmentRequest, Body(openapi_examples=_ENROLMENT_EXAMPLES)],
    principal: IssueCaller,
    service: ServiceDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    render: Annotated[
        Literal["png", "pdf"] | None,
        Query(description="Also return the printed card, base64, in `cardImage`."),
    ] = None,
) -> dict[str, Any]:
    """Issue a credential from the person's data and return the wallet JSON and the card text.

    With `?render=png` or `?render=pdf` the printed card (CR80 at 300 dpi) comes base64 in
    `cardImage`; `GET /credentials/{id}/card.png|pdf` serves it later. Scope `issue`.
    """
    require_same_institution(principal, body.coverage.institution, "coverage of")
    subject = _validated_subject(body.subject())
    document = _issue(service, principal, subject, body.valid_until, idempotency_key, response)
    result: dict[str, Any] = {"verifiableCredential": document, "card": encode_card(document)}
    if render is not None:
        image, media_type = _render(document, render)
        result["cardImage"] = base64.b64encode(image).decode("ascii")
        result["cardImageMediaType"] = media_type
    return result


def _render(document: Mapping[str, Any], image_format: str) -> tuple[bytes, str]:
    if image_format == "pdf":
        return card_pdf(document), "application/pdf"
    return card_png(document), "image/png"


# -- reading and status ---------------------------------------------------------------------------


@router.get(
    "/credentials/{credential_id}",
    tags=["credentials"],
    summary="A credential of the caller's institution, with its status",
    response_model=CredentialResponse,
    responses=problems(401, 403, 404, 422),
)
def get_credential(
    credential_id: CredentialId, principal: ReaderCaller, service: ServiceDep
) -> dict[str, Any]:
    """Scope `issue` or `status`. Another institution's credential is 403."""
    require_owned(service, principal, credential_id)
    return {
        "verifiableCredential": service.get_credential(principal, credential_id),
        "status": service.credential_status(principal, credential_id),
    }


@router.get(
    "/credentials/{credential_id}/card.{image_format}",
    tags=["credentials"],
    summary="The printed card of a credential (PNG or PDF)",
    response_class=Response,
    responses={
        200: {
            "content": {"image/png": {}, "application/pdf": {}},
            "description": "CR80 card at 300 dpi",
        },
        **problems(401, 403, 404, 422),
    },
)
def get_card(
    credential_id: CredentialId,
    image_format: Annotated[Literal["png", "pdf"], PathParam()],
    principal: ReaderCaller,
    service: ServiceDep,
) -> Response:
    """Scope `issue` or `status`. Another institution's credential is 403."""
    require_owned(service, principal, credential_id)
    image, media_type = _render(service.get_credential(principal, credential_id), image_format)
    return Response(
        image,
        media_type=media_type,
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'inline; filename="credencial.{image_format}"',
        },
    )


@router.post(
    "/credentials/status",
    tags=["credentials"],
    summary="Suspend, reinstate or revoke a credential",
    response_model=StatusResponse,
    responses=problems(400, 401, 403, 404, 409, 413, 422),
)
def change_status(
    body: StatusRequest, principal: StatusCaller, service: ServiceDep
) -> dict[str, Any]:
    """Scope `status`. Revocation is final: any later change is 409. The change shows in the
    served status lists at once (their cached copies are re-signed on change)."""
    require_owned(service, principal, body.credential_id)
    status = service.change_status(principal, body.credential_id, body.action)
    return {"credentialId": body.credential_id, **status}
