"""Holder presentations: holder proof, challenge (single use, expiry), domain, holder binding."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from issuer.keys.files import Ed25519KeyPair
from tests.conftest import NOW, Issuers
from tests.strategies import example_credential
from verifier import (
    DataLossError,
    InMemoryChallengeStore,
    KeyFormatError,
    PresentationError,
    PresentationVerifier,
    ReasonCode,
    Verdict,
    Verifier,
    create_presentation,
    did_key_from_public_key,
    did_key_verification_method,
    public_key_from_did_key,
)
from verifier._time import format_datetime

DOMAIN = "https://urgencias.hospital.example.mx"
CREATED = format_datetime(NOW)


@pytest.fixture(scope="module")
def holder_key() -> Ed25519KeyPair:
    return Ed25519KeyPair.generate()


@pytest.fixture(scope="module")
def holder(holder_key: Ed25519KeyPair) -> str:
    return did_key_from_public_key(holder_key.public_key)


def bound_credential(issuers: Issuers, subject_id: str | None) -> dict[str, Any]:
    unsigned = example_credential()
    if subject_id is not None:
        unsigned["credentialSubject"] = {"id": subject_id, **unsigned["credentialSubject"]}
    return issuers.sign(unsigned)


@pytest.fixture(scope="module")
def wallet_credential(issuers: Issuers, holder: str) -> dict[str, Any]:
    return bound_credential(issuers, holder)


@pytest.fixture
def challenges() -> InMemoryChallengeStore:
    return InMemoryChallengeStore()


@pytest.fixture
def checker(verifier: Verifier, challenges: InMemoryChallengeStore) -> PresentationVerifier:
    return PresentationVerifier(verifier, challenges)


def present(
    credentials: list[dict[str, Any]],
    key: Ed25519KeyPair,
    holder: str,
    challenge: str,
    domain: str = DOMAIN,
    created: str = CREATED,
) -> dict[str, Any]:
    return create_presentation(
        credentials, holder=holder, signer=key, challenge=challenge, domain=domain, created=created
    )


# -- did:key ------------------------------------------------------------------------------------


def test_did_key_round_trip(holder_key: Ed25519KeyPair, holder: str) -> None:
    assert holder.startswith("did:key:z6Mk")
    method = did_key_verification_method(holder)
    assert method == holder_key.did_key  # the issuer's key type agrees on the format
    assert public_key_from_did_key(holder) == holder_key.public_key
    assert public_key_from_did_key(method) == holder_key.public_key


@pytest.mark.parametrize(
    "value",
    [
        "did:web:imss.gob.mx",
        "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme",  # secp256k1, not Ed25519
        "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK#other",
        "did:key:",
        "did:key:z0OIl",
    ],
)
def test_did_key_refuses_what_is_not_an_ed25519_did_key(value: str) -> None:
    with pytest.raises(KeyFormatError):
        public_key_from_did_key(value)


# -- the happy path -----------------------------------------------------------------------------


def test_fresh_presentation_of_own_credential_is_valid(
    checker: PresentationVerifier,
    challenges: InMemoryChallengeStore,
    holder_key: Ed25519KeyPair,
    holder: str,
    wallet_credential: dict[str, Any],
) -> None:
    challenge = challenges.issue(DOMAIN, NOW)
    presentation = present([wallet_credential], holder_key, holder, challenge)
    assert presentation["proof"]["proofPurpose"] == "authentication"
    assert presentation["proof"]["challenge"] == challenge
    result = checker.check(json.dumps(presentation), domain=DOMAIN, now=NOW)
    assert result.verdict is Verdict.VALID, result.to_json("en")
    assert result.holder == holder
    assert [r.verdict for r in result.credentials] == [Verdict.VALID]
    assert result.to_json()["credentials"][0]["verdict"] == "VALID"


def test_replayed_presentation_is_rejected(
    checker: PresentationVerifier,
    challenges: InMemoryChallengeStore,
    holder_key: Ed25519KeyPair,
    holder: str,
    wallet_credential: dict[str, Any],
) -> None:
    presentation = present([wallet_credential], holder_key, holder, challenges.issue(DOMAIN, NOW))
    assert checker.check(presentation, domain=DOMAIN, now=NOW).is_valid
    replay = checker.check(presentation, domain=DOMAIN, now=NOW + timedelta(seconds=5))
    assert replay.verdict is Verdict.INVALID
    assert [r.code for r in replay.reasons] == [ReasonCode.CHALLENGE_REUSED]
    with pytest.raises(PresentationError) as raised:
        checker.verify(presentation, domain=DOMAIN, now=NOW)
    assert raised.value.code is ReasonCode.CHALLENGE_REUSED


def test_challenge_not_issued_here_is_rejected(
    checker: PresentationVerifier,
    holder_key: Ed25519KeyPair,
    holder: str,
    wallet_credential: dict[str, Any],
) -> None:
    presentation = present([wallet_credential], holder_key, holder, "made-up-by-the-wallet")
    result = checker.check(presentation, domain=DOMAIN, now=NOW)
    assert [r.code for r in result.reasons] == [ReasonCode.CHALLENGE_UNKNOWN]


def test_expired_challenge_is_rejected(
    verifier: Verifier, holder_key: Ed25519KeyPair, holder: str, wallet_credential: dict[str, Any]
) -> None:
    store = InMemoryChallengeStore(lifetime=timedelta(minutes=2))
    checker = PresentationVerifier(verifier, store)
    challenge = store.issue(DOMAIN, NOW)
    later = NOW + timedelta(minutes=3)
    presentation = present(
        [wallet_credential], holder_key, holder, challenge, created=format_datetime(later)
    )
    result = checker.check(presentation, domain=DOMAIN, now=later)
    assert [r.code for r in result.reasons] == [ReasonCode.CHALLENGE_EXPIRED]


def test_old_presentation_is_rejected_even_with_a_live_challenge(
    checker: PresentationVerifier,
    challenges: InMemoryChallengeStore,
    holder_key: Ed25519KeyPair,
    holder: str,
    wallet_credential: dict[str, Any],
) -> None:
    challenge = challenges.issue(DOMAIN, NOW)
    stale = format_datetime(NOW - timedelta(hours=1))
    presentation = present([wallet_credential], holder_key, holder, challenge, created=stale)
    result = checker.check(presentation, domain=DOMAIN, now=NOW)
    assert [r.code for r in result.reasons] == [ReasonCode.CHALLENGE_EXPIRED]


def test_wrong_domain_is_rejected_and_does_not_burn_the_challenge(
    checker: PresentationVerifier,
    challenges: InMemoryChallengeStore,
    holder_key: Ed25519KeyPair,
    holder: str,
    wallet_credential: dict[str, Any],
) -> None:
    challenge = challenges.issue(DOMAIN, NOW)
    elsewhere = present(
        [wallet_credential], holder_key, holder, challenge, domain="https://evil.example"
    )
    result = checker.check(elsewhere, domain=DOMAIN, now=NOW)
    assert [r.code for r in result.reasons] == [ReasonCode.DOMAIN_MISMATCH]
    # the holder can still answer the genuine request
    genuine = present([wallet_credential], holder_key, holder, challenge)
    assert checker.check(genuine, domain=DOMAIN, now=NOW).is_valid


def test_challenge_issued_for_another_domain_is_rejected(
    checker: PresentationVerifier,
    challenges: InMemoryChallengeStore,
    holder_key: Ed25519KeyPair,
    holder: str,
    wallet_credential: dict[str, Any],
) -> None:
    other = "https://farmacia.example.mx"
    challenge = challenges.issue(other, NOW)
    presentation = present([wallet_credential], holder_key, holder, challenge)
    result = checker.check(presentation, domain=DOMAIN, now=NOW)
    assert [r.code for r in result.reasons] == [ReasonCode.DOMAIN_MISMATCH]


# -- holder binding -----------------------------------------------------------------------------


def test_credential_bound_to_another_holder_is_rejected(
    checker: PresentationVerifier,
    challenges: InMemoryChallengeStore,
    issuers: Issuers,
    holder_key: Ed25519KeyPair,
    holder: str,
) -> None:
    victim = did_key_from_public_key(Ed25519KeyPair.generate().public_key)
    stolen = bound_credential(issuers, victim)
    presentation = present([stolen], holder_key, holder, challenges.issue(DOMAIN, NOW))
    result = checker.check(presentation, domain=DOMAIN, now=NOW)
    assert result.verdict is Verdict.INVALID
    assert [r.code for r in result.reasons] == [ReasonCode.HOLDER_MISMATCH]
    assert result.credentials[0].verdict is Verdict.VALID  # genuine, but not theirs


def test_card_credential_without_holder_is_not_a_wallet_credential(
    checker: PresentationVerifier,
    challenges: InMemoryChallengeStore,
    credential: dict[str, Any],
    holder_key: Ed25519KeyPair,
    holder: str,
) -> None:
    presentation = present([credential], holder_key, holder, challenges.issue(DOMAIN, NOW))
    result = checker.check(presentation, domain=DOMAIN, now=NOW)
    assert [r.code for r in result.reasons] == [ReasonCode.HOLDER_BINDING_MISSING]


def test_thief_signing_as_the_holder_without_the_key_fails(
    checker: PresentationVerifier,
    challenges: InMemoryChallengeStore,
    holder: str,
    wallet_credential: dict[str, Any],
) -> None:
    thief = Ed25519KeyPair.generate()
    challenge = challenges.issue(DOMAIN, NOW)
    # claims the victim as holder but can only sign with its own key
    forged = create_presentation(
        [wallet_credential],
        holder=holder,
        signer=thief,
        challenge=challenge,
        domain=DOMAIN,
        created=CREATED,
    )
    result = checker.check(forged, domain=DOMAIN, now=NOW)
    assert [r.code for r in result.reasons] == [ReasonCode.SIGNATURE_INVALID]
    assert result.holder is None
    # ... and the forgery did not use up the holder's challenge
    thief_as_self = did_key_from_public_key(thief.public_key)
    own = present([], thief, thief_as_self, challenge)
    assert checker.check(own, domain=DOMAIN, now=NOW, require_credentials=False).is_valid


def test_signature_by_another_did_key_than_the_holder_is_rejected(
    checker: PresentationVerifier,
    challenges: InMemoryChallengeStore,
    holder: str,
    wallet_credential: dict[str, Any],
) -> None:
    thief = Ed25519KeyPair.generate()
    presentation = present(
        [wallet_credential],
        thief,
        did_key_from_public_key(thief.public_key),
        challenges.issue(DOMAIN, NOW),
    )
    presentation["holder"] = holder  # relabel after signing
    result = checker.check(presentation, domain=DOMAIN, now=NOW)
    assert [r.code for r in result.reasons] == [ReasonCode.HOLDER_MISMATCH]


# -- tampering and shape ------------------------------------------------------------------------


def _tamper_credential_name(p: dict[str, Any]) -> None:
    p["verifiableCredential"][0]["credentialSubject"]["givenName"] = "OTRA"


def _swap_challenge(p: dict[str, Any]) -> None:
    p["proof"]["challenge"] = "x" + p["proof"]["challenge"]


def _purpose(p: dict[str, Any]) -> None:
    p["proof"]["proofPurpose"] = "assertionMethod"


def _no_challenge(p: dict[str, Any]) -> None:
    del p["proof"]["challenge"]


def _unknown_member(p: dict[str, Any]) -> None:
    p["biometricTemplate"] = "AAAA"


def _holder_not_did_key(p: dict[str, Any]) -> None:
    p["holder"] = "did:web:imss.gob.mx"


def _type(p: dict[str, Any]) -> None:
    p["type"] = ["VerifiableCredential"]


def _no_credentials(p: dict[str, Any]) -> None:
    del p["verifiableCredential"]


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (_tamper_credential_name, ReasonCode.SIGNATURE_INVALID),
        (_swap_challenge, ReasonCode.SIGNATURE_INVALID),
        (_purpose, ReasonCode.PROOF_PURPOSE_MISMATCH),
        (_no_challenge, ReasonCode.CHALLENGE_UNKNOWN),
        (_unknown_member, ReasonCode.PRESENTATION_MALFORMED),
        (_holder_not_did_key, ReasonCode.PRESENTATION_MALFORMED),
        (_type, ReasonCode.TYPE_INVALID),
        (_no_credentials, ReasonCode.PRESENTATION_MALFORMED),
    ],
)
def test_tampered_presentation_is_rejected_for_the_right_reason(
    checker: PresentationVerifier,
    challenges: InMemoryChallengeStore,
    holder_key: Ed25519KeyPair,
    holder: str,
    wallet_credential: dict[str, Any],
    mutate: Callable[[dict[str, Any]], None],
    code: ReasonCode,
) -> None:
    presentation = present(
        [copy.deepcopy(wallet_credential)], holder_key, holder, challenges.issue(DOMAIN, NOW)
    )
    mutate(presentation)
    result = checker.check(presentation, domain=DOMAIN, now=NOW)
    assert result.verdict is Verdict.INVALID
    assert [r.code for r in result.reasons] == [code]


def test_revoked_credential_in_a_genuine_presentation_is_invalid(
    issuers: Issuers,
    make_verifier: Callable[..., Verifier],
    holder_key: Ed25519KeyPair,
    holder: str,
    wallet_credential: dict[str, Any],
) -> None:
    from verifier import InMemoryStatusLists

    index = int(wallet_credential["credentialStatus"][0]["statusListIndex"])
    lists = InMemoryStatusLists(
        [
            issuers.status_list("revocation", set_indices=frozenset({index})),
            issuers.status_list("suspension"),
        ]
    )
    store = InMemoryChallengeStore()
    checker = PresentationVerifier(make_verifier(lists), store)
    presentation = present([wallet_credential], holder_key, holder, store.issue(DOMAIN, NOW))
    result = checker.check(presentation, domain=DOMAIN, now=NOW)
    assert result.verdict is Verdict.INVALID
    assert result.reasons == ()
    assert [r.code for r in result.credentials[0].reasons] == [ReasonCode.REVOKED]
    with pytest.raises(PresentationError) as raised:
        PresentationVerifier(make_verifier(lists), store).verify(
            present([wallet_credential], holder_key, holder, store.issue(DOMAIN, NOW)),
            domain=DOMAIN,
            now=NOW,
        )
    assert raised.value.code is ReasonCode.REVOKED


def test_missing_status_list_gives_indeterminate_not_valid(
    make_verifier: Callable[..., Verifier],
    holder_key: Ed25519KeyPair,
    holder: str,
    wallet_credential: dict[str, Any],
) -> None:
    store = InMemoryChallengeStore()
    checker = PresentationVerifier(make_verifier(None), store)
    presentation = present([wallet_credential], holder_key, holder, store.issue(DOMAIN, NOW))
    assert checker.check(presentation, domain=DOMAIN, now=NOW).verdict is Verdict.INDETERMINATE


@pytest.mark.parametrize(
    "data", ["", "[]", "{", '"x"', "{}", '{"@context": 5}', b"\xff\xfe", "9" * 10_000_000]
)
def test_garbage_is_invalid_not_a_crash(checker: PresentationVerifier, data: str | bytes) -> None:
    result = checker.check(data, domain=DOMAIN, now=NOW)
    assert result.verdict is Verdict.INVALID
    assert result.holder is None


def test_in_memory_store_is_bounded() -> None:
    store = InMemoryChallengeStore(max_outstanding=3)
    issued = [store.issue(DOMAIN, NOW) for _ in range(5)]
    with pytest.raises(PresentationError) as raised:
        store.consume(issued[0], DOMAIN, NOW)
    assert raised.value.code is ReasonCode.CHALLENGE_UNKNOWN
    store.consume(issued[-1], DOMAIN, NOW)


def test_presentation_without_challenge_or_domain_cannot_be_made(
    holder_key: Ed25519KeyPair, holder: str
) -> None:
    with pytest.raises(PresentationError):
        present([], holder_key, holder, "")


def test_presentation_made_now_by_default_verifies(
    verifier: Verifier, holder_key: Ed25519KeyPair, holder: str, wallet_credential: dict[str, Any]
) -> None:
    store = InMemoryChallengeStore()
    challenge = store.issue(DOMAIN, datetime.now(UTC))
    presentation = create_presentation(
        [wallet_credential], holder=holder, signer=holder_key, challenge=challenge, domain=DOMAIN
    )
    assert "created" in presentation["proof"]
    result = PresentationVerifier(verifier, store).check(presentation, domain=DOMAIN)
    assert result.reasons == ()


def test_a_lone_surrogate_in_a_presented_credential_is_invalid_not_a_crash(
    checker: PresentationVerifier,
    challenges: InMemoryChallengeStore,
    holder_key: Ed25519KeyPair,
    holder: str,
    wallet_credential: dict[str, Any],
) -> None:
    """JSON ``"\\ud800"`` is no Unicode text: refused as data loss, found by the fuzzer (pyld's
    full canonicalization, taken for presentations, used to raise UnicodeEncodeError)."""
    challenge = challenges.issue(DOMAIN, NOW)
    text = json.dumps(present([wallet_credential], holder_key, holder, challenge))
    assert text.count('"id": "urn:uuid:') == 1
    hostile = text.replace('"id": "urn:uuid:', '"id": "urn:\\ud800uuid:')
    # As text, the I-JSON reader refuses it before anything else (issue 18)...
    result = checker.check(hostile, domain=DOMAIN, now=NOW)
    assert result.verdict is Verdict.INVALID
    assert [reason.code for reason in result.reasons] == [ReasonCode.MALFORMED_INPUT]
    assert "lone surrogate" in result.reasons[0].detail
    # ...and as an object parsed by a lenient reader, canonicalization refuses it.
    result = checker.check(json.loads(hostile), domain=DOMAIN, now=NOW)
    assert result.verdict is Verdict.INVALID
    assert [reason.code for reason in result.reasons] == [ReasonCode.DATA_LOSS]


# -- eddsa-jcs-2022: what the browser wallet signs (ADR 0011) -----------------------------------


def _present_jcs(
    credentials: list[dict[str, Any]], key: Ed25519KeyPair, holder: str, challenge: str
) -> dict[str, Any]:
    return create_presentation(
        credentials,
        holder=holder,
        signer=key,
        challenge=challenge,
        domain=DOMAIN,
        created=CREATED,
        cryptosuite="eddsa-jcs-2022",
    )


def test_jcs_presentation_verifies_once(
    checker: PresentationVerifier,
    challenges: InMemoryChallengeStore,
    holder_key: Ed25519KeyPair,
    holder: str,
    wallet_credential: dict[str, Any],
) -> None:
    presentation = _present_jcs(
        [wallet_credential], holder_key, holder, challenges.issue(DOMAIN, NOW)
    )
    assert presentation["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    assert presentation["verifiableCredential"][0]["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    result = checker.check(json.dumps(presentation), domain=DOMAIN, now=NOW)
    assert result.verdict is Verdict.VALID, result.to_json("en")
    again = checker.check(presentation, domain=DOMAIN, now=NOW)
    assert [r.code for r in again.reasons] == [ReasonCode.CHALLENGE_REUSED]


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (_tamper_credential_name, ReasonCode.SIGNATURE_INVALID),
        (_swap_challenge, ReasonCode.SIGNATURE_INVALID),
        (_purpose, ReasonCode.PROOF_PURPOSE_MISMATCH),
        (lambda p: p["proof"].update(cryptosuite="eddsa-2022"), ReasonCode.PROOF_MALFORMED),
    ],
)
def test_tampered_jcs_presentation_is_rejected_for_the_right_reason(
    checker: PresentationVerifier,
    challenges: InMemoryChallengeStore,
    holder_key: Ed25519KeyPair,
    holder: str,
    wallet_credential: dict[str, Any],
    mutate: Callable[[dict[str, Any]], None],
    code: ReasonCode,
) -> None:
    presentation = _present_jcs(
        [copy.deepcopy(wallet_credential)], holder_key, holder, challenges.issue(DOMAIN, NOW)
    )
    mutate(presentation)
    result = checker.check(presentation, domain=DOMAIN, now=NOW)
    assert result.verdict is Verdict.INVALID
    assert [r.code for r in result.reasons] == [code]


def test_jcs_presentation_of_a_credential_with_an_undefined_term_is_data_loss(
    checker: PresentationVerifier,
    challenges: InMemoryChallengeStore,
    holder_key: Ed25519KeyPair,
    holder: str,
    wallet_credential: dict[str, Any],
) -> None:
    """The holder signs JSON, but a term no bundled context defines is refused before that."""
    credential = copy.deepcopy(wallet_credential)
    credential["credentialSubject"]["undefinedTerm"] = "x"
    with pytest.raises(DataLossError):
        _present_jcs([credential], holder_key, holder, challenges.issue(DOMAIN, NOW))


def test_unknown_cryptosuite_cannot_be_made(holder_key: Ed25519KeyPair, holder: str) -> None:
    with pytest.raises(PresentationError):
        create_presentation(
            [], holder=holder, signer=holder_key, challenge="c", domain=DOMAIN, cryptosuite="x"
        )
