"""The verdict: a valid credential passes; every corruption is refused for its own reason."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import NOW, Issuers
from tests.strategies import example_credential
from verifier import (
    CREDENTIALS_V2_URL,
    AllOf,
    AnyOf,
    ContextError,
    CredentialRevokedError,
    CredentialSuspendedError,
    DataLossError,
    DataModelError,
    IndeterminateError,
    InMemoryStatusLists,
    InputError,
    ProofError,
    ReasonCode,
    RequireIssuer,
    RequireType,
    SchemaError,
    TrustedKey,
    TrustStore,
    UntrustedKeyError,
    ValidityPeriodError,
    Verdict,
    Verifier,
    VerifierConfig,
    decode_multibase,
)
from verifier._multibase import b58encode


def codes(verifier: Verifier, data: Any, **kwargs: Any) -> list[ReasonCode]:
    return [reason.code for reason in verifier.check(data, now=NOW, **kwargs).reasons]


def test_valid_credential_is_valid(verifier: Verifier, credential: dict[str, Any]) -> None:
    result = verifier.check(credential, now=NOW)
    assert result.verdict is Verdict.VALID, result.reasons
    assert result.reasons == ()
    assert result.credential == credential
    assert result.checked_at == NOW
    assert verifier.verify(credential, now=NOW) == credential


def test_json_text_and_bytes_are_accepted(verifier: Verifier, credential: dict[str, Any]) -> None:
    text = json.dumps(credential, ensure_ascii=False)
    assert verifier.check(text, now=NOW).verdict is Verdict.VALID
    assert verifier.check(text.encode(), now=NOW).verdict is Verdict.VALID


# -- the proof ------------------------------------------------------------------------------------


def test_flipped_byte_in_proof_value(verifier: Verifier, credential: dict[str, Any]) -> None:
    signature = bytearray(decode_multibase(credential["proof"]["proofValue"]))
    signature[10] ^= 0x01
    credential["proof"]["proofValue"] = "z" + b58encode(bytes(signature))
    assert codes(verifier, credential) == [ReasonCode.SIGNATURE_INVALID]
    with pytest.raises(ProofError):
        verifier.verify(credential, now=NOW)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("credentialSubject", "givenName"), "MARÍA GUADALUPE"),
        (("credentialSubject", "coverage", "institution"), "ISSSTE"),
        (("credentialSubject", "coverage", "adscriptionUnit"), "DFIMS000015"),
        (("validUntil",), "2040-01-01T00:00:00Z"),
        (("credentialStatus", 0, "statusListIndex"), "7"),
    ],
)
def test_changed_claim(
    verifier: Verifier, credential: dict[str, Any], path: tuple[Any, ...], value: str
) -> None:
    node: Any = credential
    for step in path[:-1]:
        node = node[step]
    assert node[path[-1]] != value
    node[path[-1]] = value
    assert codes(verifier, credential) == [ReasonCode.SIGNATURE_INVALID]


def test_missing_proof(verifier: Verifier, credential: dict[str, Any]) -> None:
    del credential["proof"]
    assert codes(verifier, credential) == [ReasonCode.PROOF_MISSING]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cryptosuite", "eddsa-jcs-2022"),
        ("type", "Ed25519Signature2020"),
        ("proofValue", "uAAAA"),
        ("proofValue", "z" + b58encode(b"\x01" * 63)),
        ("created", "yesterday"),
        ("unexpected", "x"),
    ],
)
def test_malformed_proof(
    verifier: Verifier, credential: dict[str, Any], field: str, value: str
) -> None:
    credential["proof"][field] = value
    assert codes(verifier, credential) == [ReasonCode.PROOF_MALFORMED]


def test_proof_purpose_mismatch(verifier: Verifier, credential: dict[str, Any]) -> None:
    credential["proof"]["proofPurpose"] = "authentication"
    assert codes(verifier, credential) == [ReasonCode.PROOF_PURPOSE_MISMATCH]


def test_proof_context_must_prefix_document_context(
    verifier: Verifier, credential: dict[str, Any]
) -> None:
    credential["proof"]["@context"] = [credential["@context"][1]]
    assert codes(verifier, credential) == [ReasonCode.PROOF_MALFORMED]


def test_proof_sets_are_refused(verifier: Verifier, credential: dict[str, Any]) -> None:
    credential["proof"] = [credential["proof"], credential["proof"]]
    assert codes(verifier, credential) == [ReasonCode.PROOF_MALFORMED]


# -- keys -----------------------------------------------------------------------------------------


def test_unknown_key(verifier: Verifier, credential: dict[str, Any]) -> None:
    credential["proof"]["verificationMethod"] = "did:web:imss.gob.mx#key-99"
    assert codes(verifier, credential) == [ReasonCode.KEY_UNKNOWN]


def test_key_of_another_issuer(issuers: Issuers, verifier: Verifier) -> None:
    """ISSSTE's key signs a credential that names IMSS as issuer."""
    unsigned = example_credential()
    signed = issuers.sign(unsigned, code="ISSSTE")
    assert signed["issuer"] == "did:web:imss.gob.mx"
    assert codes(verifier, signed) == [ReasonCode.KEY_ISSUER_MISMATCH]
    with pytest.raises(UntrustedKeyError):
        verifier.verify(signed, now=NOW)


@pytest.mark.parametrize("created", ["2024-12-31T23:59:59Z", "2030-01-01T00:00:01Z"])
def test_key_outside_its_validity_window(
    issuers: Issuers, verifier: Verifier, created: str
) -> None:
    signed = issuers.sign(example_credential(), created=created)
    assert codes(verifier, signed) == [ReasonCode.KEY_NOT_VALID_AT_CREATION]


def test_key_window_bounds_are_inclusive(issuers: Issuers, verifier: Verifier) -> None:
    signed = issuers.sign(example_credential(), created="2025-01-01T00:00:00Z")
    assert codes(verifier, signed) == []


def test_empty_trust_store_trusts_nothing(
    make_verifier: Callable[..., Verifier], credential: dict[str, Any]
) -> None:
    assert codes(make_verifier(trust=TrustStore()), credential) == [ReasonCode.KEY_UNKNOWN]


# -- validity period ------------------------------------------------------------------------------


def test_expired(verifier: Verifier, credential: dict[str, Any]) -> None:
    later = NOW.replace(year=2031, month=1, day=2)
    result = verifier.check(credential, now=later)
    assert result.verdict is Verdict.INVALID
    assert ReasonCode.CREDENTIAL_EXPIRED in [r.code for r in result.reasons]
    with pytest.raises(ValidityPeriodError):
        verifier.verify(credential, now=later)


def test_not_yet_valid(verifier: Verifier, credential: dict[str, Any]) -> None:
    earlier = NOW.replace(year=2025)
    result = verifier.check(credential, now=earlier)
    # Not yet in force, or this verifier's clock behind: it cannot know which (ADR 0003).
    assert result.verdict is Verdict.INDETERMINATE
    assert result.reasons[0].code is ReasonCode.CREDENTIAL_NOT_YET_VALID
    # The held status lists are not valid yet either: reported too.
    assert {r.code for r in result.reasons[1:]} == {ReasonCode.STATUS_LIST_INVALID}
    with pytest.raises(IndeterminateError):
        verifier.verify(credential, now=earlier)


def test_naive_reference_time_is_refused(verifier: Verifier, credential: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="timezone"):
        verifier.check(credential, now=NOW.replace(tzinfo=None))


# -- contexts and data loss -----------------------------------------------------------------------


def test_unknown_context(verifier: Verifier, credential: dict[str, Any]) -> None:
    credential["@context"].append("https://evil.example/context/v1")
    assert codes(verifier, credential) == [ReasonCode.CONTEXT_NOT_ALLOWED]
    with pytest.raises(ContextError):
        verifier.verify(credential, now=NOW)


def test_embedded_context_object_is_refused(verifier: Verifier, credential: dict[str, Any]) -> None:
    credential["@context"].append({"foo": "https://evil.example/foo"})
    assert codes(verifier, credential) == [ReasonCode.CONTEXT_NOT_ALLOWED]


def _plain_credential() -> dict[str, Any]:
    return {
        "@context": [CREDENTIALS_V2_URL],
        "id": "urn:uuid:0b0b4b9c-3c3f-4d6e-9a6a-2f0f0f0f0f0f",
        "type": ["VerifiableCredential"],
        "issuer": "did:web:imss.gob.mx",
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:123", "name": "Ejemplo"},
    }


def test_undefined_term_is_data_loss(issuers: Issuers, verifier: Verifier) -> None:
    signed = issuers.sign(_plain_credential())
    assert codes(verifier, signed) == []
    signed["credentialSubject"]["undefinedTerm"] = "not covered by any context"
    assert codes(verifier, signed) == [ReasonCode.DATA_LOSS]
    with pytest.raises(DataLossError):
        verifier.verify(signed, now=NOW)


def test_undefined_type_is_data_loss(issuers: Issuers, verifier: Verifier) -> None:
    signed = issuers.sign(_plain_credential())
    signed["type"] = ["VerifiableCredential", "UndefinedCredentialType"]
    assert codes(verifier, signed) == [ReasonCode.DATA_LOSS]


def test_signing_refuses_data_loss(issuers: Issuers) -> None:
    unsigned = _plain_credential()
    unsigned["credentialSubject"]["undefinedTerm"] = "x"
    with pytest.raises(DataLossError):
        issuers.sign(unsigned)


def test_extra_field_in_health_credential_fails_the_schema(
    verifier: Verifier, credential: dict[str, Any]
) -> None:
    credential["credentialSubject"]["fingerprint"] = "AAAA"
    assert codes(verifier, credential) == [ReasonCode.SCHEMA_INVALID]
    with pytest.raises(SchemaError):
        verifier.verify(credential, now=NOW)


def test_bad_curp_fails_the_schema(verifier: Verifier, credential: dict[str, Any]) -> None:
    curp = credential["credentialSubject"]["curp"]
    credential["credentialSubject"]["curp"] = curp[:-1] + str((int(curp[-1]) + 1) % 10)
    assert codes(verifier, credential) == [ReasonCode.SCHEMA_INVALID]


# -- input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", ["", "not json", "[1, 2]", '"text"', "{" * 100_000, b"\xff\xfe"])
def test_unreadable_input(verifier: Verifier, data: str | bytes) -> None:
    result = verifier.check(data, now=NOW)
    assert result.verdict is Verdict.INVALID
    assert [r.code for r in result.reasons] == [ReasonCode.MALFORMED_INPUT]
    assert result.credential is None
    with pytest.raises(InputError):
        verifier.verify(data, now=NOW)


def test_input_size_limit(
    make_verifier: Callable[..., Verifier], credential: dict[str, Any]
) -> None:
    text = json.dumps(credential)
    small = make_verifier(config=VerifierConfig(max_input_bytes=len(text) - 1))
    assert codes(small, text) == [ReasonCode.MALFORMED_INPUT]
    assert codes(make_verifier(config=VerifierConfig(max_input_bytes=len(text))), text) == []


# -- status ---------------------------------------------------------------------------------------


def _index(credential: dict[str, Any], purpose: str) -> int:
    entry = next(e for e in credential["credentialStatus"] if e["statusPurpose"] == purpose)
    return int(entry["statusListIndex"])


def test_revoked(
    issuers: Issuers, make_verifier: Callable[..., Verifier], credential: dict[str, Any]
) -> None:
    lists = InMemoryStatusLists(
        [
            issuers.status_list(
                "revocation", set_indices=frozenset({_index(credential, "revocation")})
            ),
            issuers.status_list("suspension"),
        ]
    )
    verifier = make_verifier(status=lists)
    result = verifier.check(credential, now=NOW)
    assert result.verdict is Verdict.INVALID
    assert [r.code for r in result.reasons] == [ReasonCode.REVOKED]
    with pytest.raises(CredentialRevokedError):
        verifier.verify(credential, now=NOW)


def test_suspended(
    issuers: Issuers, make_verifier: Callable[..., Verifier], credential: dict[str, Any]
) -> None:
    lists = InMemoryStatusLists(
        [
            issuers.status_list("revocation"),
            issuers.status_list(
                "suspension", set_indices=frozenset({_index(credential, "suspension")})
            ),
        ]
    )
    verifier = make_verifier(status=lists)
    assert codes(verifier, credential) == [ReasonCode.SUSPENDED]
    with pytest.raises(CredentialSuspendedError):
        verifier.verify(credential, now=NOW)


def test_other_bits_do_not_affect_the_credential(
    issuers: Issuers, make_verifier: Callable[..., Verifier], credential: dict[str, Any]
) -> None:
    index = _index(credential, "revocation")
    neighbours = frozenset({index - 1, index + 1})
    lists = InMemoryStatusLists(
        [
            issuers.status_list("revocation", set_indices=neighbours),
            issuers.status_list("suspension", set_indices=neighbours),
        ]
    )
    assert codes(make_verifier(status=lists), credential) == []


def test_no_status_lists_is_indeterminate(
    make_verifier: Callable[..., Verifier], credential: dict[str, Any]
) -> None:
    verifier = make_verifier(status=None)
    result = verifier.check(credential, now=NOW)
    assert result.verdict is Verdict.INDETERMINATE
    assert {r.code for r in result.reasons} == {ReasonCode.STATUS_UNAVAILABLE}
    with pytest.raises(IndeterminateError):
        verifier.verify(credential, now=NOW)


def test_missing_one_list_is_indeterminate(
    issuers: Issuers, make_verifier: Callable[..., Verifier], credential: dict[str, Any]
) -> None:
    lists = InMemoryStatusLists([issuers.status_list("revocation")])
    assert codes(make_verifier(status=lists), credential) == [ReasonCode.STATUS_UNAVAILABLE]


def test_expired_status_list_is_stale(verifier: Verifier, credential: dict[str, Any]) -> None:
    """The lists are valid for 96 h (the default ttl) from an hour before NOW."""
    assert verifier.check(credential, now=NOW + timedelta(hours=94)).verdict is Verdict.VALID
    result = verifier.check(credential, now=NOW + timedelta(hours=96))
    assert result.verdict is Verdict.INDETERMINATE
    assert {r.code for r in result.reasons} == {ReasonCode.STATUS_STALE}


def test_old_status_list_is_stale_by_config(
    make_verifier: Callable[..., Verifier], credential: dict[str, Any]
) -> None:
    strict = make_verifier(config=VerifierConfig(max_status_age=timedelta(minutes=30)))
    assert set(codes(strict, credential)) == {ReasonCode.STATUS_STALE}


def test_revoked_and_stale_is_invalid(
    issuers: Issuers, make_verifier: Callable[..., Verifier], credential: dict[str, Any]
) -> None:
    """A known revocation is final even when the other list cannot be judged."""
    lists = InMemoryStatusLists(
        [
            issuers.status_list(
                "revocation", set_indices=frozenset({_index(credential, "revocation")})
            ),
        ]
    )
    result = make_verifier(status=lists).check(credential, now=NOW)
    assert result.verdict is Verdict.INVALID
    assert ReasonCode.REVOKED in [r.code for r in result.reasons]


def test_tampered_status_list_is_not_trusted(
    issuers: Issuers, make_verifier: Callable[..., Verifier], credential: dict[str, Any]
) -> None:
    """Someone clears a set revocation bit by replacing encodedList: the signature breaks."""
    revoked = issuers.status_list(
        "revocation", set_indices=frozenset({_index(credential, "revocation")})
    )
    clean = issuers.status_list("revocation")
    forged = copy.deepcopy(revoked)
    forged["credentialSubject"]["encodedList"] = clean["credentialSubject"]["encodedList"]
    lists = InMemoryStatusLists([forged, issuers.status_list("suspension")])
    result = make_verifier(status=lists).check(credential, now=NOW)
    assert result.verdict is Verdict.INDETERMINATE
    assert [r.code for r in result.reasons] == [ReasonCode.STATUS_LIST_INVALID]


@pytest.mark.parametrize(
    ("purpose", "verdict"),
    [
        # the same RDF as "revocation", so the signature holds; a list is allowed (BSL 1.0)
        (["revocation"], Verdict.VALID),
        # also the same RDF, but not a spelling we read: refused, not a crash (found by the fuzzer)
        ({"@value": "revocation"}, Verdict.INDETERMINATE),
        ([{"@value": "revocation"}], Verdict.INDETERMINATE),
    ],
)
def test_status_purpose_spellings_of_a_genuine_list(
    issuers: Issuers,
    make_verifier: Callable[..., Verifier],
    credential: dict[str, Any],
    purpose: Any,
    verdict: Verdict,
) -> None:
    respelled = issuers.status_list("revocation")
    respelled["credentialSubject"]["statusPurpose"] = purpose
    lists = InMemoryStatusLists([respelled, issuers.status_list("suspension")])
    result = make_verifier(status=lists).check(credential, now=NOW)
    assert result.verdict is verdict
    if verdict is Verdict.INDETERMINATE:
        assert [r.code for r in result.reasons] == [ReasonCode.STATUS_LIST_INVALID]


def test_status_list_of_another_issuer_is_not_used(
    issuers: Issuers, make_verifier: Callable[..., Verifier], credential: dict[str, Any]
) -> None:
    """ISSSTE publishes a list under IMSS's URL: it does not speak for IMSS credentials."""
    imss_url = credential["credentialStatus"][0]["statusListCredential"]
    foreign = issuers.status_list("revocation", code="ISSSTE")
    unsigned = {k: v for k, v in foreign.items() if k != "proof"}
    unsigned["id"] = imss_url
    unsigned["credentialSubject"] = dict(unsigned["credentialSubject"], id=f"{imss_url}#list")
    lists = InMemoryStatusLists(
        [issuers.sign(unsigned, "ISSSTE"), issuers.status_list("suspension")]
    )
    assert codes(make_verifier(status=lists), credential) == [ReasonCode.STATUS_LIST_INVALID]


def test_status_list_for_the_wrong_purpose(
    issuers: Issuers, make_verifier: Callable[..., Verifier], credential: dict[str, Any]
) -> None:
    suspension = issuers.status_list("suspension")
    revocation_url = credential["credentialStatus"][0]["statusListCredential"]
    unsigned = {k: v for k, v in suspension.items() if k != "proof"}
    unsigned["id"] = revocation_url
    lists = InMemoryStatusLists([issuers.sign(unsigned), suspension])
    assert codes(make_verifier(status=lists), credential) == [ReasonCode.STATUS_LIST_INVALID]


def test_replaced_status_list_is_reloaded(
    issuers: Issuers, make_verifier: Callable[..., Verifier], credential: dict[str, Any]
) -> None:
    """The verifier caches decoded lists, but a newer list held under the same URL wins."""
    lists = InMemoryStatusLists(
        [issuers.status_list("revocation"), issuers.status_list("suspension")]
    )
    verifier = make_verifier(status=lists)
    assert codes(verifier, credential) == []
    lists.add(
        issuers.status_list("revocation", set_indices=frozenset({_index(credential, "revocation")}))
    )
    assert codes(verifier, credential) == [ReasonCode.REVOKED]


# -- policies -------------------------------------------------------------------------------------


def test_policies(verifier: Verifier, credential: dict[str, Any]) -> None:
    assert codes(verifier, credential, policy=RequireType("HealthCoverageCredential")) == []
    assert codes(verifier, credential, policy=RequireIssuer("did:web:issste.gob.mx")) == [
        ReasonCode.POLICY_REJECTED
    ]
    both = AllOf(RequireType("HealthCoverageCredential"), RequireIssuer("did:web:issste.gob.mx"))
    assert codes(verifier, credential, policy=both) == [ReasonCode.POLICY_REJECTED]
    either = AnyOf(RequireIssuer("did:web:issste.gob.mx"), RequireIssuer("did:web:imss.gob.mx"))
    assert codes(verifier, credential, policy=either) == []


def test_policy_never_rescues_a_bad_credential(
    verifier: Verifier, credential: dict[str, Any]
) -> None:
    credential["credentialSubject"]["givenName"] = "OTRA PERSONA"
    from verifier import UnsafeNoOp

    assert codes(verifier, credential, policy=UnsafeNoOp()) == [ReasonCode.SIGNATURE_INVALID]


# -- the result -----------------------------------------------------------------------------------


def test_result_json_shape(
    make_verifier: Callable[..., Verifier], credential: dict[str, Any]
) -> None:
    result = make_verifier(status=None).check(credential, now=NOW)
    document = result.to_json("en")
    assert document["verdict"] == "INDETERMINATE"
    assert document["credential"] == credential
    reason = document["reasons"][0]
    assert reason["code"] == "STATUS_UNAVAILABLE"
    assert "status list" in reason["message"]
    assert reason["type"].endswith("#STATUS_RETRIEVAL_ERROR")
    assert "lista de estado" in result.to_json("es")["reasons"][0]["message"]


def test_data_model_errors_are_invalid_not_indeterminate(
    verifier: Verifier, credential: dict[str, Any]
) -> None:
    credential["issuer"] = "not a url"
    result = verifier.check(credential, now=NOW)
    assert result.verdict is Verdict.INVALID
    with pytest.raises(DataModelError):
        verifier.verify(credential, now=NOW)


def test_trust_store_round_trip(issuers: Issuers) -> None:
    again = TrustStore.from_json(issuers.trust.to_json())
    assert again.to_json() == issuers.trust.to_json()
    key = TrustedKey.from_json(issuers.trust.to_json()["keys"][0])
    assert key.valid_from == NOW.replace(year=2025, month=1, day=1, hour=0)
    assert key.valid_until == NOW.replace(year=2030, month=1, day=1, hour=0)


def test_each_status_entry_is_judged_on_its_own(
    issuers: Issuers, make_verifier: Callable[..., Verifier], credential: dict[str, Any]
) -> None:
    """The revocation list is missing, but the held suspension list says suspended: INVALID."""
    suspended = frozenset({_index(credential, "suspension")})
    lists = InMemoryStatusLists([issuers.status_list("suspension", set_indices=suspended)])
    result = make_verifier(status=lists).check(credential, now=NOW)
    assert result.verdict is Verdict.INVALID
    assert [r.code for r in result.reasons] == [ReasonCode.STATUS_UNAVAILABLE, ReasonCode.SUSPENDED]
    with pytest.raises(CredentialSuspendedError):
        make_verifier(status=lists).verify(credential, now=NOW)


def test_status_list_past_its_ttl_is_stale(
    issuers: Issuers, make_verifier: Callable[..., Verifier], credential: dict[str, Any]
) -> None:
    """A list whose ttl (1 h) ran out is stale even though its validUntil (24 h) has not."""
    lists = []
    for purpose in ("revocation", "suspension"):
        held = issuers.status_list(purpose)
        unsigned = {k: v for k, v in held.items() if k != "proof"}
        unsigned["credentialSubject"] = dict(unsigned["credentialSubject"], ttl=3_600_000)
        lists.append(issuers.sign(unsigned))
    verifier = make_verifier(status=InMemoryStatusLists(lists))
    assert codes(verifier, credential) == []  # NOW is 1 h after validFrom: still within ttl
    later = NOW + timedelta(minutes=1)
    result = verifier.check(credential, now=later)
    assert result.verdict is Verdict.INDETERMINATE
    assert {r.code for r in result.reasons} == {ReasonCode.STATUS_STALE}
    assert "ttl" in result.reasons[0].detail


def test_status_list_with_a_bad_ttl_is_not_used(
    issuers: Issuers, make_verifier: Callable[..., Verifier], credential: dict[str, Any]
) -> None:
    held = issuers.status_list("revocation")
    unsigned = {k: v for k, v in held.items() if k != "proof"}
    unsigned["credentialSubject"] = dict(unsigned["credentialSubject"], ttl=-5)
    lists = InMemoryStatusLists([issuers.sign(unsigned), issuers.status_list("suspension")])
    assert codes(make_verifier(status=lists), credential) == [ReasonCode.STATUS_LIST_INVALID]
