"""The issuer's HTTP API (FastAPI): every domain's routes in one application.

``create_app(settings, service)`` builds it; ``credencial-issuer serve`` runs it.

- **Authentication**: ``Authorization: Bearer <client_id>.<secret>`` (an API key from
  :meth:`IssuerService.create_client` or ``POST /admin/clients``). No key or a bad key: 401.
- **Authorization**: scopes ``issue``, ``status``, ``admin``; a missing scope is 403. An
  institution never reads, renders, suspends or revokes another institution's credential: 404,
  exactly as an id that does not exist. Issuing in its name: 403 (code ``OTHER_INSTITUTION``).
- **Idempotency**: ``Idempotency-Key`` on the issuing endpoints. The first request answers 201;
  a retry with the same key and body answers **200** with the same credential (nothing is
  issued twice); the same key with a different body is 409.
- **Errors**: every error is an RFC 9457 problem (``application/problem+json`` with ``type``,
  ``title``, ``status``, ``detail`` and a stable ``code``); invalid requests are 422 with one
  entry per invalid field in ``errors``; malformed JSON is 400.
"""

from __future__ import annotations

from fastapi import FastAPI

from issuer.biometrics.routes import router as biometrics_router
from issuer.consent.records import router as records_router
from issuer.consent.request_routes import router as consent_requests_router
from issuer.consent.routes import router as consent_router
from issuer.credentials import admin, publication, routes, verification
from issuer.credentials.service import IssuerService
from issuer.http.app import create_api
from issuer.oid4vci.routes import router as oid4vci_router
from issuer.settings import IssuerSettings
from issuer.units.routes import router as units_router
from issuer.wallet.routes import router as wallet_router

__all__ = ["create_app"]

_DESCRIPTION = __doc__.split("\n\n", 2)[2] if __doc__ else ""

_TAGS = [
    {"name": "issuing", "description": "Scope `issue`."},
    {"name": "credentials", "description": "The caller's institution's credentials."},
    {"name": "verifying", "description": "Public: no API key."},
    {"name": "status lists", "description": "Public Bitstring Status Lists, signed."},
    {"name": "DID documents", "description": "Public did:web documents."},
    {"name": "administration", "description": "Scope `admin`: keys and API clients."},
    {"name": "wallet", "description": "Public: the phone wallet's files at `/wallet/`."},
]


def create_app(settings: IssuerSettings, service: IssuerService | None = None) -> FastAPI:
    """The API application over ``service`` (default: a new one from ``settings``).

    The database must already be migrated and bootstrapped (:meth:`IssuerService.bootstrap`;
    ``credencial-issuer serve`` does it).
    """
    routers = [
        routes.router,
        verification.router,
        publication.router,
        admin.router,
        oid4vci_router,
        biometrics_router,
        consent_router,
        records_router,
        consent_requests_router,
        units_router,
        wallet_router,
    ]
    return create_api(
        settings,
        service or IssuerService(settings),
        routers,
        description=_DESCRIPTION,
        tags=_TAGS,
    )
