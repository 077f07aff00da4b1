"""The bundled JSON-LD context and JSON Schema: loading, JSON-LD safety, and schema coverage."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from jsonschema import Draft202012Validator
from pyld import jsonld
from pyld.documentloader.frozen import BUNDLED_CONTEXTS, FrozenDocumentLoader

import schemas
from schemas import (
    CREDENCIAL_CONTEXT_URL,
    CREDENCIAL_VOCAB,
    HEALTH_COVERAGE_SCHEMA_URL,
    context_bytes,
    credencial_context,
    health_coverage_json_schema,
)
from tests.strategies import broken_examples, example_credential, unsigned_credentials

V2_URL = "https://www.w3.org/ns/credentials/v2"
NS = CREDENCIAL_VOCAB
SCHEMA_ORG = "https://schema.org/"
XSD_DATE = "http://www.w3.org/2001/XMLSchema#date"

#: Every term our context defines, and the IRI it must expand to.
OUR_TERMS = {
    "HealthCoverageCredential": NS + "HealthCoverageCredential",
    "HealthCoverage": NS + "HealthCoverage",
    "curp": NS + "curp",
    "givenName": SCHEMA_ORG + "givenName",
    "familyName": SCHEMA_ORG + "familyName",
    "secondFamilyName": NS + "secondFamilyName",
    "birthDate": SCHEMA_ORG + "birthDate",
    "coverage": NS + "coverage",
    "institution": NS + "institution",
    "program": NS + "program",
    "affiliationNumber": NS + "affiliationNumber",
    "beneficiaryRelationship": NS + "beneficiaryRelationship",
    "adscriptionUnit": NS + "adscriptionUnit",
}
OUR_TYPES = {"HealthCoverageCredential", "HealthCoverage"}
OUR_PROPERTIES = {term: iri for term, iri in OUR_TERMS.items() if term not in OUR_TYPES}

#: What the W3C v2 context maps the other keys of our credentials to.
V2_TERMS = {
    "credentialSubject": "https://www.w3.org/2018/credentials#credentialSubject",
    "credentialStatus": "https://www.w3.org/2018/credentials#credentialStatus",
    "credentialSchema": "https://www.w3.org/2018/credentials#credentialSchema",
    "issuer": "https://www.w3.org/2018/credentials#issuer",
    "validFrom": "https://www.w3.org/2018/credentials#validFrom",
    "validUntil": "https://www.w3.org/2018/credentials#validUntil",
    "statusPurpose": "https://www.w3.org/ns/credentials/status#statusPurpose",
    "statusListIndex": "https://www.w3.org/ns/credentials/status#statusListIndex",
    "statusListCredential": "https://www.w3.org/ns/credentials/status#statusListCredential",
}


def _v2_context() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(BUNDLED_CONTEXTS[V2_URL].read_text(encoding="utf-8"))
    return document


def _loader() -> FrozenDocumentLoader:
    """Serves exactly the two contexts a credential uses, nothing else."""
    return FrozenDocumentLoader(
        documents={V2_URL: BUNDLED_CONTEXTS[V2_URL], CREDENCIAL_CONTEXT_URL: credencial_context()}
    )


def _expand(document: dict[str, Any]) -> tuple[list[Any], list[str | None]]:
    dropped: list[str | None] = []
    expanded = jsonld.expand(
        copy.deepcopy(document), {"documentLoader": _loader()}, on_property_dropped=dropped.append
    )
    return expanded, dropped


def _nquads(document: dict[str, Any]) -> str:
    result: str = jsonld.normalize(
        copy.deepcopy(document),
        {
            "algorithm": "URDNA2015",
            "format": "application/n-quads",
            "documentLoader": _loader(),
        },
    )
    return result


def _keys(node: Any) -> Iterator[str]:
    """Every object key in a JSON tree, except inside ``@context``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "@context":
                continue
            yield key
            yield from _keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from _keys(item)


def _full_example() -> dict[str, Any]:
    """The example with every optional term we define present (holder id, coverage type)."""
    credential = example_credential()
    credential["credentialSubject"] = {
        "id": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        **credential["credentialSubject"],
    }
    credential["credentialSubject"]["coverage"] = {
        "type": "HealthCoverage",
        **credential["credentialSubject"]["coverage"],
    }
    return credential


# -- loading ---------------------------------------------------------------------------------------


def test_constants() -> None:
    assert CREDENCIAL_CONTEXT_URL == "https://credencial.salud.gob.mx/ns/v1"
    assert CREDENCIAL_VOCAB == "https://credencial.salud.gob.mx/ns#"
    assert HEALTH_COVERAGE_SCHEMA_URL == (
        "https://credencial.salud.gob.mx/schemas/health-coverage-credential/v1.json"
    )
    assert set(schemas.__all__) == {
        "CONSENT_CONTEXT_URL",
        "consent_context",
        "CREDENCIAL_CONTEXT_URL",
        "CREDENCIAL_VOCAB",
        "HEALTH_COVERAGE_SCHEMA_URL",
        "context_bytes",
        "credencial_context",
        "health_coverage_json_schema",
    }


def test_context_bytes_are_the_parsed_context() -> None:
    assert json.loads(context_bytes()) == credencial_context()


def test_callers_cannot_mutate_the_cache() -> None:
    context = credencial_context()
    context["@context"]["curp"] = "https://evil.example/curp"
    context.clear()
    assert credencial_context()["@context"]["curp"] == NS + "curp"

    schema = health_coverage_json_schema()
    schema["properties"]["credentialSubject"] = {}
    schema["additionalProperties"] = True
    assert health_coverage_json_schema()["additionalProperties"] is False
    assert health_coverage_json_schema()["properties"]["credentialSubject"] != {}


# -- the JSON-LD context ---------------------------------------------------------------------------


def test_context_is_protected_and_defines_exactly_our_terms() -> None:
    context = credencial_context()["@context"]
    assert context["@protected"] is True
    terms = {key: value for key, value in context.items() if not key.startswith("@")}
    assert set(terms) == set(OUR_TERMS)
    for term, iri in OUR_TERMS.items():
        definition = terms[term]
        assert (definition if isinstance(definition, str) else definition["@id"]) == iri
    assert terms["birthDate"]["@type"] == XSD_DATE


def _v2_terms(context: Any) -> Iterator[str]:
    """Every term the W3C v2 context defines, at top level and in its scoped contexts."""
    if isinstance(context, dict):
        for key, value in context.items():
            if not key.startswith("@"):
                yield key
            if isinstance(value, dict) and "@context" in value:
                yield from _v2_terms(value["@context"])


def test_context_redefines_no_term_of_the_w3c_v2_context() -> None:
    v2_terms = set(_v2_terms(_v2_context()["@context"]))
    assert {"id", "type", "name", "validFrom", "credentialSubject", "statusPurpose"} <= v2_terms
    ours = {key for key in credencial_context()["@context"] if not key.startswith("@")}
    assert ours.isdisjoint(v2_terms), ours & v2_terms


def test_example_expands_without_losing_any_property() -> None:
    credential = _full_example()
    expanded, dropped = _expand(credential)
    assert dropped == []
    expanded_keys = set(_keys(expanded))
    for key in set(_keys(credential)) - {"id", "type"}:
        assert (OUR_TERMS | V2_TERMS)[key] in expanded_keys, key
    node = expanded[0]
    assert node["@type"] == [
        "https://www.w3.org/2018/credentials#VerifiableCredential",
        NS + "HealthCoverageCredential",
    ]
    subject = node[V2_TERMS["credentialSubject"]][0]
    assert subject["@id"] == credential["credentialSubject"]["id"]
    assert subject[SCHEMA_ORG + "birthDate"] == [{"@type": XSD_DATE, "@value": "1985-03-14"}]
    coverage = subject[NS + "coverage"][0]
    assert "@id" not in coverage  # a blank node
    assert coverage["@type"] == [NS + "HealthCoverage"]
    assert coverage[NS + "adscriptionUnit"] == [{"@value": "DFIMS000014"}]


def test_an_undefined_term_is_reported_as_dropped() -> None:
    """Control for the test above: the drop handler really sees undefined terms."""
    credential = example_credential()
    credential["credentialSubject"]["fingerprint"] = "Rk1SACAyMAAA"
    _, dropped = _expand(credential)
    assert dropped == ["fingerprint"]


@pytest.mark.parametrize("document", [example_credential(), _full_example()], ids=["min", "full"])
def test_canonical_nquads_carry_every_term(document: dict[str, Any]) -> None:
    nquads = _nquads(document)
    for term, iri in OUR_PROPERTIES.items():
        assert f"<{iri}>" in nquads, term
    assert f"<{NS}HealthCoverageCredential>" in nquads
    assert f'"1985-03-14"^^<{XSD_DATE}>' in nquads
    assert '"MARÍA GUADALUPE DEL SOCORRO"' in nquads
    assert all(line.endswith(" .") for line in nquads.splitlines())


@settings(max_examples=15, deadline=None)
@given(unsigned_credentials())
def test_generated_credentials_lose_nothing_in_expansion(credential: dict[str, Any]) -> None:
    expanded, dropped = _expand(credential)
    assert dropped == []
    expanded_keys = set(_keys(expanded))
    for key in set(_keys(credential)) - {"id", "type"}:
        assert (OUR_TERMS | V2_TERMS)[key] in expanded_keys, key


# -- the JSON Schema -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = health_coverage_json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_schema_is_draft_2020_12_with_our_id() -> None:
    schema = health_coverage_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == HEALTH_COVERAGE_SCHEMA_URL


def _objects_without_closed_properties(node: Any, path: str = "#") -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "object" and node.get("additionalProperties") is not False:
            yield path
        for key, value in node.items():
            yield from _objects_without_closed_properties(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _objects_without_closed_properties(item, f"{path}/{index}")


def test_every_object_in_the_schema_forbids_unknown_properties() -> None:
    assert list(_objects_without_closed_properties(health_coverage_json_schema())) == []


def test_schema_accepts_the_example(validator: Draft202012Validator) -> None:
    assert list(validator.iter_errors(example_credential())) == []
    assert list(validator.iter_errors(_full_example())) == []


def test_schema_accepts_a_signed_credential(validator: Draft202012Validator) -> None:
    credential = example_credential()
    credential["proof"] = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": "2026-01-01T00:00:00Z",
        "verificationMethod": "did:web:imss.gob.mx#key-1",
        "proofPurpose": "assertionMethod",
        "proofValue": "z3FXQjecWufY46yg5abdVZsXqLhxhueuSoZgNSARiKBk",
    }
    assert list(validator.iter_errors(credential)) == []
    del credential["proof"]["proofValue"]
    assert not validator.is_valid(credential)


@settings(max_examples=100)
@given(unsigned_credentials())
def test_schema_accepts_every_generated_credential(credential: dict[str, Any]) -> None:
    validator = Draft202012Validator(health_coverage_json_schema())
    assert list(validator.iter_errors(credential)) == []


@pytest.mark.parametrize(("name", "credential"), list(broken_examples().items()))
def test_schema_rejects_broken_examples(
    validator: Draft202012Validator, name: str, credential: dict[str, Any]
) -> None:
    assert not validator.is_valid(credential), name


def test_schema_cannot_see_the_curp_check_digit(validator: Draft202012Validator) -> None:
    """Documented limit: only the model checks the check digit."""
    credential = example_credential()
    credential["credentialSubject"]["curp"] = "HEOG850314MDFRXD07"
    assert validator.is_valid(credential)
