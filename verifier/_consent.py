"""Consent grants as JSON: what a holder signs, what a receipt carries, and reading them back.

A holder signs a consent statement by signing a presentation whose ``id`` is
:func:`consent_statement_id` of the statement (its SHA-256 over canonical JSON): the presentation
proof covers the ``id``, so it covers the statement, without inventing presentation members.

The institution answers with a ``ConsentReceiptCredential`` (its own signature, a revocation
entry in its receipt status list) whose ``credentialSubject.consentGrant`` is the grant. An offline
desk that holds a receipt and a fresh receipt status list turns it into a :class:`ConsentGrant`
with :func:`offline_consent_grants`: only receipts that verify VALID count, so a withdrawn grant
stops counting as soon as the desk holds a list newer than the withdrawal, and a list past its
``ttl`` makes the receipt INDETERMINATE, which counts as no grant.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from ._authorize import ConsentGrant, Grantee
from ._time import parse_datetime
from ._verifier import Verdict, Verifier

__all__ = [
    "CONSENT_RECEIPT_TYPE",
    "consent_grant_from_json",
    "consent_grant_from_receipt",
    "consent_statement_id",
    "offline_consent_grants",
]

#: The type of the receipt credential an institution returns for a recorded consent grant.
CONSENT_RECEIPT_TYPE = "ConsentReceiptCredential"
_STATEMENT_PREFIX = "urn:credencial:statement:sha256:"
_GRANT_KEYS = frozenset(
    {
        "id",
        "curp",
        "grantees",
        "dataClasses",
        "purposes",
        "dataFrom",
        "dataUntil",
        "validFrom",
        "validUntil",
        "locations",
    }
)


def consent_statement_id(statement: Mapping[str, Any]) -> str:
    """``urn:credencial:statement:sha256:<hex>`` of ``statement`` as canonical JSON.

    Canonical JSON: keys sorted, no insignificant whitespace, UTF-8. The holder uses it as the
    ``presentation_id`` of the presentation that signs the statement; the institution recomputes
    it from the statement it received.
    """
    body = json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _STATEMENT_PREFIX + hashlib.sha256(body.encode("utf-8")).hexdigest()


def _strings(document: Mapping[str, Any], key: str) -> frozenset[str]:
    value = document.get(key)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{key} must be a list of strings")
    return frozenset(value)


def _date(document: Mapping[str, Any], key: str) -> date | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a date (YYYY-MM-DD)")
    return date.fromisoformat(value)


def _moment(document: Mapping[str, Any], key: str) -> datetime:
    value = document.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a date-time with a time zone")
    return parse_datetime(value)


def consent_grant_from_json(
    document: Mapping[str, Any],
    *,
    grant_id: str,
    grantor: str,
    withdrawn_at: datetime | None = None,
) -> ConsentGrant:
    """A :class:`ConsentGrant` from its JSON form; ``ValueError`` when it is malformed.

    The grant's own rules (known classes and purposes, Mexico only...) are checked too.
    """
    if not isinstance(document, Mapping):
        raise ValueError("a consent grant is a JSON object")
    unknown = set(document) - _GRANT_KEYS
    if unknown:
        raise ValueError(f"unknown consent grant members: {sorted(unknown)[:5]}")
    grantees = document.get("grantees")
    if not isinstance(grantees, list) or not all(isinstance(g, Mapping) for g in grantees):
        raise ValueError("grantees must be a list of {institution, unit?} objects")
    parsed: list[Grantee] = []
    for grantee in grantees:
        institution, unit = grantee.get("institution"), grantee.get("unit")
        if set(grantee) - {"institution", "unit"} or not isinstance(institution, str):
            raise ValueError("a grantee is {institution, unit?}")
        if unit is not None and not isinstance(unit, str):
            raise ValueError("a grantee's unit is a CLUES string")
        parsed.append(Grantee(institution, unit))
    curp = document.get("curp")
    if not isinstance(curp, str):
        raise ValueError("curp must be a string")
    grant = ConsentGrant(
        grant_id=grant_id,
        subject=curp,
        grantees=tuple(parsed),
        data_classes=_strings(document, "dataClasses"),
        purposes=_strings(document, "purposes"),
        valid_from=_moment(document, "validFrom"),
        valid_until=_moment(document, "validUntil"),
        data_from=_date(document, "dataFrom"),
        data_until=_date(document, "dataUntil"),
        locations=_strings(document, "locations"),
        grantor=grantor,
        withdrawn_at=withdrawn_at,
    )
    problems = grant.scope_problems()
    if problems:
        raise ValueError("; ".join(problems))
    return grant


def consent_grant_from_receipt(receipt: Mapping[str, Any]) -> ConsentGrant:
    """The grant a receipt credential carries (the receipt must have been verified first)."""
    types = receipt.get("type")
    if not isinstance(types, list) or CONSENT_RECEIPT_TYPE not in types:
        raise ValueError(f"not a {CONSENT_RECEIPT_TYPE}")
    subject = receipt.get("credentialSubject")
    if not isinstance(subject, Mapping):
        raise ValueError("credentialSubject must be an object")
    grant, grantor = subject.get("consentGrant"), subject.get("id")
    if not isinstance(grant, Mapping) or not isinstance(grantor, str):
        raise ValueError("credentialSubject needs id (the holder) and consentGrant")
    grant_id = grant.get("id")
    if not isinstance(grant_id, str) or not grant_id:
        raise ValueError("consentGrant.id is missing")
    return consent_grant_from_json(grant, grant_id=grant_id, grantor=grantor)


def offline_consent_grants(
    receipts: Iterable[Mapping[str, Any]], verifier: Verifier, now: datetime
) -> list[ConsentGrant]:
    """The grants of the receipts that verify VALID at ``now`` (others count as no grant)."""
    grants = []
    for receipt in receipts:
        if verifier.check(receipt, now=now).verdict is not Verdict.VALID:
            continue
        try:
            grants.append(consent_grant_from_receipt(receipt))
        except ValueError:
            continue
    return grants
