"""Hypothesis: generated credentials sign and verify; any single change to a claim is refused."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from issuer.credentials.signing import new_status_list_credential
from issuer.institutions import INSTITUTIONS
from tests.conftest import Issuers
from tests.strategies import unsigned_credentials
from verifier import InMemoryStatusLists, Verdict, Verifier, parse_datetime

_CODE_BY_DID = {inst.did: code for code, inst in INSTITUTIONS.items()}
_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _verifier_for(
    issuers: Issuers, credential: dict[str, Any], lists: InMemoryStatusLists
) -> Verifier:
    """Hold clean status lists for every list the credential points to."""
    code = _CODE_BY_DID[credential["issuer"]]
    for entry in credential["credentialStatus"]:
        unsigned = new_status_list_credential(
            INSTITUTIONS[code],
            entry["statusListCredential"],
            purpose=entry["statusPurpose"],
            valid_from=_reference(credential),
        )
        lists.add(issuers.sign(unsigned, code))
    return Verifier(issuers.trust, status_lists=lists)


def _reference(credential: dict[str, Any]) -> Any:
    """A moment inside the credential's validity period (an hour after it starts)."""
    from datetime import timedelta

    return parse_datetime(credential["validFrom"]) + timedelta(hours=1)


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))
    else:
        yield path, node


def _within_key_window(credential: dict[str, Any]) -> bool:
    return (
        parse_datetime("2025-01-01T00:00:00Z")
        <= parse_datetime(credential["validFrom"])
        < parse_datetime("2030-01-01T00:00:00Z")
    )


@_SETTINGS
@given(unsigned=unsigned_credentials())
def test_generated_credentials_sign_and_verify(issuers: Issuers, unsigned: dict[str, Any]) -> None:
    code = _CODE_BY_DID[unsigned["issuer"]]
    created = unsigned["validFrom"] if _within_key_window(unsigned) else "2026-01-01T00:00:00Z"
    signed = issuers.sign(unsigned, code, created=created)
    verifier = _verifier_for(issuers, signed, InMemoryStatusLists())
    result = verifier.check(signed, now=_reference(signed))
    assert result.verdict is Verdict.VALID, result.reasons


@_SETTINGS
@given(unsigned=unsigned_credentials(), data=st.data())
def test_any_single_change_is_refused(
    issuers: Issuers, unsigned: dict[str, Any], data: st.DataObject
) -> None:
    code = _CODE_BY_DID[unsigned["issuer"]]
    signed = issuers.sign(unsigned, code, created="2026-01-01T00:00:00Z")
    verifier = _verifier_for(issuers, signed, InMemoryStatusLists())
    claims = [(path, value) for path, value in _leaves(signed) if path[0] != "proof"]
    path, value = data.draw(st.sampled_from(claims), label="claim")
    mutated = copy.deepcopy(signed)
    parent: Any = mutated
    for step in path[:-1]:
        parent = parent[step]
    how = data.draw(st.sampled_from(["append", "replace", "delete"]), label="how")
    if how == "delete":
        del parent[path[-1]]
    elif how == "append":
        parent[path[-1]] = f"{value}X"
    else:
        replacement = data.draw(
            st.text(min_size=1, max_size=20).filter(lambda s: s != value), label="new"
        )
        parent[path[-1]] = replacement
    assert mutated != signed
    result = verifier.check(mutated, now=_reference(signed))
    assert result.verdict is Verdict.INVALID, (path, how, result.reasons)
