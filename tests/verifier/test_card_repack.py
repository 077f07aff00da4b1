"""The canonical-form check's cache of ``pack`` (``_Ctx.repacked``) changes nothing it decides.

``decode_card_bytes`` proves a card canonical by re-encoding the decoded credential; a packed
item whose codec's ``repacks`` says so is reused instead of packing its text again. Two proofs
that this is exact: each ``repacks`` is checked against the real ``pack`` over the items its
``unpack`` accepts (boundaries and leading zero bytes included), and whole cards, valid and
edited item by item or byte by byte, decode to the same credential or the same refusal with the
cache and without it (``reuse_packed=False``, the reference: every value packed again).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from issuer.institutions import INSTITUTIONS
from tests.conftest import Issuers
from tests.fuzzing import examples
from tests.strategies import unsigned_credentials
from verifier import (
    CardEncodingError,
    CardFormatError,
    _card,
    _cardpack,
    _cardtables,
    encode_card_bytes,
)

_CODE_BY_DID = {inst.did: code for code, inst in INSTITUTIONS.items()}
_ISSUERS = (None, *_cardtables.ISSUERS, "did:web:example.org%3A8443", "https://example.org/x#key-1")
_MAX_DATETIME = 253_402_300_799
_PACKED_ANA = _cardpack._pack_name("ANA", _cardpack._Ctx(None)) or b""


def _packed_codecs(codec: _cardpack._Codec, term: str) -> Iterator[tuple[str, _card._Packed]]:
    if isinstance(codec, _card._Packed):
        yield term, codec
    elif isinstance(codec, _card._Shape):
        for key, child in codec.fields:
            yield from _packed_codecs(child, f"{term}.{key}")
    elif isinstance(codec, _card._StatusEntries):
        yield from _packed_codecs(_card._STATUS_ENTRY, f"{term}[]")


_PACKED = dict(_packed_codecs(_card._CREDENTIAL, "credential"))
_REPACKING = {term: codec for term, codec in _PACKED.items() if codec.repacks is not None}


def _ints() -> st.SearchStrategy[int]:
    edges = [
        0, 1, 86_399, 86_400, 999_999, 1_000_000, 1_000_001, 86_400 * 11_575, 86_400 * 11_574,
        86_400 * 999_999, 86_400 * 1_000_000, 86_400 * 1_000_001, 999_999_999, 10**9,
        2**32 - 2, 2**32 - 1, 2**32, _MAX_DATETIME, _MAX_DATETIME + 1, 2**63, -1,
        2_932_896, 2_932_897, -719_162, -719_163,
    ]  # fmt: skip
    return st.one_of(
        st.sampled_from(edges),
        st.integers(0, 2**33),
        st.integers(0, _MAX_DATETIME + 10),
        st.integers(-(2**40), 2**100),
        st.integers(0, 2**33).map(lambda days: days * 86_400),
    )


def _bytes() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(min_size=1, max_size=130),
        st.sampled_from([16, 32, 64]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
        st.binary(min_size=0, max_size=13).map(lambda tail: b"\0" + tail),
        st.binary(min_size=1, max_size=13),
    )


def test_every_repacked_codec_is_covered() -> None:
    """All packed codecs but none are cached; a new one without ``repacks`` is a choice."""
    assert set(_REPACKING) == set(_PACKED)


@settings(max_examples=examples(0.5, minimum=300), deadline=None)
@given(
    term=st.sampled_from(sorted(_REPACKING)),
    item=st.one_of(_ints(), _bytes()),
    issuer=st.sampled_from(_ISSUERS),
)
def test_repacks_implies_pack_gives_the_item_back(term: str, item: Any, issuer: str | None) -> None:
    codec = _REPACKING[term]
    assert codec.repacks is not None
    ctx = _cardpack._Ctx(issuer, check_exact=False)
    try:
        text = codec.unpack(item, ctx)
    except (ValueError, TypeError, IndexError, OverflowError):
        return  # refused by the decoder before any caching
    if text is None or not codec.repacks(item, text):
        return
    assert codec.pack(text, ctx) == item, (term, item, text)


@pytest.mark.parametrize(
    ("term", "item"),
    [
        (
            "credential.credentialSubject.givenName",
            b"\0" + _PACKED_ANA,
        ),
        ("credential.validFrom", 86_400 * 20_000),  # a whole day written as seconds
        ("credential.proof.verificationMethod", 2**32 - 1),  # ten digits: pack takes nine
        ("credential.credentialSubject.coverage.affiliationNumber", b"\x7f" * 13),  # 31 digits
    ],
)
def test_repacks_declines_items_that_pack_differently(term: str, item: Any) -> None:
    """The items that unpack but do not repack are exactly the ones ``repacks`` declines."""
    codec = _REPACKING[term]
    assert codec.repacks is not None
    ctx = _cardpack._Ctx("did:web:imss.gob.mx", check_exact=False)
    text = codec.unpack(item, ctx)
    assert text is not None
    assert not codec.repacks(item, text)
    assert codec.pack(text, ctx) != item


def _outcome(data: bytes, *, reuse_packed: bool) -> tuple[str, Any]:
    try:
        return "decoded", _card._decode_card_bytes(data, reuse_packed=reuse_packed)
    except CardFormatError as exc:
        return "refused", exc.message


def _assert_same_decision(data: bytes) -> tuple[str, Any]:
    cached = _outcome(data, reuse_packed=True)
    assert cached == _outcome(data, reuse_packed=False), data.hex()
    return cached


def _leaf_paths(value: Any, path: tuple[int, ...] = ()) -> Iterator[tuple[int, ...]]:
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaf_paths(item, (*path, index))
    yield path


def _replaced(value: Any, path: tuple[int, ...], new: Any) -> Any:
    if not path:
        return new
    copy = list(value)
    copy[path[0]] = _replaced(value[path[0]], path[1:], new)
    return copy


_SETTINGS = settings(
    max_examples=examples(0.5, minimum=200),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_SETTINGS
@given(unsigned=unsigned_credentials(), data=st.data())
def test_edited_items_get_the_same_decision(
    issuers: Issuers, unsigned: dict[str, Any], data: st.DataObject
) -> None:
    """A generated credential's card, one CBOR item replaced: same credential or same refusal."""
    signed = issuers.sign(unsigned, _CODE_BY_DID[unsigned["issuer"]])
    encoded = encode_card_bytes(signed)
    assert _assert_same_decision(encoded) == ("decoded", signed)
    value = cbor2.loads(encoded)
    path = data.draw(st.sampled_from(list(_leaf_paths(value))), label="path")
    new = data.draw(
        st.one_of(_ints(), _bytes(), st.text(max_size=40), st.just(cbor2.undefined), st.none()),
        label="new",
    )
    _assert_same_decision(cbor2.dumps(_replaced(value, path, new)))


def test_every_byte_flip_gets_the_same_decision(credential: dict[str, Any]) -> None:
    data = bytearray(encode_card_bytes(credential))
    for position in range(len(data)):
        for mask in (0x01, 0x02, 0x10, 0x80):
            data[position] ^= mask
            _assert_same_decision(bytes(data))
            data[position] ^= mask


def test_non_canonical_packed_items_are_refused_with_the_cache(
    credential: dict[str, Any],
) -> None:
    """Items that unpack to the card's own values but are not what ``pack`` writes."""
    value = cbor2.loads(encode_card_bytes(credential))
    subject = value[6]
    edits = [
        _replaced(value, (6, 1), b"\0" + subject[1]),  # givenName with a leading zero byte
        _replaced(value, (4,), value[4] * 86_400 if value[4] < 1_000_000 else value[4]),
    ]
    for edited in edits:
        if edited == value:
            continue
        assert _assert_same_decision(cbor2.dumps(edited))[0] == "refused"


def _reference_encode(credential: dict[str, Any]) -> tuple[str, Any]:
    """``encode_card_bytes`` without either cache: pack, unpack to check, decode, re-encode."""
    try:
        encoded = _card._to_cbor(credential)
        try:
            exact = _card._decode_card_bytes(encoded, reuse_packed=False) == credential
        except CardFormatError as exc:
            return "refused", f"its card form does not decode: {exc.message}"
    except CardEncodingError as exc:
        return "refused", exc.message
    return ("encoded", encoded) if exact else ("refused", "not exact")


def _encode(credential: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "encoded", encode_card_bytes(credential)
    except CardEncodingError as exc:
        return "refused", exc.message


_ODD_VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "URN:UUID:0E8F2B9A-6C1D-4F3A-9B2E-7D5C4A3B2C1D",
            "urn:uuid:0e8f2b9a6c1d4f3a9b2e7d5c4a3b2c1d",
            "2026-1-01T00:00:00Z",
            "2026-01-01T00:00:00+00:00",
            "1970-01-01T00:00:00Z",
            "0999-01-01",
            "00123",
            "0",
            " ANA",
            "ANA ",
            "ana",
            "did:web:imss.gob.mx#key-01",
            "did:web:imss.gob.mx#key-1234567890",
            "https://imss.gob.mx/credencial/status/revocation/07",
        ]
    ),
    st.integers(),
)


@_SETTINGS
@given(unsigned=unsigned_credentials(), data=st.data())
def test_encoding_matches_the_uncached_reference(
    issuers: Issuers, unsigned: dict[str, Any], data: st.DataObject
) -> None:
    """``encode_card_bytes`` (its decode reusing what the encoding unpacked) gives the same
    bytes or the same refusal as the uncached path, for credentials and edited credentials."""
    signed = issuers.sign(unsigned, _CODE_BY_DID[unsigned["issuer"]])
    assert _encode(signed) == _reference_encode(signed)
    assert _encode(signed)[0] == "encoded"
    edited = copy.deepcopy(signed)
    parent = data.draw(
        st.sampled_from([edited, edited["credentialSubject"], edited["proof"]]), label="parent"
    )
    key = data.draw(st.sampled_from(sorted(parent)), label="key")
    parent[key] = data.draw(_ODD_VALUES, label="value")
    outcome = _encode(edited)
    reference = _reference_encode(edited)
    if reference == ("refused", "not exact"):
        assert outcome[0] == "refused"
    else:
        assert outcome == reference


@settings(max_examples=examples(0.5, minimum=500), deadline=None)
@given(
    item=st.one_of(
        st.integers(0, _MAX_DATETIME),
        st.sampled_from([0, 999_999, 1_000_000, 2_932_896, _MAX_DATETIME]),
    )
)
def test_datetimes_are_spelled_as_strftime_spells_them(item: int) -> None:
    seconds = item * 86_400 if item < 1_000_000 else item
    expected = (_cardpack._EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _cardpack._unpack_datetime(item, _cardpack._Ctx(None)) == expected


class _Text(str):
    """A ``str`` subclass: equal to its text, but not a table entry's type."""


def test_values_that_are_not_plain_json_get_the_full_round_trip_check(
    credential: dict[str, Any],
) -> None:
    """``encode_card_bytes`` skips its decode's canonical-form check only for plain JSON: a
    programme name as a ``str`` subclass is written as text, decodes equal, and is not canonical."""
    coverage = credential["credentialSubject"]["coverage"]
    coverage["program"] = _Text(coverage["program"])
    outcome, message = _encode(credential)
    assert outcome == "refused"
    assert message.endswith(_reference_encode(credential)[1])
    assert message.endswith("not the canonical encoding of a credential")
    coverage["program"] = str(coverage["program"])
    assert _encode(credential) == _reference_encode(credential)
    assert _encode(credential)[0] == "encoded"
