"""The decision point: default deny, purpose binding, residency, grant scope and lifetime."""

from __future__ import annotations

import dataclasses
import socket
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier import (
    DATA_CLASSES,
    HEALTH_PURPOSES,
    AccessRequest,
    AuthorizationCode,
    ConsentGrant,
    Grantee,
    JudicialApproval,
    JudicialOrderGrant,
    authorize,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CURP = "HEGM850314MDFRRR01"
OTHER_CURP = "LOPJ900101HJCPRN08"
UNIT = "DFIMS000014"
Code = AuthorizationCode


def request(**changes: Any) -> AccessRequest:
    base = AccessRequest(
        requester="IMSS",
        requester_unit=UNIT,
        subject=CURP,
        data_class="ece.summary",
        purpose="TREAT",
        recipient_country="MX",
    )
    return dataclasses.replace(base, **changes)


def consent(**changes: Any) -> ConsentGrant:
    base = ConsentGrant(
        grant_id="urn:uuid:consent-1",
        subject=CURP,
        grantees=(Grantee("IMSS"),),
        data_classes=frozenset({"coverage", "ece.summary"}),
        purposes=frozenset({"TREAT", "COC"}),
        valid_from=NOW - timedelta(days=30),
        valid_until=NOW + timedelta(days=30),
        data_from=date(2020, 1, 1),
        data_until=date(2026, 12, 31),
        grantor="did:key:z6MkholderExample",
    )
    return dataclasses.replace(base, **changes)


def order(**changes: Any) -> JudicialOrderGrant:
    base = JudicialOrderGrant(
        grant_id="urn:uuid:order-1",
        subject=CURP,
        grantees=(Grantee("ISSSTE"),),
        data_classes=frozenset({"ece.full"}),
        purposes=frozenset({"HLEGAL"}),
        valid_from=NOW - timedelta(days=1),
        valid_until=NOW + timedelta(days=60),
        data_from=date(2024, 1, 1),
        data_until=date(2025, 12, 31),
        court="Juzgado Tercero de Distrito en Materia Civil, CDMX",
        case_reference="123/2026",
        order_date=date(2026, 5, 30),
        document_sha256="ab" * 32,
        approvals=(
            JudicialApproval("legal", "client-legal", NOW - timedelta(hours=2)),
            JudicialApproval("dpo", "client-dpo", NOW - timedelta(hours=1)),
        ),
    )
    return dataclasses.replace(base, **changes)


def test_no_grant_is_denied() -> None:
    decision = authorize(request(), [], NOW)
    assert not decision.permit
    assert decision.codes == (Code.NO_GRANT,)
    assert decision.grant_id is None


def test_a_matching_consent_grant_permits_and_names_itself() -> None:
    decision = authorize(request(), [consent()], NOW)
    assert decision.permit
    assert decision.outcome == "permit"
    assert decision.codes == (Code.PERMITTED_BY_CONSENT,)
    assert decision.grant_id == "urn:uuid:consent-1"
    assert (decision.data_from, decision.data_until) == (date(2020, 1, 1), date(2026, 12, 31))


def test_another_persons_grant_is_no_grant() -> None:
    decision = authorize(request(), [consent(subject=OTHER_CURP)], NOW)
    assert decision.codes == (Code.NO_GRANT,)


def test_treat_grant_used_for_marketing_is_denied() -> None:
    decision = authorize(request(purpose="HMARKT"), [consent()], NOW)
    assert not decision.permit
    assert decision.codes == (Code.PURPOSE_FORBIDDEN,)


def test_marketing_cannot_even_be_granted() -> None:
    grant = consent(purposes=frozenset({"TREAT", "HMARKT"}))
    assert grant.scope_problems()
    decision = authorize(request(), [grant], NOW)
    assert decision.codes == (Code.GRANT_INVALID,)


def test_research_is_never_implied() -> None:
    decision = authorize(request(purpose="HRESCH"), [consent()], NOW)
    assert decision.codes == (Code.PURPOSE_NOT_GRANTED,)
    named = consent(purposes=frozenset({"HRESCH"}))
    assert authorize(request(purpose="HRESCH"), [named], NOW).permit


def test_purpose_binding_is_exact() -> None:
    decision = authorize(request(purpose="PATRQT"), [consent()], NOW)
    assert decision.codes == (Code.PURPOSE_NOT_GRANTED,)


def test_grant_to_imss_used_by_issste_is_denied() -> None:
    decision = authorize(request(requester="ISSSTE", requester_unit=None), [consent()], NOW)
    assert not decision.permit
    assert decision.codes == (Code.REQUESTER_NOT_GRANTED,)
    assert decision.reasons[0].grant_id == "urn:uuid:consent-1"


def test_a_unit_grant_covers_only_that_unit() -> None:
    grant = consent(grantees=(Grantee("IMSS", UNIT),))
    assert authorize(request(), [grant], NOW).permit
    other_unit = authorize(request(requester_unit="JCIMS000213"), [grant], NOW)
    assert other_unit.codes == (Code.UNIT_NOT_GRANTED,)
    no_unit = authorize(request(requester_unit=None), [grant], NOW)
    assert no_unit.codes == (Code.UNIT_NOT_GRANTED,)


def test_data_class_not_granted_is_denied() -> None:
    decision = authorize(request(data_class="ece.full"), [consent()], NOW)
    assert decision.codes == (Code.DATA_CLASS_NOT_GRANTED,)


def test_withdrawn_grant_is_denied_from_the_withdrawal_on_not_before() -> None:
    withdrawn = consent(withdrawn_at=NOW - timedelta(minutes=1))
    assert authorize(request(), [withdrawn], NOW).codes == (Code.GRANT_WITHDRAWN,)
    # not retroactive: the same request decided before the withdrawal was (and stays) a permit
    assert authorize(request(), [withdrawn], NOW - timedelta(minutes=2)).permit


def test_expired_and_not_yet_valid_grants_are_denied() -> None:
    expired = consent(valid_until=NOW)
    assert authorize(request(), [expired], NOW).codes == (Code.GRANT_EXPIRED,)
    future = consent(valid_from=NOW + timedelta(days=1), valid_until=NOW + timedelta(days=2))
    assert authorize(request(), [future], NOW).codes == (Code.GRANT_NOT_YET_VALID,)


def test_recipient_abroad_is_denied_whatever_the_grants() -> None:
    for country in ("US", "ES", "GT"):
        decision = authorize(request(recipient_country=country), [consent(), order()], NOW)
        assert not decision.permit
        assert decision.codes == (Code.RECIPIENT_OUTSIDE_MEXICO,)


def test_a_grant_cannot_name_locations_abroad() -> None:
    grant = consent(locations=frozenset({"MX", "US"}))
    assert authorize(request(), [grant], NOW).codes == (Code.GRANT_INVALID,)


def test_data_period_outside_the_grant_is_denied_and_overlap_is_narrowed() -> None:
    outside = request(data_from=date(2010, 1, 1), data_until=date(2015, 12, 31))
    assert authorize(outside, [consent()], NOW).codes == (Code.DATA_PERIOD_NOT_COVERED,)
    partly = authorize(request(data_from=date(2019, 1, 1)), [consent()], NOW)
    assert partly.permit
    assert (partly.data_from, partly.data_until) == (date(2020, 1, 1), date(2026, 12, 31))


def test_judicial_order_with_one_signature_is_denied() -> None:
    legal_only = order(approvals=order().approvals[:1])
    req = request(requester="ISSSTE", requester_unit=None, data_class="ece.full", purpose="HLEGAL")
    decision = authorize(req, [legal_only], NOW)
    assert not decision.permit
    assert decision.codes == (Code.JUDICIAL_ORDER_NOT_APPROVED,)


def test_judicial_order_signed_twice_by_the_same_actor_is_denied() -> None:
    same_actor = order(
        approvals=(
            JudicialApproval("legal", "client-x", NOW),
            JudicialApproval("dpo", "client-x", NOW),
        )
    )
    req = request(requester="ISSSTE", requester_unit=None, data_class="ece.full", purpose="HLEGAL")
    assert authorize(req, [same_actor], NOW).codes == (Code.JUDICIAL_ORDER_NOT_APPROVED,)


def test_judicial_order_with_two_roles_permits_the_scoped_data_only() -> None:
    req = request(requester="ISSSTE", requester_unit=None, data_class="ece.full", purpose="HLEGAL")
    decision = authorize(req, [order()], NOW)
    assert decision.permit
    assert decision.codes == (Code.PERMITTED_BY_JUDICIAL_ORDER,)
    assert (decision.data_from, decision.data_until) == (date(2024, 1, 1), date(2025, 12, 31))
    # other data class, other person, other requester, other period: denied
    other_class = dataclasses.replace(req, data_class="ece.summary")
    assert authorize(other_class, [order()], NOW).codes == (Code.DATA_CLASS_NOT_GRANTED,)
    other_person = dataclasses.replace(req, subject=OTHER_CURP)
    assert authorize(other_person, [order()], NOW).codes == (Code.NO_GRANT,)
    other_requester = dataclasses.replace(req, requester="IMSS")
    assert authorize(other_requester, [order()], NOW).codes == (Code.REQUESTER_NOT_GRANTED,)
    old = dataclasses.replace(req, data_until=date(2023, 12, 31))
    assert authorize(old, [order()], NOW).codes == (Code.DATA_PERIOD_NOT_COVERED,)


def test_judicial_order_revoked_or_expired_is_denied() -> None:
    req = request(requester="ISSSTE", requester_unit=None, data_class="ece.full", purpose="HLEGAL")
    revoked = order(revoked_at=NOW - timedelta(seconds=1))
    assert authorize(req, [revoked], NOW).codes == (Code.GRANT_REVOKED,)
    expired = order(valid_until=NOW - timedelta(seconds=1))
    assert authorize(req, [expired], NOW).codes == (Code.GRANT_EXPIRED,)


def test_judicial_order_without_its_particulars_is_denied() -> None:
    req = request(requester="ISSSTE", requester_unit=None, data_class="ece.full", purpose="HLEGAL")
    for bad in (order(court=" "), order(document_sha256="AB" * 32), order(order_date=None)):
        assert authorize(req, [bad], NOW).codes == (Code.GRANT_INVALID,)


def test_first_permitting_grant_wins_and_every_failure_is_listed_on_deny() -> None:
    bad = consent(grant_id="urn:uuid:a", withdrawn_at=NOW - timedelta(days=1))
    good = consent(grant_id="urn:uuid:b")
    assert authorize(request(), [bad, good], NOW).grant_id == "urn:uuid:b"
    expired = consent(grant_id="urn:uuid:c", valid_until=NOW - timedelta(days=1))
    decision = authorize(request(), [expired, bad], NOW)
    assert decision.codes == (Code.GRANT_WITHDRAWN, Code.GRANT_EXPIRED)
    assert [r.grant_id for r in decision.reasons] == ["urn:uuid:a", "urn:uuid:c"]


@pytest.mark.parametrize(
    "changes",
    [
        {"requester": "PEMEX"},
        {"requester_unit": "not-clues"},
        {"subject": "XXXX000000XXXXXX00"},
        {"data_class": "genome"},
        {"purpose": ""},
        {"purpose": "NOT-A-PURPOSE"},
        {"recipient_country": "mx"},
        {"data_from": date(2026, 1, 2), "data_until": date(2026, 1, 1)},
    ],
)
def test_malformed_requests_are_denied(changes: dict[str, Any]) -> None:
    decision = authorize(request(**changes), [consent()], NOW)
    assert not decision.permit
    assert decision.codes == (Code.REQUEST_INVALID,)


def test_naive_reference_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        authorize(request(), [consent()], datetime(2026, 6, 1, 12, 0))


def test_decision_json_is_what_the_audit_records() -> None:
    data = authorize(request(), [consent()], NOW).to_json()
    assert data["outcome"] == "permit"
    assert data["grantId"] == "urn:uuid:consent-1"
    assert data["reasons"] == [
        {
            "code": "PERMITTED_BY_CONSENT",
            "message": "by urn:uuid:consent-1",
            "grantId": data["grantId"],
        }
    ]


def test_authorize_never_touches_the_network(no_network: list[str]) -> None:
    authorize(request(), [consent(), order()], NOW)
    assert no_network == []
    assert socket.socket is not None


# -- properties over generated grants and requests ------------------------------------------------

_INSTITUTIONS = st.sampled_from(["IMSS", "ISSSTE", "IMSS-BIENESTAR"])
_UNITS = st.one_of(st.none(), st.sampled_from([UNIT, "JCIMS000213"]))
_CLASSES = st.sampled_from(list(DATA_CLASSES))
_PURPOSES = st.sampled_from([*HEALTH_PURPOSES, "HMARKT"])
_MOMENTS = st.integers(min_value=-60, max_value=60).map(lambda d: NOW + timedelta(days=d))


@st.composite
def _grants(draw: st.DrawFn) -> ConsentGrant | JudicialOrderGrant:
    start = draw(_MOMENTS)
    scope: dict[str, Any] = {
        "grant_id": "urn:uuid:g",
        "subject": draw(st.sampled_from([CURP, OTHER_CURP])),
        "grantees": tuple(
            Grantee(i, u)
            for i, u in draw(st.lists(st.tuples(_INSTITUTIONS, _UNITS), min_size=1, max_size=3))
        ),
        "data_classes": frozenset(draw(st.lists(_CLASSES, min_size=1, max_size=3))),
        "purposes": frozenset(
            draw(st.lists(st.sampled_from(list(HEALTH_PURPOSES)), min_size=1, max_size=3))
        ),
        "valid_from": start,
        "valid_until": start + timedelta(days=draw(st.integers(1, 90))),
    }
    if draw(st.booleans()):
        withdrawn = draw(st.one_of(st.none(), _MOMENTS))
        return consent(**scope, withdrawn_at=withdrawn)
    roles = draw(st.lists(st.sampled_from(["legal", "dpo"]), max_size=2, unique=True))
    approvals = tuple(JudicialApproval(r, f"client-{r}", NOW) for r in roles)
    return order(**scope, approvals=approvals, revoked_at=draw(st.one_of(st.none(), _MOMENTS)))


@st.composite
def _requests(draw: st.DrawFn) -> AccessRequest:
    return request(
        requester=draw(_INSTITUTIONS),
        requester_unit=draw(_UNITS),
        subject=draw(st.sampled_from([CURP, OTHER_CURP])),
        data_class=draw(_CLASSES),
        purpose=draw(_PURPOSES),
        recipient_country=draw(st.sampled_from(["MX", "MX", "US", "CA"])),
    )


@settings(max_examples=200, deadline=None)
@given(req=_requests(), grants=st.lists(_grants(), max_size=4), now=_MOMENTS)
def test_a_permit_is_always_backed_by_a_grant_that_covers_every_condition(
    req: AccessRequest, grants: list[ConsentGrant | JudicialOrderGrant], now: datetime
) -> None:
    grants = [dataclasses.replace(g, grant_id=f"urn:uuid:g-{i}") for i, g in enumerate(grants)]
    decision = authorize(req, grants, now)
    if req.recipient_country != "MX" or req.purpose == "HMARKT":
        assert not decision.permit
    if not decision.permit:
        assert decision.grant_id is None
        assert decision.reasons
        return
    grant = next(g for g in grants if g.grant_id == decision.grant_id)
    assert grant.subject == req.subject
    assert req.data_class in grant.data_classes
    assert req.purpose in grant.purposes
    assert any(g.covers(req.requester, req.requester_unit) for g in grant.grantees)
    assert grant.valid_from <= now < grant.valid_until
    if isinstance(grant, ConsentGrant):
        assert grant.withdrawn_at is None or now < grant.withdrawn_at
    else:
        assert grant.is_approved()
        assert grant.revoked_at is None or now < grant.revoked_at
