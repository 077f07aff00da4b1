"""Authentication and authorization of API clients: the FastAPI dependencies every domain uses.

``Authorization: Bearer <client_id>.<secret>`` (an API key from ``POST /admin/clients`` or
``credencial-issuer clients create``): no key or a bad key is 401. Each endpoint names the scopes
it needs (:func:`require`); a caller without one of them is 403. The key is checked by the
service the application holds (``app.state.service``, anything with ``authenticate``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Protocol

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from issuer.http.errors import ApiError
from issuer.principal import Principal

__all__ = [
    "AdminCaller",
    "Authenticator",
    "IssueCaller",
    "ReaderCaller",
    "StatusCaller",
    "authenticated",
    "require",
]

#: What an API key can look like (``client_id.secret``, URL-safe characters); else 401 at once.
_API_KEY = re.compile(r"[A-Za-z0-9_.~+/=-]{3,256}")


class Authenticator(Protocol):
    """What authentication needs of the service: the principal of an API key, if it is one."""

    def authenticate(self, api_key: str) -> Principal | None:
        """The caller of ``api_key``, or None if it is not a valid key."""
        ...


def _authenticator(request: Request) -> Authenticator:
    service: Authenticator = request.app.state.service
    return service


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    bearerFormat="client_id.secret",
    description="An institution's API key: `Authorization: Bearer <client_id>.<secret>`.",
)


def authenticated(
    service: Annotated[Authenticator, Depends(_authenticator)],
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


def require(*scopes: str) -> Callable[..., Principal]:
    """A dependency: the caller, who must hold one of ``scopes`` (else 403)."""
    challenge = f'Bearer error="insufficient_scope", scope="{" ".join(sorted(scopes))}"'

    def dependency(
        principal: Annotated[Principal, Depends(authenticated)], response: Response
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


IssueCaller = Annotated[Principal, Depends(require("issue"))]
StatusCaller = Annotated[Principal, Depends(require("status"))]
ReaderCaller = Annotated[Principal, Depends(require("issue", "status"))]
AdminCaller = Annotated[Principal, Depends(require("admin"))]
