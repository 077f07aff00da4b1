"""Multibase and Multikey: base58btc and base64url codecs, Ed25519 key prefixes, rejections."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuer.keys.files import Ed25519KeyPair
from verifier import (
    ED25519_PRIV_PREFIX,
    ED25519_PUB_PREFIX,
    KeyFormatError,
    decode_multibase,
    decode_multikey,
    encode_multikey,
)
from verifier._multibase import b58decode, b58encode


@pytest.fixture(scope="module")
def key_pair_json(shared_w3c: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((shared_w3c / "eddsa" / "keyPair.json").read_text())
    return document


# -- base58btc ------------------------------------------------------------------------------------


@given(st.binary(max_size=300), st.integers(0, 8))
def test_base58_round_trip_keeps_leading_zero_bytes(data: bytes, zeros: int) -> None:
    padded = b"\0" * zeros + data
    text = b58encode(padded)
    assert b58decode(text) == padded
    assert decode_multibase("z" + text) == padded
    leading_ones = len(text) - len(text.lstrip("1"))
    assert leading_ones == len(padded) - len(padded.lstrip(b"\0"))


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"", ""),
        (b"\0", "1"),
        (b"\0\0\x01", "112"),
        (b"\x39", "z"),  # 57: the last digit
        (b"\x3a", "21"),  # 58
        (b"Hello World!", "2NEpo7TZRRrLZSi2U"),  # the draft-msporny-base58 example
    ],
)
def test_base58_known_values(raw: bytes, text: str) -> None:
    assert b58encode(raw) == text
    assert b58decode(text) == raw


@pytest.mark.parametrize("char", ["0", "O", "I", "l", "+", " "])
def test_base58_rejects_characters_outside_the_alphabet(char: str) -> None:
    with pytest.raises(ValueError, match="invalid base58 character"):
        b58decode("2NEpo" + char + "7TZ")


def test_base58_decoder_is_bounded() -> None:
    with pytest.raises(ValueError, match="too long"):
        b58decode("2" * 513)
    assert len(b58decode("1" * 512)) == 512


# -- the W3C key pair ------------------------------------------------------------------------------


def test_w3c_public_key_decodes_and_reencodes(key_pair_json: dict[str, Any]) -> None:
    public = key_pair_json["publicKeyMultibase"]
    raw = decode_multikey(public)
    assert len(raw) == 32
    assert encode_multikey(raw) == public
    assert decode_multibase(public) == ED25519_PUB_PREFIX + raw
    assert public.startswith("z6Mk")


def test_w3c_private_key_decodes_with_the_private_prefix(key_pair_json: dict[str, Any]) -> None:
    private = key_pair_json["privateKeyMultibase"]
    seed = decode_multikey(private, ED25519_PRIV_PREFIX)
    assert len(seed) == 32
    assert encode_multikey(seed, ED25519_PRIV_PREFIX) == private
    assert private.startswith("z3u2")
    with pytest.raises(KeyFormatError):  # a private key is not a public Multikey
        decode_multikey(private)


def test_key_pair_from_w3c_json(key_pair_json: dict[str, Any]) -> None:
    pair = Ed25519KeyPair.from_json(key_pair_json)
    assert pair.public_key == decode_multikey(key_pair_json["publicKeyMultibase"])
    assert pair.public_key_multibase == key_pair_json["publicKeyMultibase"]
    assert pair.to_json() == key_pair_json
    public = key_pair_json["publicKeyMultibase"]
    assert pair.did_key == f"did:key:{public}#{public}"


# -- Multikey rejections ---------------------------------------------------------------------------


def _valid_public() -> str:
    return encode_multikey(bytes(range(32)))


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(encode_multikey(bytes(range(32)), ED25519_PRIV_PREFIX), id="private-prefix"),
        pytest.param("z" + b58encode(b"\x12\x20" + bytes(32)), id="sha256-multihash-prefix"),
        pytest.param("z" + b58encode(ED25519_PUB_PREFIX + bytes(31)), id="31-bytes"),
        pytest.param("z" + b58encode(ED25519_PUB_PREFIX + bytes(33)), id="33-bytes"),
        pytest.param("z" + b58encode(bytes(range(32))), id="no-prefix"),
        pytest.param("z", id="empty-body"),
        pytest.param("", id="empty"),
        pytest.param(_valid_public()[1:], id="missing-z"),
        pytest.param(
            "u" + base64.urlsafe_b64encode(ED25519_PUB_PREFIX + bytes(32)).decode(), id="u"
        ),
        pytest.param("z" + "2" * 600, id="too-long"),
    ],
)
def test_decode_multikey_rejects(value: str) -> None:
    with pytest.raises(KeyFormatError):
        decode_multikey(value)


@pytest.mark.parametrize("char", ["0", "O", "I", "l"])
def test_decode_multikey_rejects_non_base58_characters(char: str) -> None:
    valid = _valid_public()
    assert len(decode_multikey(valid)) == 32
    corrupted = valid[:10] + char + valid[11:]
    with pytest.raises(KeyFormatError, match="invalid base58 character"):
        decode_multikey(corrupted)


@pytest.mark.parametrize("value", [None, 42, b"z6Mk", ["z6Mk"]])
def test_decode_multikey_rejects_non_strings(value: Any) -> None:
    with pytest.raises(KeyFormatError, match="starting with 'z'"):
        decode_multikey(value)


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_encode_multikey_needs_32_bytes(size: int) -> None:
    with pytest.raises(KeyFormatError, match=f"got {size}"):
        encode_multikey(bytes(size))


# -- multibase base64url ---------------------------------------------------------------------------


@given(st.binary(max_size=200))
def test_base64url_round_trip(data: bytes) -> None:
    body = base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    assert decode_multibase("u" + body) == data


def test_base64url_uses_the_url_alphabet() -> None:
    assert decode_multibase("u-__-") == b"\xfb\xff\xfe"
    assert decode_multibase("uAQ") == b"\x01"  # unpadded: 2 chars for 1 byte


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("uAQ==", "unpadded"),
        ("uAQID=", "unpadded"),
        ("uA", "base64url"),  # 6 bits: not a whole byte
        ("uAQIDB", "base64url"),  # 4n + 1 characters
        ("u*", "base64url"),  # not silently dropped
        ("u@@@@", "base64url"),
        ("uAA+/", "base64url"),  # the standard alphabet, not the URL one
        ("uAQ ID", "base64url"),
        ("uAQ\nID", "base64url"),
        ("", "empty"),
        ("f00ff", "unsupported multibase prefix 'f'"),
        ("mAQID", "unsupported multibase prefix 'm'"),
        ("Z6Mk", "unsupported multibase prefix 'Z'"),
    ],
)
def test_decode_multibase_rejects(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_multibase(value)
