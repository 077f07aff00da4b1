"""The issuer-layout card reader (``verifier._cardfast``) is a cache of the generic path.

For any bytes, :func:`read_issuer_card` returns ``None`` or exactly what the generic path gives:
the credential ``decode_card_bytes`` returns (same keys, same order), the parts ``split_proof``
returns, and the N-Quads the canonicalizer returns (the direct path, and pyld's full RDFC-1.0 on
generated cards). When it vouches for the model, the model checks pass. The verifier's verdict,
reasons and credential are the same with the reader and without it. Checked on generated
credentials in the issuer's layout, on cards with one CBOR item replaced, and on every byte flip.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from issuer.institutions import INSTITUTIONS
from tests.conftest import NOW, Issuers
from tests.fuzzing import examples
from tests.strategies import unsigned_credentials
from tests.verifier.test_card_repack import (
    _ODD_VALUES,
    _bytes,
    _ints,
    _leaf_paths,
    _reference_encode,
    _replaced,
)
from tests.verifier.test_fastcanon import DIFFERENTIAL_EXAMPLES
from verifier import (
    CardFormatError,
    ContextLoader,
    InMemoryStatusLists,
    Verdict,
    Verifier,
    _card,
    _cardfast,
    _cardpack,
    _cardtables,
    _verifier,
    b45encode,
    encode_card,
    encode_card_bytes,
)
from verifier._canon import canonicalize, canonicalize_full
from verifier._cardfast import IssuerCard, encode_issuer_card, read_issuer_card
from verifier._datamodel import check_credential
from verifier._modelcheck import conforms_to_model
from verifier._proof import split_proof

_CODE_BY_DID = {inst.did: code for code, inst in INSTITUTIONS.items()}
_LOADER = ContextLoader()
_SETTINGS = settings(
    max_examples=examples(0.5, minimum=200),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _issuer_layout(unsigned: dict[str, Any], number: int, index: int) -> dict[str, Any]:
    """The credential with the issuer's status template (one list number and index)."""
    host = unsigned["issuer"].removeprefix("did:web:")
    unsigned["credentialStatus"] = [
        {
            "type": "BitstringStatusListEntry",
            "statusPurpose": purpose,
            "statusListIndex": str(index),
            "statusListCredential": f"https://{host}/credencial/status/{purpose}/{number}",
        }
        for purpose in ("revocation", "suspension")
    ]
    return unsigned


@pytest.fixture
def credential(issuers: Issuers, signed_example: dict[str, Any]) -> dict[str, Any]:
    """The example credential in the issuer's layout (its two entries share list and index)."""
    unsigned = {k: v for k, v in signed_example.items() if k != "proof"}
    return issuers.sign(_issuer_layout(json.loads(json.dumps(unsigned)), 1, 94_567))


def _generic(data: bytes) -> tuple[str, Any]:
    try:
        return "decoded", _card.decode_card_bytes(data)
    except CardFormatError as exc:
        return "refused", exc.message


def _assert_agrees(data: bytes, *, full: bool = False) -> IssuerCard | None:
    """The reader's answer for ``data`` is None or the generic path's, in every part."""
    card = read_issuer_card(data)
    if card is None:
        return None
    assert _generic(data) == ("decoded", card.credential), data.hex()
    generic = _card.decode_card_bytes(data)
    assert json.dumps(card.credential) == json.dumps(generic)  # key order too
    assert card.parts == split_proof(generic)
    proof_nquads, document_nquads = card.canonical
    document = card.parts.unsecured_document
    config = {**card.parts.proof_options, "@context": document["@context"]}
    assert document_nquads == canonicalize(document, _LOADER)
    assert proof_nquads == canonicalize(config, _LOADER)
    if full:
        assert document_nquads == canonicalize_full(document, _LOADER)
        assert proof_nquads == canonicalize_full(config, _LOADER)
    if card.vouched:
        assert conforms_to_model(card.parts.unsecured_document)
        check_credential(card.credential)
    return card


@settings(_SETTINGS, max_examples=DIFFERENTIAL_EXAMPLES)  # 300 in make test, 10,000 in make fuzz
@given(
    unsigned=unsigned_credentials(),
    number=st.integers(0, 2**32 - 1),
    index=st.integers(0, 2**32 - 1),
)
def test_generated_cards_read_as_the_generic_path_reads_them(
    issuers: Issuers, unsigned: dict[str, Any], number: int, index: int
) -> None:
    signed = issuers.sign(_issuer_layout(unsigned, number, index), _CODE_BY_DID[unsigned["issuer"]])
    data = encode_card_bytes(signed)
    card = _assert_agrees(data, full=True)
    texts = [
        signed["credentialSubject"].get(key, "")
        for key in ("givenName", "familyName", "secondFamilyName")
    ]
    if not any('"' in text or "\\" in text for text in texts):  # escaping is left to the rest
        assert card is not None, "an issuer-layout card the reader does not take"


@_SETTINGS
@given(unsigned=unsigned_credentials(), data=st.data())
def test_edited_items_read_as_the_generic_path_reads_them(
    issuers: Issuers, unsigned: dict[str, Any], data: st.DataObject
) -> None:
    """One CBOR item replaced by anything: the reader declines or agrees."""
    signed = issuers.sign(_issuer_layout(unsigned, 7, 4_242), _CODE_BY_DID[unsigned["issuer"]])
    value = cbor2.loads(encode_card_bytes(signed))
    path = data.draw(st.sampled_from(list(_leaf_paths(value))), label="path")
    new = data.draw(
        st.one_of(_ints(), _bytes(), st.text(max_size=40), st.just(cbor2.undefined), st.none()),
        label="new",
    )
    _assert_agrees(cbor2.dumps(_replaced(value, path, new)))


def test_every_byte_flip_reads_as_the_generic_path_reads_it(credential: dict[str, Any]) -> None:
    data = bytearray(encode_card_bytes(credential))
    assert _assert_agrees(bytes(data)) is not None
    taken = 0
    for position in range(len(data)):
        for mask in (0x01, 0x02, 0x10, 0x80):
            data[position] ^= mask
            taken += _assert_agrees(bytes(data)) is not None
            data[position] ^= mask
    assert taken > 0  # flips inside packed values still read (and fail the signature later)


def test_the_example_card_is_read_and_vouched(credential: dict[str, Any]) -> None:
    card = read_issuer_card(encode_card_bytes(credential))
    assert card is not None
    assert card.vouched
    assert card.credential == credential


@pytest.mark.parametrize(
    ("edit", "vouched"),
    [
        ({"givenName": "María José"}, True),  # lower case: the name travels as text
        ({"givenName": " ANA"}, False),  # the model refuses a leading space
        ({"familyName": "X" * 81}, False),  # and names longer than 80
        ({"id": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"}, True),
    ],
)
def test_other_subjects_read_and_vouched_only_when_the_model_accepts(
    issuers: Issuers, credential: dict[str, Any], edit: dict[str, str], vouched: bool
) -> None:
    credential.pop("proof")
    credential["credentialSubject"].update(edit)
    signed = issuers.sign(credential)
    card = _assert_agrees(encode_card_bytes(signed), full=True)
    assert card is not None
    assert card.vouched is vouched


def test_validity_period_backwards_is_not_vouched(
    issuers: Issuers, credential: dict[str, Any]
) -> None:
    credential.pop("proof")
    credential["validFrom"], credential["validUntil"] = (
        credential["validUntil"],
        credential["validFrom"],
    )
    card = _assert_agrees(encode_card_bytes(issuers.sign(credential)))
    assert card is not None
    assert not card.vouched


def test_non_canonical_items_are_declined(credential: dict[str, Any]) -> None:
    value = cbor2.loads(encode_card_bytes(credential))
    derived_birth = _cardpack._pack_date(
        credential["credentialSubject"]["birthDate"], _cardpack._Ctx(None)
    )
    for edited in (
        _replaced(value, (6, 1), b"\0" + value[6][1]),  # a leading zero byte in a name
        _replaced(value, (6, 4), derived_birth),  # the birth date the CURP already spells
        _replaced(value, (6, 5, 1), _cardtables.PROGRAMS[value[6][5][1]]),  # a table entry as text
        [*value[:9], value[9], cbor2.undefined],  # a trailing undefined
    ):
        data = cbor2.dumps(edited)
        assert read_issuer_card(data) is None
        assert _generic(data)[0] == "refused"


def _without_reader(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Patch the reader out of the verifier; returns the card bytes it was then asked for (a
    patch that no longer reaches the verifier's code path would leave the list empty)."""
    asked: list[bytes] = []

    def no_reader(data: bytes) -> None:
        asked.append(data)

    monkeypatch.setattr(_verifier, "read_issuer_card", no_reader)
    return asked


def _tampered_signature(credential: dict[str, Any]) -> str:
    value = cbor2.loads(encode_card_bytes(credential))
    signature = bytearray(value[9][5])
    signature[10] ^= 1
    value[9][5] = bytes(signature)
    return _card.CARD_PREFIX + b45encode(cbor2.dumps(value))


def test_verdicts_are_the_same_with_and_without_the_reader(
    issuers: Issuers,
    credential: dict[str, Any],
    make_verifier: Callable[..., Verifier],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index = int(credential["credentialStatus"][0]["statusListIndex"])
    revoked = InMemoryStatusLists(
        [
            issuers.status_list("revocation", set_indices=frozenset({index})),
            issuers.status_list("suspension"),
        ]
    )
    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    backwards = {
        **unsigned,
        "validFrom": unsigned["validUntil"],
        "validUntil": unsigned["validFrom"],
    }
    cards = [
        encode_card(credential),
        _tampered_signature(credential),
        encode_card(issuers.sign(backwards)),
    ]
    verifiers = [make_verifier(), make_verifier(status=revoked), make_verifier(status=None)]

    def outcomes() -> list[Any]:
        return [
            (result.verdict, result.reasons, result.credential)
            for verifier in verifiers
            for result in (verifier.check(card, now=NOW) for card in cards)
        ]

    with_reader = outcomes()
    with monkeypatch.context() as patch:
        asked = _without_reader(patch)
        assert outcomes() == with_reader
        assert asked  # the verifier called the patched reader: the comparison is not vacuous
    verdicts = [verdict for verdict, _, _ in with_reader]
    assert Verdict.VALID in verdicts
    assert Verdict.INVALID in verdicts
    assert Verdict.INDETERMINATE in verdicts
    assert _cardfast.read_issuer_card(_card.card_text_bytes(cards[0])) is not None


@_SETTINGS
@given(unsigned=unsigned_credentials(), data=st.data())
def test_the_issuer_layout_encoder_writes_the_generic_encoders_bytes(
    issuers: Issuers, unsigned: dict[str, Any], data: st.DataObject
) -> None:
    """``encode_issuer_card`` gives ``None`` or exactly the generic encoder's bytes, for
    issuer-layout credentials, others, and either with one value replaced by an odd one."""
    layout = data.draw(st.booleans(), label="issuer layout")
    if layout:
        unsigned = _issuer_layout(unsigned, data.draw(st.integers(0, 2**32 - 1)), 12)
    signed = issuers.sign(unsigned, _CODE_BY_DID[unsigned["issuer"]])
    fast = encode_issuer_card(signed)
    if fast is not None:
        assert _reference_encode(signed) == ("encoded", fast)
    texts = [signed["credentialSubject"].get(key, "") for key in ("givenName", "familyName")]
    if layout and not any('"' in text or "\\" in text for text in texts):
        assert fast is not None, "an issuer-layout credential the encoder does not take"
    edited = json.loads(json.dumps(signed))
    parent = data.draw(
        st.sampled_from(
            [edited, edited["credentialSubject"], edited["credentialSubject"]["coverage"],
             edited["proof"], edited["credentialStatus"][0]]
        ),
        label="parent",
    )  # fmt: skip
    parent[data.draw(st.sampled_from(sorted(parent)), label="key")] = data.draw(_ODD_VALUES)
    fast = encode_issuer_card(edited)
    if fast is not None:
        assert _reference_encode(edited) == ("encoded", fast)


def test_values_that_are_not_plain_json_are_left_to_the_generic_encoder(
    credential: dict[str, Any],
) -> None:
    assert encode_issuer_card(credential) is not None
    credential["credentialSubject"]["givenName"] = type("Text", (str,), {})("ANA")
    assert encode_issuer_card(credential) is None
