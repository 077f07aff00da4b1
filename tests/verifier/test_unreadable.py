"""Unreadable is not invalid (issue 20): a bad scan is a reason class of its own, apart from a
readable card or credential that fails a check."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import cbor2
import pytest

from tests.conftest import NOW, Issuers
from verifier import InMemoryStatusLists, Verdict, Verifier, encode_card
from verifier._base45 import b45decode, b45encode
from verifier._errors import ReasonCode

Damage = Callable[[str], str]


def _truncated(card: str) -> str:
    return card[: len(card) * 2 // 3]


def _dropped_character(card: str) -> str:
    """A character the scanner dropped in the middle: the Base45 triplets shift."""
    middle = len(card) // 2
    return card[:middle] + card[middle + 1 :]


def _outside_alphabet(card: str) -> str:
    """A lower-case letter (a scanner in the wrong keyboard layout): not Base45."""
    middle = len(card) // 2
    return card[:middle] + "q" + card[middle + 1 :]


def _cbor_broken(card: str) -> str:
    """Valid Base45 of bytes that are no CBOR (a break byte where an item must start)."""
    data = b45decode(card.removeprefix("SUS1:"))
    return "SUS1:" + b45encode(b"\xff" + data[1:])


def _cbor_cut(card: str) -> str:
    """Valid Base45 of the card's CBOR cut short (an item announced, not there)."""
    data = b45decode(card.removeprefix("SUS1:"))
    return "SUS1:" + b45encode(data[: len(data) - 10])


def _cbor_not_a_card(card: str) -> str:
    """Well-formed CBOR that is not a card (a map where the card array must be)."""
    return "SUS1:" + b45encode(cbor2.dumps({"hola": 1}))


DAMAGED: dict[str, Damage] = {
    "truncated": _truncated,
    "dropped character": _dropped_character,
    "outside the card alphabet": _outside_alphabet,
    "Base45 of no CBOR": _cbor_broken,
    "CBOR cut short": _cbor_cut,
    "CBOR that is no card": _cbor_not_a_card,
}


@pytest.mark.parametrize("damage", DAMAGED.values(), ids=list(DAMAGED))
def test_a_damaged_card_is_unreadable_not_invalid(
    verifier: Verifier, signed_example: dict[str, Any], damage: Damage
) -> None:
    card = encode_card(signed_example)
    assert verifier.check(card, now=NOW).verdict is Verdict.VALID  # the undamaged card
    result = verifier.check(damage(card), now=NOW)
    assert result.unreadable
    assert result.credential is None
    assert result.verdict is not Verdict.VALID
    assert [r.code for r in result.reasons] == [ReasonCode.CARD_MALFORMED]
    assert all(reason.unreadable for reason in result.reasons)


@pytest.mark.parametrize(
    "text",
    [
        '{"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ',  # cut short
        "{'single': 'quotes'}",
        "[1, 2, 3]",  # JSON, but no credential object
        "hola",
        "",
    ],
    ids=["truncated JSON", "not JSON", "a JSON array", "a word", "nothing"],
)
def test_text_that_is_no_json_credential_is_unreadable(verifier: Verifier, text: str) -> None:
    result = verifier.check(text, now=NOW)
    assert result.unreadable
    assert [r.code for r in result.reasons] == [ReasonCode.MALFORMED_INPUT]


def test_a_cut_json_credential_is_unreadable(
    verifier: Verifier, signed_example: dict[str, Any]
) -> None:
    text = json.dumps(signed_example)
    assert verifier.check(text, now=NOW).verdict is Verdict.VALID
    assert verifier.check(text[:-1], now=NOW).unreadable


def _forged(credential: dict[str, Any], issuers: Issuers) -> dict[str, Any]:
    credential["credentialSubject"]["givenName"] = "ROSA"  # the signature no longer matches
    return credential


def _unknown_signer(credential: dict[str, Any], issuers: Issuers) -> dict[str, Any]:
    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    return issuers.sign(unsigned, "ISSSTE")  # another institution's key: not IMSS's


def _expired(credential: dict[str, Any], issuers: Issuers) -> dict[str, Any]:
    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    unsigned["validFrom"], unsigned["validUntil"] = "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"
    return issuers.sign(unsigned)


FAILING: dict[str, tuple[Callable[[dict[str, Any], Issuers], dict[str, Any]], ReasonCode]] = {
    "forged": (_forged, ReasonCode.SIGNATURE_INVALID),
    "signed by an untrusted key": (_unknown_signer, ReasonCode.KEY_ISSUER_MISMATCH),
    "expired": (_expired, ReasonCode.CREDENTIAL_EXPIRED),
}


@pytest.mark.parametrize(("change", "code"), FAILING.values(), ids=list(FAILING))
@pytest.mark.parametrize("form", ["card", "json"])
def test_a_readable_card_that_fails_a_check_is_invalid_not_unreadable(
    verifier: Verifier,
    signed_example: dict[str, Any],
    issuers: Issuers,
    change: Callable[[dict[str, Any], Issuers], dict[str, Any]],
    code: ReasonCode,
    form: str,
) -> None:
    credential = change(copy.deepcopy(signed_example), issuers)
    text = encode_card(credential) if form == "card" else json.dumps(credential)
    result = verifier.check(text, now=NOW)
    assert result.verdict is Verdict.INVALID
    assert not result.unreadable
    assert code in [r.code for r in result.reasons]
    assert not any(reason.unreadable for reason in result.reasons)


def test_a_revoked_card_is_invalid_not_unreadable(
    make_verifier: Callable[..., Verifier], issuers: Issuers, signed_example: dict[str, Any]
) -> None:
    index = int(signed_example["credentialStatus"][0]["statusListIndex"])
    revoked = InMemoryStatusLists(
        [
            issuers.status_list("revocation", set_indices=frozenset({index})),
            issuers.status_list("suspension"),
        ]
    )
    result = make_verifier(revoked).check(encode_card(signed_example), now=NOW)
    assert result.verdict is Verdict.INVALID
    assert not result.unreadable
    assert [r.code for r in result.reasons] == [ReasonCode.REVOKED]


def test_the_unreadable_class_is_exactly_the_input_codes() -> None:
    assert {code for code in ReasonCode if code.unreadable} == {
        ReasonCode.MALFORMED_INPUT,
        ReasonCode.CARD_MALFORMED,
    }
