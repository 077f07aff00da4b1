"""Tamper sweeps: every single-character substitution of a signed card's text, and every
single-byte change of every value of a signed JSON credential, verified; none may be VALID.

``make fuzz`` runs them whole (``CREDENCIAL_TAMPER_SAMPLE=1``); ``make test`` verifies a fixed
random sample of the same changes (the default share below). The counts of inputs, INVALID,
INDETERMINATE and VALID are printed in the run's fuzz summary.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from typing import Any

from tests.conftest import NOW
from tests.fuzzing import tamper_record, time_bound
from verifier import Verdict, Verifier, encode_card

#: Share of the substitutions verified (1 = all of them); a fixed seed picks the same ones.
TAMPER_SAMPLE = float(os.environ.get("CREDENCIAL_TAMPER_SAMPLE", "0.02"))
_BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def _sampled(changes: Iterator[Any], seed: int) -> Iterator[Any]:
    if TAMPER_SAMPLE >= 1:
        yield from changes
        return
    rng = random.Random(seed)
    yield from (change for change in changes if rng.random() < TAMPER_SAMPLE)


def _verify(sweep: str, verifier: Verifier, data: str | bytes) -> Verdict:
    with time_bound():
        verdict = verifier.check(data, now=NOW).verdict
    tamper_record(sweep, verdict)
    return verdict


def _card_substitutions(text: str) -> Iterator[tuple[int, str]]:
    for position, original in enumerate(text):
        for replacement in _BASE45:
            if replacement != original:
                yield position, replacement


def test_every_character_substitution_of_a_card(
    credential: dict[str, Any], verifier: Verifier
) -> None:
    """Every position of the card text (prefix included) × every other Base45 character."""
    text = encode_card(credential)
    assert verifier.check(text, now=NOW).verdict is Verdict.VALID
    valid = []
    for position, replacement in _sampled(_card_substitutions(text), seed=1):
        mutated = text[:position] + replacement + text[position + 1 :]
        if _verify("card text: each char substituted", verifier, mutated) is Verdict.VALID:
            valid.append((position, replacement))
    assert valid == []


def value_spans(document: Any) -> tuple[bytes, list[tuple[str, int, int]]]:
    """``document`` as UTF-8 JSON text, and the byte span of each scalar value in it (the
    characters inside a string's quotes), named by its JSON path."""
    out = bytearray()
    spans: list[tuple[str, int, int]] = []

    def write(node: Any, path: str) -> None:
        if isinstance(node, dict):
            out.extend(b"{")
            for i, (key, value) in enumerate(node.items()):
                out.extend((", " if i else "").encode() + json.dumps(key).encode() + b": ")
                write(value, f"{path}.{key}")
            out.extend(b"}")
        elif isinstance(node, list):
            out.extend(b"[")
            for i, value in enumerate(node):
                out.extend(b", " if i else b"")
                write(value, f"{path}[{i}]")
            out.extend(b"]")
        else:
            encoded = json.dumps(node, ensure_ascii=False).encode("utf-8")
            inner = 1 if isinstance(node, str) else 0
            start = len(out) + inner
            out.extend(encoded)
            spans.append((path, start, len(out) - inner))

    write(document, "credential")
    return bytes(out), spans


def test_value_spans_cover_each_value(credential: dict[str, Any]) -> None:
    data, spans = value_spans(credential)
    assert json.loads(data) == credential
    by_path = {path: data[start:end].decode() for path, start, end in spans}
    assert by_path["credential.credentialSubject.familyName"] == "HERNÁNDEZ"
    assert by_path["credential.proof.proofValue"] == credential["proof"]["proofValue"]
    assert by_path["credential.@context[1]"] == credential["@context"][1]


def _byte_changes(spans: list[tuple[str, int, int]]) -> Iterator[tuple[str, int, int]]:
    for path, start, end in spans:
        for position in range(start, end):
            for value in range(256):
                yield path, position, value


def test_every_byte_change_of_each_value_of_a_json_credential(
    credential: dict[str, Any], verifier: Verifier
) -> None:
    """Every byte of every value (UTF-8, inside the quotes) × every other byte value."""
    data, spans = value_spans(credential)
    assert verifier.check(data, now=NOW).verdict is Verdict.VALID
    valid = []
    for path, position, value in _sampled(_byte_changes(spans), seed=2):
        if data[position] == value:
            continue
        mutated = data[:position] + bytes([value]) + data[position + 1 :]
        if _verify("JSON credential: each value byte", verifier, mutated) is Verdict.VALID:
            valid.append((path, position, value))
    assert valid == []
