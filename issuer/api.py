"""The issuer's HTTP API (FastAPI): issue, change status, verify, status lists, DIDs, admin.

``create_app(settings, service)`` builds the application; ``credencial-issuer serve`` runs it.

- **Authentication**: ``Authorization: Bearer <client_id>.<secret>`` (an API key from
  :meth:`IssuerService.create_client` or ``POST /admin/clients``). No key or a bad key: 401.
- **Authorization**: scopes ``issue``, ``status``, ``admin``; a missing scope is 403. An
  institution never reads, renders, suspends or revokes another institution's credential, nor
  issues in its name: 403 (code ``OTHER_INSTITUTION``). An id that does not exist at all is 404.
- **Idempotency**: ``Idempotency-Key`` on the issuing endpoints. The first request answers 201;
  a retry with the same key and body answers **200** with the same credential (nothing is
  issued twice); the same key with a different body is 409.
- **Errors**: every error is an RFC 9457 problem (``application/problem+json`` with ``type``,
  ``title``, ``status``, ``detail`` and a stable ``code``); invalid requests are 422 with one
  entry per invalid field in ``errors``; malformed JSON is 400.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from importlib import metadata
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, Header, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, ValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import schemas
from verifier import (
    CREDENTIALS_V2_URL,
    CoverageSubject,
    Language,
    PresentationResult,
    PresentationVerifier,
    Reason,
    ReasonCode,
    Verdict,
    VerificationResult,
    Verifier,
    encode_card,
    format_datetime,
)

from ._api_models import (
    CREDENTIAL_ID_PATTERN,
    EXAMPLE_SUBJECT,
    IDEMPOTENCY_KEY_PATTERN,
    ChallengeRequest,
    ChallengeResponse,
    ClientRequest,
    ClientResponse,
    CredentialResponse,
    EnrolmentRequest,
    EnrolmentResponse,
    IssueRequest,
    IssueResponse,
    KeyListResponse,
    PresentationVerificationResponse,
    Problem,
    RotateKeyResponse,
    StatusRequest,
    StatusResponse,
    VerificationResponse,
    VerifyCredentialRequest,
    VerifyPresentationRequest,
)
from ._card_render import card_pdf, card_png
from ._hardening import harden
from ._institutions import INSTITUTIONS
from .challenges import ChallengeLimitError, DatabaseChallengeStore
from .service import IssuerService, NotFoundError, Principal, ServiceError
from .settings import IssuerSettings

__all__ = [
    "MAX_BODY_BYTES",
    "PROBLEM_MEDIA_TYPE",
    "ApiError",
    "create_app",
    "problem_response",
    "router",
]

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
#: Largest request body accepted (a credential is about 2 kB; a presentation of 16 fits).
MAX_BODY_BYTES = 256 * 1024
#: Deepest JSON nesting the verify endpoints pass to the verifier (a credential needs 4).
_MAX_DEPTH = 32
#: What an API key can look like (``client_id.secret``, URL-safe characters); else 401 at once.
_API_KEY = re.compile(r"[A-Za-z0-9_.~+/=-]{3,256}")
_CHECKS = ("proof", "validityPeriod", "credentialStatus")

_DESCRIPTION = __doc__.split("\n\n", 2)[2] if __doc__ else ""


# -- problems -------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answered as an RFC 9457 problem."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.headers = dict(headers or {})


def problem_response(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    type_: str = "about:blank",
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """An ``application/problem+json`` response (``title`` defaults to the status phrase)."""
    phrase = HTTPStatus(status)
    body: dict[str, Any] = {
        "type": type_,
        "title": title or phrase.phrase,
        "status": status,
        "detail": detail,
        "code": code or phrase.name,
    }
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _pointer(parts: Sequence[Any]) -> str:
    return "#" + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _field_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    found = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        where = str(loc[0]) if loc else "body"
        if where not in {"body", "query", "path", "header", "cookie"}:
            where, loc = "body", ("body", *loc)
        found.append({
            "location": where,
            "pointer": _pointer(loc[1:]),
            "detail": str(error.get("msg", "invalid")),
            "code": str(error.get("type", "invalid")),
        })  # fmt: skip
    return found


def _validation_problem(exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if errors and all(e.get("type") == "json_invalid" for e in errors):
        context = errors[0].get("ctx") or {}
        return problem_response(
            400, f"the body is not valid JSON: {context.get('error', 'syntax error')}",
            code="MALFORMED_JSON",
        )  # fmt: skip
    fields = _field_errors(errors)
    listed = "; ".join(
        f"{e['location']} {e['pointer'][2:].replace('/', '.') or '(whole)'}: {e['detail']}"
        for e in fields[:5]
    )
    more = f" (and {len(fields) - 5} more)" if len(fields) > 5 else ""
    noun = "field" if len(fields) == 1 else "fields"
    return problem_response(
        422, f"{len(fields)} invalid {noun}: {listed}{more}", code="VALIDATION_FAILED",
        extra={"errors": fields},
    )  # fmt: skip


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_problem(exc)

    @app.exception_handler(ApiError)
    async def _problem(_request: Request, exc: ApiError) -> JSONResponse:
        return problem_response(exc.status, exc.detail, code=exc.code, headers=exc.headers)

    @app.exception_handler(ServiceError)
    async def _service_error(_request: Request, exc: ServiceError) -> JSONResponse:
        return problem_response(exc.status, exc.detail)

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        code = "BODY_TOO_LARGE" if exc.status_code == 413 else None
        return problem_response(exc.status_code, str(exc.detail), code=code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(
            500, "an unexpected error occurred; it has been logged", code="INTERNAL_ERROR"
        )


class _BodyLimit:
    """Refuses request bodies over ``limit`` bytes with a 413 problem (declared or streamed)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            response = problem_response(
                413, f"the body exceeds {self.limit} bytes", code="BODY_TOO_LARGE"
            )
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, f"the body exceeds {self.limit} bytes")
            return message

        await self.app(scope, limited, send)


_PROBLEM_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request (problem details)",
    401: "No API key, or not a valid one",
    403: "Missing scope, or another institution's credential",
    404: "No such credential, list, institution or host",
    409: "Conflict: Idempotency-Key reused with a different body, or the credential is revoked",
    413: "Request body too large",
    422: "Invalid request: one entry per invalid field in `errors`",
}


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": Problem, "description": _PROBLEM_DESCRIPTIONS[code]} for code in codes}


class _IssuerApp(FastAPI):
    """FastAPI whose OpenAPI document lists error bodies as ``application/problem+json``."""

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document (built once)."""
        if self.openapi_schema is None:
            schema = super().openapi()
            for path_item in schema.get("paths", {}).values():
                for operation in path_item.values():
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if status[:1] in {"4", "5"} and "application/json" in content:
                            content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
        return super().openapi()


# -- dependencies ---------------------------------------------------------------------------------


def _service(request: Request) -> IssuerService:
    service: IssuerService = request.app.state.service
    return service


ServiceDep = Annotated[IssuerService, Depends(_service)]

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    bearerFormat="client_id.secret",
    description="An institution's API key: `Authorization: Bearer <client_id>.<secret>`.",
)


def _authenticated(
    service: ServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The calling API client, or 401."""
    if credentials is None:
        raise ApiError(
            401, "an API key is required: Authorization: Bearer <client_id>.<secret>",
            code="UNAUTHENTICATED", headers={"WWW-Authenticate": 'Bearer realm="credencial"'},
        )  # fmt: skip
    key = credentials.credentials
    principal = service.authenticate(key) if _API_KEY.fullmatch(key) else None
    if principal is None:
        raise ApiError(
            401, "the API key is not valid", code="INVALID_API_KEY",
            headers={"WWW-Authenticate": 'Bearer realm="credencial", error="invalid_token"'},
        )  # fmt: skip
    return principal


def _require(*scopes: str) -> Callable[..., Principal]:
    """A dependency: the caller, who must hold one of ``scopes`` (else 403)."""
    challenge = f'Bearer error="insufficient_scope", scope="{" ".join(sorted(scopes))}"'

    def dependency(
        principal: Annotated[Principal, Depends(_authenticated)], response: Response
    ) -> Principal:
        if principal.scopes.isdisjoint(scopes):
            raise ApiError(
                403, f"this endpoint needs the scope {' or '.join(sorted(scopes))}",
                code="SCOPE_MISSING",
                headers={"WWW-Authenticate": challenge},
            )  # fmt: skip
        response.headers["Cache-Control"] = "no-store"  # personal data and secrets: never cached
        return principal

    return dependency


IssueCaller = Annotated[Principal, Depends(_require("issue"))]
StatusCaller = Annotated[Principal, Depends(_require("status"))]
ReaderCaller = Annotated[Principal, Depends(_require("issue", "status"))]
AdminCaller = Annotated[Principal, Depends(_require("admin"))]

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
InstitutionCode = Annotated[
    str, PathParam(pattern=r"^[A-Za-z-]{1,32}$", description="IMSS, ISSSTE or IMSS-BIENESTAR")
]
Purpose = Annotated[Literal["revocation", "suspension"], PathParam()]
ListNumber = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
Timestamp = Annotated[
    AwareDatetime | None,
    Query(
        description="Serve the list as it stood at this moment (with a time zone, e.g. "
        "2026-03-01T12:00:00Z); default: now.",
    ),
]
Lang = Annotated[Language, Query(description="Language of the reasons' messages.")]


def _owned(service: IssuerService, principal: Principal, credential_id: str) -> None:
    """404 if no credential has this id; 403 if it is another institution's."""
    try:
        owner = service.credential_institution(credential_id)
    except NotFoundError:
        raise ApiError(404, f"no credential {credential_id}", code="NOT_FOUND") from None
    if owner != principal.institution:
        raise ApiError(
            403, "the credential belongs to another institution", code="OTHER_INSTITUTION"
        )


def _same_institution(principal: Principal, institution: str, what: str) -> None:
    if institution != principal.institution:
        raise ApiError(
            403, f"{principal.institution} cannot issue {what} {institution}",
            code="OTHER_INSTITUTION",
        )  # fmt: skip


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
        **_problems(400, 401, 403, 409, 413, 422),
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
    _same_institution(principal, subject["coverage"]["institution"], "coverage of")
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
        **_problems(400, 401, 403, 409, 413, 422),
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
    _same_institution(principal, body.coverage.institution, "coverage of")
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
    responses=_problems(401, 403, 404, 422),
)
def get_credential(
    credential_id: CredentialId, principal: ReaderCaller, service: ServiceDep
) -> dict[str, Any]:
    """Scope `issue` or `status`. Another institution's credential is 403."""
    _owned(service, principal, credential_id)
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
        **_problems(401, 403, 404, 422),
    },
)
def get_card(
    credential_id: CredentialId,
    image_format: Annotated[Literal["png", "pdf"], PathParam()],
    principal: ReaderCaller,
    service: ServiceDep,
) -> Response:
    """Scope `issue` or `status`. Another institution's credential is 403."""
    _owned(service, principal, credential_id)
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
    responses=_problems(400, 401, 403, 404, 409, 413, 422),
)
def change_status(
    body: StatusRequest, principal: StatusCaller, service: ServiceDep
) -> dict[str, Any]:
    """Scope `status`. Revocation is final: any later change is 409. The change shows in the
    served status lists at once (their cached copies are re-signed on change)."""
    _owned(service, principal, body.credential_id)
    status = service.change_status(principal, body.credential_id, body.action)
    return {"credentialId": body.credential_id, **status}


# -- verifying ------------------------------------------------------------------------------------


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth <= _MAX_DEPTH:
            if isinstance(item, dict):
                stack.extend((v, depth + 1) for v in item.values())
            elif isinstance(item, list):
                stack.extend((v, depth + 1) for v in item)
    return deepest


def _check(verifier: Verifier, data: dict[str, Any] | str) -> VerificationResult:
    refusal = None
    if _depth(data) > _MAX_DEPTH:
        refusal = f"JSON nested deeper than {_MAX_DEPTH} levels"
    else:
        try:
            return verifier.check(data)
        except RecursionError:
            refusal = "JSON nested too deeply"
    reason = Reason(ReasonCode.MALFORMED_INPUT, refusal)
    return VerificationResult(Verdict.INVALID, (reason,), None, datetime.now(UTC))


def _result_json(result: VerificationResult, lang: Language) -> dict[str, Any]:
    data = result.to_json(lang)
    return {
        "verified": result.is_valid,
        "verdict": data["verdict"],
        "reasons": data["reasons"],
        "checks": list(_CHECKS),
        "checkedAt": data["checkedAt"],
    }


def _not_verified(
    verdict: Verdict, reasons: list[dict[str, Any]], extra: dict[str, Any]
) -> JSONResponse:
    messages = "; ".join(dict.fromkeys(r["message"] for r in reasons))
    return problem_response(
        400, f"{verdict.value}: {messages}", code="VERIFICATION_FAILED",
        type_=reasons[0]["type"] if reasons else "about:blank",
        title="The credential did not verify" if reasons else None, extra=extra,
    )  # fmt: skip


_VERIFY_400: dict[int | str, dict[str, Any]] = {
    400: {
        "model": Problem,
        "description": "Not verified (INVALID or INDETERMINATE): a problem whose extension "
        "members are the verification result (`verified`, `verdict`, `reasons`, ...)",
    }
}


@router.post(
    "/credentials/verify",
    tags=["verifying"],
    summary="Verify a credential (VC API)",
    response_model=VerificationResponse,
    responses={**_VERIFY_400, **_problems(413, 422)},
)
def verify_credential(body: VerifyCredentialRequest, service: ServiceDep, lang: Lang = "es") -> Any:
    """Verify a credential (JSON, or card text `SUS1:…`) against this deployment's keys and its
    current status lists. 200 only when VALID; INVALID and INDETERMINATE are 400. No auth."""
    result = _check(service.verifier(), body.verifiable_credential)
    data = _result_json(result, lang)
    if not result.is_valid:
        return _not_verified(result.verdict, data["reasons"], data)
    return data


def _challenge_store(service: IssuerService) -> DatabaseChallengeStore:
    return DatabaseChallengeStore(service.db)


@router.post(
    "/challenges",
    tags=["verifying"],
    summary="A single-use challenge for a holder presentation (VC API)",
    status_code=201,
    response_model=ChallengeResponse,
    responses={
        503: {"model": Problem, "description": "Too many challenges outstanding"},
        **_problems(400, 413, 422),
    },
)
def create_challenge(body: ChallengeRequest, service: ServiceDep, response: Response) -> Any:
    """A fresh challenge for presentations made for `domain`, valid 5 minutes, usable once
    (the wallet puts it in its presentation's proof). No auth."""
    now = datetime.now(UTC)
    store = _challenge_store(service)
    try:
        challenge = store.issue(body.domain, now)
    except ChallengeLimitError as exc:
        return problem_response(503, str(exc), code="TOO_MANY_CHALLENGES")
    response.headers["Cache-Control"] = "no-store"
    return {
        "challenge": challenge,
        "domain": body.domain,
        "expires": format_datetime(now + store.lifetime),
    }


def _presentation_check(
    service: IssuerService, presentation: dict[str, Any], domain: str
) -> PresentationResult:
    checker = PresentationVerifier(service.verifier(), _challenge_store(service))
    now = datetime.now(UTC)
    refusal = None
    if _depth(presentation) > _MAX_DEPTH:
        refusal = f"JSON nested deeper than {_MAX_DEPTH} levels"
    else:
        try:
            return checker.check(presentation, domain=domain, now=now)
        except RecursionError:
            refusal = "JSON nested too deeply"
    reason = Reason(ReasonCode.MALFORMED_INPUT, refusal)
    return PresentationResult(Verdict.INVALID, (reason,), None, (), None, now)


@router.post(
    "/presentations/verify",
    tags=["verifying"],
    summary="Verify a holder's presentation (VC API): holder proof, challenge, domain, binding",
    response_model=PresentationVerificationResponse,
    responses={**_VERIFY_400, **_problems(413, 422)},
)
def verify_presentation(
    body: VerifyPresentationRequest, service: ServiceDep, lang: Lang = "es"
) -> Any:
    """Verify a VerifiablePresentation signed by its holder's did:key (`proofPurpose`
    `authentication`): the proof's `domain` must be `options.domain`, its `challenge` one issued
    by `POST /challenges` for that domain and not used before (a replay is refused), it must be
    fresh (5 minutes), and every credential must verify and name the holder as its subject.
    200 only when VALID. No auth."""
    presentation = body.verifiable_presentation
    proof = presentation.get("proof")
    if body.options.challenge is not None and (
        not isinstance(proof, dict) or proof.get("challenge") != body.options.challenge
    ):
        reason = Reason(
            ReasonCode.CHALLENGE_UNKNOWN, "the proof's challenge is not options.challenge"
        )
        result = PresentationResult(Verdict.INVALID, (reason,), None, (), None, datetime.now(UTC))
    else:
        result = _presentation_check(service, presentation, body.options.domain)
    per_credential = [_result_json(r, lang) for r in result.credentials]
    reasons = [reason.to_json(lang) for reason in result.reasons] + [
        {**reason, "detail": f"credential {i}: {reason['detail']}"}
        for i, item in enumerate(per_credential)
        for reason in item["reasons"]
    ]
    data = {
        "verified": result.is_valid,
        "verdict": result.verdict.value,
        "holder": result.holder,
        "reasons": reasons,
        "credentialResults": per_credential,
        "presentationProofChecked": True,
        "checkedAt": format_datetime(result.checked_at),
    }
    if not result.is_valid:
        return _not_verified(result.verdict, reasons, data)
    return data


# -- status lists and DID documents ---------------------------------------------------------------


_DOMAINS = {
    institution.did.removeprefix("did:web:").split(":")[0].replace("%3A", ":").lower(): code
    for code, institution in INSTITUTIONS.items()
}


def _host_institution(request: Request) -> str:
    """The institution whose did:web domain is the request's Host (with or without port)."""
    host = request.headers.get("host", "").strip().lower()
    without_port = host
    if host.startswith("["):
        without_port = host.partition("]")[0] + "]"
    elif host.count(":") == 1:
        without_port = host.partition(":")[0]
    for candidate in (host, without_port):
        if candidate in _DOMAINS:
            return _DOMAINS[candidate]
    raise ApiError(404, f"no institution is served at host {host!r}", code="UNKNOWN_HOST")


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
    **_problems(404, 422),
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
    return _status_list(service, _host_institution(request), purpose, number, timestamp)


_DID_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The did:web document: every key as a Multikey verification method",
        "content": {"application/json": {}},
    },
    **_problems(404, 422),
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
    return JSONResponse(service.did_document(_host_institution(request)))


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


# -- administration -------------------------------------------------------------------------------


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
    responses=_problems(401, 403),
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
    responses=_problems(401, 403),
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
    responses=_problems(400, 401, 403, 413, 422),
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


# -- the application ------------------------------------------------------------------------------

_TAGS = [
    {"name": "issuing", "description": "Scope `issue`."},
    {"name": "credentials", "description": "The caller's institution's credentials."},
    {"name": "verifying", "description": "Public: no API key."},
    {"name": "status lists", "description": "Public Bitstring Status Lists, signed."},
    {"name": "DID documents", "description": "Public did:web documents."},
    {"name": "administration", "description": "Scope `admin`: keys and API clients."},
]


def _version() -> str:
    try:
        return metadata.version("credencial")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"


def create_app(settings: IssuerSettings, service: IssuerService | None = None) -> FastAPI:
    """The API application over ``service`` (default: a new one from ``settings``).

    The database must already be migrated and bootstrapped (:meth:`IssuerService.bootstrap`;
    ``credencial-issuer serve`` does it).
    """
    app = _IssuerApp(
        title="credencial issuer",
        version=_version(),
        summary="Health-coverage credentials of IMSS, ISSSTE and IMSS-Bienestar "
        "(W3C VC 2.0, eddsa-rdfc-2022).",
        description=_DESCRIPTION,
        openapi_tags=_TAGS,
    )
    app.state.service = service or IssuerService(settings)
    app.include_router(router)
    from .oid4vci import router as oid4vci_router  # imports this module: included late

    app.include_router(oid4vci_router)
    from . import biometrics, consent, records, units  # routes on this module's dependencies

    app.include_router(biometrics.router)

    app.include_router(consent.router)
    app.include_router(records.router)
    app.include_router(units.router)
    _install_error_handlers(app)
    app.add_middleware(_BodyLimit, limit=MAX_BODY_BYTES)
    harden(app, settings, problem=problem_response)  # outermost: headers, CORS, auth limits
    return app
