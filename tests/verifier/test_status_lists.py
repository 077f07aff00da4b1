"""Bitstring Status List decoding: the W3C vector, bit order, size limits and malformed lists."""

from __future__ import annotations

import base64
import gzip
import json
import time
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier import (
    MIN_STATUS_LIST_BITS,
    IndeterminateError,
    InMemoryStatusLists,
    InputError,
    ReasonCode,
    decode_status_bits,
    encode_status_bits,
    status_bit,
)

MIN_BYTES = MIN_STATUS_LIST_BITS // 8
MIB = 1024 * 1024


def _multibase(compressed: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def _refused(encoded: object) -> IndeterminateError:
    with pytest.raises(IndeterminateError) as caught:
        decode_status_bits(encoded)
    assert caught.value.code is ReasonCode.STATUS_LIST_INVALID
    return caught.value


def test_minimum_is_the_spec_16_kib() -> None:
    assert MIN_STATUS_LIST_BITS == 131_072
    assert MIN_BYTES == 16_384


def test_w3c_empty_list_vector(shared_w3c: Path) -> None:
    path = shared_w3c / "bitstring-status-list" / "encodedList-empty-131072.txt"
    encoded = path.read_text(encoding="ascii").strip()
    assert encoded.startswith("u")
    bits = decode_status_bits(encoded)
    assert bits == bytes(MIN_BYTES)
    assert all(status_bit(bits, i) == 0 for i in (0, 1, 94_567, MIN_STATUS_LIST_BITS - 1))


@settings(max_examples=40)
@given(
    st.sets(st.integers(0, MIN_STATUS_LIST_BITS - 1), max_size=20),
    st.integers(1, 3),
)
def test_encode_decode_round_trip(indices: set[int], multiple: int) -> None:
    bits = bytearray(MIN_BYTES * multiple)
    for index in indices:
        bits[index >> 3] |= 0x80 >> (index & 7)
    encoded = encode_status_bits(bytes(bits))
    assert encoded.startswith("u")
    assert "=" not in encoded
    decoded = decode_status_bits(encoded)
    assert decoded == bytes(bits)
    assert all(status_bit(decoded, i) == 1 for i in indices)
    assert sum(bin(byte).count("1") for byte in decoded) == len(indices)


def test_encoding_is_deterministic_gzip() -> None:
    bits = bytes(MIN_BYTES)
    encoded = encode_status_bits(bits)
    assert encoded == encode_status_bits(bits)  # mtime=0: no timestamp in the header
    compressed = base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))
    assert compressed[:2] == b"\x1f\x8b"
    assert gzip.decompress(compressed) == bits


def test_bit_order_is_most_significant_first() -> None:
    bits = bytearray(MIN_BYTES)
    bits[0] = 0x80
    bits[1] = 0x40
    bits[-1] = 0x01
    assert status_bit(bytes(bits), 0) == 1
    assert [status_bit(bytes(bits), i) for i in range(1, 9)] == [0] * 8
    assert status_bit(bytes(bits), 9) == 1
    assert [status_bit(bytes(bits), i) for i in range(10, 16)] == [0] * 6
    assert status_bit(bytes(bits), MIN_STATUS_LIST_BITS - 1) == 1
    assert status_bit(bytes(bits), MIN_STATUS_LIST_BITS - 2) == 0
    decoded = decode_status_bits(encode_status_bits(bytes(bits)))
    assert [status_bit(decoded, i) for i in (0, 7, 8, 9)] == [1, 0, 0, 1]


@pytest.mark.parametrize("index", [-1, MIN_STATUS_LIST_BITS, MIN_STATUS_LIST_BITS + 8, 10**9])
def test_index_outside_the_list(index: int) -> None:
    bits = bytes(MIN_BYTES)
    with pytest.raises(IndeterminateError, match="outside the list") as caught:
        status_bit(bits, index)
    assert caught.value.code is ReasonCode.STATUS_LIST_INVALID


def test_list_below_the_minimum_is_refused() -> None:
    error = _refused(encode_status_bits(bytes(MIN_BYTES - 1)))
    assert f"{MIN_STATUS_LIST_BITS - 8} entries" in error.message
    _refused(encode_status_bits(b""))
    assert len(decode_status_bits(encode_status_bits(bytes(MIN_BYTES)))) == MIN_BYTES


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(_multibase(zlib.compress(bytes(MIN_BYTES))), id="zlib-not-gzip"),
        pytest.param(_multibase(bytes(MIN_BYTES)), id="raw-bits-not-compressed"),
        pytest.param(
            "z" + base64.b16encode(gzip.compress(bytes(MIN_BYTES))).decode(), id="not-base58"
        ),
        pytest.param(
            base64.urlsafe_b64encode(gzip.compress(bytes(MIN_BYTES))).decode().rstrip("="),
            id="no-multibase-prefix",
        ),
        pytest.param(
            encode_status_bits(bytes(MIN_BYTES)) + "==",
            id="padded",
        ),
        pytest.param("", id="empty"),
        pytest.param("u", id="empty-body"),
    ],
)
def test_malformed_encoded_list(encoded: str) -> None:
    _refused(encoded)


@pytest.mark.parametrize("encoded", [None, 0, b"uH4sI", ["u"], {"encodedList": "u"}])
def test_encoded_list_must_be_a_string(encoded: Any) -> None:
    error = _refused(encoded)
    assert error.message == "encodedList must be a string"


@pytest.mark.parametrize("cut", [1, 8, 100])
def test_truncated_gzip(cut: int) -> None:
    compressed = gzip.compress(bytes(MIN_BYTES))
    _refused(_multibase(compressed[:-cut]))


def test_corrupted_gzip_checksum() -> None:
    compressed = bytearray(gzip.compress(bytes(MIN_BYTES)))
    compressed[-8] ^= 0xFF  # CRC32 of the trailer
    _refused(_multibase(bytes(compressed)))


def _gzip_of_zeros(total: int, chunk: int = 4 * MIB) -> bytes:
    """GZIP framing around ``total`` zero bytes, compressed in chunks (never held whole)."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(chunk)
    parts = [compressor.compress(block) for _ in range(total // chunk)]
    parts.append(compressor.flush())
    return b"".join(parts)


def test_gzip_bomb_is_refused_without_inflating_it() -> None:
    bomb = _multibase(_gzip_of_zeros(200 * MIB))
    assert len(bomb) < 2 * MIB
    tracemalloc.start()
    try:
        started = time.monotonic()
        error = _refused(bomb)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "too large" in error.message
    assert elapsed < 5
    assert peak < 160 * MIB  # the 64 MiB cap (plus copies), far below the bomb's 200 MiB


# -- the in-memory source --------------------------------------------------------------------------


def _status_list(url: str) -> dict[str, Any]:
    return {"id": url, "type": ["VerifiableCredential", "BitstringStatusListCredential"]}


def test_in_memory_lists_are_keyed_by_id() -> None:
    first, second = _status_list("https://a.example/1"), _status_list("https://a.example/2")
    store = InMemoryStatusLists([first, second])
    assert store.get("https://a.example/1") is first
    assert store.get("https://a.example/2") is second
    assert store.get("https://a.example/3") is None
    newer = {**first, "validFrom": "2026-06-01T00:00:00Z"}
    store.add(newer)
    assert store.get("https://a.example/1") is newer


@pytest.mark.parametrize(
    "credential", [{}, {"id": 7}, {"id": None}, {"type": "BitstringStatusListCredential"}, []]
)
def test_add_needs_an_id(credential: Any) -> None:
    store = InMemoryStatusLists()
    with pytest.raises(InputError, match="needs an 'id'"):
        store.add(credential)
    with pytest.raises(InputError):
        InMemoryStatusLists([credential])


def test_from_files(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text(json.dumps(_status_list("https://a.example/1")), encoding="utf-8")
    store = InMemoryStatusLists.from_files([path, str(path)])
    assert store.get("https://a.example/1") == _status_list("https://a.example/1")


def test_from_files_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(InputError, match="cannot read status list") as caught:
        InMemoryStatusLists.from_files([missing])
    assert str(missing) in caught.value.message


@pytest.mark.parametrize(
    "content", [b"{not json", b"\xff\xfe{}", b"[]", b'{"type": "BitstringStatusListCredential"}']
)
def test_from_files_bad_content(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "list.json"
    path.write_bytes(content)
    with pytest.raises(InputError):
        InMemoryStatusLists.from_files([path])


@pytest.mark.parametrize(
    "trailer", [b"trailing garbage", gzip.compress(b"\xff" * MIN_BYTES)], ids=["garbage", "member"]
)
def test_data_after_the_gzip_member_is_refused(trailer: bytes) -> None:
    """Ignoring it would read a list differently from ``gzip.decompress`` (which appends)."""
    error = _refused(_multibase(gzip.compress(bytes(MIN_BYTES)) + trailer))
    assert "after its GZIP member" in error.message
