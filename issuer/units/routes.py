"""Routes of unit availability (the rules: :mod:`issuer.units.service`).

- ``PUT /units/feed`` (scope ``units``): the caller's institution publishes its units (CLUES,
  name, location, services, current availability, updated-at); the signed feed replaces the
  previous one.
- ``GET /institutions/{code}/units/feed``: the signed feed (public; verifiable offline).
- ``POST /me/units/search?institution=...``: a holder presents their coverage credential and
  gets the units that accept their coverage and have availability, nearest first when a
  location is given.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from issuer.consent.routes import access_problems
from issuer.consent.service import AccessControl
from issuer.credentials.dependencies import ServiceDep
from issuer.http.auth import require
from issuer.http.errors import ApiError, problems
from issuer.http.params import NO_STORE, InstitutionCode, PresentedTo, known_institution
from issuer.principal import Principal
from issuer.units.models import UnitFeedRequest, UnitSearchRequest
from issuer.units.service import publish_feed, search_units, signed_feed

__all__ = ["router"]

router = APIRouter()
UnitsCaller = Annotated[Principal, Depends(require("units"))]


@router.put(
    "/units/feed",
    tags=["units"],
    summary="Publish the caller's institution's unit-availability feed (signed)",
    responses=problems(400, 401, 403, 413, 422),
)
def put_unit_feed(body: UnitFeedRequest, principal: UnitsCaller, service: ServiceDep) -> Any:
    """Scope `units`. Returns the signed `MedicalUnitFeedCredential`."""
    return JSONResponse(publish_feed(service, principal.institution, body.units), headers=NO_STORE)


@router.get(
    "/institutions/{code}/units/feed",
    tags=["units"],
    summary="An institution's signed unit-availability feed",
    responses=problems(404, 422),
)
def get_unit_feed(code: InstitutionCode, service: ServiceDep) -> Any:
    """Public. A `MedicalUnitFeedCredential` signed by the institution."""
    document = signed_feed(service, code.upper())
    if document is None:
        raise ApiError(404, f"{code} has published no unit feed", code="NOT_FOUND")
    return JSONResponse(document, headers={"Cache-Control": "public, max-age=60"})


@router.post(
    "/me/units/search",
    tags=["units"],
    summary="Units that accept my coverage and have availability, nearest first",
    responses=problems(400, 401, 404, 413, 422),
)
def search(
    body: UnitSearchRequest,
    service: ServiceDep,
    institution: PresentedTo,
) -> Any:
    """Authenticated by a presentation of the holder's coverage credential."""
    code = known_institution(institution)
    with access_problems():
        _holder, curp, coverage = AccessControl(service).holder_coverage(code, body.presentation)
    units = search_units(service, curp, coverage, body)
    return JSONResponse({"coverage": coverage, "units": units}, headers=NO_STORE)
