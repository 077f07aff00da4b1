"""Errors as RFC 9457 problems: one answer shape for every refusal of the API.

Every error is ``application/problem+json`` with ``type``, ``title``, ``status``, ``detail`` and a
stable ``code``; invalid requests are 422 with one entry per invalid field in ``errors``;
malformed JSON, and JSON that is not I-JSON (RFC 7493: a repeated member name, a lone
surrogate, a number beyond a double; see :func:`verifier.parse_json`), is 400; a body over
:data:`MAX_BODY_BYTES` is 413; an unexpected exception is logged and answered as a 500 that
names nothing internal. :class:`issuer.errors.ServiceError`\\ s
raised by a domain are answered with their own status.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from issuer.errors import ServiceError
from verifier import IJsonError, parse_json

__all__ = [
    "MAX_BODY_BYTES",
    "PROBLEM_MEDIA_TYPE",
    "ApiError",
    "BodyLimit",
    "FieldError",
    "IJsonBody",
    "Problem",
    "install_error_handlers",
    "problem_response",
    "problems",
]

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
#: Largest request body accepted (a credential is about 2 kB; a presentation of 16 fits).
MAX_BODY_BYTES = 256 * 1024

_REASON_EXAMPLE: dict[str, Any] = {
    "code": "SUSPENDED",
    "message": "La credencial está suspendida temporalmente.",
    "detail": "status bit 94567 of https://imss.gob.mx/credencial/status/suspension/1 is set",
    "type": "https://www.w3.org/ns/credentials/status-list#STATUS_VERIFICATION_ERROR",
}


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


def install_error_handlers(app: FastAPI) -> None:
    """Answer invalid requests, :class:`ApiError`, service errors and the rest as problems."""

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


class BodyLimit:
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


def _is_json(scope: Scope) -> bool:
    """Whether the request declares a JSON body (``application/json`` or ``application/*+json``,
    the media types FastAPI parses as JSON)."""
    declared: bytes = dict(scope["headers"]).get(b"content-type", b"")
    media = declared.partition(b";")[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


class IJsonBody:
    """Refuses a JSON request body that is not I-JSON with a 400 ``MALFORMED_JSON`` problem.

    FastAPI parses bodies with ``json.loads``, which keeps the last of two equal member names:
    this reads the whole body first (inside :class:`BodyLimit`, so it is bounded) with the
    verifier's strict :func:`~verifier.parse_json`, then hands the same bytes on. Plain syntax
    errors are left to FastAPI's own answer (400 ``MALFORMED_JSON`` too).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        try:
            while True:
                message = await receive()
                if message["type"] != "http.request":  # the client went away
                    await self.app(scope, receive, send)
                    return
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
        except HTTPException as exc:  # BodyLimit: the streamed body is too large
            code = "BODY_TOO_LARGE" if exc.status_code == 413 else None
            await problem_response(exc.status_code, str(exc.detail), code=code)(
                scope, receive, send
            )
            return
        body = b"".join(chunks)
        if body:
            try:
                parse_json(body)
            except IJsonError as exc:
                if exc.kind != "syntax":
                    response = problem_response(
                        400, f"the body is not I-JSON (RFC 7493): {exc.message}",
                        code="MALFORMED_JSON",
                    )  # fmt: skip
                    await response(scope, receive, send)
                    return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


_PROBLEM_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request (problem details)",
    401: "No API key, or not a valid one",
    403: "Missing scope, or acting in another institution's name",
    404: "No such credential, order, grant, list, institution or host (another institution's "
    "is answered the same)",
    409: "Conflict: Idempotency-Key reused with a different body, or the credential is revoked",
    413: "Request body too large",
    422: "Invalid request: one entry per invalid field in `errors`",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entries of these error statuses, each a :class:`Problem`."""
    return {code: {"model": Problem, "description": _PROBLEM_DESCRIPTIONS[code]} for code in codes}


# -- the problem body ------------------------------------------------------------------------------


class FieldError(BaseModel):
    """One invalid part of a request."""

    location: Literal["body", "query", "path", "header", "cookie"]
    pointer: str = Field(description="JSON Pointer (RFC 6901) within that part, after '#'.")
    detail: str
    code: str = Field(description="Machine-readable error type (pydantic's).")


class Problem(BaseModel):
    """RFC 9457 problem details, the body of every error response."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": _REASON_EXAMPLE["type"],
                    "title": "The credential did not verify",
                    "status": 400,
                    "detail": f"INVALID: {_REASON_EXAMPLE['message']}",
                    "code": "VERIFICATION_FAILED",
                    "verified": False,
                    "verdict": "INVALID",
                    "reasons": [_REASON_EXAMPLE],
                    "checks": ["proof", "validityPeriod", "credentialStatus"],
                    "checkedAt": "2026-02-01T10:00:00Z",
                },
                {
                    "type": "about:blank",
                    "title": "Forbidden",
                    "status": 403,
                    "detail": "IMSS cannot issue coverage of ISSSTE",
                    "code": "OTHER_INSTITUTION",
                },
                {
                    "type": "about:blank",
                    "title": "Unprocessable Content",
                    "status": 422,
                    "detail": "1 invalid field: credential.credentialSubject.curp: Value error, "
                    "not a valid CURP (structure, birth date, state code or check digit)",
                    "code": "VALIDATION_FAILED",
                    "errors": [
                        {
                            "location": "body",
                            "pointer": "#/credential/credentialSubject/curp",
                            "detail": "Value error, not a valid CURP (structure, birth date, "
                            "state code or check digit)",
                            "code": "value_error",
                        }
                    ],
                },
            ]
        },
    )

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str | None = Field(default=None, description="Stable machine-readable problem code.")
    errors: list[FieldError] | None = Field(default=None, description="Per-field errors (422).")
