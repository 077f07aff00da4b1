"""``wallet_spec/card-codec.md`` agrees with the code: its worked example decodes, encodes and
verifies, and its dictionary tables are those of ``dictionary_tables()``."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.qr_sizes import alphanumeric_segments, qr_version
from issuer.keys.files import Ed25519KeyPair
from verifier import (
    ReasonCode,
    TrustedKey,
    TrustStore,
    Verdict,
    Verifier,
    decode_card,
    encode_card,
    encode_card_bytes,
)
from verifier._card import dictionary_tables

SPEC = Path(__file__).resolve().parents[1] / "wallet_spec" / "card-codec.md"
EXAMPLE_SEED = b"credencial card-codec example"
#: A moment inside the example's validity period (2026-01-01 .. 2031-01-01).
NOW = datetime(2026, 6, 1, tzinfo=UTC)
_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)\n```$", re.DOTALL | re.MULTILINE)


@pytest.fixture(scope="module")
def spec() -> str:
    return SPEC.read_text(encoding="utf-8")


def _block(spec: str, info: str) -> str:
    """The content of the one fenced block whose info string is exactly ``info``."""
    blocks: list[str] = [body for found, body in _FENCE.findall(spec) if found.strip() == info]
    assert len(blocks) == 1, f"expected one ```{info} block, found {len(blocks)}"
    return blocks[0]


@pytest.fixture(scope="module")
def example(spec: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(_block(spec, "json card-example"))
    return parsed


@pytest.fixture(scope="module")
def card_text(spec: str) -> str:
    return _block(spec, "text card-example")  # exact: no stripping, Base45 has a space


@pytest.fixture(scope="module")
def trust(spec: str) -> TrustStore:
    entry = json.loads(_block(spec, "json card-example-key"))
    key = Ed25519KeyPair(
        Ed25519PrivateKey.from_private_bytes(hashlib.sha256(EXAMPLE_SEED).digest())
    )
    assert entry["publicKeyMultibase"] == key.public_key_multibase  # the stated fixed key
    return TrustStore([TrustedKey.from_json(entry)])


def test_example_card_text_decodes_to_the_example_json(
    example: dict[str, Any], card_text: str
) -> None:
    assert card_text.startswith("SUS1:")
    assert "\n" not in card_text
    assert decode_card(card_text) == example


def test_example_json_encodes_to_the_example_card_text(
    example: dict[str, Any], card_text: str, spec: str
) -> None:
    assert encode_card(example) == card_text
    hex_text = "".join(_block(spec, "text card-example-hex").split())
    assert encode_card_bytes(example).hex() == hex_text


def test_example_diagnostic_notation_matches_the_bytes(example: dict[str, Any], spec: str) -> None:
    diag = _block(spec, "cbor-diag")
    data = encode_card_bytes(example).hex()
    byte_strings = ["".join(h.split()) for h in re.findall(r"h'([0-9a-f\s]*)'", diag)]
    assert len(byte_strings) == 7  # id, three names, affiliation, CLUES, proofValue
    for value in byte_strings:
        assert value in data
    for number in ("20454", "22280", "4162308427275237360", "1765815600"):
        assert number in diag
    # The example's birthDate is the date its CURP spells, so it travels as null (0xf6).
    assert re.search(r"^ *null, +/ 4 birthDate: ", diag, re.MULTILINE)
    assert cbor2.loads(encode_card_bytes(example))[6][4] is None


def test_example_signature_verifies(
    example: dict[str, Any], card_text: str, trust: TrustStore
) -> None:
    """Only the status lists are missing: everything else, the signature first, checks out."""
    verifier = Verifier(trust)
    for data in (card_text, example):
        result = verifier.check(data, now=NOW)
        assert result.verdict is Verdict.INDETERMINATE
        assert result.reasons
        assert {reason.code for reason in result.reasons} == {ReasonCode.STATUS_UNAVAILABLE}


def test_example_with_a_changed_name_does_not_verify(
    example: dict[str, Any], trust: TrustStore
) -> None:
    forged = copy.deepcopy(example)
    forged["credentialSubject"]["givenName"] = "MARÍA GUADALUPE DEL CARMEN"
    result = Verifier(trust).check(encode_card(forged), now=NOW)
    assert result.verdict is Verdict.INVALID
    assert ReasonCode.SIGNATURE_INVALID in {reason.code for reason in result.reasons}


def test_stated_qr_versions_are_measured(card_text: str, spec: str) -> None:
    stated = re.search(
        r"version (\d+) at level L, (\d+) at M, (\d+) at Q, (\d+) at H", spec.replace("\n", " ")
    )
    assert stated is not None
    measured = [qr_version(alphanumeric_segments(card_text), ecc) for ecc in "LMQH"]
    assert [int(group) for group in stated.groups()] == measured


@pytest.mark.parametrize("name", sorted(dictionary_tables()))
def test_dictionary_table_is_in_the_spec(spec: str, name: str) -> None:
    table = dictionary_tables()[name]
    heading = f"### `{name}`\n"
    assert heading in spec
    section = spec.split(heading, 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| (\d+) \| `(.*)` \|$", section, re.MULTILINE)
    assert [(int(index), json.loads(value)) for index, value in rows] == list(enumerate(table))
    for value in table:  # and each value string, whatever the formatting
        for string in _strings(value):
            assert string in spec


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return list(value.values()) if isinstance(value, dict) else list(value)
