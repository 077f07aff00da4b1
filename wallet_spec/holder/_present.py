"""Answering a presentation request (``wallet_spec/presentation.md``).

A request names what the verifier wants (``query``), a ``challenge`` it issued and its
``domain``. The wallet answers with one Verifiable Presentation signed by the holder key
(Data Integrity ``eddsa-rdfc-2022``, ``proofPurpose`` ``authentication``, the challenge and
domain as proof options) carrying **only** what the query asks: one credential per
``QueryByExample`` (the newest stored credential that matches and is bound to this holder), none
for ``DIDAuthentication``. Nothing else is added: no other credential, no extra member, and
never biometric data (a credential carries none, and the wallet adds none).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from verifier import create_presentation, format_datetime

from ._errors import WalletError
from ._keys import HolderKey

__all__ = [
    "MAX_QUERIES",
    "answer_request",
    "matches_query",
    "parse_request",
    "select_credentials",
]

#: Most queries a request may carry (a front desk asks for one credential).
MAX_QUERIES = 4
_QUERY_TYPES = frozenset({"QueryByExample", "DIDAuthentication"})


def _types(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def parse_request(request: Any) -> tuple[str, str, list[dict[str, Any]]]:
    """``(challenge, domain, queries)`` of a presentation request, or ``REQUEST_MALFORMED``."""
    if not isinstance(request, Mapping):
        raise WalletError("REQUEST_MALFORMED", "a presentation request is a JSON object")
    challenge, domain = request.get("challenge"), request.get("domain")
    for name, value in (("challenge", challenge), ("domain", domain)):
        if not isinstance(value, str) or not 0 < len(value) <= 255:
            raise WalletError("REQUEST_MALFORMED", f"{name} must be a string of 1 to 255")
    queries = request.get("query")
    if isinstance(queries, Mapping):
        queries = [queries]
    if not isinstance(queries, list) or not 0 < len(queries) <= MAX_QUERIES:
        raise WalletError("REQUEST_MALFORMED", f"query must list 1 to {MAX_QUERIES} queries")
    for query in queries:
        if not isinstance(query, Mapping) or query.get("type") not in _QUERY_TYPES:
            raise WalletError(
                "REQUEST_MALFORMED", f"each query's type is one of {sorted(_QUERY_TYPES)}"
            )
    return str(challenge), str(domain), [dict(q) for q in queries]


def matches_query(credential: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    """Whether ``credential`` is what a ``QueryByExample`` asks for (types, and the coverage
    institution when the example names one)."""
    credential_query = query.get("credentialQuery")
    if isinstance(credential_query, list):
        credential_query = credential_query[0] if credential_query else None
    example = credential_query.get("example") if isinstance(credential_query, Mapping) else None
    if not isinstance(example, Mapping):
        return False
    wanted = set(_types(example.get("type", [])))
    if not wanted or not wanted <= set(_types(credential.get("type", []))):
        return False
    wanted_subject = example.get("credentialSubject")
    if isinstance(wanted_subject, Mapping):
        wanted_coverage = wanted_subject.get("coverage")
        if isinstance(wanted_coverage, Mapping) and "institution" in wanted_coverage:
            coverage = (credential.get("credentialSubject") or {}).get("coverage") or {}
            if coverage.get("institution") != wanted_coverage["institution"]:
                return False
    return True


def select_credentials(
    credentials: Iterable[Mapping[str, Any]],
    queries: list[dict[str, Any]],
    *,
    holder: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """One credential per ``QueryByExample``: the newest one bound to ``holder``, in force at
    ``now`` and matching; ``NO_MATCHING_CREDENTIAL`` when a query finds none."""
    moment = format_datetime(now)
    candidates = [
        dict(c)
        for c in credentials
        if (c.get("credentialSubject") or {}).get("id") == holder
        and str(c.get("validFrom", "")) <= moment < str(c.get("validUntil", "9999"))
    ]
    candidates.sort(key=lambda c: str(c.get("validFrom", "")), reverse=True)
    chosen: list[dict[str, Any]] = []
    for query in queries:
        if query["type"] != "QueryByExample":
            continue
        match = next((c for c in candidates if matches_query(c, query) and c not in chosen), None)
        if match is None:
            raise WalletError(
                "NO_MATCHING_CREDENTIAL", "no stored credential of this holder answers the query"
            )
        chosen.append(match)
    return chosen


def answer_request(
    request: Any,
    *,
    key: HolderKey,
    credentials: Iterable[Mapping[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    """The presentation response: ``{"verifiablePresentation": <VP signed by key>}``."""
    challenge, domain, queries = parse_request(request)
    chosen = select_credentials(credentials, queries, holder=key.did, now=now)
    presentation = create_presentation(
        chosen,
        holder=key.did,
        signer=key,
        challenge=challenge,
        domain=domain,
        created=format_datetime(now),
    )
    return {"verifiablePresentation": presentation}
