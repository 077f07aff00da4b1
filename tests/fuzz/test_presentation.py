"""Fuzz ``PresentationVerifier.check``: arbitrary JSON, tampered signed presentations, edited
presentation text, and hostile credentials that the holder wraps and signs themself (a holder can
sign anything: what they present must still never crash the verifier nor come out VALID)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from issuer.keys.files import Ed25519KeyPair
from tests.conftest import NOW, Issuers
from tests.fuzzing import (
    examples,
    fuzz_call,
    hostile_json,
    mutated_json_text,
    parses_to,
    swapped_node,
)
from tests.strategies import example_credential
from verifier import (
    CredencialError,
    PresentationVerifier,
    ReasonCode,
    Verdict,
    Verifier,
    create_presentation,
    did_key_from_public_key,
)
from verifier._time import format_datetime

_PARSER = "presentation"
_DOMAIN = "https://urgencias.hospital.example.mx"
_CHALLENGE = "fuzz-challenge"


class _AnyChallenge:
    """A challenge store that accepts every challenge, every time: the fuzz target is the
    presentation parser and its proofs, not the store (tested in test_presentation.py)."""

    def issue(self, domain: str, now: datetime) -> str:
        return _CHALLENGE

    def consume(self, challenge: str, domain: str, now: datetime) -> None:
        return None


def _settings(share: float) -> settings:
    return settings(
        max_examples=examples(share),
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


@pytest.fixture(scope="module")
def holder_key() -> Ed25519KeyPair:
    return Ed25519KeyPair.generate()


@pytest.fixture(scope="module")
def wallet_credential(issuers: Issuers, holder_key: Ed25519KeyPair) -> dict[str, Any]:
    unsigned = example_credential()
    holder = did_key_from_public_key(holder_key.public_key)
    unsigned["credentialSubject"] = {"id": holder, **unsigned["credentialSubject"]}
    return issuers.sign(unsigned)


def _present(credentials: list[dict[str, Any]], key: Ed25519KeyPair) -> dict[str, Any]:
    return create_presentation(
        credentials,
        holder=did_key_from_public_key(key.public_key),
        signer=key,
        challenge=_CHALLENGE,
        domain=_DOMAIN,
        created=format_datetime(NOW),
    )


@pytest.fixture(scope="module")
def presentation(wallet_credential: dict[str, Any], holder_key: Ed25519KeyPair) -> dict[str, Any]:
    return _present([wallet_credential], holder_key)


@pytest.fixture
def checker(verifier: Verifier) -> PresentationVerifier:
    return PresentationVerifier(verifier, _AnyChallenge())


def _check(checker: PresentationVerifier, data: Any) -> Any:
    return lambda: checker.check(data, domain=_DOMAIN, now=NOW)


def test_the_untampered_presentation_is_valid(
    checker: PresentationVerifier, presentation: dict[str, Any]
) -> None:
    result = fuzz_call(_PARSER, _check(checker, json.dumps(presentation)))
    assert getattr(result, "verdict", None) is Verdict.VALID


@_settings(0.2)
@given(document=hostile_json)
def test_arbitrary_json_is_never_a_valid_presentation(
    checker: PresentationVerifier, document: Any
) -> None:
    fuzz_call(_PARSER, _check(checker, json.dumps(document)), mutated=True)


@_settings(0.15)
@given(data=st.data())
def test_tampered_presentation_is_never_valid(
    checker: PresentationVerifier, presentation: dict[str, Any], data: st.DataObject
) -> None:
    """Any node (the embedded credential and both proofs included) replaced by hostile JSON or
    by a same-meaning rewrite."""
    tampered = data.draw(swapped_node(presentation), label="tampered")
    fuzz_call(_PARSER, _check(checker, tampered), mutated=True)


@_settings(0.72)
@given(data=st.data())
def test_edited_presentation_text_is_never_valid(
    checker: PresentationVerifier, presentation: dict[str, Any], data: st.DataObject
) -> None:
    text = data.draw(mutated_json_text(json.dumps(presentation)), label="text")
    raw = text.encode("utf-8", "surrogatepass")
    fuzz_call(_PARSER, _check(checker, raw), mutated=not parses_to(raw, presentation))


@_settings(0.08)  # dear (a full JSON-LD signing per example), and most draws cannot be signed
@given(data=st.data())
def test_hostile_credential_signed_by_the_holder_is_never_valid(
    checker: PresentationVerifier,
    wallet_credential: dict[str, Any],
    holder_key: Ed25519KeyPair,
    data: st.DataObject,
) -> None:
    """The holder's own valid signature over a tampered credential (or over arbitrary JSON in
    its place): the presentation authenticates, the credential must not."""
    hostile = data.draw(
        st.one_of(
            swapped_node(wallet_credential),
            st.dictionaries(st.text(max_size=12), hostile_json, max_size=6),
        ),
        label="credential",
    )
    try:
        signed = _present([hostile], holder_key)
    except CredencialError:
        return  # the holder's library refuses to sign it (e.g. data JSON-LD would drop)
    fuzz_call(_PARSER, _check(checker, signed), mutated=True)


# -- what the fuzzer found ------------------------------------------------------------------------


@pytest.mark.parametrize("context", ["", ["https://www.w3.org/ns/credentials/v2", {"@base": ""}]])
def test_embedded_credential_with_a_bad_base_iri_is_invalid_not_a_crash(
    checker: PresentationVerifier, presentation: dict[str, Any], context: Any
) -> None:
    """``"@context": ""`` inside the embedded credential made pyld's IRI resolver raise a bare
    ValueError while the presentation was canonicalized (before any signature check)."""
    tampered = {
        **presentation,
        "verifiableCredential": [dict(presentation["verifiableCredential"][0])],
    }
    tampered["verifiableCredential"][0]["@context"] = context
    result = fuzz_call(_PARSER, _check(checker, tampered), mutated=True)
    assert getattr(result, "verdict", None) is Verdict.INVALID
    assert [reason.code for reason in result.reasons] == [ReasonCode.DATA_LOSS]  # type: ignore[union-attr]
