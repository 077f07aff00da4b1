"""Differential tests: the direct canonicalizer gives byte-identical N-Quads to pyld's RDFC-1.0."""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.strategies import example_credential, unsigned_credentials
from verifier import ContextLoader, canonicalize
from verifier._canon import canonicalize_full
from verifier._fastcanon import fast_canonicalize

#: Documents per differential test: a sample in `make test`, 10,000+ with the environment variable.
DIFFERENTIAL_EXAMPLES = int(os.environ.get("CREDENCIAL_DIFFERENTIAL_EXAMPLES", "300"))
LOADER = ContextLoader()
_SETTINGS = settings(
    max_examples=DIFFERENTIAL_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Text N-Quads must escape, plus what a name can hold: accents, Ñ, quotes, backslashes, emoji,
#: and control characters (which the direct path refuses: the full algorithm decides).
_CONTROL_CHARACTERS = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\x7f", "\x85"]
_HARD_TEXT = st.lists(
    st.one_of(
        st.sampled_from(list("\"\\\t\n\r'-.ÑñÁÉÍÓÚÜáéíóúü ")),
        st.sampled_from(["😀", "👩🏽‍⚕️", "\u2028", "\u00a0", "\ufeff", "𝔸", *_CONTROL_CHARACTERS]),
        st.characters(exclude_categories=["Cs"]),
    ),
    max_size=30,
).map("".join)
_HOLDER_IDS = [
    "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
    "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
]
_TEXT_FIELDS = [
    ("credentialSubject", "givenName"),
    ("credentialSubject", "familyName"),
    ("credentialSubject", "secondFamilyName"),
    ("credentialSubject", "curp"),
    ("credentialSubject", "coverage", "program"),
    ("credentialSubject", "coverage", "affiliationNumber"),
    ("credentialSubject", "coverage", "adscriptionUnit"),
    ("credentialSubject", "coverage", "beneficiaryRelationship"),
    ("credentialStatus", 0, "statusListIndex"),
    ("credentialStatus", 1, "statusPurpose"),
]


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """Generated credentials with hard text, and optional parts present or absent."""
    document = draw(unsigned_credentials())
    for path in draw(st.lists(st.sampled_from(_TEXT_FIELDS), max_size=4)):
        node: Any = document
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = draw(_HARD_TEXT)
    subject = document["credentialSubject"]
    if draw(st.booleans()):
        subject.pop("secondFamilyName", None)
    if draw(st.booleans()):
        subject["id"] = draw(st.sampled_from(_HOLDER_IDS))
    else:
        subject.pop("id", None)
    if draw(st.booleans()):
        subject["coverage"]["type"] = "HealthCoverage"
    if draw(st.booleans()):
        for position, entry in enumerate(document["credentialStatus"]):
            entry["id"] = f"{entry['statusListCredential']}#{position}"
    variant = draw(st.sampled_from(["both", "one", "none"]))
    if variant == "one":
        document["credentialStatus"] = document["credentialStatus"][:1]
    elif variant == "none":
        del document["credentialStatus"]
    if draw(st.booleans()):
        del document["credentialSchema"]
    if draw(st.booleans()):
        document["type"] = list(reversed(document["type"]))
    return document


@_SETTINGS
@given(documents())
def test_credentials_match_the_full_algorithm(document: dict[str, Any]) -> None:
    expected = canonicalize_full(document, LOADER)
    fast = fast_canonicalize(document)
    if fast is not None:
        assert fast == expected
    assert canonicalize(document, LOADER) == expected


@_SETTINGS
@given(
    created=st.sampled_from(["2026-01-01T00:00:00Z", "2026-11-25T17:48:00.123Z"]),
    purpose=st.sampled_from(["assertionMethod", "authentication"]),
    extras=st.dictionaries(
        st.sampled_from(["challenge", "domain", "nonce", "expires"]), _HARD_TEXT, max_size=4
    ),
    two_contexts=st.booleans(),
    method=st.sampled_from(
        [
            "did:web:imss.gob.mx#key-1",
            "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2#z6Mk",
        ]
    ),
)
def test_proof_options_match_the_full_algorithm(
    created: str, purpose: str, extras: dict[str, str], two_contexts: bool, method: str
) -> None:
    options: dict[str, Any] = {
        "@context": example_credential()["@context"][: 2 if two_contexts else 1],
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": created,
        "verificationMethod": method,
        "proofPurpose": purpose,
        **extras,
    }
    expected = canonicalize_full(options, LOADER)
    fast = fast_canonicalize(options)
    if fast is not None:
        assert fast == expected
    assert canonicalize(options, LOADER) == expected


def test_the_fast_path_is_taken_for_our_credentials() -> None:
    """Without this, the differential tests above could pass by always falling back."""
    assert fast_canonicalize(example_credential()) is not None


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(extra="x"),
        lambda d: d["credentialSubject"].update(photo="x"),
        lambda d: d.update(type=["VerifiableCredential"]),
        lambda d: d["credentialSubject"].update(givenName="tab\x01control"),
        lambda d: d["credentialSubject"].update(givenName=7),
        lambda d: d.update(issuer="not an iri"),
        lambda d: d.update(**{"@context": [*d["@context"], "https://example.org/ctx"]}),
        lambda d: d["credentialStatus"].append(copy.deepcopy(d["credentialStatus"][0])),
    ],
)
def test_anything_else_falls_back(mutate: Any) -> None:
    document = example_credential()
    mutate(document)
    assert fast_canonicalize(document) is None


def test_identical_blank_nodes_fall_back_and_still_canonicalize() -> None:
    """Two identical status entries share a first-degree hash: the full algorithm decides."""
    document = example_credential()
    document["credentialStatus"] = [document["credentialStatus"][0]] * 2
    assert fast_canonicalize(document) is None
    assert canonicalize(document, LOADER) == canonicalize_full(document, LOADER)
