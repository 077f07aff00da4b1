"""Least disclosure on the consent and records routes (issue 18; docs/disclosure.md).

One world holds two people and everything a third party must not learn about them: a consent
grant withdrawn at a known time, a judicial order for another institution whose notice to the
person is deferred, the people's names, CURPs and credential ids. Each *party* (anonymous
caller, a requesting institution without a grant, the grantee, the custodian, the person,
another person, the operator) calls each *route* of :data:`ROUTES` with arguments Hypothesis
draws, and no answer may carry an identifier of :func:`Secrets.forbidden_to` that party, unless
the caller sent it itself.

The table is meant to grow: a new route is one :class:`Route` in :data:`ROUTES` (how to call it
as a party, with drawn arguments; ``None`` when the party has no way to call it), and a new
secret is one entry of :class:`Secrets` with the parties allowed to see it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from issuer.consent.service import AccessControl
from issuer.storage.tables import GrantRecord
from tests.issuer.test_api import World, sqlite_world_at, subject
from tests.issuer.test_consent import (
    Holder,
    ask,
    grant_document,
    granted,
    make_holder,
    order_body,
    store_records,
    withdraw,
)
from verifier import format_datetime

#: The parties of docs/disclosure.md that can call the consent and records routes.
#: (Hypothesis starts from the first of each choice: the likeliest leaks come first.)
PARTIES = (
    "requester without grant",
    "anonymous",
    "grantee",
    "custodian",
    "the person",
    "another person",
    "operator",
)
CUSTODIAN, GRANTEE, THIRD = "IMSS", "ISSSTE", "IMSS-BIENESTAR"
PERSON_CURP = subject()["curp"]
OTHER_CURP = "LOPJ900101HJCPRN08"
#: ``data.draw`` of Hypothesis: a strategy (and a label) in, a value out.
Draw = Callable[..., Any]
#: A distinctive past moment: the person's withdrawal, as stored.
WITHDRAWN_AT = datetime(2026, 3, 14, 1, 59, 26, tzinfo=UTC)


@dataclass
class Secrets:
    """Identifiers of other parties' events, and who may see each (beyond whoever sent it)."""

    allowed: dict[str, frozenset[str]] = field(default_factory=dict)

    def add(self, value: str, *parties: str) -> None:
        self.allowed[value] = frozenset(parties)

    def forbidden_to(self, party: str) -> list[str]:
        return [value for value, parties in self.allowed.items() if party not in parties]


@dataclass
class Scene:
    """The world and who is who in it."""

    world: World
    person: Holder
    other: Holder
    keys: dict[str, str]
    secrets: Secrets
    grant_ids: list[str]
    order_ids: list[str]

    def bearer(self, party: str) -> dict[str, str]:
        key = self.keys.get(party)
        return {"Authorization": f"Bearer {key}"} if key else {}

    def holder(self, party: str) -> Holder | None:
        return {"the person": self.person, "another person": self.other}.get(party)


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    def sent(self) -> str:
        """Everything the caller put in the request (it may be echoed back)."""
        return json.dumps([self.path, self.json, self.headers, self.params])


@dataclass(frozen=True)
class Route:
    """A route of the table: ``call(scene, party, draw)`` builds a request, or None."""

    name: str
    call: Callable[[Scene, str, Draw], Call | None]


def _curp(scene: Scene, draw: Draw) -> str:
    return str(draw(st.sampled_from([PERSON_CURP, OTHER_CURP, "BADD110313HCMLNS09"]), label="curp"))


def _records_request(scene: Scene, party: str, draw: Draw) -> Call | None:
    if party in {"the person", "another person"}:
        return None
    classes = draw(
        st.lists(st.sampled_from(["coverage", "ece.summary", "ece.full"]), min_size=1, max_size=3),
        label="classes",
    )
    body = {
        "custodian": draw(st.sampled_from([CUSTODIAN, GRANTEE, THIRD]), label="custodian"),
        "subject": _curp(scene, draw),
        "dataClasses": classes,
        "purpose": draw(st.sampled_from(["TREAT", "HLEGAL", "HMARKT", "HRESCH", "ETREAT"])),
        "recipientCountry": draw(st.sampled_from(["MX", "US"]), label="country"),
    }
    if draw(st.booleans(), label="period"):
        body["dataFrom"] = "2024-01-01"
    return Call("POST", "/records/requests", body, scene.bearer(party))


def _store_record(scene: Scene, party: str, draw: Draw) -> Call | None:
    if party in {"the person", "another person"}:
        return None
    body = {
        "subject": _curp(scene, draw),
        "dataClass": "ece.summary",
        "effectiveDate": "2024-02-02",
        "resource": {"resourceType": "Observation", "id": "obs"},
    }
    return Call("POST", "/records", body, scene.bearer(party))


def _presentation_header(scene: Scene, party: str, institution: str) -> dict[str, str]:
    holder = scene.holder(party)
    if holder is None:
        return {}
    presentation = holder.present(scene.world, institution)
    token = base64.urlsafe_b64encode(json.dumps(presentation).encode()).decode().rstrip("=")
    return {"Authorization": f"Presentation {token}"}


def _access_log(scene: Scene, party: str, draw: Draw) -> Call | None:
    institution = draw(st.sampled_from([CUSTODIAN, GRANTEE]), label="institution")
    headers = _presentation_header(scene, party, institution) or scene.bearer(party)
    return Call("GET", "/me/access-log", None, headers, {"institution": institution})


def _withdrawal(scene: Scene, party: str, draw: Draw) -> Call | None:
    grant_id = draw(
        st.sampled_from([*scene.grant_ids, "urn:uuid:00000000-0000-4000-8000-000000000000"])
    )
    holder = scene.holder(party)
    if holder is None:
        return Call("POST", f"/institutions/{CUSTODIAN}/consent/grants/{grant_id}/withdrawal", {
            "presentation": {}}, scene.bearer(party))  # fmt: skip
    statement = {"action": "consent.withdraw", "grantId": grant_id}
    presentation = holder.present(scene.world, CUSTODIAN, statement, with_credential=False)
    return Call(
        "POST",
        f"/institutions/{CUSTODIAN}/consent/grants/{grant_id}/withdrawal",
        {"presentation": presentation},
    )


def _order_action(scene: Scene, party: str, draw: Draw) -> Call | None:
    grant_id = draw(st.sampled_from([*scene.order_ids, *scene.grant_ids]), label="order")
    action = draw(st.sampled_from(["approvals", "revocation"]), label="action")
    return Call("POST", f"/judicial-orders/{grant_id}/{action}", None, scene.bearer(party))


def _receipt_list(scene: Scene, party: str, draw: Draw) -> Call | None:
    code = draw(st.sampled_from([CUSTODIAN, GRANTEE, THIRD]), label="institution")
    return Call("GET", f"/institutions/{code}/consent-status/1", None, scene.bearer(party))


def _challenge(scene: Scene, party: str, draw: Draw) -> Call | None:
    code = draw(st.sampled_from([CUSTODIAN, GRANTEE]), label="institution")
    return Call("POST", f"/institutions/{code}/consent/challenges", None, scene.bearer(party))


#: Routes × parties: every consent and records route (the coordinator adds the rest here).
ROUTES: list[Route] = [
    Route("POST /records/requests", _records_request),
    Route("POST /records", _store_record),
    Route("GET /me/access-log", _access_log),
    Route("POST /institutions/{code}/consent/grants/{grant_id}/withdrawal", _withdrawal),
    Route("POST /judicial-orders/{grant_id}/approvals|revocation", _order_action),
    Route("GET /institutions/{code}/consent-status/{number}", _receipt_list),
    Route("POST /institutions/{code}/consent/challenges", _challenge),
]


def _build_scene(world: World) -> Scene:
    person = make_holder(world)
    other = make_holder(world, "ISSSTE", person={**subject("ISSSTE"), "curp": OTHER_CURP,
                                                  "givenName": "ZENAIDA"})  # fmt: skip
    store_records(world)
    store_records(world, curp=OTHER_CURP)
    # The person's consent to the grantee, withdrawn (at a moment set in the store below).
    withdrawn = granted(world, person, CUSTODIAN, grant_document())["grantId"]
    assert withdraw(world, person, CUSTODIAN, withdrawn).status_code == 200
    with world.service.db.transaction() as session:
        session.execute(
            update(GrantRecord).where(GrantRecord.id == withdrawn).values(ended_at=WITHDRAWN_AT)
        )
    # A live consent of the other person, to the grantee.
    others = granted(world, other, CUSTODIAN, grant_document(curp=OTHER_CURP))["grantId"]
    # A judicial order at the custodian for the grantee, approved, its notice to the person
    # deferred: nobody but the custodian and the grantee may learn of it yet.
    legal = world.service.create_client(CUSTODIAN, "legal", ["legal"])
    dpo = world.service.create_client(CUSTODIAN, "dpo", ["dpo"])
    deferred = (datetime.now(UTC) + timedelta(days=90)).date().isoformat()
    body = order_body(notifySubjectAfter=deferred, caseReference="SECRETO-777/2026")
    response = world.client.post(
        "/judicial-orders", json=body, headers={"Authorization": f"Bearer {legal}"}
    )
    assert response.status_code == 201, response.text
    order = response.json()["grantId"]
    approved = world.client.post(
        f"/judicial-orders/{order}/approvals", headers={"Authorization": f"Bearer {dpo}"}
    )
    assert approved.status_code == 200, approved.text
    # The grantee uses the order once: an audited access the person must not see yet.
    assert ask(world, classes=("ece.full",), purpose="HLEGAL").status_code == 200

    keys = {
        "requester without grant": world.keys[THIRD],
        "grantee": world.keys[GRANTEE],
        "custodian": world.keys[CUSTODIAN],
        "operator": world.keys[f"{CUSTODIAN}:admin"],
    }
    secrets = Secrets()
    secrets.add(withdrawn, "the person", "custodian", "grantee")
    for form in (format_datetime(WITHDRAWN_AT), WITHDRAWN_AT.isoformat()):
        secrets.add(form, "the person", "custodian", "grantee")
    secrets.add(others, "another person", "custodian", "grantee")
    secrets.add(order, "custodian", "grantee")
    secrets.add("SECRETO-777/2026", "custodian", "grantee")
    secrets.add(person.credential["id"], "the person", "custodian")
    secrets.add(other.credential["id"], "another person", GRANTEE)
    secrets.add(person.did, "the person", "custodian")
    secrets.add(other.did, "another person", "grantee")
    secrets.add(person.credential["credentialSubject"]["givenName"], "the person", "custodian")
    secrets.add("ZENAIDA", "another person", "grantee")
    secrets.add(PERSON_CURP, "the person", "custodian", "grantee")
    secrets.add(OTHER_CURP, "another person", "custodian", "grantee")
    return Scene(world, person, other, keys, secrets, [withdrawn, others], [order])


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    directory: Path = tmp_path_factory.mktemp("disclosure")
    with sqlite_world_at(directory) as world:
        yield _build_scene(world)


def _send(scene: Scene, call: Call) -> Any:
    return scene.world.client.request(
        call.method, call.path, json=call.json, headers=call.headers, params=call.params
    )


def assert_discloses_nothing_else(scene: Scene, party: str, call: Call, response: Any) -> None:
    text = response.text
    sent = call.sent()
    leaked = [s for s in scene.secrets.forbidden_to(party) if s in text and s not in sent]
    assert not leaked, f"{party} learned {leaked} from {call.method} {call.path}: {text[:800]}"


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_party_learns_another_partys_identifiers(scene: Scene, data: st.DataObject) -> None:
    route = data.draw(st.sampled_from(ROUTES), label="route")
    party = data.draw(st.sampled_from(PARTIES), label="party")
    call = route.call(scene, party, data.draw)
    if call is None:
        return
    response = _send(scene, call)
    assert response.status_code < 500, response.text
    assert_discloses_nothing_else(scene, party, call, response)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
@pytest.mark.parametrize("party", PARTIES)
def test_every_route_as_every_party(scene: Scene, route: Route, party: str) -> None:
    """The whole table once, with the first drawn arguments (the property test varies them)."""

    @settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def once(data: st.DataObject) -> None:
        call = route.call(scene, party, data.draw)
        if call is not None:
            response = _send(scene, call)
            assert response.status_code < 500, response.text
            assert_discloses_nothing_else(scene, party, call, response)

    once()


def test_a_third_institution_is_told_only_that_access_is_denied(scene: Scene) -> None:
    """The finding: the 403 named the withdrawn grant, its withdrawal time and the order."""
    response = ask(scene.world, requester=THIRD, classes=("ece.full", "ece.summary"),
                   purpose="HLEGAL")  # fmt: skip
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "ACCESS_DENIED"
    assert [r["code"] for d in body["decisions"] for r in d["reasons"]] == ["NO_GRANT"] * 2
    for secret in scene.secrets.forbidden_to("requester without grant"):
        assert secret not in response.text
    # The person, reading their log, sees the refusal with its full reasons.
    log = AccessControl(scene.world.service).access_log(PERSON_CURP)
    refused = [e for e in log["refused"] if e["requester"] == THIRD]
    assert refused
    assert {"GRANT_WITHDRAWN"} <= {code for e in refused for code in e["reasons"]}


def test_the_grantee_is_told_the_state_of_its_own_grant(scene: Scene) -> None:
    """Denials tell a requester the state of its own grants: the withdrawn consent names it."""
    response = ask(scene.world, requester=GRANTEE, classes=("ece.summary",), purpose="TREAT")
    assert response.status_code == 403
    reasons = [r for d in response.json()["decisions"] for r in d["reasons"]]
    assert "GRANT_WITHDRAWN" in {r["code"] for r in reasons}


# -- the published schema of these routes (issue 18, finding 7) ------------------------------------

CONSENT_ROUTES = {
    ("post", "/institutions/{code}/consent/challenges"): "ConsentChallenge",
    ("post", "/institutions/{code}/consent/grants"): "ConsentRecorded",
    ("post", "/institutions/{code}/consent/grants/{grant_id}/withdrawal"): "ConsentWithdrawn",
    ("get", "/me/access-log"): "AccessLog",
    ("post", "/judicial-orders"): "JudicialOrderCreated",
    ("post", "/judicial-orders/{grant_id}/approvals"): "JudicialOrderApproval",
    ("post", "/judicial-orders/{grant_id}/revocation"): "JudicialOrderRevoked",
    ("post", "/records"): "RecordStored",
    ("post", "/records/requests"): "RecordsAnswer",
}


def test_consent_records_and_order_routes_have_response_schemas(scene: Scene) -> None:
    spec = scene.world.client.get("/openapi.json").json()
    for (method, path), model in CONSENT_ROUTES.items():
        responses = spec["paths"][path][method]["responses"]
        (success,) = [code for code in responses if code.startswith("2")]
        schema = responses[success]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{model}"}, (path, schema)
    denied = spec["paths"]["/records/requests"]["post"]["responses"]["403"]
    schema = denied["content"]["application/problem+json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/RecordsDenied"}
    for method, path in (("get", "/me/access-log"), ("post", "/me/units/search")):
        parameters = {p["name"]: p for p in spec["paths"][path][method]["parameters"]}
        description = parameters["institution"]["description"]  # a code, not a domain
        assert "IMSS, ISSSTE or IMSS-BIENESTAR" in description
        assert "domain" not in description


def test_real_answers_match_their_schemas(scene: Scene) -> None:
    """Each documented model validates what the route really answers."""
    from issuer.consent import models

    world = scene.world

    def check(model: type[Any], response: Any, status: int = 200) -> None:
        assert response.status_code == status, response.text
        model.model_validate(response.json())

    check(
        models.ConsentChallenge, world.client.post(f"/institutions/{CUSTODIAN}/consent/challenges")
    )
    fresh = granted(world, scene.person, GRANTEE, grant_document(grantees=[{"institution": THIRD}]))
    models.ConsentRecorded.model_validate(fresh)
    check(models.ConsentWithdrawn, withdraw(world, scene.person, GRANTEE, fresh["grantId"]))
    headers = _presentation_header(scene, "the person", CUSTODIAN)
    check(models.AccessLog, world.client.get("/me/access-log", params={"institution": CUSTODIAN},
                                             headers=headers))  # fmt: skip
    check(models.RecordsAnswer, ask(world, classes=("ece.full",), purpose="HLEGAL"))
    check(models.RecordsDenied, ask(world, requester=THIRD), 403)
    stored = world.client.post("/records", json={
        "subject": PERSON_CURP, "dataClass": "coverage", "effectiveDate": "2024-01-01",
        "resource": {"resourceType": "Coverage"}}, headers=scene.bearer("custodian"))  # fmt: skip
    check(models.RecordStored, stored, 201)
    legal = {"Authorization": f"Bearer {world.service.create_client(THIRD, 'l', ['legal'])}"}
    dpo = {"Authorization": f"Bearer {world.service.create_client(THIRD, 'd', ['dpo'])}"}
    created = world.client.post("/judicial-orders", json=order_body(), headers=legal)
    check(models.JudicialOrderCreated, created, 201)
    order = created.json()["grantId"]
    check(models.JudicialOrderApproval, world.client.post(f"/judicial-orders/{order}/approvals",
                                                          headers=dpo))  # fmt: skip
    check(models.JudicialOrderRevoked, world.client.post(f"/judicial-orders/{order}/revocation",
                                                         headers=dpo))  # fmt: skip


def test_the_disclosure_matrix_covers_every_route(scene: Scene) -> None:
    """docs/disclosure.md lists every route of the OpenAPI (a new route must join it)."""
    text = (Path(__file__).parents[2] / "docs" / "disclosure.md").read_text(encoding="utf-8")
    spec = scene.world.client.get("/openapi.json").json()
    missing = [
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method in item
        if f"`{method.upper()} {path}`" not in text
    ]
    assert missing == []
