"""Unit availability, HTTP-free: sign and store an institution's feed; search for a holder.

A feed is signed as a ``MedicalUnitFeedCredential`` (the units in
``credentialSubject.medicalUnits``) and replaces the previous one. A holder's search returns the
units that accept their coverage and have availability, nearest first when a location is given.
Units of *other* institutions appear only where interoperability applies: a consent grant, in
force, recorded by the holder's own institution, lets that institution (or that unit) read the
person's coverage for treatment. A unit whose ``updatedAt`` (or whose feed) is older than
:data:`STALE_AFTER` is marked ``stale``: its availability is not current.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

import schemas
from issuer.consent.service import AccessControl
from issuer.credentials.service import IssuerService
from issuer.institutions import INSTITUTIONS
from issuer.storage.database import utc
from issuer.storage.tables import UnitFeed
from issuer.units.models import Location, MedicalUnit, UnitSearchRequest
from verifier import CREDENTIALS_V2_URL, AccessRequest, authorize, format_datetime

__all__ = ["FEED_TYPE", "STALE_AFTER", "publish_feed", "search_units", "signed_feed"]

#: The type of a signed unit feed.
FEED_TYPE = "MedicalUnitFeedCredential"
#: Availability older than this is shown, but marked stale.
STALE_AFTER = timedelta(minutes=30)


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


def signed_feed(service: IssuerService, institution: str) -> dict[str, Any] | None:
    """``institution``'s signed feed as published, or None if it has published none."""
    with service.db.read() as session:
        row = session.get(UnitFeed, institution)
        return dict(row.document) if row is not None else None
