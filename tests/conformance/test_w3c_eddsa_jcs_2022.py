"""eddsa-jcs-2022 (the browser wallet's presentations, ADR 0011) against the W3C test vectors.

The vectors (w3c/vc-di-eddsa TestVectors) are read from ../shared; the same data-loss rules as
for eddsa-rdfc-2022 hold, and RFC 8785's own number examples pin the canonical JSON.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from issuer.keys.files import Ed25519KeyPair
from verifier import (
    ContextError,
    ContextLoader,
    DataLossError,
    InputError,
    ProofError,
    ReasonCode,
    public_key_from_did_key,
    split_proof,
)
from verifier._jcs import create_jcs_proof, jcs, jcs_hash_data, verify_jcs_signature

EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def vectors(shared_w3c: Path) -> Path:
    return shared_w3c / "eddsa" / "eddsa-jcs-2022"


@pytest.fixture(scope="module")
def loader(shared_w3c: Path) -> ContextLoader:
    return ContextLoader(
        {EXAMPLES_V2: _json(shared_w3c / "contexts" / "credentials-examples-v2.jsonld")}
    )


@pytest.fixture(scope="module")
def key_pair(shared_w3c: Path) -> Ed25519KeyPair:
    return Ed25519KeyPair.from_json(_json(shared_w3c / "eddsa" / "keyPair.json"))


def test_canonical_document_and_proof_config(shared_w3c: Path, vectors: Path) -> None:
    unsigned = _json(shared_w3c / "eddsa" / "unsigned.json")
    assert jcs(unsigned) == (vectors / "canonDocJCS.txt").read_bytes().strip()
    config = _json(vectors / "proofConfigJCS.json")
    assert jcs(config) == (vectors / "proofCanonJCS.txt").read_bytes().strip()


def test_hash_data_is_proof_hash_then_document_hash(
    shared_w3c: Path, vectors: Path, loader: ContextLoader
) -> None:
    unsigned = _json(shared_w3c / "eddsa" / "unsigned.json")
    config = _json(vectors / "proofConfigJCS.json")
    data = jcs_hash_data(unsigned, config, loader)
    assert data[:32].hex() == (vectors / "proofHashJCS.txt").read_text().strip()
    assert data[32:].hex() == (vectors / "docHashJCS.txt").read_text().strip()
    assert data.hex() == (vectors / "combinedHashJCS.txt").read_text().strip()


def test_signing_reproduces_the_vector(
    shared_w3c: Path, vectors: Path, loader: ContextLoader, key_pair: Ed25519KeyPair
) -> None:
    unsigned = _json(shared_w3c / "eddsa" / "unsigned.json")
    config = _json(vectors / "proofConfigJCS.json")
    signed = create_jcs_proof(
        unsigned,
        signer=key_pair,
        verification_method=config["verificationMethod"],
        loader=loader,
        created=config["created"],
        extra_options={"@context": config["@context"]},
    )
    expected = _json(vectors / "signedJCS.json")
    assert signed["proof"]["proofValue"] == expected["proof"]["proofValue"]
    assert signed == expected


def test_signed_vector_verifies_and_a_changed_claim_does_not(
    vectors: Path, loader: ContextLoader
) -> None:
    signed = _json(vectors / "signedJCS.json")
    key = public_key_from_did_key(signed["proof"]["verificationMethod"])
    verify_jcs_signature(split_proof(signed), key, loader)
    changed = copy.deepcopy(signed)
    changed["credentialSubject"]["alumniOf"] = "Another School"
    with pytest.raises(ProofError) as caught:
        verify_jcs_signature(split_proof(changed), key, loader)
    assert caught.value.code is ReasonCode.SIGNATURE_INVALID


def test_undefined_term_is_data_loss_even_when_signed(
    shared_w3c: Path, vectors: Path, loader: ContextLoader, key_pair: Ed25519KeyPair
) -> None:
    """JCS alone would sign and verify a term no context defines; the data-loss rule refuses it."""
    unsigned = _json(shared_w3c / "eddsa" / "unsigned.json")
    unsigned["@context"] = unsigned["@context"][:1]  # credentials/v2 alone: no @vocab
    unsigned["type"] = ["VerifiableCredential"]
    del unsigned["credentialSubject"]["alumniOf"]
    assert jcs_hash_data(unsigned, {**_json(vectors / "proofConfigJCS.json")}, loader)
    unsigned["credentialSubject"]["favouriteColour"] = "green"  # defined by no context
    config = _json(vectors / "proofConfigJCS.json")
    with pytest.raises(DataLossError):
        create_jcs_proof(
            unsigned,
            signer=key_pair,
            verification_method=config["verificationMethod"],
            loader=loader,
        )
    signed = _json(vectors / "signedJCS.json")
    signed["proof"]["@context"] = signed["@context"] = [signed["@context"][0]]
    key = public_key_from_did_key(signed["proof"]["verificationMethod"])
    with pytest.raises(DataLossError):  # the examples' terms without their context
        verify_jcs_signature(split_proof(signed), key, loader)


def test_unknown_context_is_refused_not_fetched(vectors: Path) -> None:
    signed = _json(vectors / "signedJCS.json")
    key = public_key_from_did_key(signed["proof"]["verificationMethod"])
    with pytest.raises(ContextError):
        verify_jcs_signature(split_proof(signed), key, ContextLoader())


def test_rdfc_proof_is_not_taken_for_jcs(vectors: Path, loader: ContextLoader) -> None:
    signed = _json(vectors / "signedJCS.json")
    signed["proof"]["cryptosuite"] = "eddsa-rdfc-2022"
    key = public_key_from_did_key(signed["proof"]["verificationMethod"])
    with pytest.raises(ProofError) as caught:
        verify_jcs_signature(split_proof(signed), key, loader)
    assert caught.value.code is ReasonCode.PROOF_MALFORMED


@pytest.mark.parametrize(
    ("value", "text"),
    [  # RFC 8785 Appendix B and §3.2.3's examples
        (0.0, "0"),
        (-0.0, "0"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (333333333.3333333, "333333333.3333333"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (4.50, "4.5"),
        (2e-3, "0.002"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (9007199254740991, "9007199254740991"),
        (-1.5e-10, "-1.5e-10"),
    ],
)
def test_numbers_are_written_as_ecmascript_does(value: float, text: str) -> None:
    assert jcs(value).decode() == text


def test_keys_sort_by_utf16_code_units_and_text_is_escaped_minimally() -> None:
    value = {"\U0001f600": 1, "\ufb01": 2, "a": '\u2028\x7f\n\x01"\\é'}
    assert jcs(value).decode() == '{"a":"\u2028\x7f\\n\\u0001\\"\\\\é","\U0001f600":1,"\ufb01":2}'


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("\ud800", DataLossError),
        (2**53, DataLossError),
        (float("nan"), DataLossError),
        ({1: "x"}, InputError),
        (b"bytes", InputError),
    ],
)
def test_what_is_not_i_json_is_refused(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        jcs(value)


def test_hash_is_sha256_of_the_canonical_bytes(shared_w3c: Path) -> None:
    unsigned = _json(shared_w3c / "eddsa" / "unsigned.json")
    assert (
        hashlib.sha256(jcs(unsigned)).hexdigest()
        == hashlib.sha256(
            json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        ).hexdigest()
    )  # ASCII keys, no numbers: JCS agrees with sorted compact JSON here
