"""Hostile JSON never crashes the verifier and is never VALID (`make fuzz` runs it long)."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import FUZZ_EXAMPLES, NOW
from verifier import Verdict, Verifier

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=25,
)
_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck)
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


@_SETTINGS
@given(document=_JSON)
def test_arbitrary_json_is_never_valid(verifier: Verifier, document: Any) -> None:
    result = verifier.check(json.dumps(document), now=NOW)
    assert result.verdict is not Verdict.VALID


@_SETTINGS
@given(data=st.data())
def test_any_value_swapped_for_hostile_json_is_never_valid(
    verifier: Verifier, credential: dict[str, Any], data: st.DataObject
) -> None:
    """Replace any node of a signed credential (proof included) with arbitrary JSON."""
    mutated = copy.deepcopy(credential)
    path = data.draw(st.sampled_from(_paths(mutated)[1:]), label="path")
    replacement = data.draw(_JSON, label="replacement")
    parent: Any = mutated
    for step in path[:-1]:
        parent = parent[step]
    if parent[path[-1]] == replacement:
        return
    parent[path[-1]] = replacement
    result = verifier.check(mutated, now=NOW)
    assert result.verdict is not Verdict.VALID, (path, replacement)
