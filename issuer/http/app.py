"""The application shell every domain's router is mounted on: problems, limits, hardening.

:func:`create_api` builds the FastAPI application over a service and a list of routers; the
composition root that lists the routers is :mod:`issuer.app`. This package imports no domain.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata
from typing import Any

from fastapi import APIRouter, FastAPI

from issuer.http.auth import Authenticator
from issuer.http.errors import (
    MAX_BODY_BYTES,
    PROBLEM_MEDIA_TYPE,
    BodyLimit,
    IJsonBody,
    install_error_handlers,
    problem_response,
)
from issuer.http.hardening import harden
from issuer.settings import IssuerSettings

__all__ = ["create_api"]


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


def _version() -> str:
    try:
        return metadata.version("credencial")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"


def create_api(
    settings: IssuerSettings,
    service: Authenticator,
    routers: Iterable[APIRouter],
    *,
    description: str,
    tags: list[dict[str, Any]],
) -> FastAPI:
    """The application: ``routers`` in order over ``service`` (``app.state.service``).

    Errors are answered as problems, bodies over :data:`MAX_BODY_BYTES` are refused, and the
    hardening of :func:`issuer.http.hardening.harden` wraps everything (outermost).
    """
    app = _IssuerApp(
        title="credencial issuer",
        version=_version(),
        summary="Health-coverage credentials of IMSS, ISSSTE and IMSS-Bienestar "
        "(W3C VC 2.0, eddsa-rdfc-2022).",
        description=description,
        openapi_tags=tags,
    )
    app.state.service = service
    for router in routers:
        app.include_router(router)
    install_error_handlers(app)
    app.add_middleware(IJsonBody)  # inside BodyLimit: reads bodies already bounded
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    harden(app, settings, problem=problem_response)  # outermost: headers, CORS, auth limits
    return app
