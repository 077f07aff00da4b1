"""Unit availability: each institution's signed feed of medical units, and a holder's search.

- ``PUT /units/feed`` (scope ``units``): the caller's institution publishes its units (CLUES,
  name, location, services, current availability, updated-at). The feed is signed as a
  ``MedicalUnitFeedCredential`` (the units in ``credentialSubject.medicalUnits``) and replaces the
  previous one.
- ``GET /institutions/{code}/units/feed``: the signed feed (public; verifiable offline).
- ``POST /me/units/search?institution=...``: a holder presents their coverage credential and
  gets the units that accept their coverage and have availability, nearest first when a
  location is given. Units of *other* institutions appear only where interoperability applies:
  a consent grant, in force, recorded by the holder's own institution, lets that institution
  (or that unit) read the person's coverage for treatment. A unit whose ``updatedAt`` (or whose
  feed) is older than :data:`STALE_AFTER` is marked ``stale``: its availability is not current.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, Field
from sqlalchemy import select

import schemas
from issuer.consent.routes import access_problems
from issuer.consent.service import AccessControl
from issuer.credentials.dependencies import ServiceDep
from issuer.credentials.service import IssuerService
from issuer.http.auth import require
from issuer.http.errors import ApiError, problems
from issuer.http.params import (
    CLUES_PATTERN,
    NO_STORE,
    InstitutionCode,
    RequestBody,
    known_institution,
)
from issuer.institutions import INSTITUTIONS
from issuer.principal import Principal
from issuer.storage.database import utc
from issuer.storage.tables import UnitFeed
from verifier import CREDENTIALS_V2_URL, AccessRequest, authorize, format_datetime

__all__ = ["FEED_TYPE", "STALE_AFTER", "router"]

router = APIRouter()
UnitsCaller = Annotated[Principal, Depends(require("units"))]
#: The type of a signed unit feed.
FEED_TYPE = "MedicalUnitFeedCredential"
#: Availability older than this is shown, but marked stale.
STALE_AFTER = timedelta(minutes=30)


class Location(RequestBody):
    """WGS 84 coordinates."""

    lat: float = Field(ge=14.0, le=33.0, description="Latitude (Mexico: 14..33).")
    lon: float = Field(ge=-119.0, le=-86.0, description="Longitude (Mexico: -119..-86).")


class MedicalUnit(RequestBody):
    """One medical unit and its current availability."""

    clues: str = Field(pattern=CLUES_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    location: Location
    services: list[str] = Field(max_length=50)
    available: int = Field(ge=0, description="Places available now (0: none).")
    updated_at: AwareDatetime = Field(alias="updatedAt")


class UnitFeedRequest(RequestBody):
    """The whole list of the caller's units (it replaces the previous feed)."""

    units: list[MedicalUnit] = Field(max_length=5000)


class UnitSearchRequest(RequestBody):
    """A holder's search: their presentation, optionally a place and a service."""

    presentation: dict[str, Any]
    near: Location | None = None
    service: str | None = Field(default=None, max_length=100)
    limit: int = Field(default=20, ge=1, le=200)


def publish_feed(
    service: IssuerService, institution: str, units: list[MedicalUnit], now: datetime | None = None
) -> dict[str, Any]:
    """Sign and store ``institution``'s unit feed; return the signed feed."""
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    inst = INSTITUTIONS[institution]
    unsigned = {
        "@context": [CREDENTIALS_V2_URL, schemas.CONSENT_CONTEXT_URL],
        "type": ["VerifiableCredential", FEED_TYPE],
        "issuer": inst.did,
        "validFrom": format_datetime(moment),
        "credentialSubject": {
            "id": inst.did,
            "medicalUnits": [
                {
                    "clues": unit.clues,
                    "name": unit.name,
                    "location": {"lat": unit.location.lat, "lon": unit.location.lon},
                    "services": unit.services,
                    "available": unit.available,
                    "updatedAt": format_datetime(unit.updated_at),
                }
                for unit in units
            ],
        },
    }
    signed = service.sign_checked(institution, unsigned, moment)
    with service.db.transaction() as session:
        row = session.get(UnitFeed, institution)
        if row is None:
            session.add(UnitFeed(institution_code=institution, document=signed, updated_at=moment))
        else:
            row.document, row.updated_at = signed, moment
    return signed


def _distance_km(a: Location, lat: float, lon: float) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    p1, p2 = math.radians(a.lat), math.radians(lat)
    dp, dl = p2 - p1, math.radians(lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def search_units(
    service: IssuerService,
    curp: str,
    coverage_institution: str,
    search: UnitSearchRequest,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Units with availability that accept this person's coverage (see the module docstring)."""
    moment = now or datetime.now(UTC)
    control = AccessControl(service)
    with service.db.read() as session:
        feeds = session.scalars(select(UnitFeed)).all()
        grants = control.grants(session, coverage_institution, curp)
    found = []
    for feed in feeds:
        stale_feed = moment - utc(feed.updated_at) > STALE_AFTER
        for unit in feed.document["credentialSubject"]["medicalUnits"]:
            if unit["available"] <= 0:
                continue
            if search.service is not None and search.service not in unit["services"]:
                continue
            if feed.institution_code == coverage_institution:
                basis = "own"
            else:
                request = AccessRequest(
                    feed.institution_code, unit["clues"], curp, "coverage", "TREAT", "MX"
                )
                decision = authorize(request, grants, moment)
                if not decision.permit:
                    continue
                basis = "consent"
            updated = datetime.fromisoformat(unit["updatedAt"].replace("Z", "+00:00"))
            item = {
                "institution": feed.institution_code,
                **unit,
                "interoperability": basis,
                "stale": stale_feed or moment - updated > STALE_AFTER,
            }
            if search.near is not None:
                location = Location(**unit["location"])
                item["distanceKm"] = round(
                    _distance_km(location, search.near.lat, search.near.lon), 2
                )
            found.append(item)
    found.sort(key=lambda u: (u.get("distanceKm", 0.0), u["stale"], u["clues"]))
    return found[: search.limit]


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
    with service.db.read() as session:
        row = session.get(UnitFeed, code.upper())
        document = dict(row.document) if row is not None else None
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
    institution: Annotated[
        str, Query(description="The institution the presentation was made for (its domain).")
    ],
) -> Any:
    """Authenticated by a presentation of the holder's coverage credential."""
    code = known_institution(institution)
    with access_problems():
        _holder, curp, coverage = AccessControl(service).holder_coverage(code, body.presentation)
    units = search_units(service, curp, coverage, body)
    return JSONResponse({"coverage": coverage, "units": units}, headers=NO_STORE)
