"""Hostile JSON never crashes the verifier and is never VALID (`make fuzz` runs it long)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import NOW
from tests.fuzzing import (
    examples,
    fuzz_call,
    hostile_json,
    mutated_json_text,
    parses_to,
    swapped_node,
)
from verifier import Verifier

_PARSER = "JSON credential"


def _settings(share: float) -> settings:
    return settings(
        max_examples=examples(share),
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


@_settings(0.3)
@given(document=hostile_json)
def test_arbitrary_json_is_never_valid(verifier: Verifier, document: Any) -> None:
    fuzz_call(_PARSER, lambda: verifier.check(json.dumps(document), now=NOW), mutated=True)


@_settings(0.3)
@given(data=st.data())
def test_any_value_swapped_for_hostile_json_is_never_valid(
    verifier: Verifier, credential: dict[str, Any], data: st.DataObject
) -> None:
    """Replace any node of a signed credential (proof included) with arbitrary JSON, or with a
    rewrite that JSON-LD reads the same (a one-element list, ``{"@value": ...}``, ...)."""
    mutated = data.draw(swapped_node(credential), label="mutated")
    fuzz_call(_PARSER, lambda: verifier.check(mutated, now=NOW), mutated=True)


@_settings(0.4)
@given(data=st.data())
def test_edited_json_text_is_never_valid(
    verifier: Verifier, credential: dict[str, Any], data: st.DataObject
) -> None:
    """Character edits of the signed credential's JSON text: parse errors, invalid UTF-8 and
    changed values are refused; only an edit that leaves the same document may verify."""
    text = data.draw(mutated_json_text(json.dumps(credential, ensure_ascii=False)), label="text")
    raw = text.encode("utf-8", "surrogatepass")
    fuzz_call(_PARSER, lambda: verifier.check(raw, now=NOW), mutated=not parses_to(raw, credential))
