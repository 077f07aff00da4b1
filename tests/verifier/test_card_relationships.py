"""The relationship vocabulary (ADR 0010): its new terms travel in every form, and every card made
before they were added still decodes to the same credential and verifies."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jsonschema import Draft202012Validator

from issuer.keys.files import Ed25519KeyPair
from schemas import health_coverage_json_schema
from tests.conftest import NOW as CONFTEST_NOW
from tests.conftest import Issuers
from verifier import (
    RELATIONSHIP_TERMS,
    RELATIONSHIP_TERMS_WRITTEN,
    RETIRED_RELATIONSHIP_TERMS,
    CardEncodingError,
    Coverage,
    ReasonCode,
    TrustedKey,
    TrustStore,
    Verdict,
    Verifier,
    decode_card,
    encode_card,
    parse_health_coverage_credential,
)
from verifier._base45 import b45decode
from verifier._card import dictionary_tables
from verifier._cardfast import encode_issuer_card, read_issuer_card
from verifier._modelcheck import conforms_to_subject_model

BEFORE = Path(__file__).parent / "data" / "cards-before-issue-19.json"
#: A moment inside the fixture's validity period (2026-01-01 .. 2031-01-01).
NOW = datetime(2026, 6, 1, tzinfo=UTC)
VERSION_1_TERMS = ("titular", "conyuge", "concubino", "hijo", "padre", "madre", "otro")


def _cards_before() -> list[dict[str, Any]]:
    cards: list[dict[str, Any]] = json.loads(BEFORE.read_text(encoding="utf-8"))["cards"]
    return cards


@pytest.fixture(scope="module")
def example_trust() -> TrustStore:
    key = Ed25519KeyPair(
        Ed25519PrivateKey.from_private_bytes(
            hashlib.sha256(b"credencial card-codec example").digest()
        )
    )
    entry = {
        "id": "did:web:imss.gob.mx#key-1",
        "controller": "did:web:imss.gob.mx",
        "publicKeyMultibase": key.public_key_multibase,
    }
    return TrustStore([TrustedKey.from_json(entry)])


def test_fixture_covers_every_version_1_term() -> None:
    terms = [
        card["credential"]["credentialSubject"]["coverage"]["beneficiaryRelationship"]
        for card in _cards_before()
    ]
    assert sorted(terms) == sorted(VERSION_1_TERMS)


@pytest.mark.parametrize("made", _cards_before(), ids=lambda made: made["card"][:12])
def test_cards_made_before_decode_to_the_same_credential(
    made: dict[str, Any], example_trust: TrustStore
) -> None:
    assert decode_card(made["card"]) == made["credential"]
    assert encode_card(made["credential"]) == made["card"]  # still its one card text
    result = Verifier(example_trust).check(made["card"], now=NOW)
    # Everything but the (absent) status lists checks out: the signature first.
    assert {reason.code for reason in result.reasons} == {ReasonCode.STATUS_UNAVAILABLE}
    assert result.verdict is Verdict.INDETERMINATE


def test_version_1_positions_keep_their_meaning() -> None:
    assert RELATIONSHIP_TERMS[: len(VERSION_1_TERMS)] == VERSION_1_TERMS
    assert dictionary_tables()["coverage.beneficiaryRelationship"] == RELATIONSHIP_TERMS


def test_every_form_has_the_same_vocabulary() -> None:
    model = get_args(Coverage.model_fields["beneficiary_relationship"].annotation)
    assert model == RELATIONSHIP_TERMS
    enums = _enums_with(health_coverage_json_schema(), "titular")
    assert enums == [list(RELATIONSHIP_TERMS)]


def _enums_with(node: Any, value: str) -> list[list[str]]:
    found: list[list[str]] = []
    if isinstance(node, dict):
        if isinstance(node.get("enum"), list) and value in node["enum"]:
            found.append(node["enum"])
        for child in node.values():
            found += _enums_with(child, value)
    elif isinstance(node, list):
        for child in node:
            found += _enums_with(child, value)
    return found


def test_written_terms_are_in_the_vocabulary_and_retired_ones_are_not_written() -> None:
    assert set(RELATIONSHIP_TERMS_WRITTEN) <= set(RELATIONSHIP_TERMS)
    assert set(RELATIONSHIP_TERMS) - set(RELATIONSHIP_TERMS_WRITTEN) == set(
        RETIRED_RELATIONSHIP_TERMS
    )
    assert set(RETIRED_RELATIONSHIP_TERMS.values()) <= set(RELATIONSHIP_TERMS_WRITTEN)


@pytest.mark.parametrize("term", RELATIONSHIP_TERMS[len(VERSION_1_TERMS) :])
def test_new_terms_travel_in_every_form(issuers: Issuers, verifier: Verifier, term: str) -> None:
    unsigned = copy.deepcopy(_cards_before()[0]["credential"])  # the issuer's own layout
    del unsigned["proof"]
    unsigned["credentialSubject"]["coverage"]["beneficiaryRelationship"] = term
    signed = issuers.sign(unsigned)
    card = encode_card(signed)
    assert decode_card(card) == signed
    fast = read_issuer_card(b45decode(card.removeprefix("SUS1:")))
    assert fast is not None
    assert fast.credential == signed
    assert encode_issuer_card(signed) is not None  # and the fast writer
    assert conforms_to_subject_model(signed["credentialSubject"])  # the quick check agrees
    parse_health_coverage_credential(signed)
    Draft202012Validator(health_coverage_json_schema()).validate(signed)
    assert verifier.check(card, now=CONFTEST_NOW).verdict is Verdict.VALID


def test_a_term_outside_the_vocabulary_is_refused(credential: dict[str, Any]) -> None:
    for term in ("Hija", "conyuge ", "primo", "HIJA"):
        changed = copy.deepcopy(credential)
        changed["credentialSubject"]["coverage"]["beneficiaryRelationship"] = term
        with pytest.raises(CardEncodingError, match="beneficiaryRelationship"):
            encode_card(changed)
        assert not conforms_to_subject_model(changed["credentialSubject"])
        with pytest.raises(ValueError, match="beneficiaryRelationship"):
            parse_health_coverage_credential(changed)
