"""Unit availability: signed feeds, a holder's search, interoperability by consent, staleness."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from issuer.units.models import MedicalUnit
from issuer.units.service import publish_feed
from tests.issuer.test_api import World, assert_problem, sqlite_world_at
from tests.issuer.test_consent import Holder, grant_document, granted, make_holder
from verifier import Verdict, Verifier, format_datetime

Json = dict[str, Any]
CDMX = {"lat": 19.4326, "lon": -99.1332}
GDL = {"lat": 20.6597, "lon": -103.3496}


def unit(clues: str, where: Json, available: int = 3, age: timedelta = timedelta(0)) -> Json:
    return {
        "clues": clues,
        "name": f"Unidad {clues}",
        "location": where,
        "services": ["urgencias", "medicina familiar"],
        "available": available,
        "updatedAt": format_datetime(datetime.now(UTC) - age),
    }


def publish(world: World, institution: str, units: list[Json]) -> Any:
    return world.client.put(
        "/units/feed", json={"units": units}, headers=world.headers(institution)
    )


def search(world: World, holder: Holder, **body: Any) -> Any:
    presentation = holder.present(world, "IMSS")
    return world.client.post(
        "/me/units/search",
        params={"institution": "IMSS"},
        json={"presentation": presentation, **body},
    )


@pytest.fixture
def feeds(tmp_path: Path) -> Iterator[World]:
    with sqlite_world_at(tmp_path) as world:
        assert publish(world, "IMSS", [
            unit("DFIMS000014", CDMX),
            unit("JCIMS000213", GDL),
            unit("DFIMS000099", CDMX, available=0),
            unit("DFIMS000100", CDMX, age=timedelta(hours=2)),
        ]).status_code == 200  # fmt: skip
        assert publish(world, "ISSSTE", [unit("DFIST000123", CDMX)]).status_code == 200
        assert publish(world, "IMSS-BIENESTAR", [unit("OCIMB000045", GDL)]).status_code == 200
        yield world


def test_feed_is_signed_and_verifies_offline(feeds: World) -> None:
    response = feeds.client.get("/institutions/IMSS/units/feed")
    assert response.status_code == 200, response.text
    feed = response.json()
    assert feed["type"] == ["VerifiableCredential", "MedicalUnitFeedCredential"]
    desk = Verifier(feeds.served_trust())
    assert desk.check(feed).verdict is Verdict.VALID
    forged = copy.deepcopy(feed)
    forged["credentialSubject"]["medicalUnits"][2]["available"] = 50
    assert desk.check(forged).verdict is Verdict.INVALID
    assert_problem(feeds.client.get("/institutions/IMSS-X/units/feed"), 404)


def test_only_own_units_with_availability_without_consent(feeds: World) -> None:
    holder = make_holder(feeds)
    response = search(feeds, holder)
    assert response.status_code == 200, response.text
    units = response.json()["units"]
    assert response.json()["coverage"] == "IMSS"
    assert sorted(u["clues"] for u in units) == ["DFIMS000014", "DFIMS000100", "JCIMS000213"]
    assert {u["interoperability"] for u in units} == {"own"}
    stale = {u["clues"]: u["stale"] for u in units}
    assert stale == {"DFIMS000014": False, "DFIMS000100": True, "JCIMS000213": False}


def test_other_institutions_appear_only_where_consent_applies(feeds: World) -> None:
    holder = make_holder(feeds)
    granted(
        feeds, holder, "IMSS", grant_document(classes=("coverage",), purposes=("TREAT",))
    )  # names ISSSTE
    units = search(feeds, holder).json()["units"]
    by_clues = {u["clues"]: u["interoperability"] for u in units}
    assert by_clues["DFIST000123"] == "consent"
    assert "OCIMB000045" not in by_clues  # IMSS-Bienestar: no consent
    assert by_clues["DFIMS000014"] == "own"


def test_search_near_a_place_sorts_by_distance_and_filters_services(feeds: World) -> None:
    holder = make_holder(feeds)
    units = search(feeds, holder, near=GDL).json()["units"]
    assert units[0]["clues"] == "JCIMS000213"
    assert units[0]["distanceKm"] < 1
    assert units[-1]["distanceKm"] > 400
    assert search(feeds, holder, service="oncología").json()["units"] == []


def test_a_stale_feed_marks_every_unit_stale(feeds: World) -> None:
    old = datetime.now(UTC) - timedelta(hours=3)
    publish_feed(
        feeds.service,
        "IMSS",
        [MedicalUnit.model_validate(unit("DFIMS000014", CDMX, age=timedelta(hours=3)))],
        now=old,
    )
    holder = make_holder(feeds)
    units = search(feeds, holder).json()["units"]
    assert [(u["clues"], u["stale"]) for u in units] == [("DFIMS000014", True)]


def test_search_needs_a_valid_presentation(feeds: World) -> None:
    holder = make_holder(feeds)
    presentation = holder.present(feeds, "IMSS")
    presentation["holder"] = make_holder(feeds).did
    response = feeds.client.post(
        "/me/units/search", params={"institution": "IMSS"}, json={"presentation": presentation}
    )
    assert response.status_code == 401, response.text
    bad = [unit("DFIMS000014", {"lat": 40.7, "lon": -74.0})]  # New York is not a Mexican unit
    assert publish(feeds, "IMSS", bad).status_code == 422
