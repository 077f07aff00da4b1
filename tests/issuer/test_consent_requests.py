"""Consent requests through the API: an institution asks, the person approves (narrowed) or denies,
the requester learns only its own request's state; the person's own record and grants.

Every refusal of the issue's list is a problem with a stable code, and it records nothing but its
own audit entry (``consent.request.refuse``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from issuer.consent.models import (
    ApprovalResponse,
    ConsentRequestView,
    HolderGrants,
    HolderRequests,
)
from issuer.consent.requests import REFUSAL_ACTION
from issuer.storage.audit import verify_audit_chain
from issuer.storage.tables import AuditEntry, ConsentRequestRow, GrantRecord
from tests.issuer.test_api import World, make_world, sqlite_world_at
from tests.issuer.test_consent import (
    CURP,
    Holder,
    ask,
    make_holder,
    store_records,
    withdraw,
)
from verifier import consent_grant_from_receipt, format_datetime

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
