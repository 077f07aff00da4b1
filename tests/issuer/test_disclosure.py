"""Least disclosure on the consent and records routes (issue 18; docs/disclosure.md).

One world holds two people and everything a third party must not learn about them: a consent
grant withdrawn at a known time, a judicial order for another institution whose notice to the
person is deferred, the people's names, CURPs, credential ids and a record of each, and consent
requests (issue 16): three by the grantee to the person (one pending, one approved narrowed to
a distinctive scope, one denied) and one by a third institution to the other person. Each
*party* (anonymous caller, a requesting institution without a grant, the grantee, the
custodian, the person, another person, the operator) calls each *route* of :data:`ROUTES` with
arguments Hypothesis draws, and no answer may carry an identifier of :func:`Secrets.forbidden_to`
that party, unless the caller sent it itself. The table may change the world as it goes (a
person approves or denies a pending request, a custodian revokes the order): the tests after
it do not count on those states.

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
from tests.issuer.test_api import World, assert_problem, sqlite_world_at, subject
from tests.issuer.test_consent import (
    Holder,
    ask,
    grant_document,
    granted,
    issue_to,
    make_holder,
    order_body,
    store_records,
    withdraw,
)
from tests.issuer.test_consent_requests import (
    REQUESTER_VIEW_KEYS,
    approval,
    approve,
    deny,
    file_request,
    filed,
    grant_for,
    state,
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
#: A well-formed consent request id that names no request.
UNKNOWN_REQUEST = "CR-AAAAAAAAAAAAAAAA"
#: Record ids of one person each (the stored records of both people otherwise share their ids).
PERSON_RECORD, OTHER_RECORD = "enc-hegm-4411", "enc-zenaida-7731"


def _moment(days: int, hour: int, minute: int, second: int) -> str:
    """A distinctive future instant (``days`` from today at that time), as the API writes it."""
    day = datetime.now(UTC) + timedelta(days=days)
    return format_datetime(day.replace(hour=hour, minute=minute, second=second, microsecond=0))


#: The approved request: the end of access asked, and the narrower end the person approved.
ASKED_UNTIL, APPROVED_UNTIL = _moment(40, 3, 17, 29), _moment(20, 4, 44, 44)


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
    #: The scene's consent requests as filed (the requester's view), by id.
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)

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
    params: dict[str, Any] = field(default_factory=dict)

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


def _request_id(scene: Scene, draw: Draw) -> str:
    return str(draw(st.sampled_from([*scene.requests, UNKNOWN_REQUEST]), label="request"))


def _person_institution(draw: Draw) -> str:
    return str(draw(st.sampled_from([CUSTODIAN, GRANTEE, THIRD]), label="institution"))


def _file_consent_request(scene: Scene, party: str, draw: Draw) -> Call | None:
    if party in {"the person", "another person"}:
        return None
    days = draw(st.sampled_from([30, -1]), label="accessUntil")
    body: dict[str, Any] = {
        "subject": _curp(scene, draw),
        "custodian": draw(st.sampled_from([CUSTODIAN, GRANTEE, THIRD]), label="custodian"),
        "purpose": draw(st.sampled_from(["TREAT", "HRESCH", "HMARKT", "NOPE"]), label="purpose"),
        "dataClasses": draw(
            st.lists(
                st.sampled_from(["coverage", "ece.summary", "ece.full", "genome"]),
                min_size=1,
                max_size=3,
            ),
            label="classes",
        ),
        "accessUntil": format_datetime(
            datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
        ),
    }
    if draw(st.booleans(), label="unit"):
        body["requesterUnit"] = "DFSSA003961"
    params = {"render": "png"} if draw(st.booleans(), label="render") else {}
    return Call("POST", "/consent-requests", body, scene.bearer(party), params)


def _read_consent_request(scene: Scene, party: str, draw: Draw) -> Call | None:
    request_id = _request_id(scene, draw)
    return Call("GET", f"/consent-requests/{request_id}", None, scene.bearer(party))


def _person_headers(scene: Scene, party: str, institution: str) -> dict[str, str]:
    """A person presents; anyone else tries its API key (which is not a presentation)."""
    return _presentation_header(scene, party, institution) or scene.bearer(party)


def _my_requests(scene: Scene, party: str, draw: Draw) -> Call | None:
    institution = _person_institution(draw)
    params = {"institution": institution}
    wanted = draw(st.sampled_from([None, "pending", "approved", "denied"]), label="state")
    if wanted is not None:
        params["state"] = wanted
    return Call("GET", "/me/consent-requests", None, _person_headers(scene, party, institution),
                params)  # fmt: skip


def _my_request(scene: Scene, party: str, draw: Draw) -> Call | None:
    institution = _person_institution(draw)
    request_id = _request_id(scene, draw)
    headers = _person_headers(scene, party, institution)
    path = f"/me/consent-requests/{request_id}"
    return Call("GET", path, None, headers, {"institution": institution})


def _answer_grant(scene: Scene, holder: Holder, request_id: str, draw: Draw) -> dict[str, Any]:
    """The grant a wallet builds for a scene request (the first one for an unknown id): as
    asked, narrowed or wider, always about the presenting holder."""
    asked = scene.requests.get(request_id) or next(iter(scene.requests.values()))
    grant = {**grant_for(asked), "curp": holder.credential["credentialSubject"]["curp"]}
    shape = draw(st.sampled_from(["as asked", "narrowed", "wider"]), label="grant")
    if shape == "narrowed":
        grant["dataClasses"] = asked["dataClasses"][:1]
    elif shape == "wider":
        grant["dataClasses"] = sorted({*asked["dataClasses"], "ece.full", "coverage"})
        grant["validUntil"] = _moment(400, 1, 2, 3)
    return grant


def _approval(scene: Scene, party: str, draw: Draw) -> Call | None:
    institution = draw(st.sampled_from([CUSTODIAN, GRANTEE]), label="institution")
    request_id = _request_id(scene, draw)
    path, params = f"/me/consent-requests/{request_id}/approval", {"institution": institution}
    holder = scene.holder(party)
    if holder is None:
        return Call("POST", path, {"grant": {}, "presentation": {}}, scene.bearer(party), params)
    grant = _answer_grant(scene, holder, request_id, draw)
    signed_for = draw(st.sampled_from([request_id, *scene.requests]), label="signed for")
    statement = {"action": "consent.grant", "institution": institution, "grant": grant,
                 "request": signed_for}  # fmt: skip
    body = {"grant": grant, "presentation": holder.present(scene.world, institution, statement)}
    return Call("POST", path, body, {}, params)


def _denial(scene: Scene, party: str, draw: Draw) -> Call | None:
    institution = draw(st.sampled_from([CUSTODIAN, GRANTEE]), label="institution")
    request_id = _request_id(scene, draw)
    path, params = f"/me/consent-requests/{request_id}/denial", {"institution": institution}
    holder = scene.holder(party)
    if holder is None:
        return Call("POST", path, {"presentation": {}}, scene.bearer(party), params)
    signed_for = draw(st.sampled_from([request_id, *scene.requests]), label="signed for")
    statement = {"action": "consent.deny", "institution": institution, "request": signed_for}
    body = {"presentation": holder.present(scene.world, institution, statement)}
    return Call("POST", path, body, {}, params)


def _my_grants(scene: Scene, party: str, draw: Draw) -> Call | None:
    institution = _person_institution(draw)
    return Call("GET", "/me/consent-grants", None, _person_headers(scene, party, institution),
                {"institution": institution})  # fmt: skip


def _my_record(scene: Scene, party: str, draw: Draw) -> Call | None:
    institution = _person_institution(draw)
    classes = draw(
        st.lists(st.sampled_from(["coverage", "ece.summary", "ece.full"]), max_size=2),
        label="classes",
    )
    params: dict[str, Any] = {"institution": institution}
    if classes:
        params["dataClass"] = classes
    return Call("GET", "/me/record", None, _person_headers(scene, party, institution), params)


#: Routes × parties: every consent and records route (the coordinator adds the rest here).
ROUTES: list[Route] = [
    Route("POST /records/requests", _records_request),
    Route("POST /records", _store_record),
    Route("GET /me/access-log", _access_log),
    Route("POST /institutions/{code}/consent/grants/{grant_id}/withdrawal", _withdrawal),
    Route("POST /judicial-orders/{grant_id}/approvals|revocation", _order_action),
    Route("GET /institutions/{code}/consent-status/{number}", _receipt_list),
    Route("POST /institutions/{code}/consent/challenges", _challenge),
    Route("POST /consent-requests", _file_consent_request),
    Route("GET /consent-requests/{request_id}", _read_consent_request),
    Route("GET /me/consent-requests", _my_requests),
    Route("GET /me/consent-requests/{request_id}", _my_request),
    Route("POST /me/consent-requests/{request_id}/approval", _approval),
    Route("POST /me/consent-requests/{request_id}/denial", _denial),
    Route("GET /me/consent-grants", _my_grants),
    Route("GET /me/record", _my_record),
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
    # One more record of each person, with an id of their own (the order lets the grantee read
    # the person's; the other person's full record is the custodian's and theirs only).
    for curp, record in ((PERSON_CURP, PERSON_RECORD), (OTHER_CURP, OTHER_RECORD)):
        stored = world.client.post("/records", json={
            "subject": curp, "dataClass": "ece.full", "effectiveDate": "2024-06-06",
            "resource": {"resourceType": "Encounter", "id": record}},
            headers=world.headers(CUSTODIAN))  # fmt: skip
        assert stored.status_code == 201, stored.text
    # The custodian covers the other person too: a request about them can be filed there.
    other_here = issue_to(world, CUSTODIAN, {**subject(), "curp": OTHER_CURP,
                                             "givenName": "ZENAIDA", "id": other.did})  # fmt: skip
    # Consent requests (issue 16). The grantee asks the person three times: one left pending,
    # one approved narrowed (coverage only, until APPROVED_UNTIL), one denied.
    pending = filed(world, purpose="COC", dataClasses=["ece.full"])
    answered = filed(world, purpose="HPAYMT", dataClasses=["coverage", "ece.summary"],
                     accessUntil=ASKED_UNTIL)  # fmt: skip
    narrowed = grant_for(answered, dataClasses=["coverage"], validUntil=APPROVED_UNTIL)
    approved = approve(world, answered["id"], approval(world, person, answered["id"], narrowed))
    assert approved.status_code == 201, approved.text
    refused = filed(world, purpose="TREAT", dataClasses=["ece.summary"])
    assert deny(world, person, refused["id"]).status_code == 200
    # A third institution asks the other person (their business, not the person's nor the
    # grantee's).
    theirs = filed(world, requester=THIRD, subject=OTHER_CURP, purpose="TREAT",
                   dataClasses=["coverage"])  # fmt: skip

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
    secrets.add(other.credential["id"], "another person", "grantee")
    secrets.add(other_here["id"], "another person", "custodian")
    secrets.add(person.did, "the person", "custodian")
    secrets.add(other.did, "another person", "grantee")
    secrets.add(person.credential["credentialSubject"]["givenName"], "the person", "custodian")
    secrets.add("ZENAIDA", "another person", "grantee", "custodian")
    secrets.add(PERSON_CURP, "the person", "custodian", "grantee")
    # The third institution filed a request about the other person: it knows their CURP.
    secrets.add(OTHER_CURP, "another person", "custodian", "grantee", "requester without grant")
    secrets.add(PERSON_RECORD, "the person", "custodian", "grantee")
    secrets.add(OTHER_RECORD, "another person", "custodian")
    # The grantee's requests to the person: for the grantee, the person and the custodian only.
    for request in (pending, answered, refused):
        secrets.add(request["id"], "the person", "custodian", "grantee")
    for answer in (approved.json()["grantId"], ASKED_UNTIL, APPROVED_UNTIL):
        secrets.add(answer, "the person", "custodian", "grantee")
    secrets.add(theirs["id"], "requester without grant", "another person", "custodian")
    requests = {r["id"]: r for r in (pending, answered, refused, theirs)}
    return Scene(world, person, other, keys, secrets, [withdrawn, others], [order], requests)


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
    max_examples=250,
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


# -- consent requests (issue 16) ------------------------------------------------------------------


def _request(scene: Scene, requester: str, until: str | None = None) -> str:
    """The id of the scene's request by ``requester`` (the one asking access until ``until``)."""
    (found,) = [
        str(r["id"])
        for r in scene.requests.values()
        if r["requester"] == requester and until in {None, r["accessUntil"]}
    ]
    return found


def _grantees_requests(scene: Scene) -> list[str]:
    return [r["id"] for r in scene.requests.values() if r["requester"] == GRANTEE]


def _as_if_unknown(response: Any, request_id: str, unknown: Any) -> None:
    """The refusal about ``request_id`` reads exactly like the one about an id naming nothing."""
    assert_problem(response, 404, "REQUEST_NOT_FOUND")
    assert response.text.replace(request_id, UNKNOWN_REQUEST) == unknown.text


def test_a_requester_reads_the_state_of_its_own_request_and_nothing_else(scene: Scene) -> None:
    world = scene.world
    answered = _request(scene, GRANTEE, ASKED_UNTIL)
    response = state(world, answered)
    assert response.status_code == 200, response.text
    seen = response.json()
    assert set(seen) == REQUESTER_VIEW_KEYS  # what it filed, the state and the answer
    assert (seen["state"], seen["subject"]) == ("approved", PERSON_CURP)
    assert seen["approved"]["dataClasses"] == ["coverage"]  # the scope approved, not asked
    assert seen["approved"]["accessUntil"] == APPROVED_UNTIL
    credential = scene.person.credential
    for about_the_person in (scene.person.did, credential["id"],
                             credential["credentialSubject"]["givenName"]):  # fmt: skip
        assert about_the_person not in response.text
    # Anyone else's request reads like one that does not exist: the third institution's to the
    # grantee; the grantee's to the third institution and to the custodian that holds it.
    theirs = _request(scene, THIRD)
    _as_if_unknown(state(world, theirs), theirs, state(world, UNKNOWN_REQUEST))
    for caller in (THIRD, CUSTODIAN):
        unknown = state(world, UNKNOWN_REQUEST, requester=caller)
        _as_if_unknown(state(world, answered, requester=caller), answered, unknown)


def _my(scene: Scene, holder: Holder, path: str, **params: str) -> Any:
    party = "the person" if holder is scene.person else "another person"
    return scene.world.client.get(
        path,
        params={"institution": CUSTODIAN, **params},
        headers=_presentation_header(scene, party, CUSTODIAN),
    )


def test_a_person_sees_only_the_requests_addressed_to_them(scene: Scene) -> None:
    theirs, grantees = _request(scene, THIRD), _grantees_requests(scene)
    mine = _my(scene, scene.person, "/me/consent-requests")
    assert mine.status_code == 200, mine.text
    assert {r["id"] for r in mine.json()["requests"]} >= set(grantees)
    assert theirs not in mine.text
    others = _my(scene, scene.other, "/me/consent-requests")
    assert {r["id"] for r in others.json()["requests"]} >= {theirs}
    assert not set(grantees) & {r["id"] for r in others.json()["requests"]}
    unknown = _my(scene, scene.person, f"/me/consent-requests/{UNKNOWN_REQUEST}")
    _as_if_unknown(_my(scene, scene.person, f"/me/consent-requests/{theirs}"), theirs, unknown)
    answered = _my(scene, scene.person, f"/me/consent-requests/{grantees[1]}").json()
    assert answered["requesterName"]  # who asks (they know who they are: no subject)
    assert "subject" not in answered


def test_a_denial_reveals_no_one_elses_request_grant_or_order(scene: Scene) -> None:
    world = scene.world
    unknown = deny(world, scene.other, UNKNOWN_REQUEST)
    for request_id in _grantees_requests(scene):
        _as_if_unknown(deny(world, scene.other, request_id), request_id, unknown)
    # The person denying what they approved is told so, and nothing of the grant or of others.
    answered = _request(scene, GRANTEE, ASKED_UNTIL)
    response = deny(world, scene.person, answered)
    assert_problem(response, 409, "REQUEST_ALREADY_ANSWERED")
    for secret in (*scene.secrets.allowed, APPROVED_UNTIL):
        assert secret == answered or secret not in response.text, secret


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
    ("post", "/consent-requests"): "ConsentRequestView",
    ("get", "/consent-requests/{request_id}"): "ConsentRequestView",
    ("get", "/me/consent-requests"): "HolderRequests",
    ("get", "/me/consent-requests/{request_id}"): "ConsentRequestView",
    ("post", "/me/consent-requests/{request_id}/approval"): "ApprovalResponse",
    ("post", "/me/consent-requests/{request_id}/denial"): "DenialResponse",
    ("get", "/me/consent-grants"): "HolderGrants",
    ("get", "/me/record"): "OwnRecord",
}
#: The routes a person authenticates with a presentation made for ``?institution=``.
PERSON_ROUTES = (
    ("get", "/me/access-log"),
    ("post", "/me/units/search"),
    ("get", "/me/consent-requests"),
    ("get", "/me/consent-requests/{request_id}"),
    ("post", "/me/consent-requests/{request_id}/approval"),
    ("post", "/me/consent-requests/{request_id}/denial"),
    ("get", "/me/consent-grants"),
    ("get", "/me/record"),
)


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
    for method, path in PERSON_ROUTES:
        parameters = {p["name"]: p for p in spec["paths"][path][method]["parameters"]}
        description = parameters["institution"]["description"]  # a code, not a domain
        assert all(code in description for code in ("IMSS,", "ISSSTE", "IMSS-BIENESTAR")), path
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
    # Consent requests and the person's own routes (issue 16): the grantee asks twice more.
    created = file_request(world, purpose="PUBHLTH", dataClasses=["coverage"])
    check(models.ConsentRequestView, created, 201)
    request = created.json()
    grantee = scene.bearer("grantee")
    with_qr = world.client.get(
        f"/consent-requests/{request['id']}", params={"render": "png"}, headers=grantee
    )
    check(models.ConsentRequestView, with_qr)
    assert with_qr.json()["qrImage"]

    def mine(path: str, **params: Any) -> Any:
        headers = _presentation_header(scene, "the person", CUSTODIAN)
        return world.client.get(path, params={"institution": CUSTODIAN, **params}, headers=headers)

    check(models.HolderRequests, mine("/me/consent-requests"))
    check(models.ConsentRequestView, mine(f"/me/consent-requests/{request['id']}"))
    body = approval(world, scene.person, request["id"], grant_for(request))
    check(models.ApprovalResponse, approve(world, request["id"], body), 201)
    refused = filed(world, purpose="PUBHLTH", dataClasses=["ece.summary"])
    check(models.DenialResponse, deny(world, scene.person, refused["id"]))
    check(models.ConsentRequestView, state(world, refused["id"]))
    check(models.HolderGrants, mine("/me/consent-grants"))
    check(models.OwnRecord, mine("/me/record", dataClass=["coverage"]))
    log = mine("/me/access-log")
    check(models.AccessLog, log)
    assert any(entry["self"] for entry in log.json()["accesses"])  # the read just above
    # The grant just approved (the scene's court order may have been revoked by the table).
    check(models.RecordsAnswer, ask(world, classes=("coverage",), purpose="PUBHLTH"))
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
