"""What the consent, record, unit and biometric routers share: one way to do each of these."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import BaseModel, ConfigDict

from ._institutions import INSTITUTIONS
from .access import AccessError
from .api import ApiError

__all__ = [
    "CLUES_PATTERN",
    "CURP_PATTERN",
    "NO_STORE",
    "RequestBody",
    "access_problems",
    "known_institution",
]

#: The shape of a CURP and of a CLUES unit code (the typed model checks more: check digit, date).
CURP_PATTERN = r"^[A-Z]{4}[0-9]{6}[HMX][A-Z]{5}[0-9A-Z][0-9]$"
CLUES_PATTERN = r"^[A-Z]{5}[0-9]{6}$"
#: Headers of an answer that carries personal data: never cached.
NO_STORE = {"Cache-Control": "no-store"}


class RequestBody(BaseModel):
    """A request body: unknown fields refused, fields by name or by their JSON alias."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


@contextmanager
def access_problems() -> Iterator[None]:
    """Answer an :class:`AccessError` as the problem it describes (status, detail, code)."""
    try:
        yield
    except AccessError as exc:
        raise ApiError(exc.status, exc.detail, code=exc.code) from None


def known_institution(code: str) -> str:
    """The institution code in canonical case; a 404 problem if there is no such institution."""
    upper = code.upper()
    if upper not in INSTITUTIONS:
        raise ApiError(404, f"unknown institution {code!r}", code="NOT_FOUND")
    return upper
