"""Each W3C VC Data Model 2.0 rule the verifier enforces, broken one at a time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import NOW, Issuers
from verifier import (
    CREDENTIALS_V2_URL,
    DataModelError,
    ReasonCode,
    Verdict,
    Verifier,
    check_credential,
)

Mutation = Callable[[dict[str, Any]], None]


def _set(key: str, value: Any) -> Mutation:
    def mutate(credential: dict[str, Any]) -> None:
        credential[key] = value

    return mutate


def _drop(key: str) -> Mutation:
    def mutate(credential: dict[str, Any]) -> None:
        del credential[key]

    return mutate


def _reverse_contexts(credential: dict[str, Any]) -> None:
    credential["@context"].reverse()


def _untyped_status_entry(credential: dict[str, Any]) -> None:
    del credential["credentialStatus"][0]["type"]


def _untyped_schema(credential: dict[str, Any]) -> None:
    del credential["credentialSchema"]["type"]


CASES: list[tuple[str, Mutation, ReasonCode]] = [
    ("context-not-v2-first", _reverse_contexts, ReasonCode.CONTEXT_INVALID),
    ("context-missing", _drop("@context"), ReasonCode.CONTEXT_INVALID),
    (
        "context-v1",
        _set("@context", ["https://www.w3.org/2018/credentials/v1"]),
        ReasonCode.CONTEXT_INVALID,
    ),
    ("type-missing", _drop("type"), ReasonCode.TYPE_INVALID),
    ("type-without-vc", _set("type", ["HealthCoverageCredential"]), ReasonCode.TYPE_INVALID),
    ("type-not-string", _set("type", ["VerifiableCredential", 7]), ReasonCode.TYPE_INVALID),
    ("id-not-url", _set("id", "not a url"), ReasonCode.ID_INVALID),
    ("id-relative", _set("id", "credentials/1"), ReasonCode.ID_INVALID),
    ("id-two-values", _set("id", ["urn:uuid:1", "urn:uuid:2"]), ReasonCode.ID_INVALID),
    ("id-number", _set("id", 42), ReasonCode.ID_INVALID),
    ("issuer-missing", _drop("issuer"), ReasonCode.ISSUER_INVALID),
    ("issuer-not-url", _set("issuer", "IMSS"), ReasonCode.ISSUER_INVALID),
    ("issuer-object-without-id", _set("issuer", {"name": "IMSS"}), ReasonCode.ISSUER_INVALID),
    ("issuer-object-bad-id", _set("issuer", {"id": "imss"}), ReasonCode.ISSUER_INVALID),
    (
        "valid-from-after-until",
        _set("validFrom", "2032-01-01T00:00:00Z"),
        ReasonCode.VALIDITY_RANGE_INVALID,
    ),
    ("valid-from-date-only", _set("validFrom", "2026-01-01"), ReasonCode.DATETIME_INVALID),
    ("valid-until-no-zone", _set("validUntil", "2031-01-01T00:00:00"), ReasonCode.DATETIME_INVALID),
    ("valid-until-number", _set("validUntil", 1767225600), ReasonCode.DATETIME_INVALID),
    ("status-entry-untyped", _untyped_status_entry, ReasonCode.ENTRY_TYPE_MISSING),
    ("schema-untyped", _untyped_schema, ReasonCode.ENTRY_TYPE_MISSING),
    ("schema-without-id", _set("credentialSchema", {"type": "JsonSchema"}), ReasonCode.ID_INVALID),
    (
        "refresh-untyped",
        _set("refreshService", {"id": "https://imss.gob.mx/refresh"}),
        ReasonCode.ENTRY_TYPE_MISSING,
    ),
    (
        "terms-untyped",
        _set("termsOfUse", [{"id": "https://imss.gob.mx/terms"}]),
        ReasonCode.ENTRY_TYPE_MISSING,
    ),
    (
        "evidence-untyped",
        _set("evidence", [{"id": "https://imss.gob.mx/evidence/1"}]),
        ReasonCode.ENTRY_TYPE_MISSING,
    ),
    ("evidence-not-object", _set("evidence", ["a document"]), ReasonCode.ENTRY_TYPE_MISSING),
    ("subject-missing", _drop("credentialSubject"), ReasonCode.SUBJECT_INVALID),
    ("subject-empty", _set("credentialSubject", {}), ReasonCode.SUBJECT_INVALID),
    ("subject-empty-list", _set("credentialSubject", []), ReasonCode.SUBJECT_INVALID),
    ("subject-not-object", _set("credentialSubject", "María"), ReasonCode.SUBJECT_INVALID),
    ("subject-id-not-url", _set("credentialSubject", {"id": "holder 1"}), ReasonCode.ID_INVALID),
]


@pytest.mark.parametrize(("mutate", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule(
    verifier: Verifier, credential: dict[str, Any], mutate: Mutation, code: ReasonCode
) -> None:
    mutate(credential)
    result = verifier.check(credential, now=NOW)
    assert result.verdict is Verdict.INVALID
    assert [r.code for r in result.reasons] == [code]
    with pytest.raises(DataModelError) as raised:
        check_credential(credential)
    assert raised.value.code is code


def test_every_rule_has_its_own_code() -> None:
    """The rules above map onto distinct codes: a desk can tell them apart."""
    assert {code for _, _, code in CASES} == {
        ReasonCode.CONTEXT_INVALID, ReasonCode.TYPE_INVALID, ReasonCode.ID_INVALID,
        ReasonCode.ISSUER_INVALID, ReasonCode.VALIDITY_RANGE_INVALID, ReasonCode.DATETIME_INVALID,
        ReasonCode.ENTRY_TYPE_MISSING, ReasonCode.SUBJECT_INVALID,
    }  # fmt: skip


def test_issuer_object_with_id_and_subject_list_are_accepted(
    issuers: Issuers, verifier: Verifier
) -> None:
    credential = {
        "@context": [CREDENTIALS_V2_URL],
        "id": "urn:uuid:4d9b0c36-5a39-4c55-9b7e-7f1c2b0a9e11",
        "type": ["VerifiableCredential"],
        "issuer": {"id": "did:web:imss.gob.mx", "name": "IMSS"},
        "validFrom": "2026-01-01T00:00:00Z",
        "validUntil": "2026-12-31T23:59:59.999+00:00",
        "credentialSubject": [{"id": "did:example:1"}, {"name": "Segunda persona"}],
    }
    signed = issuers.sign(credential)
    result = verifier.check(signed, now=NOW)
    assert result.verdict is Verdict.VALID, result.reasons
