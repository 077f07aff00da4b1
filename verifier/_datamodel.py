"""The W3C VC Data Model 2.0 rules a conforming verifier enforces, before any JSON-LD work."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ._contexts import CREDENTIALS_V2_URL
from ._errors import DataModelError, ReasonCode
from ._time import parse_datetime

__all__ = ["check_credential", "is_url", "issuer_id", "validity_period"]

#: A scheme, a colon, a first character that is not white space, and no character below 0x21
#: nor any of ``<>"{}|\^``` anywhere (one regular expression: this runs on every verification).
_URL = re.compile(r'[A-Za-z][A-Za-z0-9+.\-]*:(?!\s)[^\x00-\x20<>"{}|\\^`]+')
_TYPED_ENTRIES = (
    "credentialStatus",
    "credentialSchema",
    "refreshService",
    "termsOfUse",
    "evidence",
)
_ENTRIES_NEEDING_ID = ("credentialSchema",)


def is_url(value: object) -> bool:
    """Whether ``value`` is an absolute IRI (a scheme, a colon, no spaces or forbidden chars)."""
    return isinstance(value, str) and _URL.fullmatch(value) is not None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _fail(code: ReasonCode, message: str) -> DataModelError:
    return DataModelError(message, code=code)


def issuer_id(credential: Mapping[str, Any]) -> str:
    """The issuer's URL, from ``issuer`` as a string or as an object with ``id``."""
    issuer = credential.get("issuer")
    value = issuer.get("id") if isinstance(issuer, Mapping) else issuer
    if not is_url(value):
        raise _fail(ReasonCode.ISSUER_INVALID, "issuer must be a URL or an object with an id URL")
    assert isinstance(value, str)
    return value


def validity_period(credential: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """Parsed ``validFrom`` and ``validUntil``; both XML Schema dateTimeStamps, in order."""
    bounds: list[datetime | None] = []
    for key in ("validFrom", "validUntil"):
        if key not in credential:
            bounds.append(None)
            continue
        try:
            bounds.append(parse_datetime(credential[key]))
        except ValueError as exc:
            raise _fail(ReasonCode.DATETIME_INVALID, f"{key}: {exc}") from exc
    start, end = bounds
    if start is not None and end is not None and start > end:
        raise _fail(ReasonCode.VALIDITY_RANGE_INVALID, "validFrom is later than validUntil")
    return start, end


def check_credential(credential: Mapping[str, Any]) -> None:
    """Raise :class:`DataModelError` (with its reason code) for the first VC 2.0 rule broken."""
    contexts = _as_list(credential.get("@context"))
    if not contexts or contexts[0] != CREDENTIALS_V2_URL:
        raise _fail(ReasonCode.CONTEXT_INVALID, f"the first @context must be {CREDENTIALS_V2_URL}")

    types = _as_list(credential.get("type"))
    if (
        "type" not in credential
        or not all(isinstance(t, str) for t in types)
        or "VerifiableCredential" not in types
    ):
        raise _fail(ReasonCode.TYPE_INVALID, "type must include VerifiableCredential")

    if "id" in credential and not is_url(credential["id"]):
        raise _fail(ReasonCode.ID_INVALID, "id must be a single URL")

    issuer_id(credential)

    subjects = _as_list(credential.get("credentialSubject"))
    if (
        "credentialSubject" not in credential
        or not subjects
        or not all(isinstance(s, Mapping) and s for s in subjects)
    ):
        raise _fail(
            ReasonCode.SUBJECT_INVALID, "credentialSubject must be one or more non-empty objects"
        )
    for subject in subjects:
        if "id" in subject and not is_url(subject["id"]):
            raise _fail(ReasonCode.ID_INVALID, "credentialSubject id must be a single URL")

    validity_period(credential)

    for name in _TYPED_ENTRIES:
        if name not in credential:
            continue
        for entry in _as_list(credential[name]):
            if not isinstance(entry, Mapping) or "type" not in entry:
                raise _fail(ReasonCode.ENTRY_TYPE_MISSING, f"each {name} entry must have a type")
            if "id" in entry and not is_url(entry["id"]):
                raise _fail(ReasonCode.ID_INVALID, f"{name} id must be a single URL")
            if name in _ENTRIES_NEEDING_ID and "id" not in entry:
                raise _fail(ReasonCode.ID_INVALID, f"each {name} entry must have an id")
