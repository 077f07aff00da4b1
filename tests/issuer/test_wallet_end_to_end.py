"""The citizen, end to end, in-process: the desk enrols and offers; the wallet receives the
credential (OpenID4VCI, key proof), stores it, answers a presentation request with a fresh
challenge, and the issuer's ``POST /presentations/verify`` says VALID, once. A replay, a wrong
domain, a credential bound to another holder and an unbound card are refused for their reason;
the database challenge store keeps challenges single use across processes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from issuer.credentials.service import IssuerService
from issuer.storage.challenges import C_NONCE_PURPOSE, DatabaseChallengeStore
from tests.issuer._wallet_world import Desk, Json, make_desk
from verifier import PresentationError, ReasonCode, format_datetime
from wallet_spec.holder import (
    CredentialState,
    HolderKey,
    WalletError,
    WalletStore,
    answer_request,
    credential_state,
)

DOMAIN = "https://hospital-general.example.gob.mx"


@pytest.fixture
def desk(service: IssuerService) -> Desk:
    return make_desk(service)


def _challenge(desk: Desk, domain: str = DOMAIN) -> str:
    response = desk.client.post("/challenges", json={"domain": domain})
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["domain"] == domain
    challenge: str = response.json()["challenge"]
    return challenge


def _request(challenge: str, domain: str = DOMAIN) -> Json:
    """What the front desk's screen shows the wallet (wallet_spec presentation request)."""
    return {
        "query": [{
            "type": "QueryByExample",
            "credentialQuery": {
                "reason": "Verificar su derechohabiencia",
                "example": {"type": "HealthCoverageCredential",
                            "credentialSubject": {"coverage": {"institution": "IMSS"}}},
            },
        }],
        "challenge": challenge,
        "domain": domain,
    }  # fmt: skip


def _verify(desk: Desk, presentation: Json, domain: str = DOMAIN, **options: str) -> Any:
    return desk.client.post(
        "/presentations/verify",
        json={"verifiablePresentation": presentation, "options": {"domain": domain, **options}},
    )


def _codes(body: Json) -> list[str]:
    return [reason["code"] for reason in body["reasons"]]


def test_offer_to_valid_presentation_then_replay_refused(desk: Desk, tmp_path: Path) -> None:
    store = WalletStore(tmp_path / "wallet")
    key = store.create_key()
    card = desk.enrol()
    credential = desk.receive(key, desk.offer(card["id"]))
    store.add(credential, received_at=datetime.now(UTC), source="oid4vci")

    challenge = _challenge(desk)
    answer = answer_request(
        _request(challenge),
        key=store.load_key(),
        credentials=[e["credential"] for e in store.entries()],
        now=datetime.now(UTC),
    )
    presentation = answer["verifiablePresentation"]
    assert presentation["holder"] == key.did
    assert presentation["verifiableCredential"] == [credential]  # only what was asked
    assert presentation["proof"]["challenge"] == challenge
    assert presentation["proof"]["domain"] == DOMAIN
    assert presentation["proof"]["proofPurpose"] == "authentication"

    response = _verify(desk, presentation, challenge=challenge)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["verified"], body["verdict"], body["holder"]) == (True, "VALID", key.did)
    assert body["presentationProofChecked"] is True
    assert [r["verdict"] for r in body["credentialResults"]] == ["VALID"]

    replay = _verify(desk, presentation)
    assert replay.status_code == 400
    assert replay.json()["verdict"] == "INVALID"
    assert _codes(replay.json()) == ["CHALLENGE_REUSED"]
    # The holder's signature did verify: the refusal names who signed, and what was refused.
    assert replay.json()["holder"] == key.did
    assert replay.json()["title"] == "The presentation did not verify"


def test_wrong_domain_is_refused_and_does_not_burn_the_challenge(desk: Desk) -> None:
    key = HolderKey.generate()
    credential = desk.receive(key, desk.offer(desk.enrol()["id"]))
    challenge = _challenge(desk)
    now = datetime.now(UTC)
    presentation = answer_request(_request(challenge), key=key, credentials=[credential], now=now)[
        "verifiablePresentation"
    ]
    response = _verify(desk, presentation, domain="https://other-hospital.example.gob.mx")
    assert response.status_code == 400
    assert _codes(response.json()) == ["DOMAIN_MISMATCH"]
    # Made for another domain with our challenge: the store knows the challenge's domain.
    elsewhere = answer_request(
        _request(challenge, "https://elsewhere.example"), key=key, credentials=[credential], now=now
    )["verifiablePresentation"]
    response = _verify(desk, elsewhere, domain="https://elsewhere.example")
    assert _codes(response.json()) == ["DOMAIN_MISMATCH"]
    assert _verify(desk, presentation).status_code == 200  # the right one still passes
    wrong_option = _verify(desk, presentation, challenge="another")
    assert _codes(wrong_option.json()) == ["CHALLENGE_UNKNOWN"]


def test_a_credential_bound_to_another_holder_is_refused(desk: Desk) -> None:
    owner, thief = HolderKey.generate(), HolderKey.generate()
    credential = desk.receive(owner, desk.offer(desk.enrol()["id"]))
    # The thief's wallet would not even offer it...
    with pytest.raises(WalletError) as excinfo:
        answer_request(
            _request(_challenge(desk)), key=thief, credentials=[credential], now=datetime.now(UTC)
        )
    assert excinfo.value.code == "NO_MATCHING_CREDENTIAL"
    # ...and a hand-made presentation signed by the thief is refused by the verifier.
    from verifier import create_presentation

    stolen = create_presentation(
        [credential],
        holder=thief.did,
        signer=thief,
        challenge=_challenge(desk),
        domain=DOMAIN,
        created=format_datetime(datetime.now(UTC)),
    )
    response = _verify(desk, stolen)
    assert response.status_code == 400
    assert _codes(response.json()) == ["HOLDER_MISMATCH"]
    # A card (no holder id) cannot be presented as a wallet credential either.
    card = desk.enrol()
    unbound = create_presentation(
        [card],
        holder=thief.did,
        signer=thief,
        challenge=_challenge(desk),
        domain=DOMAIN,
        created=format_datetime(datetime.now(UTC)),
    )
    assert _codes(_verify(desk, unbound).json()) == ["HOLDER_BINDING_MISSING"]
    # Someone else signing for the owner's did:key: the signature fails.
    forged = create_presentation(
        [credential],
        holder=owner.did,
        signer=thief,
        challenge=_challenge(desk),
        domain=DOMAIN,
        created=format_datetime(datetime.now(UTC)),
    )
    assert _codes(_verify(desk, forged).json()) == ["SIGNATURE_INVALID"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_suspended_credential_in_a_good_presentation_is_invalid(desk: Desk) -> None:
    key = HolderKey.generate()
    card = desk.enrol()
    credential = desk.receive(key, desk.offer(card["id"]))
    desk.set_status(card["id"], "suspend")
    presentation = answer_request(
        _request(_challenge(desk)), key=key, credentials=[credential], now=datetime.now(UTC)
    )["verifiablePresentation"]
    response = _verify(desk, presentation)
    assert response.json()["verdict"] == "INVALID"
    assert _codes(response.json()) == ["SUSPENDED"]
    assert credential_state(desk.library_check(credential)) is CredentialState.SUSPENDED


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_presentation_endpoint_refuses_malformed_input(desk: Desk) -> None:
    no_options = desk.client.post("/presentations/verify", json={"verifiablePresentation": {}})
    assert no_options.status_code == 422
    response = _verify(desk, {"type": ["VerifiablePresentation"]})
    assert response.status_code == 400
    assert response.json()["verdict"] == "INVALID"
    deep: Any = []
    for _ in range(60):
        deep = [deep]
    response = _verify(desk, {"type": "VerifiablePresentation", "x": deep})
    assert _codes(response.json()) == ["MALFORMED_INPUT"]
    assert desk.client.post("/challenges", json={"domain": ""}).status_code == 422
    assert desk.client.post("/challenges", json={"domain": "a b"}).status_code == 422


# -- the database challenge store -----------------------------------------------------------------


def _refusal(store: DatabaseChallengeStore, challenge: str, domain: str, now: datetime) -> str:
    with pytest.raises(PresentationError) as excinfo:
        store.consume(challenge, domain, now)
    return excinfo.value.code.value


def test_database_challenge_store(service: IssuerService) -> None:
    now = datetime.now(UTC)
    store = DatabaseChallengeStore(service.db, lifetime=timedelta(minutes=5))
    other_process = DatabaseChallengeStore(service.db)  # shares only the database
    challenge = store.issue("desk-1", now)
    assert _refusal(other_process, challenge, "desk-2", now) == ReasonCode.DOMAIN_MISMATCH
    other_process.consume(challenge, "desk-1", now)  # the mismatch did not use it up
    assert _refusal(store, challenge, "desk-1", now) == ReasonCode.CHALLENGE_REUSED
    assert _refusal(store, "never-issued", "desk-1", now) == ReasonCode.CHALLENGE_UNKNOWN
    late = store.issue("desk-1", now)
    later = now + timedelta(minutes=5, seconds=1)
    assert _refusal(store, late, "desk-1", later) == ReasonCode.CHALLENGE_EXPIRED
    nonces = DatabaseChallengeStore(service.db, purpose=C_NONCE_PURPOSE)
    fresh = store.issue("https://imss.gob.mx", now)
    assert _refusal(nonces, fresh, "https://imss.gob.mx", now) == ReasonCode.CHALLENGE_UNKNOWN
    store.consume(fresh, "https://imss.gob.mx", now)
    # Issuing prunes what has expired; the table stays bounded.
    capped = DatabaseChallengeStore(service.db, max_outstanding=3)
    capped.issue("desk", later + timedelta(minutes=10))
    from issuer.storage.challenges import ChallengeLimitError

    capped.issue("desk", later + timedelta(minutes=10))
    capped.issue("desk", later + timedelta(minutes=10))
    with pytest.raises(ChallengeLimitError):
        capped.issue("desk", later + timedelta(minutes=10))
    with pytest.raises(ValueError, match="domain"):
        store.issue("", now)
