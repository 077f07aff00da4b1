"""I-JSON (RFC 7493) everywhere JSON comes from outside: issue 18, finding 2.

A repeated member name is a parser differential: ``json.loads`` keeps the last value (the one the
signature covers) while a reader that keeps the first sees another person. Every reader of the
project goes through :func:`verifier.parse_json`, which refuses it, and the other I-JSON breaches.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from issuer.keys.files import Ed25519KeyPair
from tests.conftest import NOW
from tests.verifier._bundles import anchor_json
from verifier import (
    IJsonError,
    InputError,
    ReasonCode,
    TrustBundleError,
    Verdict,
    Verifier,
    load_trust_bundle,
    parse_json,
)
from verifier._bundle import AnchorSet
from verifier._status_delta import StatusDeltaError, apply_status_delta
from verifier._trust_state import TrustState


def repeated_key(document: dict[str, Any], key: str, first_value: Any) -> str:
    """``document``'s JSON text with ``key`` given twice: ``first_value``, then the real one
    (``json.loads`` keeps the real one; a first-value reader sees ``first_value``)."""
    text = json.dumps(document, ensure_ascii=False)
    marker = json.dumps(key) + ": "
    assert marker in text
    return text.replace(marker, f"{marker}{json.dumps(first_value)}, {marker}", 1)


# -- the loader ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ('{"a": 1, "a": 1}', "duplicate-key"),
        ('{"a": {"b": 1, "c": 2, "b": 3}}', "duplicate-key"),
        ('[{"x": 1}, {"y": 1, "y": 2}]', "duplicate-key"),
        ('"\\ud800"', "surrogate"),
        ('{"\\udc00": 1}', "surrogate"),
        ('["\\ud83d x"]', "surrogate"),
        ("[1e400]", "number"),
        ("[-1e400]", "number"),
        ("[1e-400]", "number"),
        ("[3.141592653589793238462643383279]", "number"),
        ("[9007199254740992]", "number"),
        ("[-9007199254740992]", "number"),
        ("[123456789012345678901234567890]", "number"),
        ("[NaN]", "number"),
        ("[Infinity]", "number"),
        ("[-Infinity]", "number"),
        ("[" * 65 + "]" * 65, "depth"),
        ("\ufeff{}", "encoding"),
        ("{", "syntax"),
        ("{'a': 1}", "syntax"),
    ],
)
def test_not_ijson_is_refused_with_its_kind(text: str, kind: str) -> None:
    with pytest.raises(IJsonError) as caught:
        parse_json(text)
    assert caught.value.kind == kind
    assert caught.value.code is ReasonCode.MALFORMED_INPUT
    # One error for callers of either family: the verifier's InputError, and ValueError.
    assert isinstance(caught.value, InputError)
    assert isinstance(caught.value, ValueError)


def test_bytes_must_be_utf8_and_text_must_be_unicode() -> None:
    with pytest.raises(IJsonError, match="not valid Unicode text"):
        parse_json(b'{"a": "\xff"}')
    with pytest.raises(IJsonError) as caught:
        parse_json('{"a": "\ud800"}')  # an unescaped lone surrogate in a Python str
    assert caught.value.kind == "surrogate"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": 1, "b": {"a": 2}}', {"a": 1, "b": {"a": 2}}),  # same name, other objects
        ('["\\ud83d\\ude00", "\\\\ud800"]', ["😀", "\\ud800"]),  # a pair; an escaped backslash
        (
            "[0.1, 1e2, -0, 1.5e-7, 2.5E+3, 9007199254740991]",
            [0.1, 100.0, 0, 1.5e-7, 2500.0, 2**53 - 1],
        ),
        ("[1.7976931348623157e308, 5e-324]", [1.7976931348623157e308, 5e-324]),
        ("[" * 64 + "]" * 64, json.loads("[" * 64 + "]" * 64)),
        ('"[[[[{{{{"', "[[[[{{{{"),
    ],
)
def test_ijson_is_read_as_json(text: str, value: Any) -> None:
    assert parse_json(text) == value
    assert parse_json(text.encode("utf-8")) == value


# -- each reader ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "first"),
    [
        ("givenName", "Mallory"),
        ("statusListIndex", "1"),
        ("credentialStatus", []),
        ("issuer", "did:web:attacker.example"),
        ("proof", {}),
    ],
)
def test_a_repeated_key_in_a_signed_credential_is_not_valid(
    verifier: Verifier, credential: dict[str, Any], key: str, first: Any
) -> None:
    """The finding: this was VALID (the signature covers the last value json.loads keeps)."""
    assert verifier.check(credential, now=NOW).verdict is Verdict.VALID
    text = repeated_key(credential, key, first)
    assert json.loads(text) == credential  # Python's reading is the signed credential
    for data in (text, text.encode("utf-8")):
        result = verifier.check(data, now=NOW)
        assert result.verdict is Verdict.INVALID
        assert [r.code for r in result.reasons] == [ReasonCode.MALFORMED_INPUT]
        assert "appears twice" in result.reasons[0].detail


def test_a_repeated_key_in_a_trust_bundle_is_refused() -> None:
    anchors = AnchorSet.from_json(anchor_json({"a": Ed25519KeyPair.generate()}, 1))
    text = '{"signed": {"version": 2, "version": 1}, "signatures": []}'
    with pytest.raises(TrustBundleError, match="appears twice"):
        load_trust_bundle(text, trusted_anchors=anchors)


def test_a_repeated_key_in_files_read_from_disk_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text('{"highestVersion": 9, "highestVersion": 1}', encoding="utf-8")
    with pytest.raises(TrustBundleError, match="appears twice"):
        TrustState.load(state)
    anchors = tmp_path / "anchors.json"
    anchors.write_text('{"threshold": 1, "threshold": 1, "keys": []}', encoding="utf-8")
    with pytest.raises(Exception, match="appears twice"):
        AnchorSet.from_file(anchors)


def test_a_repeated_key_in_a_status_delta_is_refused() -> None:
    delta = b'{"type": "x", "type": "BitstringStatusListDelta"}'
    with pytest.raises(StatusDeltaError, match="appears twice"):
        apply_status_delta(b"{}", delta, url="https://x.example/1", to_sha256="0" * 64)
