"""The service's refusals, independent of HTTP: each carries the HTTP status it maps to.

Domains raise them; :mod:`issuer.http.errors` answers each as an RFC 9457 problem.
"""

from __future__ import annotations

__all__ = ["ConflictError", "IssuanceCheckError", "NotFoundError", "ServiceError"]


class ServiceError(Exception):
    """A request the service refuses; ``status`` is the HTTP status it maps to."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(ServiceError):
    """No such credential (or not one of this institution's)."""

    status = 404
    title = "Not found"


class ConflictError(ServiceError):
    """The request conflicts with what is stored (idempotency key reuse, revoked is final)."""

    status = 409
    title = "Conflict"


class IssuanceCheckError(ServiceError):
    """A credential we signed did not verify: a fault of this service, never of the request."""

    status = 500
    title = "Issued credential failed its check"
