"""The shapes of a unit feed and of a holder's search (request bodies: unknown fields refused)."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, Field

from issuer.http.params import CLUES_PATTERN, RequestBody

__all__ = ["Location", "MedicalUnit", "UnitFeedRequest", "UnitSearchRequest"]


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
