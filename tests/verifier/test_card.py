"""The card codec: exact round trips, refusals that name the term, and hostile input."""

from __future__ import annotations

import copy
import string
from collections.abc import Callable
from functools import partial
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from issuer.institutions import INSTITUTIONS
from issuer.keys.files import Ed25519KeyPair
from tests.conftest import NOW, Issuers
from tests.fuzzing import examples, fuzz_call, mutated_text
from tests.strategies import unsigned_credentials
from verifier import (
    CARD_PREFIX,
    CardEncodingError,
    CardFormatError,
    IndeterminateError,
    ReasonCode,
    Verdict,
    Verifier,
    b45decode,
    b45encode,
    decode_card,
    decode_card_bytes,
    encode_card,
    encode_card_bytes,
    is_card_text,
)

_CODE_BY_DID = {inst.did: code for code, inst in INSTITUTIONS.items()}
_BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"AB", "BB8"),
        (b"Hello!!", "%69 VD92EX0"),
        (b"base-45", "UJCLQE7W581"),
        (b"ietf!", "QED8WEX0"),
    ],
)
def test_base45_rfc9285_examples(raw: bytes, text: str) -> None:
    assert b45encode(raw) == text
    assert b45decode(text) == raw


@pytest.mark.parametrize("text", ["GGW", "A", "AAAA", "ab", "AB\n", ":::"])
def test_base45_rejects_bad_text(text: str) -> None:
    with pytest.raises(ValueError, match="Base45"):
        b45decode(text)


def test_base45_every_byte_pair_is_three_digits_least_significant_first() -> None:
    """All 65,536 pairs against RFC 9285's formula (the encoder looks them up in a table)."""
    for n in range(65536):
        digits = _BASE45[n % 45] + _BASE45[n // 45 % 45] + _BASE45[n // 2025]
        assert b45encode(n.to_bytes(2, "big") + b"\x2c") == digits + ":0", n


@given(st.binary(max_size=300))
def test_base45_round_trip(data: bytes) -> None:
    assert b45decode(b45encode(data)) == data


def test_card_round_trip_is_exact_and_verifies(
    credential: dict[str, Any], verifier: Verifier
) -> None:
    text = encode_card(credential)
    assert text.startswith(CARD_PREFIX)
    assert set(text) <= set(_BASE45)
    assert decode_card(text) == credential
    assert verifier.check(text, now=NOW).verdict is Verdict.VALID
    assert verifier.check(text.encode(), now=NOW).verdict is Verdict.VALID
    assert verifier.check(f"  {text}\r\n", now=NOW).verdict is Verdict.VALID  # scanner suffixes


_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(unsigned=unsigned_credentials())
def test_generated_credentials_round_trip(issuers: Issuers, unsigned: dict[str, Any]) -> None:
    code = _CODE_BY_DID[unsigned["issuer"]]
    signed = issuers.sign(unsigned, code)
    assert decode_card(encode_card(signed)) == signed
    assert decode_card_bytes(encode_card_bytes(signed)) == signed


@_SETTINGS
@given(data=st.data())
def test_any_changed_character_is_refused(
    credential: dict[str, Any], verifier: Verifier, data: st.DataObject
) -> None:
    text = encode_card(credential)
    position = data.draw(st.integers(0, len(text) - 1), label="position")
    replacement = data.draw(
        st.sampled_from(_BASE45).filter(lambda c: c != text[position]), label="char"
    )
    mutated = text[:position] + replacement + text[position + 1 :]
    assert verifier.check(mutated, now=NOW).verdict is not Verdict.VALID


def test_every_changed_character_of_the_tail_is_refused(
    credential: dict[str, Any], verifier: Verifier
) -> None:
    """Exhaustive over the last 8 characters (the signature), every substitute character."""
    text = encode_card(credential)
    for position in range(len(text) - 8, len(text)):
        for replacement in _BASE45:
            if replacement != text[position]:
                mutated = text[:position] + replacement + text[position + 1 :]
                assert verifier.check(mutated, now=NOW).verdict is Verdict.INVALID, (
                    position,
                    replacement,
                )


# -- what the dictionary cannot express -----------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "term"),
    [
        (
            lambda c: c["credentialSubject"].update(photo="base64..."),
            "credential.credentialSubject.photo",
        ),
        (lambda c: c.update(evidence=[{"type": "Evidence"}]), "credential.evidence"),
        (
            lambda c: c["credentialSubject"]["coverage"].update(institution="PEMEX"),
            "credential.credentialSubject.coverage.institution",
        ),
        (lambda c: c.update(type=["VerifiableCredential"]), "credential.type"),
        (lambda c: c["proof"].update(cryptosuite="eddsa-jcs-2022"), "credential.proof.cryptosuite"),
        (lambda c: c["proof"].update(proofValue="uAAAA"), "credential.proof.proofValue"),
        (
            lambda c: c["credentialSubject"].update(givenName=7),
            "credential.credentialSubject.givenName",
        ),
    ],
)
def test_inexpressible_credential_is_refused_naming_the_term(
    credential: dict[str, Any], mutate: Callable[[dict[str, Any]], None], term: str
) -> None:
    mutate(credential)
    with pytest.raises(CardEncodingError) as raised:
        encode_card(credential)
    assert term in raised.value.message
    assert raised.value.code is ReasonCode.CARD_NOT_EXPRESSIBLE


def test_values_outside_the_packings_travel_as_text(
    issuers: Issuers, verifier: Verifier, credential: dict[str, Any]
) -> None:
    """Lower-case names, an unknown program and a non-template status URL still round trip."""
    unsigned = {k: v for k, v in copy.deepcopy(credential).items() if k != "proof"}
    unsigned["credentialSubject"]["givenName"] = "María José"
    unsigned["credentialSubject"]["coverage"]["program"] = "Programa Piloto 2027"
    unsigned["credentialSubject"]["coverage"]["affiliationNumber"] = "AB-12"
    signed = issuers.sign(unsigned)
    text = encode_card(signed)
    assert decode_card(text) == signed


def test_status_template_is_packed(issuers: Issuers) -> None:
    """Our issuer's status layout (same index, one list per purpose) costs a few bytes."""
    from datetime import UTC, datetime

    from issuer.credentials.signing import new_coverage_credential
    from tests.strategies import example_credential

    subject = example_credential()["credentialSubject"]
    unsigned = new_coverage_credential(
        INSTITUTIONS["IMSS"], subject, status_list=3, status_index=131_071,
        valid_from=datetime(2026, 1, 1, tzinfo=UTC), valid_until=datetime(2031, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    signed = issuers.sign(unsigned)
    status = cbor2.loads(encode_card_bytes(signed))[7]
    assert status == [3, 131_071]
    assert decode_card(encode_card(signed)) == signed


# -- hostile input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "SUS1:",
        "SUS1:A",
        "SUS1:hello",
        "SUS1:" + "0" * 5000,
        "SUS1:" + b45encode(b"\xff"),
        "SUS1:" + b45encode(cbor2.dumps([0, 0, 0])),
        "SUS1:" + b45encode(cbor2.dumps({"a": 1})),
        "SUS1:" + b45encode(cbor2.dumps([0, b"x" * 16, 0, 0, "2026", 1, [], [], 0, []])),
        "SUS1:" + b45encode(b"\x81" * 500),
        "SUS1:" + b45encode(bytes.fromhex("5b7fffffffffffffff")),
        "SUS1:" + b45encode(bytes.fromhex("9f9f9fff")),
    ],
)
def test_malformed_card_text(text: str, verifier: Verifier) -> None:
    with pytest.raises(CardFormatError):
        decode_card(text)
    result = verifier.check(text, now=NOW)
    assert result.verdict is Verdict.INVALID
    assert result.reasons[0].code in {ReasonCode.CARD_MALFORMED, ReasonCode.MALFORMED_INPUT}


def test_non_canonical_encoding_is_refused(credential: dict[str, Any]) -> None:
    """The same credential with a longer integer form: one credential has one card form."""
    data = encode_card_bytes(credential)
    value = cbor2.loads(data)
    assert value[2] == 0  # `type` as table index 0, encoded as the single byte 0x00
    head, tail = data[: data.index(bytes(value[1])) + 16], data[data.index(bytes(value[1])) + 16 :]
    assert tail[0] == 0x00
    stretched = head + b"\x18\x00" + tail[1:]  # 0 written as a one-byte uint: still 0 in value
    assert cbor2.loads(stretched) == value
    with pytest.raises(CardFormatError, match="canonical"):
        decode_card_bytes(stretched)


def test_unknown_version_is_indeterminate(credential: dict[str, Any], verifier: Verifier) -> None:
    text = "SUS2:" + encode_card(credential).removeprefix(CARD_PREFIX)
    assert is_card_text(text)
    with pytest.raises(IndeterminateError) as raised:
        decode_card(text)
    assert raised.value.code is ReasonCode.CARD_VERSION_UNSUPPORTED
    result = verifier.check(text, now=NOW)
    assert result.verdict is Verdict.INDETERMINATE
    assert [r.code for r in result.reasons] == [ReasonCode.CARD_VERSION_UNSUPPORTED]


_CARD = "card text"


def _fuzz_settings(share: float) -> settings:
    return settings(
        max_examples=examples(share),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )


@_fuzz_settings(0.35)
@given(st.text(alphabet=_BASE45, max_size=400))
def test_fuzz_card_text(body: str) -> None:
    fuzz_call(_CARD, lambda: decode_card(CARD_PREFIX + body))


@_fuzz_settings(0.3)
@given(st.binary(max_size=400))
def test_fuzz_card_bytes(data: bytes) -> None:
    fuzz_call(_CARD, lambda: decode_card_bytes(data))


def _cbor_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.integers(-(2**70), 2**70), st.binary(max_size=70), st.text(max_size=30),
        st.none(), st.booleans(), st.just(cbor2.undefined), st.floats(allow_nan=False),
    )  # fmt: skip
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=12), max_leaves=20)


@_fuzz_settings(0.02)  # about 80 ms of CPU per example: the dearest strategy here
@given(st.lists(_cbor_values(), min_size=4, max_size=11))
def test_fuzz_structured_cbor(items: list[Any]) -> None:
    """Well-formed CBOR arrays of the right rough shape: typed errors only, never a crash."""
    fuzz_call(_CARD, lambda: decode_card_bytes(cbor2.dumps(items)))


@_fuzz_settings(0.35)
@given(data=st.data())
def test_fuzz_edited_signed_card_is_never_valid(
    verifier: Verifier, credential: dict[str, Any], data: st.DataObject
) -> None:
    """1-4 edits (replace, insert, delete, truncate, repeat) of a signed card's text, verified."""
    reference = encode_card(credential)
    text = data.draw(mutated_text(reference, _BASE45 + "s\n"), label="text")
    fuzz_call(_CARD, lambda: verifier.check(text, now=NOW), mutated=text.strip() != reference)


def test_mutated_signed_card_is_never_valid(credential: dict[str, Any], verifier: Verifier) -> None:
    """Every byte of the CBOR flipped in turn: no mutation verifies."""
    data = bytearray(encode_card_bytes(credential))
    for position in range(len(data)):
        for mask in (0x01, 0x80):
            data[position] ^= mask
            text = "SUS1:" + b45encode(bytes(data))
            fuzz_call(_CARD, partial(verifier.check, text, now=NOW), mutated=True)
            data[position] ^= mask


def test_did_key_subject_round_trips(issuers: Issuers, credential: dict[str, Any]) -> None:
    holder = Ed25519KeyPair.generate()
    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    unsigned["credentialSubject"] = {
        "id": "did:key:" + holder.public_key_multibase,
        **unsigned["credentialSubject"],
    }
    signed = issuers.sign(unsigned)
    assert decode_card(encode_card(signed)) == signed


def test_card_text_is_recognised() -> None:
    assert is_card_text("SUS1:ABC")
    assert is_card_text("  SUS12:ABC")
    assert not is_card_text('{"@context": []}')
    assert not is_card_text("HC1:ABC")
    assert string.ascii_uppercase  # alphabet sanity for the generator above


def test_birth_date_spelled_by_the_curp_is_not_repeated(
    issuers: Issuers, credential: dict[str, Any]
) -> None:
    subject = credential["credentialSubject"]
    curp, birth = subject["curp"], subject["birthDate"]
    assert birth[2:4] + birth[5:7] + birth[8:10] == curp[4:10]  # the example agrees with its CURP
    assert cbor2.loads(encode_card_bytes(credential))[6][4] is None
    assert decode_card(encode_card(credential)) == credential

    unsigned = {k: v for k, v in copy.deepcopy(credential).items() if k != "proof"}
    unsigned["credentialSubject"]["birthDate"] = "1985-03-15"  # disagrees: written out in full
    signed = issuers.sign(unsigned)
    assert cbor2.loads(encode_card_bytes(signed))[6][4] == 5552
    assert decode_card(encode_card(signed)) == signed


def test_null_birth_date_without_a_curp_is_malformed(credential: dict[str, Any]) -> None:
    value = cbor2.loads(encode_card_bytes(credential))
    value[6][0] = "not a curp"
    with pytest.raises(CardFormatError, match="birthDate"):
        decode_card_bytes(cbor2.dumps(value))


@pytest.mark.parametrize("prefix", ["SUS0:", "SUS01:", "SUS001:"])
def test_malformed_version_numbers(
    credential: dict[str, Any], verifier: Verifier, prefix: str
) -> None:
    """One credential, one card text: no alternative spellings of the version."""
    text = prefix + encode_card(credential).removeprefix(CARD_PREFIX)
    with pytest.raises(CardFormatError, match="version"):
        decode_card(text)
    assert verifier.check(text, now=NOW).verdict is Verdict.INVALID


def test_huge_integers_are_malformed_not_crashes(
    credential: dict[str, Any], verifier: Verifier
) -> None:
    value = cbor2.loads(encode_card_bytes(credential))
    value[7] = [1, 10**4400]
    text = "SUS1:" + b45encode(cbor2.dumps(value))
    assert len(text) < 4296  # it would fit in a QR code
    with pytest.raises(CardFormatError, match="out of range"):
        decode_card(text)
    assert verifier.check(text, now=NOW).verdict is Verdict.INVALID


def test_over_long_values_travel_as_text(credential: dict[str, Any]) -> None:
    """Values too large to pack are carried as text, exactly; never a crash."""
    huge_index = copy.deepcopy(credential)
    huge_index["credentialStatus"][0]["statusListIndex"] = "9" * 50
    assert decode_card(encode_card(huge_index)) == huge_index
    huge_index["credentialStatus"][0]["statusListIndex"] = "9" * 5000
    with pytest.raises(CardEncodingError, match="fits no QR code"):
        encode_card(huge_index)
    long_name = copy.deepcopy(credential)
    long_name["credentialSubject"]["givenName"] = "A" * 200
    text = encode_card(long_name)
    assert isinstance(cbor2.loads(b45decode(text.removeprefix(CARD_PREFIX)))[6][1], str)
    assert decode_card(text) == long_name
