"""Parameters and shapes the domains' routes share: one way to write each of them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path as PathParam
from fastapi import Query, Request
from pydantic import BaseModel, ConfigDict

from issuer.http.errors import ApiError
from issuer.institutions import INSTITUTIONS
from verifier import Language

__all__ = [
    "CLUES_PATTERN",
    "CURP_PATTERN",
    "NO_STORE",
    "InstitutionCode",
    "Lang",
    "ListNumber",
    "PresentedTo",
    "RequestBody",
    "host_institution",
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


def known_institution(code: str) -> str:
    """The institution code in canonical case; a 404 problem if there is no such institution."""
    upper = code.upper()
    if upper not in INSTITUTIONS:
        raise ApiError(404, f"unknown institution {code!r}", code="NOT_FOUND")
    return upper


InstitutionCode = Annotated[
    str, PathParam(pattern=r"^[A-Za-z-]{1,32}$", description="IMSS, ISSSTE or IMSS-BIENESTAR")
]
Lang = Annotated[Language, Query(description="Language of the reasons' messages.")]
#: ``?institution=``: the institution a holder presentation was made for, by its code.
PresentedTo = Annotated[
    str,
    Query(
        pattern=r"^[A-Za-z-]{1,32}$",
        description="The code (IMSS, ISSSTE or IMSS-BIENESTAR) of the institution the "
        "presentation was made for: the one whose challenge it signs.",
    ),
]
#: A status list's number in its institution's series (1, 2, ...).
ListNumber = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


_DOMAINS = {
    institution.did.removeprefix("did:web:").split(":")[0].replace("%3A", ":").lower(): code
    for code, institution in INSTITUTIONS.items()
}


#: Hosts that only this machine reaches (the ``loopback_institution`` setting maps them).
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "[::1]"})


def host_institution(request: Request) -> str:
    """The institution whose did:web domain is the request's Host (with or without port).

    A loopback Host stands for the ``loopback_institution`` setting when it is set.
    """
    host = request.headers.get("host", "").strip().lower()
    without_port = host
    if host.startswith("["):
        without_port = host.partition("]")[0] + "]"
    elif host.count(":") == 1:
        without_port = host.partition(":")[0]
    for candidate in (host, without_port):
        if candidate in _DOMAINS:
            return _DOMAINS[candidate]
    loopback = getattr(request.app.state.service.settings, "loopback_institution", None)
    if loopback in INSTITUTIONS and without_port in _LOOPBACK:
        return str(loopback)
    raise ApiError(404, f"no institution is served at host {host!r}", code="UNKNOWN_HOST")
