"""The official eddsa-rdfc-2022 test vectors (w3c/vc-di-eddsa TestVectors), read from ../shared."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from issuer.keys.files import Ed25519KeyPair
from verifier import (
    ContextLoader,
    ReasonCode,
    TrustedKey,
    TrustStore,
    Verdict,
    Verifier,
    VerifierConfig,
    canonicalize,
    create_proof,
    hash_data,
    split_proof,
)

EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
ISSUER = "https://vc.example/issuers/5678"


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def vectors(shared_w3c: Path) -> Path:
    return shared_w3c / "eddsa" / "eddsa-rdfc-2022"


@pytest.fixture(scope="module")
def loader(shared_w3c: Path) -> ContextLoader:
    """Bundled contexts plus the W3C examples context, as ``--context`` would add it."""
    return ContextLoader(
        {EXAMPLES_V2: _json(shared_w3c / "contexts" / "credentials-examples-v2.jsonld")}
    )


@pytest.fixture(scope="module")
def key_pair(shared_w3c: Path) -> Ed25519KeyPair:
    return Ed25519KeyPair.from_json(_json(shared_w3c / "eddsa" / "keyPair.json"))


@pytest.fixture(scope="module")
def proof_config(vectors: Path) -> dict[str, Any]:
    config: dict[str, Any] = _json(vectors / "proofConfigDataInt.json")
    return config


def test_canonical_document(shared_w3c: Path, vectors: Path, loader: ContextLoader) -> None:
    unsigned = _json(shared_w3c / "eddsa" / "unsigned.json")
    assert canonicalize(unsigned, loader) == _text(vectors / "canonDocDataInt.txt")


def test_canonical_proof_config(
    vectors: Path, proof_config: dict[str, Any], loader: ContextLoader
) -> None:
    assert canonicalize(proof_config, loader) == _text(vectors / "proofCanonDataInt.txt")


def test_hashes(
    shared_w3c: Path, vectors: Path, proof_config: dict[str, Any], loader: ContextLoader
) -> None:
    unsigned = _json(shared_w3c / "eddsa" / "unsigned.json")
    doc_hash = hashlib.sha256(canonicalize(unsigned, loader).encode()).hexdigest()
    proof_hash = hashlib.sha256(canonicalize(proof_config, loader).encode()).hexdigest()
    assert doc_hash == _text(vectors / "docHashDataInt.txt").strip()
    assert proof_hash == _text(vectors / "proofHashDataInt.txt").strip()
    combined = hash_data(unsigned, proof_config, loader)
    assert combined.hex() == _text(vectors / "combinedHashDataInt.txt").strip()


def test_signing_reproduces_the_proof_value(
    shared_w3c: Path,
    vectors: Path,
    proof_config: dict[str, Any],
    loader: ContextLoader,
    key_pair: Ed25519KeyPair,
) -> None:
    unsigned = _json(shared_w3c / "eddsa" / "unsigned.json")
    signed = create_proof(
        unsigned,
        signer=key_pair,
        verification_method=proof_config["verificationMethod"],
        loader=loader,
        created=proof_config["created"],
    )
    parts = split_proof(signed)
    assert parts.signature.hex() == _text(vectors / "sigHexDataInt.txt").strip()
    assert signed["proof"]["proofValue"] == _text(vectors / "sigBTC58DataInt.txt").strip()
    assert signed == _json(vectors / "signedDataInt.json")


def _vector_verifier(shared_w3c: Path, key_pair: Ed25519KeyPair, vm: str) -> Verifier:
    trust = TrustStore(
        [
            TrustedKey.from_json(
                {
                    "id": vm,
                    "controller": ISSUER,
                    "publicKeyMultibase": key_pair.public_key_multibase,
                }
            )
        ]
    )
    context = _json(shared_w3c / "contexts" / "credentials-examples-v2.jsonld")
    return Verifier(trust, VerifierConfig(extra_contexts={EXAMPLES_V2: context}))


def test_signed_vector_verifies(shared_w3c: Path, vectors: Path, key_pair: Ed25519KeyPair) -> None:
    signed = _json(vectors / "signedDataInt.json")
    verifier = _vector_verifier(shared_w3c, key_pair, signed["proof"]["verificationMethod"])
    result = verifier.check(signed)
    assert result.verdict is Verdict.VALID, result.reasons
    assert verifier.verify(signed) == signed


def test_signed_vector_with_a_changed_claim_fails(
    shared_w3c: Path, vectors: Path, key_pair: Ed25519KeyPair
) -> None:
    signed = _json(vectors / "signedDataInt.json")
    signed["credentialSubject"]["alumniOf"] = "The School of Forgeries"
    verifier = _vector_verifier(shared_w3c, key_pair, signed["proof"]["verificationMethod"])
    result = verifier.check(signed)
    assert result.verdict is Verdict.INVALID
    assert [r.code for r in result.reasons] == [ReasonCode.SIGNATURE_INVALID]


def test_signed_vector_needs_the_examples_context(
    shared_w3c: Path, vectors: Path, key_pair: Ed25519KeyPair
) -> None:
    signed = _json(vectors / "signedDataInt.json")
    vm = signed["proof"]["verificationMethod"]
    trust = TrustStore(
        [
            TrustedKey.from_json(
                {
                    "id": vm,
                    "controller": ISSUER,
                    "publicKeyMultibase": key_pair.public_key_multibase,
                }
            )
        ]
    )
    result = Verifier(trust).check(signed)
    assert [r.code for r in result.reasons] == [ReasonCode.CONTEXT_NOT_ALLOWED]


def test_bundled_credentials_v2_context_matches_w3c(shared_w3c: Path) -> None:
    """pyld's frozen copy (what we serve) is the same JSON as the W3C document."""
    from pyld.documentloader.frozen import BUNDLED_CONTEXTS

    ours = json.loads(Path(BUNDLED_CONTEXTS["https://www.w3.org/ns/credentials/v2"]).read_bytes())
    w3c = _json(shared_w3c / "contexts" / "credentials-v2.jsonld")
    assert ours == w3c
    served = ContextLoader()("https://www.w3.org/ns/credentials/v2")["document"]
    assert served == w3c


def test_bundled_credentials_v2_bytes_are_pinned() -> None:
    """A pyld upgrade that changes the served context must be noticed and reviewed."""
    from pyld.documentloader.frozen import BUNDLED_CONTEXTS

    data = Path(BUNDLED_CONTEXTS["https://www.w3.org/ns/credentials/v2"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == (
        "8a9f494a89ecc51db093e90e84713e07e84d6d9204364a9b3c7868b21751236f"
    )
