"""Hypothesis strategies for valid credential data in JSON form, and one fixed example."""

from __future__ import annotations

import copy
import string
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import strategies as st

from schemas import CREDENCIAL_CONTEXT_URL, HEALTH_COVERAGE_SCHEMA_URL
from tools.wallet_examples import EXAMPLE_SUBJECT
from verifier._identifiers import CURP_STATE_CODES, INSTITUTION_CODES, curp_check_digit
from verifier._relationships import RELATIONSHIP_TERMS

__all__ = [
    "ISSUERS",
    "broken_examples",
    "clues_codes",
    "coverage_subjects",
    "curps",
    "example_credential",
    "names",
    "unsigned_credentials",
]

#: Issuer did:web per institution code.
ISSUERS: dict[str, str] = {
    "IMSS": "did:web:imss.gob.mx",
    "ISSSTE": "did:web:issste.gob.mx",
    "IMSS-BIENESTAR": "did:web:imssbienestar.gob.mx",
}

_PROGRAMS: dict[str, tuple[str, ...]] = {
    "IMSS": (
        "Régimen Obligatorio",
        "Seguro de Salud para la Familia",
        "Continuación Voluntaria",
        "Seguro Facultativo",
    ),
    "ISSSTE": ("Trabajador en Activo", "Pensionado", "Familiar Derechohabiente"),
    "IMSS-BIENESTAR": ("Servicios de Salud IMSS-Bienestar", "Atención a Población sin Seguridad"),
}
_RELATIONSHIPS = RELATIONSHIP_TERMS
_CONSONANTS = "BCDFGHJKLMNPQRSTVWXYZ"
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_LETTERS = "ABCDEFGHIJKLMNÑOPQRSTUVWXYZÁÉÍÓÚÜabcdefghijklmnñopqrstuvwxyzáéíóúü"
_CLUES_INSTITUTIONS = ("IMS", "IST", "SSA", "IMB")

_BIRTH_DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31))


@st.composite
def _curp_for(draw: st.DrawFn, birth_date: date) -> str:
    initials = draw(st.text(string.ascii_uppercase, min_size=4, max_size=4))
    sex = draw(st.sampled_from("HMX"))
    state = draw(st.sampled_from(CURP_STATE_CODES))
    consonants = draw(st.text(_CONSONANTS, min_size=3, max_size=3))
    homoclave_chars = string.digits if birth_date.year < 2000 else string.ascii_uppercase
    homoclave = draw(st.sampled_from(homoclave_chars))
    first17 = f"{initials}{birth_date:%y%m%d}{sex}{state}{consonants}{homoclave}"
    return first17 + curp_check_digit(first17)


def curps(birth_dates: st.SearchStrategy[date] = _BIRTH_DATES) -> st.SearchStrategy[str]:
    """Valid CURPs (structure, real date, state code, check digit)."""
    return birth_dates.flatmap(_curp_for)


def clues_codes() -> st.SearchStrategy[str]:
    """Realistic CLUES codes: state, institution, six digits (e.g. ``DFIMS000014``)."""
    states = st.sampled_from([code for code in CURP_STATE_CODES if code != "NE"])
    institutions = st.sampled_from(_CLUES_INSTITUTIONS)
    numbers = st.integers(0, 999_999).map("{:06d}".format)
    return st.builds("".join, st.tuples(states, institutions, numbers))


@st.composite
def names(draw: st.DrawFn) -> str:
    """Names of 1..40 Spanish characters (accents, Ñ, space, apostrophe, hyphen), trimmed."""
    first = draw(st.sampled_from(_LETTERS))
    middle = draw(st.text(_LETTERS + " '-", max_size=38))
    last = draw(st.sampled_from(_LETTERS)) if draw(st.booleans()) or middle else ""
    return first + middle + last


@st.composite
def _did_keys(draw: st.DrawFn) -> str:
    return "did:key:z6Mk" + draw(st.text(_BASE58, min_size=44, max_size=44))


@st.composite
def _affiliation_numbers(draw: st.DrawFn, institution: str) -> str:
    if institution == "IMSS":  # NSS: eleven digits
        return draw(st.text(string.digits, min_size=11, max_size=11))
    if institution == "ISSSTE":  # RFC with homoclave
        letters = draw(st.text(string.ascii_uppercase, min_size=4, max_size=4))
        rest = draw(st.text(string.digits + string.ascii_uppercase, min_size=9, max_size=9))
        return letters + rest
    digits = draw(st.text(string.digits, min_size=1, max_size=17))
    return f"IB-{digits}"


@st.composite
def _coverages(draw: st.DrawFn, institution: str | None = None) -> dict[str, Any]:
    code = institution if institution is not None else draw(st.sampled_from(INSTITUTION_CODES))
    coverage: dict[str, Any] = {}
    if draw(st.booleans()):
        coverage["type"] = "HealthCoverage"
    coverage["institution"] = code
    coverage["program"] = draw(st.sampled_from(_PROGRAMS[code]))
    coverage["affiliationNumber"] = draw(_affiliation_numbers(code))
    coverage["beneficiaryRelationship"] = draw(st.sampled_from(_RELATIONSHIPS))
    coverage["adscriptionUnit"] = draw(clues_codes())
    return coverage


@st.composite
def coverage_subjects(draw: st.DrawFn, institution: str | None = None) -> dict[str, Any]:
    """``credentialSubject`` objects; the CURP's date matches ``birthDate``."""
    birth_date = draw(_BIRTH_DATES)
    subject: dict[str, Any] = {}
    if draw(st.booleans()):
        subject["id"] = draw(_did_keys())
    subject["curp"] = draw(_curp_for(birth_date))
    subject["givenName"] = draw(names())
    subject["familyName"] = draw(names())
    if draw(st.booleans()):
        subject["secondFamilyName"] = draw(names())
    subject["birthDate"] = birth_date.isoformat()
    subject["coverage"] = draw(_coverages(institution))
    return subject


def _add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February in a non-leap target year
        return moment.replace(year=moment.year + years, day=28)


@st.composite
def unsigned_credentials(draw: st.DrawFn) -> dict[str, Any]:
    """Valid unsigned credentials (no ``proof``) with both status entries and a schema reference."""
    institution = draw(st.sampled_from(INSTITUTION_CODES))
    issuer = ISSUERS[institution]
    host = issuer.removeprefix("did:web:")
    valid_from = draw(
        st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31, 23, 59, 59))
    ).replace(microsecond=0, tzinfo=UTC)
    valid_until = _add_years(valid_from, draw(st.integers(1, 10)))
    status = [
        {
            "type": "BitstringStatusListEntry",
            "statusPurpose": purpose,
            "statusListIndex": str(draw(st.integers(0, 131_071))),
            "statusListCredential": (
                f"https://{host}/credencial/status/{purpose}/{draw(st.integers(1, 99))}"
            ),
        }
        for purpose in ("revocation", "suspension")
    ]
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2", CREDENCIAL_CONTEXT_URL],
        "id": f"urn:uuid:{draw(st.uuids())}",
        "type": ["VerifiableCredential", "HealthCoverageCredential"],
        "issuer": issuer,
        "validFrom": f"{valid_from:%Y-%m-%dT%H:%M:%SZ}",
        "validUntil": f"{valid_until:%Y-%m-%dT%H:%M:%SZ}",
        "credentialSubject": draw(coverage_subjects(institution)),
        "credentialStatus": status,
        "credentialSchema": {"id": HEALTH_COVERAGE_SCHEMA_URL, "type": "JsonSchema"},
    }


def example_credential() -> dict[str, Any]:
    """One fixed, realistic unsigned credential (a fresh copy on every call)."""
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2", CREDENCIAL_CONTEXT_URL],
        "id": "urn:uuid:3f1c9a52-7d4e-4b8a-9c61-0e2f5a7b8d90",
        "type": ["VerifiableCredential", "HealthCoverageCredential"],
        "issuer": "did:web:imss.gob.mx",
        "validFrom": "2026-01-01T00:00:00Z",
        "validUntil": "2031-01-01T00:00:00Z",
        "credentialSubject": copy.deepcopy(dict(EXAMPLE_SUBJECT)),
        "credentialStatus": [
            {
                "type": "BitstringStatusListEntry",
                "statusPurpose": "revocation",
                "statusListIndex": "94567",
                "statusListCredential": "https://imss.gob.mx/credencial/status/revocation/1",
            },
            {
                "type": "BitstringStatusListEntry",
                "statusPurpose": "suspension",
                "statusListIndex": "23051",
                "statusListCredential": "https://imss.gob.mx/credencial/status/suspension/1",
            },
        ],
        "credentialSchema": {"id": HEALTH_COVERAGE_SCHEMA_URL, "type": "JsonSchema"},
    }


def _mutated(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    credential = example_credential()
    change(credential)
    return credential


def broken_examples() -> dict[str, dict[str, Any]]:
    """Invalid variants of :func:`example_credential` that the JSON Schema and the model refuse."""
    return {
        "biometric at top level": _mutated(lambda c: c.update(biometric={"fingerprint": "AAEC"})),
        "fingerprint in subject": _mutated(
            lambda c: c["credentialSubject"].update(fingerprint="Rk1SACAyMAAA")
        ),
        "biometric in coverage": _mutated(
            lambda c: c["credentialSubject"]["coverage"].update(biometric="face-template")
        ),
        "extra field in status entry": _mutated(
            lambda c: c["credentialStatus"][0].update(statusMessage=[])
        ),
        "extra field in credentialSchema": _mutated(
            lambda c: c["credentialSchema"].update(digestSRI="sha384-x")
        ),
        "lowercase CLUES": _mutated(
            lambda c: c["credentialSubject"]["coverage"].update(adscriptionUnit="dfims000014")
        ),
        "short CLUES": _mutated(
            lambda c: c["credentialSubject"]["coverage"].update(adscriptionUnit="DFIMS00014")
        ),
        "unknown institution": _mutated(
            lambda c: c["credentialSubject"]["coverage"].update(institution="PEMEX")
        ),
        "missing curp": _mutated(lambda c: c["credentialSubject"].pop("curp")),
        "validFrom without time zone": _mutated(
            lambda c: c.update(validFrom="2026-01-01T00:00:00")
        ),
        "validUntil as a date": _mutated(lambda c: c.update(validUntil="2031-01-01")),
        "CURP with bad state code": _mutated(
            lambda c: c["credentialSubject"].update(curp="HEOG850314MXXRXD08")
        ),
        "CURP month 13": _mutated(
            lambda c: c["credentialSubject"].update(curp="HEOG851314MDFRXD08")
        ),
        "birthDate with time": _mutated(
            lambda c: c["credentialSubject"].update(birthDate="1985-03-14T00:00:00Z")
        ),
        "unknown beneficiary relationship": _mutated(
            lambda c: c["credentialSubject"]["coverage"].update(beneficiaryRelationship="primo")
        ),
        "numeric statusListIndex": _mutated(
            lambda c: c["credentialStatus"][0].update(statusListIndex=94567)
        ),
        "statusListIndex with leading zero": _mutated(
            lambda c: c["credentialStatus"][0].update(statusListIndex="094567")
        ),
        "duplicate status purpose": _mutated(
            lambda c: c["credentialStatus"][1].update(statusPurpose="revocation")
        ),
        "three status entries": _mutated(
            lambda c: c["credentialStatus"].append(dict(c["credentialStatus"][0]))
        ),
        "contexts in the wrong order": _mutated(lambda c: c["@context"].reverse()),
        "missing our context": _mutated(lambda c: c["@context"].pop()),
        "extra type": _mutated(lambda c: c["type"].append("HealthInsuranceCredential")),
        "issuer not did:web": _mutated(lambda c: c.update(issuer="https://imss.gob.mx")),
        "id not a urn:uuid": _mutated(lambda c: c.update(id="https://imss.gob.mx/c/1")),
        "subject id not did:key Ed25519": _mutated(
            lambda c: c["credentialSubject"].update(id="did:web:example.com")
        ),
        "empty given name": _mutated(lambda c: c["credentialSubject"].update(givenName="")),
        "given name with trailing space": _mutated(
            lambda c: c["credentialSubject"].update(givenName="MARÍA ")
        ),
        "affiliation number too long": _mutated(
            lambda c: c["credentialSubject"]["coverage"].update(affiliationNumber="1" * 21)
        ),
        "null secondFamilyName": _mutated(
            lambda c: c["credentialSubject"].update(secondFamilyName=None)
        ),
        "biometric in proof": _mutated(
            lambda c: c.update(
                proof={
                    "type": "DataIntegrityProof",
                    "cryptosuite": "eddsa-rdfc-2022",
                    "verificationMethod": "did:web:imss.gob.mx#key-1",
                    "proofPurpose": "assertionMethod",
                    "proofValue": "z3FXQjecWufY46yg5abdVZsXqLhxhueuSoZgNSARiKBk",
                    "biometric": "iris-code",
                }
            )
        ),
    }
