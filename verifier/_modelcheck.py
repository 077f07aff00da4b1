"""A quick, conservative check that a credential satisfies the typed model (:mod:`._model`).

``conforms_to_model(doc)`` is True only for documents that
:func:`~verifier._model.parse_health_coverage_credential` surely accepts: exact JSON types
(``str``, ``list``, ``dict``; no subclasses, no ``null``), the same patterns written for Python's
``re`` at least as strictly as pydantic's, the same identifier and date checks. Anything else gives
False and the verifier asks pydantic, whose answer (and error message) is authoritative. So the
verdict never depends on this module; it saves importing and running pydantic on the hot path.
``tests/verifier/test_modelcheck.py`` checks the implication on valid and broken credentials.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import schemas

from ._contexts import CREDENTIALS_V2_URL
from ._identifiers import INSTITUTION_CODES, is_valid_clues, is_valid_curp
from ._relationships import RELATIONSHIP_TERMS
from ._time import parse_datetime

__all__ = ["conforms_to_model", "conforms_to_subject_model"]

# Lone surrogates (JSON "\ud800") are excluded too: pydantic refuses them as text.
_TEXT = re.compile(
    r"[^\x00-\x20\x7f\ud800-\udfff]"
    r"(?:[^\x00-\x1f\x7f\ud800-\udfff]*[^\x00-\x20\x7f\ud800-\udfff])?"
)
_ABSOLUTE_IRI = re.compile(r'[A-Za-z][A-Za-z0-9+.-]*:[^\s<>"{}|\\^`\ud800-\udfff]+')
_HTTP_URL = re.compile(r'https?://[^\s<>"{}|\\^`\ud800-\udfff]+')
_UUID_URN = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DID_WEB = re.compile(r"did:web:[A-Za-z0-9.-]+(?:%3[Aa][0-9]+)?(?::[A-Za-z0-9._%-]+)*")
_DID_KEY = re.compile(r"did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_AFFILIATION = re.compile(r"[0-9A-Z-]{1,20}")
_INDEX = re.compile(r"(?:0|[1-9][0-9]{0,9})")

_TOP = frozenset({"@context", "id", "type", "issuer", "validFrom", "validUntil"})
_TOP_REQUIRED = _TOP | {"credentialSubject"}
_TOP_OPTIONAL = frozenset({"credentialStatus", "credentialSchema"})
_SUBJECT_REQUIRED = frozenset({"curp", "givenName", "familyName", "birthDate", "coverage"})
_SUBJECT_OPTIONAL = frozenset({"id", "secondFamilyName"})
_COVERAGE_REQUIRED = frozenset(
    {"institution", "program", "affiliationNumber", "beneficiaryRelationship", "adscriptionUnit"}
)
_COVERAGE_OPTIONAL = frozenset({"type"})
_ENTRY_REQUIRED = frozenset({"type", "statusPurpose", "statusListIndex", "statusListCredential"})
_ENTRY_OPTIONAL = frozenset({"id"})
_RELATIONSHIPS = frozenset(RELATIONSHIP_TERMS)
_PURPOSES = frozenset({"revocation", "suspension"})
_REQUIRED_CONTEXTS = [CREDENTIALS_V2_URL, schemas.CREDENCIAL_CONTEXT_URL]
_REQUIRED_TYPES = frozenset({"VerifiableCredential", "HealthCoverageCredential"})


def _object(node: Any, required: frozenset[str], optional: frozenset[str]) -> bool:
    if type(node) is not dict:
        return False
    keys = node.keys()
    return required <= keys and keys <= required | optional


def _is(pattern: re.Pattern[str], value: Any) -> bool:
    return type(value) is str and pattern.fullmatch(value) is not None


def _text80(value: Any) -> bool:
    return type(value) is str and 1 <= len(value) <= 80 and _TEXT.fullmatch(value) is not None


def _datetime(value: Any) -> bool:
    if type(value) is not str:
        return False
    try:
        parse_datetime(value)
    except ValueError:
        return False
    return True


def conforms_to_subject_model(subject: Any) -> bool:
    """True only if the typed model's ``CoverageSubject`` surely accepts ``subject``."""
    return _subject(subject)


def _subject(subject: Any) -> bool:
    if not _object(subject, _SUBJECT_REQUIRED, _SUBJECT_OPTIONAL):
        return False
    if "id" in subject and not _is(_DID_KEY, subject["id"]):
        return False
    if "secondFamilyName" in subject and not _text80(subject["secondFamilyName"]):
        return False
    birth = subject["birthDate"]
    if not _is(_DATE, birth):
        return False
    try:
        date.fromisoformat(birth)
    except ValueError:
        return False
    coverage = subject["coverage"]
    return (
        type(subject["curp"]) is str
        and is_valid_curp(subject["curp"])
        and _text80(subject["givenName"])
        and _text80(subject["familyName"])
        and _object(coverage, _COVERAGE_REQUIRED, _COVERAGE_OPTIONAL)
        and coverage.get("type", "HealthCoverage") == "HealthCoverage"
        and type(coverage.get("type", "")) is str
        and type(coverage["institution"]) is str
        and coverage["institution"] in INSTITUTION_CODES
        and _text80(coverage["program"])
        and _is(_AFFILIATION, coverage["affiliationNumber"])
        and type(coverage["beneficiaryRelationship"]) is str
        and coverage["beneficiaryRelationship"] in _RELATIONSHIPS
        and type(coverage["adscriptionUnit"]) is str
        and is_valid_clues(coverage["adscriptionUnit"])
    )


def _status(entries: Any) -> bool:
    if type(entries) is not list or len(entries) > 2:
        return False
    purposes = set()
    for entry in entries:
        if not _object(entry, _ENTRY_REQUIRED, _ENTRY_OPTIONAL):
            return False
        purpose = entry["statusPurpose"]
        if not (
            entry["type"] == "BitstringStatusListEntry"
            and type(entry["type"]) is str
            and type(purpose) is str
            and purpose in _PURPOSES
            and _is(_INDEX, entry["statusListIndex"])
            and _is(_HTTP_URL, entry["statusListCredential"])
            and ("id" not in entry or _is(_ABSOLUTE_IRI, entry["id"]))
        ):
            return False
        purposes.add(purpose)
    return len(purposes) == len(entries)


def conforms_to_model(document: Any) -> bool:
    """True only if the typed model surely accepts ``document`` (a credential without proof)."""
    if not _object(document, _TOP_REQUIRED, _TOP_OPTIONAL):
        return False
    contexts, types = document["@context"], document["type"]
    if not (
        type(contexts) is list
        and all(type(url) is str for url in contexts)
        and contexts[:2] == _REQUIRED_CONTEXTS
        and len(set(contexts)) == len(contexts)
        and type(types) is list
        and len(types) == len(_REQUIRED_TYPES)
        and all(type(name) is str for name in types)
        and frozenset(types) == _REQUIRED_TYPES
        and _is(_UUID_URN, document["id"])
        and _is(_DID_WEB, document["issuer"])
        and _datetime(document["validFrom"])
        and _datetime(document["validUntil"])
        and parse_datetime(document["validFrom"]) <= parse_datetime(document["validUntil"])
        and _subject(document["credentialSubject"])
    ):
        return False
    if "credentialStatus" in document and not _status(document["credentialStatus"]):
        return False
    if "credentialSchema" in document:
        schema = document["credentialSchema"]
        frozen = frozenset({"id", "type"})
        if not (
            _object(schema, frozen, frozenset())
            and _is(_HTTP_URL, schema["id"])
            and schema["type"] == "JsonSchema"
            and type(schema["type"]) is str
        ):
            return False
    return True
