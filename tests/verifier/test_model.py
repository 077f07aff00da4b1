"""CURP / CLUES identifiers and the typed credential model."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from schemas import CREDENCIAL_CONTEXT_URL, health_coverage_json_schema
from tests.strategies import (
    broken_examples,
    clues_codes,
    coverage_subjects,
    curps,
    example_credential,
    unsigned_credentials,
)
from verifier import _model
from verifier._identifiers import (
    CURP_STATE_CODES,
    INSTITUTION_CODES,
    curp_check_digit,
    is_valid_clues,
    is_valid_curp,
)
from verifier._model import (
    Coverage,
    CoverageSubject,
    HealthCoverageCredential,
    StatusListEntry,
    parse_health_coverage_credential,
)

CURP_ALPHABET = "0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ"
EXAMPLE_CURP = "HEOG850314MDFRXD08"
PROOF = {
    "type": "DataIntegrityProof",
    "cryptosuite": "eddsa-rdfc-2022",
    "created": "2026-01-01T00:00:00Z",
    "verificationMethod": "did:web:imss.gob.mx#key-1",
    "proofPurpose": "assertionMethod",
    "proofValue": "z3FXQjecWufY46yg5abdVZsXqLhxhueuSoZgNSARiKBk",
}


# -- CURP ------------------------------------------------------------------------------------------


def test_curp_check_digit_by_hand() -> None:
    # HEOG850314MDFRXD0: value(char) * weight, weights 18..2, Ñ counted between N and O
    #   H 17*18=306  E 14*17=238  O 25*16=400  G 16*15=240  8  8*14=112  5  5*13=65
    #   0  0*12=0    3  3*11=33   1  1*10=10   4  4*9=36    M 22*8=176   D 13*7=91
    #   F 15*6=90    R 28*5=140   X 34*4=136   D 13*3=39    0  0*2=0
    #   sum = 2112; (10 - 2112 % 10) % 10 = 8
    assert curp_check_digit("HEOG850314MDFRXD0") == "8"
    assert is_valid_curp(EXAMPLE_CURP)


def test_curp_check_digit_counts_enye_before_o() -> None:
    # Only the value of position 0 differs: N=23, Ñ=24, O=25 (weight 18).
    base = curp_check_digit("NAAA000101HDFBBB0")
    assert curp_check_digit("ÑAAA000101HDFBBB0") == str((int(base) - 18) % 10)
    assert curp_check_digit("OAAA000101HDFBBB0") == str((int(base) - 36) % 10)


def test_curp_check_digit_zero_case() -> None:
    # Position 9 (the units of the day) has weight 9, coprime with 10: days 10..19 hit every digit.
    candidates = [f"AAAA00011{units}HDFBBBA" for units in "0123456789"]
    assert sorted(curp_check_digit(first17) for first17 in candidates) == list("0123456789")
    first17 = next(first17 for first17 in candidates if curp_check_digit(first17) == "0")
    assert is_valid_curp(first17 + "0")


@pytest.mark.parametrize("bad", ["", "HEOG850314MDFRXD0X", "HEOG850314MDFRXD", "heog850314mdfrxd0"])
def test_curp_check_digit_refuses_bad_input(bad: str) -> None:
    with pytest.raises(ValueError, match="CURP"):
        curp_check_digit(bad)


@settings(max_examples=100)
@given(curps())
def test_generated_curps_are_valid(curp: str) -> None:
    assert is_valid_curp(curp)
    assert curp_check_digit(curp[:17]) == curp[17]


def _blind_spot(original: str, replacement: str, position: int) -> bool:
    """Whether a substitution leaves the weighted sum unchanged mod 10 (undetectable)."""
    delta = CURP_ALPHABET.index(replacement) - CURP_ALPHABET.index(original)
    return position < 17 and (delta * (18 - position)) % 10 == 0


@settings(max_examples=50)
@given(curps())
def test_single_character_changes_are_rejected(curp: str) -> None:
    """Every one-character change is rejected, except where the check digit cannot see it.

    The weights 18..2 are taken mod 10, so a change is invisible to the check digit when
    ``delta * weight`` is a multiple of 10: any change at position 8 (weight 10, the tens of
    the birth day) and changes by 5 at even weights. Those must still pass every other rule
    (structure, date, state) to be accepted; nothing else may be.
    """
    for position in range(18):
        for char in CURP_ALPHABET + "abcxyzñ- ":
            if char == curp[position]:
                continue
            changed = curp[:position] + char + curp[position + 1 :]
            if is_valid_curp(changed):
                assert _blind_spot(curp[position], char, position), (curp, changed)


def test_check_digit_blind_spots_exist_as_documented() -> None:
    # Day 14 -> 24 at position 8 (weight 10): same check digit, and a real date.
    assert is_valid_curp("HEOG850324MDFRXD08")
    # Homoclave 0 -> 5 at position 16 (weight 2): 5 * 2 = 10.
    assert is_valid_curp("HEOG850314MDFRXD58")
    # ...but the check digit itself is always checked.
    for digit in "012345679":
        assert not is_valid_curp(EXAMPLE_CURP[:17] + digit)


def _with_check_digit(first17: str) -> str:
    return first17 + curp_check_digit(first17)


@pytest.mark.parametrize(
    "first17",
    [
        "HEOG851314MDFRXD0",  # month 13
        "HEOG850014MDFRXD0",  # month 00
        "HEOG850300MDFRXD0",  # day 00
        "HEOG850332MDFRXD0",  # day 32
        "HEOG850230MDFRXD0",  # 30 February
        "HEOG850431MDFRXD0",  # 31 April
        "HEOG010229MDFRXDA",  # 29 February 1901 / 2001
        "HEOG850314MXXRXD0",  # unknown state
        "HEOG850314MEXRXD0",  # unknown state
        "HEOG850314ZDFRXD0",  # sex not H/M/X
        "HEOG850314MDFAXD0",  # vowel where a consonant goes
        "HEOG850314MDFRXÑ0",  # Ñ never appears in a CURP
        "HE0G850314MDFRXD0",  # digit among the initials
        "HEOG8503I4MDFRXD0",  # letter in the date
    ],
)
def test_structurally_invalid_curps_are_rejected(first17: str) -> None:
    assert not is_valid_curp(_with_check_digit(first17))


@pytest.mark.parametrize(
    "first17",
    [
        "HEOG000229MDFRXDA",  # 29 February 2000 (leap)
        "HEOG850314XDFRXD0",  # X: non-binary, as RENAPO issues
        "HEOG850314MNERXD0",  # NE: born abroad
        "HEOG250101HZSRXDA",  # born 2025: letter homoclave
    ],
)
def test_valid_curp_variants(first17: str) -> None:
    assert is_valid_curp(_with_check_digit(first17))


@pytest.mark.parametrize("state", CURP_STATE_CODES)
def test_every_state_code_is_accepted(state: str) -> None:
    assert is_valid_curp(_with_check_digit(f"HEOG850314M{state}RXD0"))


def test_state_codes() -> None:
    assert len(CURP_STATE_CODES) == len(set(CURP_STATE_CODES)) == 33
    assert "NE" in CURP_STATE_CODES


@pytest.mark.parametrize("bad", ["", EXAMPLE_CURP + "\n", " " + EXAMPLE_CURP, EXAMPLE_CURP[:17]])
def test_curp_length_and_whitespace(bad: str) -> None:
    assert not is_valid_curp(bad)


# -- CLUES and institutions ------------------------------------------------------------------------


@settings(max_examples=50)
@given(clues_codes())
def test_generated_clues_are_valid(code: str) -> None:
    assert is_valid_clues(code)


@pytest.mark.parametrize("good", ["DFIMS000014", "JCSSA001234", "ZZZZZ999999"])
def test_valid_clues(good: str) -> None:
    assert is_valid_clues(good)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "DFIMS00014",
        "DFIMS0000140",
        "dfims000014",
        "DFIM0000014",
        "DFIMSÑ00014",
        "DFIMS000014\n",
    ],
)
def test_invalid_clues(bad: str) -> None:
    assert not is_valid_clues(bad)


def test_institution_codes_match_the_model() -> None:
    assert INSTITUTION_CODES == ("IMSS", "ISSSTE", "IMSS-BIENESTAR")
    assert get_args(Coverage.model_fields["institution"].annotation) == INSTITUTION_CODES


# -- model: valid input ----------------------------------------------------------------------------


def test_example_parses_with_typed_fields() -> None:
    credential = parse_health_coverage_credential(example_credential())
    subject = credential.credential_subject
    assert isinstance(subject, CoverageSubject)
    assert subject.curp == EXAMPLE_CURP
    assert subject.birth_date == date(1985, 3, 14)
    assert subject.second_family_name == "DE LA O"
    assert subject.coverage.institution == "IMSS"
    assert subject.coverage.adscription_unit == "DFIMS000014"
    assert credential.valid_from_datetime == datetime(2026, 1, 1, tzinfo=UTC)
    assert credential.valid_until_datetime == datetime(2031, 1, 1, tzinfo=UTC)
    revocation = credential.status_entry("revocation")
    assert isinstance(revocation, StatusListEntry)
    assert revocation.index == 94567
    assert credential.proof is None


def test_round_trip_of_the_example() -> None:
    original = example_credential()
    assert parse_health_coverage_credential(original).to_json() == original


@settings(max_examples=100)
@given(unsigned_credentials())
def test_round_trip_of_generated_credentials(credential: dict[str, Any]) -> None:
    snapshot = copy.deepcopy(credential)
    parsed = parse_health_coverage_credential(credential)
    assert parsed.to_json() == credential
    assert credential == snapshot  # the input is not touched


@settings(max_examples=50)
@given(coverage_subjects())
def test_round_trip_of_generated_subjects(subject: dict[str, Any]) -> None:
    assert CoverageSubject.model_validate(subject).to_json() == subject


def test_round_trip_with_proof_and_optional_fields() -> None:
    credential = example_credential()
    credential["credentialSubject"]["id"] = (
        "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    )
    credential["credentialSubject"]["coverage"]["type"] = "HealthCoverage"
    credential["credentialStatus"][0]["id"] = (
        "https://imss.gob.mx/credencial/status/revocation/1#94567"
    )
    credential["validFrom"] = "2026-01-01T06:00:00.250-06:00"
    credential["proof"] = {**PROOF, "@context": ["https://www.w3.org/ns/credentials/v2"]}
    parsed = parse_health_coverage_credential(credential)
    assert parsed.to_json() == credential
    assert parsed.valid_from_datetime == datetime(2026, 1, 1, 12, 0, 0, 250_000, tzinfo=UTC)
    assert parsed.proof is not None
    assert parsed.proof.created_datetime == datetime(2026, 1, 1, tzinfo=UTC)
    assert parsed.proof.expires_datetime is None


def test_proof_options_without_proof_value_are_accepted() -> None:
    credential = example_credential()
    credential["proof"] = {key: value for key, value in PROOF.items() if key != "proofValue"}
    assert parse_health_coverage_credential(credential).to_json() == credential


def test_datetimes_are_aware_even_with_offsets() -> None:
    credential = example_credential()
    credential["validFrom"] = "2025-12-31T18:00:00-06:00"
    parsed = parse_health_coverage_credential(credential)
    assert parsed.valid_from == "2025-12-31T18:00:00-06:00"  # kept verbatim
    assert parsed.valid_from_datetime == datetime(
        2025, 12, 31, 18, tzinfo=timezone(-timedelta(hours=6))
    )
    assert parsed.valid_from_datetime.tzinfo is not None


def test_status_and_schema_are_optional() -> None:
    credential = example_credential()
    del credential["credentialStatus"], credential["credentialSchema"]
    parsed = parse_health_coverage_credential(credential)
    assert parsed.to_json() == credential
    assert parsed.status_entry("suspension") is None


def test_types_in_either_order_and_extra_contexts() -> None:
    credential = example_credential()
    credential["type"].reverse()
    credential["@context"].append("https://w3id.org/security/data-integrity/v2")
    assert parse_health_coverage_credential(credential).to_json() == credential


def test_model_is_frozen_and_hashable() -> None:
    parsed = parse_health_coverage_credential(example_credential())
    with pytest.raises(ValidationError):
        parsed.issuer = "did:web:evil.example"  # type: ignore[misc]
    assert hash(parsed) == hash(parse_health_coverage_credential(example_credential()))
    assert isinstance(parsed.context, tuple)


def test_validity_may_be_a_single_instant() -> None:
    credential = example_credential()
    credential["validUntil"] = credential["validFrom"]
    assert parse_health_coverage_credential(credential).to_json() == credential


def test_public_names() -> None:
    assert set(_model.__all__) == {
        "Coverage",
        "CoverageSubject",
        "CredentialSchemaRef",
        "DataIntegrityProofModel",
        "HealthCoverageCredential",
        "StatusListEntry",
        "parse_health_coverage_credential",
    }


# -- model: invalid input --------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "credential"), list(broken_examples().items()))
def test_model_rejects_broken_examples(name: str, credential: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        parse_health_coverage_credential(credential)


def test_model_and_schema_agree_on_broken_examples() -> None:
    validator = Draft202012Validator(health_coverage_json_schema())
    for name, credential in broken_examples().items():
        assert not validator.is_valid(credential), name


_SUBJECT = ("credentialSubject",)
_PROOF_WITHOUT_VM = {key: value for key, value in PROOF.items() if key != "verificationMethod"}
_UPPERCASE_ID = "urn:uuid:3F1C9A52-7D4E-4B8A-9C61-0E2F5A7B8D90"


def _with(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """The example with the value at ``path`` replaced."""
    credential = example_credential()
    target: Any = credential
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return credential


def _renamed_given_name() -> dict[str, Any]:
    credential = example_credential()
    subject = credential["credentialSubject"]
    subject["given_name"] = subject.pop("givenName")
    return credential


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        ("wrong check digit", _with((*_SUBJECT, "curp"), "HEOG850314MDFRXD07")),
        ("validFrom after validUntil", _with(("validUntil",), "2025-12-31T23:59:59Z")),
        ("31 February validFrom", _with(("validFrom",), "2026-02-31T00:00:00Z")),
        ("birthDate 30 February", _with((*_SUBJECT, "birthDate"), "1985-02-30")),
        ("birthDate compact", _with((*_SUBJECT, "birthDate"), "19850314")),
        ("birthDate unpadded", _with((*_SUBJECT, "birthDate"), "1985-3-14")),
        ("birthDate as number", _with((*_SUBJECT, "birthDate"), 479606400)),
        (
            "duplicate context",
            _with(("@context",), [*example_credential()["@context"], CREDENCIAL_CONTEXT_URL]),
        ),
        ("type as string", _with(("type",), "VerifiableCredential")),
        ("uppercase uuid", _with(("id",), _UPPERCASE_ID)),
        (
            "status as object",
            _with(("credentialStatus",), example_credential()["credentialStatus"][0]),
        ),
        (
            "relative status list",
            _with(("credentialStatus", 0, "statusListCredential"), "/status/1"),
        ),
        ("bytes instead of text", _with((*_SUBJECT, "givenName"), b"MARIA")),
        ("control character in name", _with((*_SUBJECT, "familyName"), "HERN\nANDEZ")),
        ("extra field in proof", _with(("proof",), {**PROOF, "faceTemplate": "AAAA"})),
        ("proof without verificationMethod", _with(("proof",), _PROOF_WITHOUT_VM)),
        ("snake_case field name", _renamed_given_name()),
    ],
)
def test_model_rejects(name: str, credential: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        parse_health_coverage_credential(credential)


@pytest.mark.parametrize("field", ["fingerprint", "biometric", "faceTemplate", "irisCode"])
@pytest.mark.parametrize("where", ["top", "subject", "coverage", "status", "schema"])
def test_no_biometric_field_anywhere(field: str, where: str) -> None:
    credential = example_credential()
    target = {
        "top": credential,
        "subject": credential["credentialSubject"],
        "coverage": credential["credentialSubject"]["coverage"],
        "status": credential["credentialStatus"][1],
        "schema": credential["credentialSchema"],
    }[where]
    target[field] = "Rk1SACAyMAAA"
    with pytest.raises(ValidationError, match=field):
        parse_health_coverage_credential(credential)
    assert not Draft202012Validator(health_coverage_json_schema()).is_valid(credential)


@settings(max_examples=50)
@given(unsigned_credentials(), st.sampled_from(["givenName", "curp", "coverage", "birthDate"]))
def test_a_missing_required_subject_field_is_rejected(
    credential: dict[str, Any], field: str
) -> None:
    del credential["credentialSubject"][field]
    with pytest.raises(ValidationError):
        parse_health_coverage_credential(credential)


def test_model_accepts_a_mapping_and_returns_the_model_type() -> None:
    from types import MappingProxyType

    parsed = parse_health_coverage_credential(MappingProxyType(example_credential()))
    assert isinstance(parsed, HealthCoverageCredential)
