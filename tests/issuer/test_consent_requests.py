"""Consent requests through the API: an institution asks, the person approves (narrowed) or denies,
the requester learns only its own request's state; the person's own record and grants.

Every refusal of the issue's list is a problem with a stable code, and it records nothing but its
own audit entry (``consent.request.refuse``).
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select, update

from issuer.consent.models import (
    ApprovalResponse,
    ConsentRequestView,
    DenialResponse,
    HolderGrants,
    HolderRequests,
    OwnRecord,
)
from issuer.consent.requests import REFUSAL_ACTION, ConsentRequests
from issuer.consent.service import AccessError
from issuer.settings import IssuerSettings
from issuer.storage.audit import verify_audit_chain
from issuer.storage.tables import AuditEntry, ConsentRequestRow, GrantRecord
from tests.issuer.test_api import World, assert_problem, make_world, sqlite_world_at, subject
from tests.issuer.test_consent import (
    CURP,
    Holder,
    ask,
    make_holder,
    store_records,
    withdraw,
)
from verifier import (
    consent_grant_from_receipt,
    consent_statement_id,
    create_presentation,
    format_datetime,
)

Json = dict[str, Any]
OTHER_CURP = "LOPJ900101HJCPRN08"
#: Everything a requester ever reads about its request: what it sent, the state, the answer.
REQUESTER_VIEW_KEYS = {
    "id", "uri", "state", "requester", "requesterUnit", "custodian", "purpose", "dataClasses",
    "dataFrom", "dataUntil", "accessUntil", "createdAt", "expiresAt", "answeredAt", "approved",
    "subject",
}  # fmt: skip


@pytest.fixture
def world(service: Any) -> World:
    return make_world(service)


@pytest.fixture
def sqlite_world(tmp_path: Path) -> Iterator[World]:
    with sqlite_world_at(tmp_path) as world:
        yield world


def _later(days: int) -> str:
    return format_datetime(datetime.now(UTC).replace(microsecond=0) + timedelta(days=days))


def file_request(world: World, requester: str = "ISSSTE", **changes: Any) -> Any:
    body = {
        "subject": CURP,
        "custodian": "IMSS",
        "purpose": "TREAT",
        "dataClasses": ["ece.summary", "ece.full"],
        "dataFrom": "2020-01-01",
        "dataUntil": "2030-12-31",
        "accessUntil": _later(30),
        **changes,
    }
    body = {k: v for k, v in body.items() if v is not None}
    return world.client.post("/consent-requests", json=body, headers=world.headers(requester))


def filed(world: World, **changes: Any) -> Json:
    response = file_request(world, **changes)
    assert response.status_code == 201, response.text
    body: Json = response.json()
    return body


def _token(presentation: Json) -> str:
    return base64.urlsafe_b64encode(json.dumps(presentation).encode()).decode().rstrip("=")


def my_requests(world: World, holder: Holder, institution: str = "IMSS", **params: str) -> Any:
    return world.client.get(
        "/me/consent-requests",
        params={"institution": institution, **params},
        headers={"Authorization": f"Presentation {_token(holder.present(world, institution))}"},
    )


def grant_for(request: Json, **changes: Any) -> Json:
    """The grant a wallet builds from a request (as asked, unless ``changes`` narrow it)."""
    grantee = {"institution": request["requester"]}
    if request.get("requesterUnit"):
        grantee["unit"] = request["requesterUnit"]
    grant = {
        "curp": CURP,
        "grantees": [grantee],
        "dataClasses": request["dataClasses"],
        "purposes": [request["purpose"]],
        "dataFrom": request["dataFrom"],
        "dataUntil": request["dataUntil"],
        "validFrom": format_datetime(datetime.now(UTC).replace(microsecond=0)),
        "validUntil": request["accessUntil"],
        "locations": ["MX"],
        **changes,
    }
    return {k: v for k, v in grant.items() if v is not None}


def approval(
    world: World, holder: Holder, request_id: str, grant: Json, institution: str = "IMSS"
) -> Json:
    """The body of an approval: the grant and the presentation signing it for this request."""
    statement = {"action": "consent.grant", "institution": institution, "grant": grant,
                 "request": request_id}  # fmt: skip
    return {"grant": grant, "presentation": holder.present(world, institution, statement)}


def approve(world: World, request_id: str, body: Json, institution: str = "IMSS") -> Any:
    return world.client.post(
        f"/me/consent-requests/{request_id}/approval",
        params={"institution": institution},
        json=body,
    )


def deny(world: World, holder: Holder, request_id: str, institution: str = "IMSS") -> Any:
    statement = {"action": "consent.deny", "institution": institution, "request": request_id}
    return world.client.post(
        f"/me/consent-requests/{request_id}/denial",
        params={"institution": institution},
        json={"presentation": holder.present(world, institution, statement)},
    )


def state(world: World, request_id: str, requester: str = "ISSSTE") -> Any:
    return world.client.get(f"/consent-requests/{request_id}", headers=world.headers(requester))


def counts(world: World) -> tuple[int, int, int, int]:
    """(requests, grants, audit entries, refusal entries)."""
    with world.service.db.read() as session:
        requests = session.scalar(select(func.count()).select_from(ConsentRequestRow))
        grants = session.scalar(select(func.count()).select_from(GrantRecord))
        audit = session.scalar(select(func.count()).select_from(AuditEntry))
        refusals = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == REFUSAL_ACTION)
        )
    return int(requests or 0), int(grants or 0), int(audit or 0), int(refusals or 0)


def refused(world: World, before: tuple[int, int, int, int]) -> Json:
    """Nothing was recorded but one refusal entry; returns that entry's details."""
    requests, grants, audit, refusals = counts(world)
    assert (requests, grants, audit, refusals) == (
        before[0], before[1], before[2] + 1, before[3] + 1
    )  # fmt: skip
    with world.service.db.read() as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert entry is not None
        assert entry.action == REFUSAL_ACTION
        details: Json = entry.details
    return details


# -- the flow, on both databases -------------------------------------------------------------------


def test_ask_approve_narrowed_receive_only_approved_then_withdraw(world: World) -> None:
    holder = make_holder(world)
    store_records(world)
    created = file_request(world, requesterUnit="DFSSA003961")
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    request = ConsentRequestView.model_validate(created.json()).model_dump(by_alias=True)
    request_id = request["id"]
    assert request["state"] == "pending"
    assert request["uri"] == f"https://imss.gob.mx/r/{request_id}"
    expires = datetime.fromisoformat(request["expiresAt"])
    created_at = datetime.fromisoformat(request["createdAt"])
    assert expires - created_at == timedelta(hours=24)

    # The person's wallet lists it (pending, addressed to them) and reads it.
    listed = my_requests(world, holder, state="pending")
    assert listed.status_code == 200, listed.text
    mine = HolderRequests.model_validate(listed.json())
    assert [r.id for r in mine.requests] == [request_id]
    assert mine.requests[0].requester_name is not None
    assert mine.requests[0].subject is None  # the person's view does not echo a CURP per item

    # Approve narrowed: one class, a shorter access.
    until = _later(7)
    grant = grant_for(listed.json()["requests"][0], dataClasses=["ece.summary"], validUntil=until)
    answered = approve(world, request_id, approval(world, holder, request_id, grant))
    assert answered.status_code == 201, answered.text
    answer = ApprovalResponse.model_validate(answered.json())
    assert (answer.state, answer.narrowed) == ("approved", True)
    assert consent_grant_from_receipt(answer.receipt).data_classes == {"ece.summary"}

    # The requester reads its state and the approved scope, nothing else about the person.
    seen = state(world, request_id).json()
    assert seen["state"] == "approved"
    assert seen["approved"]["dataClasses"] == ["ece.summary"]
    assert seen["approved"]["accessUntil"] == until
    assert seen["approved"]["grantId"] == answer.grant_id
    assert set(seen) == REQUESTER_VIEW_KEYS

    # It receives only the approved class.
    response = ask(world, classes=("ece.summary", "ece.full"), requesterUnit="DFSSA003961")
    assert response.status_code == 200, response.text
    assert [e["resource"]["id"] for e in response.json()["bundle"]["entry"]] == ["dm2"]

    # The person sees the grant, withdraws it; the requester is refused and reads "withdrawn".
    grants = world.client.get(
        "/me/consent-grants",
        params={"institution": "IMSS"},
        headers={"Authorization": f"Presentation {_token(holder.present(world, 'IMSS'))}"},
    )
    listed_grants = HolderGrants.model_validate(grants.json())
    assert [(g.grant_id, g.request_id, g.state) for g in listed_grants.grants] == [
        (answer.grant_id, request_id, "active")
    ]
    assert withdraw(world, holder, "IMSS", answer.grant_id).status_code == 200
    assert ask(world, requesterUnit="DFSSA003961").status_code == 403
    assert state(world, request_id).json()["state"] == "withdrawn"
    with world.service.db.read() as session:
        actions = [
            e.action
            for e in session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.like("consent.%"))
                .order_by(AuditEntry.seq)
            )
        ]
        assert verify_audit_chain(session) == []
    assert actions == ["consent.request.create", "consent.request.approve", "consent.withdraw"]


def test_deny_the_requester_reads_denied_and_nothing_else(sqlite_world: World) -> None:
    world = sqlite_world
    holder = make_holder(world)
    request_id = filed(world)["id"]
    denied = deny(world, holder, request_id)
    assert denied.status_code == 200, denied.text
    assert DenialResponse.model_validate(denied.json()).state == "denied"
    seen = state(world, request_id).json()
    assert (seen["state"], seen["approved"]) == ("denied", None)
    assert set(seen) == REQUESTER_VIEW_KEYS
    assert ask(world).status_code == 403  # no grant came of it
    assert my_requests(world, holder, state="pending").json()["requests"] == []
    assert [r["state"] for r in my_requests(world, holder).json()["requests"]] == ["denied"]


def test_an_unanswered_request_expires_once_and_is_audited(sqlite_world: World) -> None:
    world = sqlite_world
    holder = make_holder(world)
    request_id = filed(world)["id"]
    _expire_now(world, request_id)
    assert state(world, request_id).json()["state"] == "expired"
    assert state(world, request_id).json()["state"] == "expired"
    assert [r["state"] for r in my_requests(world, holder).json()["requests"]] == ["expired"]
    with world.service.db.read() as session:
        expiries = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "consent.request.expire")
        )
    assert expiries == 1


def test_the_default_expiry_is_a_setting() -> None:
    assert IssuerSettings().consent_request_ttl == timedelta(hours=24)
    settings = IssuerSettings(consent_request_ttl=timedelta(hours=2))
    assert settings.consent_request_ttl == timedelta(hours=2)
    with pytest.raises(ValueError, match="consent_request_ttl"):
        IssuerSettings(consent_request_ttl=timedelta(0))


def test_the_qr_of_the_short_uri(sqlite_world: World) -> None:
    world = sqlite_world
    make_holder(world)
    created = file_request(world)
    body = world.client.post(
        "/consent-requests?render=png",
        json={"subject": CURP, "custodian": "IMSS", "purpose": "TREAT",
              "dataClasses": ["coverage"], "accessUntil": _later(1)},
        headers=world.headers("ISSSTE"),
    ).json()  # fmt: skip
    png = base64.b64decode(body["qrImage"])
    assert png.startswith(b"\x89PNG")
    (symbol,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert symbol.text == body["uri"]
    assert created.json()["uri"] != body["uri"]
    read = state(world, body["id"]).json()
    assert "qrImage" not in read
    assert world.client.get(
        f"/consent-requests/{body['id']}?render=png", headers=world.headers("ISSSTE")
    ).json()["qrImage"]


def _expire_now(world: World, request_id: str) -> None:
    with world.service.db.transaction() as session:
        session.execute(
            update(ConsentRequestRow)
            .where(ConsentRequestRow.id == request_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )


# -- refusals: each a problem with a stable code, nothing recorded but the refusal ----------------


def test_a_request_for_a_person_with_no_credential_at_the_custodian(sqlite_world: World) -> None:
    world = sqlite_world
    make_holder(world)  # an IMSS credential for CURP
    before = counts(world)
    assert_problem(file_request(world, subject=OTHER_CURP), 422, "NO_CREDENTIAL_AT_CUSTODIAN")
    details = refused(world, before)
    assert (details["step"], details["code"]) == ("create", "NO_CREDENTIAL_AT_CUSTODIAN")
    before = counts(world)
    response = file_request(world, requester="IMSS", custodian="IMSS-BIENESTAR")
    assert_problem(response, 422, "NO_CREDENTIAL_AT_CUSTODIAN")
    refused(world, before)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"dataClasses": ["ece.summary", "genome"]}, "DATA_CLASS_UNKNOWN"),
        ({"purpose": "SHOPPING"}, "PURPOSE_UNKNOWN"),
        ({"purpose": "HMARKT"}, "PURPOSE_FORBIDDEN"),
        ({"dataFrom": "2030-01-01", "dataUntil": "2020-01-01"}, "PERIOD_INVALID"),
        ({"accessUntil": "2020-01-01T00:00:00Z"}, "PERIOD_INVALID"),
    ],
)
def test_a_request_with_an_unknown_class_or_purpose(
    sqlite_world: World, changes: Json, code: str
) -> None:
    world = sqlite_world
    make_holder(world)
    before = counts(world)
    assert_problem(file_request(world, **changes), 422, code)
    assert refused(world, before)["code"] == code


def test_an_institution_does_not_ask_itself(sqlite_world: World) -> None:
    world = sqlite_world
    make_holder(world)
    before = counts(world)
    assert_problem(file_request(world, requester="IMSS"), 422, "SAME_INSTITUTION")
    refused(world, before)


def test_approving_an_expired_request(sqlite_world: World) -> None:
    world = sqlite_world
    holder = make_holder(world)
    request = filed(world)
    _expire_now(world, request["id"])
    assert state(world, request["id"]).json()["state"] == "expired"
    before = counts(world)
    response = approve(
        world, request["id"], approval(world, holder, request["id"], grant_for(request))
    )
    assert_problem(response, 409, "REQUEST_EXPIRED")
    refused(world, before)
    before = counts(world)
    assert_problem(deny(world, holder, request["id"]), 409, "REQUEST_EXPIRED")
    refused(world, before)


def test_approving_a_denied_or_answered_request(sqlite_world: World) -> None:
    world = sqlite_world
    holder = make_holder(world)
    request = filed(world)
    assert deny(world, holder, request["id"]).status_code == 200
    before = counts(world)
    response = approve(
        world, request["id"], approval(world, holder, request["id"], grant_for(request))
    )
    assert_problem(response, 409, "REQUEST_ALREADY_ANSWERED")
    refused(world, before)

    second = filed(world)
    ok = approve(world, second["id"], approval(world, holder, second["id"], grant_for(second)))
    assert ok.status_code == 201, ok.text
    assert ok.json()["narrowed"] is False
    before = counts(world)
    again = approve(world, second["id"], approval(world, holder, second["id"], grant_for(second)))
    assert_problem(again, 409, "REQUEST_ALREADY_ANSWERED")
    refused(world, before)
    before = counts(world)
    assert_problem(deny(world, holder, second["id"]), 409, "REQUEST_ALREADY_ANSWERED")
    refused(world, before)
    assert state(world, second["id"]).json()["state"] == "approved"


@pytest.mark.parametrize(
    "changes",
    [
        {"dataClasses": ["ece.summary", "coverage"]},
        {"dataFrom": "2019-12-31"},
        {"dataUntil": "2031-01-01"},
        {"dataFrom": None},
        {"grantees": [{"institution": "ISSSTE"}, {"institution": "IMSS-BIENESTAR"}]},
        {"grantees": [{"institution": "IMSS-BIENESTAR"}]},
        {"purposes": ["TREAT", "COC"]},
        {"purposes": ["COC"]},
        "one day later",
    ],
)
def test_an_approval_wider_than_the_request(sqlite_world: World, changes: Any) -> None:
    world = sqlite_world
    holder = make_holder(world)
    request = filed(world)
    if changes == "one day later":
        later = datetime.fromisoformat(request["accessUntil"]) + timedelta(days=1)
        changes = {"validUntil": format_datetime(later)}
    grant = grant_for(request)
    grant.update(changes)
    grant = {k: v for k, v in grant.items() if v is not None}
    before = counts(world)
    response = approve(world, request["id"], approval(world, holder, request["id"], grant))
    assert_problem(response, 422, "APPROVAL_WIDER_THAN_REQUEST")
    refused(world, before)
    assert state(world, request["id"]).json()["state"] == "pending"


def test_a_presentation_by_another_holder(sqlite_world: World) -> None:
    world = sqlite_world
    owner = make_holder(world)
    other = make_holder(world, person={**subject(), "curp": OTHER_CURP})
    request = filed(world)
    # Another person, with their own valid credential: the request is not theirs (404, exactly
    # as a request that does not exist), and their list does not show it.
    before = counts(world)
    body = approval(world, other, request["id"], grant_for(request))
    response = approve(world, request["id"], body)
    problem = assert_problem(response, 404, "REQUEST_NOT_FOUND")
    refused(world, before)
    missing = "CR-AAAAAAAAAAAAAAAA"
    nowhere = approve(world, missing, approval(world, other, missing, grant_for(request)))
    assert {k: v for k, v in nowhere.json().items() if k != "detail"} == {
        k: v for k, v in problem.items() if k != "detail"
    }
    assert nowhere.json()["detail"] == problem["detail"].replace(request["id"], missing)
    assert_problem(deny(world, other, request["id"]), 404, "REQUEST_NOT_FOUND")
    assert my_requests(world, other).json()["requests"] == []
    # The owner's credential, signed by another key: the presentation itself is refused.
    challenge = world.client.post("/institutions/IMSS/consent/challenges").json()
    grant = grant_for(request)
    statement = {"action": "consent.grant", "institution": "IMSS", "grant": grant,
                 "request": request["id"]}  # fmt: skip
    stolen = create_presentation(
        [owner.credential], holder=other.did, signer=other.key,
        challenge=challenge["challenge"], domain=challenge["domain"],
        created=format_datetime(datetime.now(UTC)),
        presentation_id=consent_statement_id(statement),
    )  # fmt: skip
    before = counts(world)
    response = approve(world, request["id"], {"grant": grant, "presentation": stolen})
    assert_problem(response, 401, "HOLDER_MISMATCH")
    refused(world, before)
    assert state(world, request["id"]).json()["state"] == "pending"


def test_a_replayed_approval(sqlite_world: World) -> None:
    world = sqlite_world
    holder = make_holder(world)
    request = filed(world)
    body = approval(world, holder, request["id"], grant_for(request))
    assert approve(world, request["id"], body).status_code == 201
    before = counts(world)
    assert_problem(approve(world, request["id"], body), 401, "CHALLENGE_REUSED")
    refused(world, before)
    # A presentation signing another request's approval is not this approval either.
    other = filed(world)
    before = counts(world)
    signed_for_other = approval(world, holder, other["id"], grant_for(other))
    assert_problem(approve(world, request["id"], signed_for_other), 400, "STATEMENT_MISMATCH")
    refused(world, before)


def test_the_requester_learns_only_its_own_request(sqlite_world: World) -> None:
    world = sqlite_world
    make_holder(world)
    request_id = filed(world)["id"]
    before = counts(world)
    assert_problem(state(world, request_id, requester="IMSS-BIENESTAR"), 404, "REQUEST_NOT_FOUND")
    refused(world, before)
    assert_problem(state(world, request_id, requester="IMSS"), 404, "REQUEST_NOT_FOUND")
    no_scope = world.client.get(
        f"/consent-requests/{request_id}", headers=world.headers("IMSS:issue")
    )
    assert_problem(no_scope, 403, "SCOPE_MISSING")


def test_my_record_is_mine_and_in_my_access_log(sqlite_world: World) -> None:
    world = sqlite_world
    holder = make_holder(world)
    store_records(world)
    store_records(world, curp=OTHER_CURP)
    response = world.client.get(
        "/me/record",
        params={"institution": "IMSS", "dataClass": ["ece.summary", "coverage"]},
        headers={"Authorization": f"Presentation {_token(holder.present(world, 'IMSS'))}"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    record = OwnRecord.model_validate(response.json())
    assert record.curp == CURP
    assert [e["resource"]["id"] for e in record.bundle["entry"]] == ["dm2", "old", "cov-1"]
    log = world.client.get(
        "/me/access-log",
        params={"institution": "IMSS"},
        headers={"Authorization": f"Presentation {_token(holder.present(world, 'IMSS'))}"},
    ).json()
    own = [(a["dataClass"], a["self"], a["requester"]) for a in log["accesses"]]
    assert own == [("ece.summary", True, holder.did), ("coverage", True, holder.did)]
    unknown = world.client.get(
        "/me/record",
        params={"institution": "IMSS", "dataClass": "genome"},
        headers={"Authorization": f"Presentation {_token(holder.present(world, 'IMSS'))}"},
    )
    assert_problem(unknown, 422, "DATA_CLASS_UNKNOWN")
    assert_problem(
        world.client.get("/me/record", params={"institution": "IMSS"}), 401, "UNAUTHENTICATED"
    )


def test_every_new_route_documents_request_and_response_with_examples(
    sqlite_world: World,
) -> None:
    spec = sqlite_world.client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]

    def examples(reference: dict[str, Any]) -> list[Any]:
        name = reference["$ref"].rsplit("/", 1)[-1]
        found: list[Any] = schemas[name].get("examples", [])
        return found

    routes = [
        ("post", "/consent-requests", "201"),
        ("get", "/consent-requests/{request_id}", "200"),
        ("get", "/me/consent-requests", "200"),
        ("get", "/me/consent-requests/{request_id}", "200"),
        ("post", "/me/consent-requests/{request_id}/approval", "201"),
        ("post", "/me/consent-requests/{request_id}/denial", "200"),
        ("get", "/me/consent-grants", "200"),
        ("get", "/me/record", "200"),
    ]
    for method, path, status in routes:
        operation = spec["paths"][path][method]
        answer = operation["responses"][status]["content"]["application/json"]["schema"]
        assert examples(answer), (path, "response")
        if method == "post":
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            assert examples(body), (path, "request")
        assert {"401", "422"} <= operation["responses"].keys(), path
    person = spec["paths"]["/me/consent-requests"]["get"]
    assert {p["name"] for p in person["parameters"]} >= {"institution", "Authorization", "state"}


def test_two_approvals_at_once_record_one_grant(world: World) -> None:
    """Two answers racing (two devices of the person): one wins, the other is refused."""
    holder = make_holder(world)
    request = filed(world)
    bodies = [approval(world, holder, request["id"], grant_for(request)) for _ in range(2)]
    requests = ConsentRequests(world.service)

    def answer(body: Json) -> str:
        try:
            requests.approve("IMSS", request["id"], body["grant"], body["presentation"])
        except AccessError as exc:
            return exc.code
        return "approved"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(answer, bodies))
    assert outcomes == ["REQUEST_ALREADY_ANSWERED", "approved"]
    with world.service.db.read() as session:
        grants = session.scalar(select(func.count()).select_from(GrantRecord))
    assert grants == 1
