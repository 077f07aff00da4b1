"""Consent-gated record exchange through the API: the issue's test matrix, end to end.

Holders are made here directly (a did:key, a coverage credential issued to it, presentations made
with ``verifier.create_presentation``): the wallet library is another branch.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from issuer.consent.service import AccessControl, institution_domain
from issuer.credentials.service import IssuerService
from issuer.keys.files import Ed25519KeyPair
from issuer.principal import Principal
from issuer.storage.audit import verify_audit_chain
from issuer.storage.tables import AuditEntry, GrantRecord
from tests.issuer.test_api import World, assert_problem, make_world, sqlite_world_at, subject
from verifier import (
    AccessRequest,
    AuthorizationCode,
    InMemoryStatusLists,
    Verdict,
    Verifier,
    authorize,
    consent_grant_from_receipt,
    consent_statement_id,
    create_presentation,
    did_key_from_public_key,
    format_datetime,
    offline_consent_grants,
)

Json = dict[str, Any]
CURP = subject()["curp"]
ORDER_SHA256 = "3a" * 32


@dataclass
class Holder:
    """A person with a did:key and a coverage credential issued to it."""

    key: Ed25519KeyPair
    did: str
    credential: Json

    def present(
        self,
        world: World,
        institution: str,
        statement: Json | None = None,
        *,
        with_credential: bool = True,
    ) -> Json:
        """A presentation to ``institution`` (a fresh challenge), signing ``statement``."""
        response = world.client.post(f"/institutions/{institution}/consent/challenges")
        assert response.status_code == 200, response.text
        challenge = response.json()
        assert challenge["domain"] == institution_domain(institution)
        return create_presentation(
            [self.credential] if with_credential else [],
            holder=self.did,
            signer=self.key,
            challenge=challenge["challenge"],
            domain=challenge["domain"],
            created=format_datetime(datetime.now(UTC)),
            presentation_id=consent_statement_id(statement) if statement is not None else None,
        )


def make_holder(world: World, institution: str = "IMSS", person: Json | None = None) -> Holder:
    key = Ed25519KeyPair.generate()
    did = did_key_from_public_key(key.public_key)
    data = {**(person or subject(institution)), "id": did}
    credential = issue_to(world, institution, data)
    return Holder(key, did, credential)


def issue_to(world: World, institution: str, data: Json) -> Json:
    response = world.client.post(
        "/credentials/issue",
        json={"credential": {"credentialSubject": data}},
        headers=world.headers(institution),
    )
    assert response.status_code == 201, response.text
    credential: Json = response.json()["verifiableCredential"]
    return credential


def grant_document(
    curp: str = CURP,
    grantees: list[Json] | None = None,
    classes: tuple[str, ...] = ("ece.summary",),
    purposes: tuple[str, ...] = ("TREAT",),
    days: int = 30,
    **extra: Any,
) -> Json:
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "curp": curp,
        "grantees": grantees if grantees is not None else [{"institution": "ISSSTE"}],
        "dataClasses": list(classes),
        "purposes": list(purposes),
        "dataFrom": "2020-01-01",
        "dataUntil": "2030-12-31",
        "validFrom": format_datetime(now),
        "validUntil": format_datetime(now + timedelta(days=days)),
        "locations": ["MX"],
        **extra,
    }


def give_consent(world: World, holder: Holder, custodian: str, grant: Json) -> Any:
    statement = {"action": "consent.grant", "institution": custodian, "grant": grant}
    presentation = holder.present(world, custodian, statement)
    return world.client.post(
        f"/institutions/{custodian}/consent/grants",
        json={"grant": grant, "presentation": presentation},
    )


def granted(world: World, holder: Holder, custodian: str, grant: Json) -> Json:
    response = give_consent(world, holder, custodian, grant)
    assert response.status_code == 201, response.text
    body: Json = response.json()
    return body


def withdraw(world: World, holder: Holder, custodian: str, grant_id: str) -> Any:
    statement = {"action": "consent.withdraw", "grantId": grant_id}
    presentation = holder.present(world, custodian, statement, with_credential=False)
    return world.client.post(
        f"/institutions/{custodian}/consent/grants/{grant_id}/withdrawal",
        json={"presentation": presentation},
    )


def ask(
    world: World,
    requester: str = "ISSSTE",
    custodian: str = "IMSS",
    classes: tuple[str, ...] = ("ece.summary",),
    purpose: str = "TREAT",
    country: str = "MX",
    curp: str = CURP,
    **extra: Any,
) -> Any:
    return world.client.post(
        "/records/requests",
        json={
            "custodian": custodian,
            "subject": curp,
            "dataClasses": list(classes),
            "purpose": purpose,
            "recipientCountry": country,
            **extra,
        },
        headers=world.headers(requester),
    )


def denied(response: Any, code: AuthorizationCode) -> None:
    body = assert_problem(response, 403, "ACCESS_DENIED")
    assert [r["code"] for d in body["decisions"] for r in d["reasons"]] == [code.value]


def store_records(world: World, custodian: str = "IMSS", curp: str = CURP) -> None:
    entries = [
        ("ece.summary", "2024-03-01", {"resourceType": "Condition", "id": "dm2"}),
        ("ece.summary", "2010-05-01", {"resourceType": "AllergyIntolerance", "id": "old"}),
        ("ece.full", "2024-03-01", {"resourceType": "Encounter", "id": "enc-1"}),
        ("coverage", "2024-01-01", {"resourceType": "Coverage", "id": "cov-1"}),
    ]
    for data_class, day, resource in entries:
        response = world.client.post(
            "/records",
            json={
                "subject": curp,
                "dataClass": data_class,
                "effectiveDate": day,
                "resource": resource,
            },
            headers=world.headers(custodian),
        )
        assert response.status_code == 201, response.text


def access_log(world: World, holder: Holder, institution: str = "IMSS") -> Any:
    presentation = holder.present(world, institution)
    token = base64.urlsafe_b64encode(json.dumps(presentation).encode()).decode().rstrip("=")
    return world.client.get(
        "/me/access-log",
        params={"institution": institution},
        headers={"Authorization": f"Presentation {token}"},
    )


def access_count(service: IssuerService) -> int:
    with service.db.read() as session:
        count = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action.in_(["access.permit", "access.deny"]))
        )
    return int(count or 0)


@pytest.fixture
def world(service: IssuerService) -> World:
    """A fresh world on each database (``service`` comes from tests/issuer/conftest.py)."""
    return make_world(service)


@pytest.fixture
def sqlite_world(tmp_path: Path) -> Iterator[World]:
    """A world on SQLite only (the flow on PostgreSQL is covered by the first test)."""
    with sqlite_world_at(tmp_path) as world:
        yield world


# -- the flow, on both databases -------------------------------------------------------------------


def test_consent_grant_receipt_and_gated_exchange(world: World) -> None:
    holder = make_holder(world)
    store_records(world)
    body = granted(world, holder, "IMSS", grant_document())
    receipt = body["receipt"]
    assert receipt["type"] == ["VerifiableCredential", "ConsentReceiptCredential"]
    assert receipt["issuer"] == "did:web:imss.gob.mx"
    assert receipt["credentialSubject"]["id"] == holder.did
    assert consent_grant_from_receipt(receipt).grant_id == body["grantId"]
    # the receipt verifies offline with the served keys and the served receipt status list
    listed = world.get_url(receipt["credentialStatus"]["statusListCredential"])
    assert listed.status_code == 200, listed.text
    max_age = int(world.service.settings.consent_status_list_ttl.total_seconds())
    assert listed.headers["cache-control"] == f"public, max-age={max_age}"
    assert max_age == 86_400  # a day: a withdrawal reaches offline checks within it
    desk = Verifier(world.served_trust(), status_lists=InMemoryStatusLists([listed.json()]))
    assert desk.check(receipt).verdict is Verdict.VALID

    response = ask(world, classes=("ece.summary", "ece.full"))
    assert response.status_code == 200, response.text
    answer = response.json()
    # only the granted class, only inside the granted data period (2020..2030)
    assert [e["resource"]["id"] for e in answer["bundle"]["entry"]] == ["dm2"]
    assert answer["bundle"]["resourceType"] == "Bundle"
    outcomes = {d["dataClass"]: (d["outcome"], d["grantId"]) for d in answer["decisions"]}
    assert outcomes == {
        "ece.summary": ("permit", body["grantId"]),
        "ece.full": ("deny", None),
    }
    assert verify_audit_chain_clean(world.service)


def verify_audit_chain_clean(service: IssuerService) -> bool:
    with service.db.read() as session:
        return verify_audit_chain(session) == []


# -- the test matrix -------------------------------------------------------------------------------


def test_no_grant_is_denied(sqlite_world: World) -> None:
    denied(ask(sqlite_world), AuthorizationCode.NO_GRANT)


def test_treat_grant_used_for_marketing_is_denied(sqlite_world: World) -> None:
    holder = make_holder(sqlite_world)
    granted(sqlite_world, holder, "IMSS", grant_document())
    denied(ask(sqlite_world, purpose="HMARKT"), AuthorizationCode.PURPOSE_FORBIDDEN)
    denied(ask(sqlite_world, purpose="HRESCH"), AuthorizationCode.PURPOSE_NOT_GRANTED)
    assert ask(sqlite_world).status_code == 200


def test_grant_to_imss_used_by_issste_is_denied(sqlite_world: World) -> None:
    holder = make_holder(sqlite_world)
    grant = grant_document(grantees=[{"institution": "IMSS"}])
    granted(sqlite_world, holder, "IMSS-BIENESTAR", grant)
    # ISSSTE is told no grant covers it: not that the person granted IMSS (issue 18)
    denied(
        ask(sqlite_world, requester="ISSSTE", custodian="IMSS-BIENESTAR"),
        AuthorizationCode.NO_GRANT,
    )
    assert ask(sqlite_world, requester="IMSS", custodian="IMSS-BIENESTAR").status_code == 200


def test_withdrawn_grant_is_denied_online_at_once_and_offline_after_ttl(
    sqlite_world: World,
) -> None:
    world = sqlite_world
    holder = make_holder(world)
    body = granted(world, holder, "IMSS", grant_document())
    receipt = body["receipt"]
    url = receipt["credentialStatus"]["statusListCredential"]
    list_before = world.get_url(url).json()
    assert ask(world).status_code == 200

    response = withdraw(world, holder, "IMSS", body["grantId"])
    assert response.status_code == 200, response.text
    # online: denied at once
    denied(ask(world), AuthorizationCode.GRANT_WITHDRAWN)

    # offline: a desk holding the list fetched before the withdrawal still sees the receipt ...
    trust = world.served_trust()
    request = AccessRequest("ISSSTE", None, CURP, "ece.summary", "TREAT", "MX")
    now = datetime.now(UTC)
    stale_desk = Verifier(trust, status_lists=InMemoryStatusLists([list_before]))
    grants = offline_consent_grants([receipt], stale_desk, now)
    assert authorize(request, grants, now).permit
    # ... but never beyond one ttl (a day: shorter than the coverage lists' four), then the
    # list is stale and the receipt counts for nothing
    ttl = world.service.settings.consent_status_list_ttl
    assert ttl == timedelta(hours=24) < world.service.settings.status_list_ttl
    assert list_before["credentialSubject"]["ttl"] == ttl.total_seconds() * 1000
    after_ttl = now + ttl + timedelta(seconds=1)
    assert stale_desk.check(receipt, now=after_ttl).verdict is Verdict.INDETERMINATE
    late = authorize(request, offline_consent_grants([receipt], stale_desk, after_ttl), after_ttl)
    assert late.codes == (AuthorizationCode.NO_GRANT,)
    # a desk that fetched the new list sees the withdrawal as revocation
    fresh_desk = Verifier(trust, status_lists=InMemoryStatusLists([world.get_url(url).json()]))
    assert fresh_desk.check(receipt).verdict is Verdict.INVALID
    assert offline_consent_grants([receipt], fresh_desk, datetime.now(UTC)) == []


def test_withdrawal_is_not_retroactive_and_needs_the_grantor(sqlite_world: World) -> None:
    world = sqlite_world
    holder = make_holder(world)
    other = make_holder(world, person={**subject(), "curp": "LOPJ900101HJCPRN08"})
    body = granted(world, holder, "IMSS", grant_document())
    assert ask(world).status_code == 200
    # Someone else's grant is answered exactly as one that does not exist (issue 18).
    assert_problem(withdraw(world, other, "IMSS", body["grantId"]), 404, "NOT_FOUND")
    # a presentation signing some other statement is not a withdrawal
    presentation = holder.present(
        world, "IMSS", {"action": "consent.withdraw", "grantId": "urn:uuid:other"}
    )
    response = world.client.post(
        f"/institutions/IMSS/consent/grants/{body['grantId']}/withdrawal",
        json={"presentation": presentation},
    )
    assert_problem(response, 400, "STATEMENT_MISMATCH")
    assert withdraw(world, holder, "IMSS", body["grantId"]).status_code == 200
    log = access_log(world, holder).json()
    # the access made before the withdrawal stays a permitted access in the log
    assert [a["grantId"] for a in log["accesses"]] == [body["grantId"]]


def test_expired_grant_is_denied(sqlite_world: World) -> None:
    world = sqlite_world
    holder = make_holder(world)
    body = granted(world, holder, "IMSS", grant_document(days=1))
    control = AccessControl(world.service)
    request = AccessRequest("ISSSTE", None, CURP, "ece.summary", "TREAT", "MX")
    later = datetime.now(UTC) + timedelta(days=1, seconds=1)
    before = access_count(world.service)
    with world.service.db.transaction() as session:
        decision = control.decide(session, "IMSS", request, actor="test", now=later)
    assert decision.codes == (AuthorizationCode.GRANT_EXPIRED,)
    assert decision.reasons[0].grant_id == body["grantId"]
    assert access_count(world.service) == before + 1


def test_recipient_abroad_is_denied(sqlite_world: World) -> None:
    holder = make_holder(sqlite_world)
    granted(sqlite_world, holder, "IMSS", grant_document())
    denied(ask(sqlite_world, country="US"), AuthorizationCode.RECIPIENT_OUTSIDE_MEXICO)


def test_a_grant_cannot_allow_marketing_or_a_place_abroad(sqlite_world: World) -> None:
    holder = make_holder(sqlite_world)
    for grant in (
        grant_document(purposes=("TREAT", "HMARKT")),
        {**grant_document(), "locations": ["MX", "US"]},
        grant_document(classes=("genome",)),
        {**grant_document(), "validFrom": "2020-01-01T00:00:00Z"},  # backdated
        {**grant_document(), "extra": "member"},
    ):
        assert_problem(give_consent(sqlite_world, holder, "IMSS", grant), 422, "GRANT_INVALID")


def test_a_person_grants_only_their_own_data(sqlite_world: World) -> None:
    holder = make_holder(sqlite_world)
    grant = grant_document(curp="LOPJ900101HJCPRN08")
    assert_problem(give_consent(sqlite_world, holder, "IMSS", grant), 403, "SUBJECT_MISMATCH")


def test_grant_presentation_must_sign_this_grant_and_cannot_be_replayed(
    sqlite_world: World,
) -> None:
    world = sqlite_world
    holder = make_holder(world)
    grant = grant_document()
    statement = {"action": "consent.grant", "institution": "IMSS", "grant": grant}
    presentation = holder.present(world, "IMSS", statement)
    wider = {**grant, "dataClasses": ["ece.summary", "ece.full"]}
    response = world.client.post(
        "/institutions/IMSS/consent/grants", json={"grant": wider, "presentation": presentation}
    )
    assert_problem(response, 400, "STATEMENT_MISMATCH")
    ok = world.client.post(
        "/institutions/IMSS/consent/grants", json={"grant": grant, "presentation": presentation}
    )
    assert ok.status_code == 201, ok.text
    replay = world.client.post(
        "/institutions/IMSS/consent/grants", json={"grant": grant, "presentation": presentation}
    )
    assert_problem(replay, 401, "CHALLENGE_REUSED")
    # made for IMSS, presented to ISSSTE: refused
    other = holder.present(world, "IMSS", {**statement, "institution": "ISSSTE"})
    response = world.client.post(
        "/institutions/ISSSTE/consent/grants", json={"grant": grant, "presentation": other}
    )
    assert_problem(response, 401, "DOMAIN_MISMATCH")


# -- judicial orders -------------------------------------------------------------------------------


def order_body(**changes: Any) -> Json:
    return {
        "curp": CURP,
        "grantees": [{"institution": "ISSSTE"}],
        "dataClasses": ["ece.full"],
        "purposes": ["HLEGAL"],
        "dataFrom": "2024-01-01",
        "dataUntil": "2024-12-31",
        "validUntil": format_datetime(datetime.now(UTC) + timedelta(days=60)),
        "court": "Juzgado Tercero de Distrito en Materia Civil en la Ciudad de México",
        "caseReference": "123/2026",
        "orderDate": "2026-05-30",
        "documentSha256": ORDER_SHA256,
        **changes,
    }


def test_judicial_order_one_signature_denies_two_roles_permit_scoped_data(
    sqlite_world: World,
) -> None:
    world = sqlite_world
    store_records(world)
    legal = world.service.create_client("IMSS", "legal unit", ["legal"])
    dpo = world.service.create_client("IMSS", "data-protection officer", ["dpo"])
    created = world.client.post(
        "/judicial-orders", json=order_body(), headers={"Authorization": f"Bearer {legal}"}
    )
    assert created.status_code == 201, created.text
    grant_id = created.json()["grantId"]
    assert created.json()["effective"] is False
    denied(
        ask(world, classes=("ece.full",), purpose="HLEGAL"),
        AuthorizationCode.JUDICIAL_ORDER_NOT_APPROVED,
    )
    # the legal unit cannot sign the second role too
    both = world.service.create_client("IMSS", "legal and dpo", ["legal", "dpo"])
    mine = world.client.post(
        "/judicial-orders",
        json=order_body(curp="LOPJ900101HJCPRN08"),
        headers={"Authorization": f"Bearer {both}"},
    )
    own_approval = world.client.post(
        f"/judicial-orders/{mine.json()['grantId']}/approvals",
        headers={"Authorization": f"Bearer {both}"},
    )
    assert_problem(own_approval, 409, "SAME_ACTOR")
    # a legal-only client cannot approve as DPO
    assert_problem(
        world.client.post(
            f"/judicial-orders/{grant_id}/approvals", headers={"Authorization": f"Bearer {legal}"}
        ),
        403,
        "SCOPE_MISSING",
    )

    approved = world.client.post(
        f"/judicial-orders/{grant_id}/approvals", headers={"Authorization": f"Bearer {dpo}"}
    )
    assert approved.status_code == 200, approved.text
    # effective now; no deferral: the person is told at once
    notified = AccessControl(world.service).access_log(CURP)["judicialOrders"]
    assert [(o["grantId"], o["documentSha256"]) for o in notified] == [(grant_id, ORDER_SHA256)]
    assert approved.json() == {
        "grantId": grant_id,
        "approvedBy": ["dpo", "legal"],
        "effective": True,
    }
    response = ask(world, classes=("ece.full", "ece.summary"), purpose="HLEGAL")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [e["resource"]["id"] for e in answer["bundle"]["entry"]] == ["enc-1"]
    assert [(d["dataClass"], d["outcome"]) for d in answer["decisions"]] == [
        ("ece.full", "permit"),
        ("ece.summary", "deny"),
    ]
    assert answer["decisions"][0]["grantKind"] == "judicial-order"
    # another requester, or a period outside the order: denied
    denied(  # told nothing of the order for ISSSTE (issue 18)
        ask(world, requester="IMSS-BIENESTAR", classes=("ece.full",), purpose="HLEGAL"),
        AuthorizationCode.NO_GRANT,
    )
    denied(
        ask(world, classes=("ece.full",), purpose="HLEGAL", dataFrom="2025-01-01"),
        AuthorizationCode.DATA_PERIOD_NOT_COVERED,
    )
    # revoked: denied from then on
    revoked = world.client.post(
        f"/judicial-orders/{grant_id}/revocation", headers={"Authorization": f"Bearer {dpo}"}
    )
    assert revoked.status_code == 200, revoked.text
    denied(ask(world, classes=("ece.full",), purpose="HLEGAL"), AuthorizationCode.GRANT_REVOKED)


def test_judicial_order_is_validated_and_owned(sqlite_world: World) -> None:
    world = sqlite_world
    legal = {"Authorization": f"Bearer {world.service.create_client('IMSS', 'l', ['legal'])}"}
    for bad in (
        order_body(documentSha256="not-a-hash"),
        order_body(dataClasses=["genome"]),
        order_body(purposes=["HMARKT"]),
        order_body(court=""),
    ):
        assert world.client.post("/judicial-orders", json=bad, headers=legal).status_code == 422
    grant_id = world.client.post("/judicial-orders", json=order_body(), headers=legal).json()[
        "grantId"
    ]
    issste_dpo = world.service.create_client("ISSSTE", "dpo", ["dpo"])
    response = world.client.post(
        f"/judicial-orders/{grant_id}/approvals",
        headers={"Authorization": f"Bearer {issste_dpo}"},
    )
    assert_problem(response, 404, "NOT_FOUND")  # another's order: as if it did not exist


def test_deferred_notification_hides_order_accesses_until_the_date(sqlite_world: World) -> None:
    world = sqlite_world
    holder = make_holder(world)
    control = AccessControl(world.service)
    legal = Principal("legal-client", "IMSS", frozenset({"legal"}))
    dpo = Principal("dpo-client", "IMSS", frozenset({"dpo"}))
    deferred_until = date.today() + timedelta(days=10)
    response = world.client.post(
        "/judicial-orders",
        json=order_body(notifySubjectAfter=deferred_until.isoformat()),
        headers={"Authorization": f"Bearer {world.service.create_client('IMSS', 'l', ['legal'])}"},
    )
    grant_id = response.json()["grantId"]
    control.approve_judicial_order(dpo, grant_id, "dpo")
    assert ask(world, classes=("ece.full",), purpose="HLEGAL").status_code == 200
    log = access_log(world, holder).json()
    assert log["accesses"] == []
    assert log["judicialOrders"] == []
    later = datetime.now(UTC) + timedelta(days=11)
    shown = control.access_log(CURP, now=later)
    assert [a["grantId"] for a in shown["accesses"]] == [grant_id]
    assert [o["caseReference"] for o in shown["judicialOrders"]] == ["123/2026"]
    assert legal.institution == "IMSS"


# -- audit -----------------------------------------------------------------------------------------


def test_each_decision_is_logged_exactly_once_and_an_edit_is_detected(sqlite_world: World) -> None:
    world = sqlite_world
    holder = make_holder(world)
    body = granted(world, holder, "IMSS", grant_document())
    before = access_count(world.service)
    ask(world, classes=("ece.summary", "ece.full", "coverage"))
    ask(world, country="US")
    assert access_count(world.service) == before + 4
    with world.service.db.read() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("access.%")).order_by(AuditEntry.seq)
        ).all()
        details = [(e.action, e.details["dataClass"], e.details["grantId"]) for e in entries]
        assert details == [
            ("access.permit", "ece.summary", body["grantId"]),
            ("access.deny", "ece.full", None),
            ("access.deny", "coverage", None),
            ("access.deny", "ece.summary", None),
        ]
        assert {e.details["requester"] for e in entries} == {"ISSSTE"}
        assert {e.details["purpose"] for e in entries} == {"TREAT"}
        assert entries[3].details["reasons"] == ["RECIPIENT_OUTSIDE_MEXICO"]
        assert verify_audit_chain(session) == []
        edited = entries[1].seq
    with world.service.db.transaction() as session:  # someone turns a deny into a permit
        session.execute(
            update(AuditEntry)
            .where(AuditEntry.seq == edited)
            .values(action="access.permit", details={**entries[1].details, "outcome": "permit"})
        )
    with world.service.db.read() as session:
        problems = verify_audit_chain(session)
    assert [p.seq for p in problems] == [edited]
    assert "hash" in problems[0].reason


# -- the access log --------------------------------------------------------------------------------


def test_access_log_shows_exactly_the_accesses_that_happened(sqlite_world: World) -> None:
    world = sqlite_world
    holder = make_holder(world)
    someone_else = "LOPJ900101HJCPRN08"
    body = granted(
        world,
        holder,
        "IMSS",
        grant_document(
            grantees=[{"institution": "ISSSTE"}, {"institution": "IMSS-BIENESTAR"}],
            classes=("ece.summary", "coverage"),
        ),
    )
    assert access_log(world, holder).json()["accesses"] == []
    ask(world, requester="ISSSTE", classes=("ece.summary",))
    ask(world, requester="IMSS-BIENESTAR", classes=("coverage",), purpose="COC")  # denied
    ask(world, requester="IMSS-BIENESTAR", classes=("coverage", "ece.full"))
    ask(world, requester="ISSSTE", curp=someone_else)  # another person's: not in this log
    response = access_log(world, holder)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    log = response.json()
    assert log["curp"] == CURP
    seen = [(a["requester"], a["dataClass"], a["purpose"], a["grantId"]) for a in log["accesses"]]
    assert seen == [
        ("ISSSTE", "ece.summary", "TREAT", body["grantId"]),
        ("IMSS-BIENESTAR", "coverage", "TREAT", body["grantId"]),
    ]
    refused = [(r["requester"], r["dataClass"], r["reasons"]) for r in log["refused"]]
    assert refused == [
        ("IMSS-BIENESTAR", "coverage", ["PURPOSE_NOT_GRANTED"]),
        ("IMSS-BIENESTAR", "ece.full", ["DATA_CLASS_NOT_GRANTED"]),
    ]
    assert all(a["custodian"] == "IMSS" for a in log["accesses"])


def test_access_log_needs_the_holders_presentation(sqlite_world: World) -> None:
    world = sqlite_world
    holder = make_holder(world)
    response = world.client.get("/me/access-log", params={"institution": "IMSS"})
    assert_problem(response, 401, "UNAUTHENTICATED")
    response = world.client.get(
        "/me/access-log",
        params={"institution": "IMSS"},
        headers={"Authorization": "Presentation !!!"},
    )
    assert_problem(response, 400, "MALFORMED")
    # a presentation without a coverage credential does not say whose log to show
    bare = holder.present(world, "IMSS", with_credential=False)
    token = base64.urlsafe_b64encode(json.dumps(bare).encode()).decode()
    response = world.client.get(
        "/me/access-log",
        params={"institution": "IMSS"},
        headers={"Authorization": f"Presentation {token}"},
    )
    assert response.status_code == 401, response.text


def test_grant_rows_keep_the_holders_signed_presentation(sqlite_world: World) -> None:
    world = sqlite_world
    holder = make_holder(world)
    body = granted(world, holder, "IMSS", grant_document())
    with world.service.db.read() as session:
        row = session.get(GrantRecord, body["grantId"])
        assert row is not None
        assert row.presentation is not None
        assert row.presentation["holder"] == holder.did
        assert row.receipt == body["receipt"]
