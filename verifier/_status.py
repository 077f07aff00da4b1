"""Bitstring Status List v1.0: reading the bits of status list credentials held offline."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from ._errors import IndeterminateError, InputError, ReasonCode
from ._json import parse_json
from ._multibase import decode_multibase

__all__ = [
    "MIN_STATUS_LIST_BITS",
    "InMemoryStatusLists",
    "StatusListSource",
    "decode_status_bits",
    "encode_status_bits",
    "status_bit",
    "status_list_file_bytes",
]

#: The spec's minimum bitstring length (16 KiB), which gives group privacy.
MIN_STATUS_LIST_BITS = 131_072
_MAX_DECODED_BYTES = 64 * 1024 * 1024  # 512 Mi entries: several times the national population


class StatusListSource(Protocol):
    """Where a verifier finds status list credentials it holds offline (never fetched)."""

    def get(self, url: str) -> Mapping[str, Any] | None:
        """The status list credential published at ``url``, or ``None`` if not held."""
        ...


class InMemoryStatusLists:
    """Status list credentials in memory, keyed by their ``id`` (the URL entries point to)."""

    def __init__(self, credentials: Iterable[Mapping[str, Any]] = ()) -> None:
        self._by_url: dict[str, Mapping[str, Any]] = {}
        for credential in credentials:
            self.add(credential)

    def add(self, credential: Mapping[str, Any]) -> None:
        """Hold ``credential`` under its ``id``, replacing an older copy."""
        url = credential.get("id") if isinstance(credential, Mapping) else None
        if not isinstance(url, str):
            raise InputError("a status list credential needs an 'id' URL")
        self._by_url[url] = credential

    @classmethod
    def from_files(cls, paths: Iterable[str | Path]) -> InMemoryStatusLists:
        """Load status list credentials from JSON files."""
        store = cls()
        for path in paths:
            try:
                store.add(parse_json(Path(path).read_text(encoding="utf-8")))
            except (OSError, ValueError) as exc:
                raise InputError(f"cannot read status list {path}: {exc}") from exc
        return store

    def get(self, url: str) -> Mapping[str, Any] | None:
        """The held status list credential for ``url``."""
        return self._by_url.get(url)


def status_list_file_bytes(credential: Mapping[str, Any]) -> bytes:
    """The bytes of a status list file: the one serialization the issuer writes and a delta
    sync rebuilds (indented JSON, non-ASCII kept, a final newline), so their SHA-256s agree."""
    return json.dumps(credential, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


def encode_status_bits(bits: bytes) -> str:
    """``encodedList`` for a bitstring: GZIP, then multibase base64url without padding."""
    compressed = gzip.compress(bits, compresslevel=9, mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def decode_status_bits(encoded_list: object) -> bytes:
    """Decode ``encodedList`` to the raw bitstring, refusing anything below the minimum size."""
    invalid = ReasonCode.STATUS_LIST_INVALID
    if not isinstance(encoded_list, str):
        raise IndeterminateError("encodedList must be a string", code=invalid)
    try:
        compressed = decode_multibase(encoded_list)
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing
        bits = inflater.decompress(compressed, _MAX_DECODED_BYTES)
    except (ValueError, zlib.error) as exc:
        raise IndeterminateError(
            f"encodedList is not GZIP + multibase: {exc}", code=invalid
        ) from exc
    if inflater.unconsumed_tail or not inflater.eof or inflater.unused_data:
        raise IndeterminateError(
            "encodedList is truncated, too large, or has data after its GZIP member", code=invalid
        )
    if len(bits) * 8 < MIN_STATUS_LIST_BITS:
        raise IndeterminateError(
            f"status list has {len(bits) * 8} entries, fewer than {MIN_STATUS_LIST_BITS}",
            code=invalid,
        )
    return bits


def status_bit(bits: bytes, index: int) -> int:
    """The bit at ``index``; index 0 is the left-most (most significant) bit of the first byte."""
    if not 0 <= index < len(bits) * 8:
        raise IndeterminateError(
            f"statusListIndex {index} is outside the list", code=ReasonCode.STATUS_LIST_INVALID
        )
    return (bits[index >> 3] >> (7 - (index & 7))) & 1
