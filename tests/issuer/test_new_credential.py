"""``new_coverage_credential`` checks the typed model: pydantic only when the quick check cannot
vouch, with the same verdict either way."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import issuer.credentials.signing
from issuer.credentials.signing import new_coverage_credential
from issuer.institutions import INSTITUTIONS
from tests.strategies import coverage_subjects, example_credential
from verifier import parse_health_coverage_credential

_NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _build(subject: dict[str, Any]) -> dict[str, Any]:
    return new_coverage_credential(
        INSTITUTIONS["IMSS"], subject, status_list=1, status_index=7,
        valid_from=_NOW, valid_until=_NOW.replace(year=2031),
    )  # fmt: skip


def _outcome(subject: dict[str, Any]) -> str:
    try:
        _build(subject)
    except ValidationError:
        return "refused"
    return "built"


_EDITS = st.sampled_from(
    [
        ("givenName", ""),
        ("givenName", " ANA"),
        ("familyName", "X" * 81),
        ("curp", "HEOG850314MDFRXD09"),
        ("birthDate", "1985-02-30"),
        ("id", "did:web:example.org"),
        ("coverage", {"institution": "IMSS"}),
        ("secondFamilyName", "DE LA O"),
        ("givenName", "María"),
    ]
)


@settings(max_examples=200, deadline=None)
@given(subject=coverage_subjects("IMSS"), edit=st.none() | _EDITS)
def test_the_verdict_is_the_models(subject: dict[str, Any], edit: tuple[str, Any] | None) -> None:
    if edit is not None:
        subject[edit[0]] = edit[1]
    try:
        built = _build(subject)
    except ValidationError:
        built = None
    # The model's own verdict on the same credential, built without the check.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            issuer.credentials.signing, "parse_health_coverage_credential", lambda c: None
        )
        patch.setattr(issuer.credentials.signing, "conforms_to_model", lambda c: True)
        unchecked = _build(subject)
    try:
        parse_health_coverage_credential(unchecked)
        model_accepts = True
    except ValidationError:
        model_accepts = False
    assert (built is not None) is model_accepts


def test_a_valid_credential_does_not_run_pydantic(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(credential: dict[str, Any]) -> None:
        raise AssertionError("pydantic ran")

    subject = example_credential()["credentialSubject"]
    monkeypatch.setattr(issuer.credentials.signing, "parse_health_coverage_credential", refuse)
    assert _build(subject)["credentialSubject"] == subject
