"""Service hardening around the issuer API: headers, CORS, authentication-failure limits, no leaks.

:func:`harden` wraps the application (after its own middleware, so these run outermost):

- **No internals in answers**: an exception no handler took is logged (with its traceback) and
  answered as a bare 500 problem (``INTERNAL_ERROR``): no stack trace, message or file path.
- **Security headers** on every answer, errors included: ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: no-referrer``, ``X-Frame-Options: DENY``, a ``Content-Security-Policy`` that
  allows nothing (the API serves no active content; the ``/docs`` pages get the few sources
  Swagger UI and ReDoc load; the phone wallet at ``/wallet/`` gets ``default-src 'self'``),
  ``Cache-Control: no-store`` unless the route chose a policy
  (public status lists do), and ``Strict-Transport-Security`` when the request came over HTTPS.
- **CORS closed by default**: without ``cors_allow_origins`` no answer carries
  ``Access-Control-Allow-Origin``, so browsers keep other sites' scripts out; with it, only the
  listed origins, without cookies (the API takes bearer keys).
- **Authentication-failure limit**: after ``auth_failure_limit`` 401 answers within
  ``auth_failure_window`` to one source address, or for one client id, further requests that
  carry credentials from that address or for that client id get 429 with ``Retry-After`` until
  the oldest failure leaves the window. Requests without credentials (verifying, status lists,
  DID documents) are never held back. The counts are kept **in memory, per process**: behind
  several workers or servers the effective limit is the per-process limit times their number, and
  a restart forgets them (an API key is 256 random bits: the limit slows guessing down and makes
  it visible, it is not what makes it infeasible).
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from issuer.settings import IssuerSettings

__all__ = [
    "API_CONTENT_SECURITY_POLICY",
    "WALLET_CONTENT_SECURITY_POLICY",
    "AuthFailureLimiter",
    "ProblemFactory",
    "harden",
]

logger = logging.getLogger(__name__)

#: The API answers JSON, images and PDFs only: nothing may run, load, be framed or submit.
API_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
#: The phone wallet (``/wallet/``): its own bundled scripts, styles, images and service worker,
#: and calls to this origin only; nothing from any other host.
WALLET_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
#: Swagger UI and ReDoc: their scripts and styles (and one inline start-up script each).
_DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; connect-src 'self'; worker-src blob:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)
_ALWAYS = (
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
)
#: One year; sent only on HTTPS (browsers ignore it over plain HTTP, RFC 6797 §8.1).
_HSTS = "max-age=31536000"
_CORS_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "Accept-Language")
_TRACKED = 10_000  # addresses and client ids remembered at most (the least recent dropped)


class ProblemFactory(Protocol):
    """Builds an RFC 9457 problem answer (``issuer.http.errors.problem_response``)."""

    def __call__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """The problem response."""
        ...


def _clock() -> float:
    return time.monotonic()


class AuthFailureLimiter:
    """Failures per key (an address or a client id) in a sliding window; bounded memory."""

    def __init__(self, limit: int, window_seconds: float, *, tracked: int = _TRACKED) -> None:
        self.limit = limit
        self.window = window_seconds
        self._tracked = tracked
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures

    def retry_after(self, keys: Iterable[str]) -> int | None:
        """Whole seconds until every key is below the limit again, or None if none is over."""
        now = _clock()
        waits = [
            failures[len(failures) - self.limit] + self.window - now
            for key in keys
            if (failures := self._recent(key, now)) is not None and len(failures) >= self.limit
        ]
        return max(1, math.ceil(max(waits))) if waits else None

    def record(self, keys: Iterable[str]) -> None:
        """One more failure for each key."""
        now = _clock()
        for key in keys:
            failures = self._recent(key, now) or deque()
            failures.append(now)
            while len(failures) > self.limit:  # only the last ``limit`` matter
                failures.popleft()
            self._failures[key] = failures
            self._failures.move_to_end(key)
        while len(self._failures) > self._tracked:
            self._failures.popitem(last=False)


def _credential_keys(scope: Scope) -> list[str]:
    """The limiter keys of a request that carries credentials (none if it carries none)."""
    authorization = Headers(scope=scope).get("authorization")
    if authorization is None:
        return []
    client = scope.get("client")
    keys = [f"address:{client[0] if client else 'unknown'}"]
    scheme, _, token = authorization.partition(" ")
    client_id = token.strip().partition(".")[0]
    if scheme.lower() == "bearer" and client_id:
        keys.append(f"client:{client_id[:64]}")
    return keys


class _AuthFailureLimit:
    """429 for requests with credentials from an address or for a client id over the limit."""

    def __init__(self, app: ASGIApp, limiter: AuthFailureLimiter, problem: ProblemFactory) -> None:
        self.app = app
        self.limiter = limiter
        self.problem = problem

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        keys = _credential_keys(scope) if scope["type"] == "http" else []
        if not keys:
            await self.app(scope, receive, send)
            return
        wait = self.limiter.retry_after(keys)
        if wait is not None:
            response = self.problem(
                429, f"too many failed authentications; retry after {wait} s",
                code="TOO_MANY_AUTH_FAILURES", headers={"Retry-After": str(wait)},
            )  # fmt: skip
            await response(scope, receive, send)
            return

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                self.limiter.record(keys)
            await send(message)

        await self.app(scope, receive, counting)


class _SecurityHeaders:
    """Security headers on every answer; an unhandled exception becomes a bare 500 problem."""

    def __init__(self, app: ASGIApp, problem: ProblemFactory, docs_paths: frozenset[str]) -> None:
        self.app = app
        self.problem = problem
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = (
            _DOCS_CONTENT_SECURITY_POLICY
            if scope["path"] in self.docs_paths
            else WALLET_CONTENT_SECURITY_POLICY
            if scope["path"] == "/wallet" or scope["path"].startswith("/wallet/")
            else API_CONTENT_SECURITY_POLICY
        )
        https = scope.get("scheme") == "https"
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in _ALWAYS:
                    headers[name] = value
                headers["content-security-policy"] = policy
                headers.setdefault("cache-control", "no-store")
                if https:
                    headers["strict-transport-security"] = _HSTS
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            if started:  # too late to answer: the server closes the connection
                raise
            logger.exception("unexpected error on %s %s", scope.get("method"), scope["path"])
            response = self.problem(
                500, "an unexpected error occurred; it has been logged", code="INTERNAL_ERROR"
            )
            await response(scope, receive, with_headers)


_TOO_MANY: dict[str, Any] = {
    "description": "Too many failed authentications from this address or for this client id "
    "(only requests that carry credentials are held back); retry after `Retry-After` seconds",
    "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def _document_limits(app: FastAPI) -> None:
    """List the 429 answer in the OpenAPI document of every operation."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                operation.get("responses", {}).setdefault("429", _TOO_MANY)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it


def harden(app: FastAPI, settings: IssuerSettings, *, problem: ProblemFactory) -> None:
    """Add the hardening middleware to ``app``; call it after every other ``add_middleware``."""
    _document_limits(app)
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_allow_origins),
            allow_methods=["GET", "POST"],
            allow_headers=list(_CORS_HEADERS),
            allow_credentials=False,
            expose_headers=["Retry-After", "Location"],
        )
    limiter = AuthFailureLimiter(
        settings.auth_failure_limit, settings.auth_failure_window.total_seconds()
    )
    app.add_middleware(_AuthFailureLimit, limiter=limiter, problem=problem)
    docs = frozenset(
        path for path in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url) if path
    )
    app.add_middleware(_SecurityHeaders, problem=problem, docs_paths=docs)
