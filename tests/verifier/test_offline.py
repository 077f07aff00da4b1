"""No network, ever: verification runs with every socket entry point disabled."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from issuer.keys.files import Ed25519KeyPair
from tests.conftest import NOW, Issuers
from verifier import (
    ContextError,
    ContextLoader,
    InMemoryStatusLists,
    ReasonCode,
    TrustedKey,
    TrustStore,
    Verdict,
    Verifier,
    VerifierConfig,
    expand,
)

EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
W3C_ISSUER = "https://vc.example/issuers/5678"


def test_the_fixture_blocks_sockets(no_network: list[str]) -> None:
    with pytest.raises(OSError, match="network access attempted"):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(OSError, match=r"socket\.create_connection"):
        socket.create_connection(("www.w3.org", 443), timeout=1)
    with pytest.raises(OSError, match=r"socket\.getaddrinfo"):
        socket.getaddrinfo("www.w3.org", 443)
    assert no_network == ["socket", "create_connection", "getaddrinfo"]


def test_full_verification_offline(
    no_network: list[str],
    issuers: Issuers,
    credential: dict[str, Any],
    status_lists: InMemoryStatusLists,
) -> None:
    verifier = Verifier(issuers.trust, status_lists=status_lists)
    result = verifier.check(json.dumps(credential), now=NOW)
    assert result.verdict is Verdict.VALID, result.reasons
    assert result.reasons == ()
    assert verifier.verify(credential, now=NOW) == credential
    assert no_network == []


def test_revocation_is_found_offline(
    no_network: list[str], issuers: Issuers, credential: dict[str, Any]
) -> None:
    (entry,) = [e for e in credential["credentialStatus"] if e["statusPurpose"] == "revocation"]
    revoked = issuers.status_list(
        "revocation", set_indices=frozenset({int(entry["statusListIndex"])})
    )
    lists = InMemoryStatusLists([revoked, issuers.status_list("suspension")])
    result = Verifier(issuers.trust, status_lists=lists).check(credential, now=NOW)
    assert result.verdict is Verdict.INVALID
    assert [r.code for r in result.reasons] == [ReasonCode.REVOKED]
    assert no_network == []


def test_unknown_context_is_refused_not_fetched(
    no_network: list[str], issuers: Issuers, credential: dict[str, Any]
) -> None:
    credential["@context"].append(EXAMPLES_V2)
    result = Verifier(issuers.trust).check(credential, now=NOW)
    assert [r.code for r in result.reasons] == [ReasonCode.CONTEXT_NOT_ALLOWED]
    # pyld itself, given a document naming a remote context, is refused by the loader
    with pytest.raises(ContextError, match="never fetched"):
        expand({"@context": EXAMPLES_V2, "name": "x"}, ContextLoader())
    with pytest.raises(ContextError, match="never fetched"):
        expand({"@context": {"@import": EXAMPLES_V2}, "name": "x"}, ContextLoader())
    assert no_network == []


def test_w3c_vector_verifies_offline(no_network: list[str], shared_w3c: Path) -> None:
    signed = json.loads(
        (shared_w3c / "eddsa" / "eddsa-rdfc-2022" / "signedDataInt.json").read_text()
    )
    key_pair = Ed25519KeyPair.from_json(
        json.loads((shared_w3c / "eddsa" / "keyPair.json").read_text())
    )
    context = json.loads((shared_w3c / "contexts" / "credentials-examples-v2.jsonld").read_text())
    trust = TrustStore(
        [
            TrustedKey.from_json(
                {
                    "id": signed["proof"]["verificationMethod"],
                    "controller": W3C_ISSUER,
                    "publicKeyMultibase": key_pair.public_key_multibase,
                }
            )
        ]
    )
    verifier = Verifier(trust, VerifierConfig(extra_contexts={EXAMPLES_V2: context}))
    result = verifier.check(signed, now=NOW)
    assert result.verdict is Verdict.VALID, result.reasons

    signed["credentialSubject"]["alumniOf"] = "The School of Forgeries"
    tampered = verifier.check(signed, now=NOW)
    assert [r.code for r in tampered.reasons] == [ReasonCode.SIGNATURE_INVALID]
    assert no_network == []
