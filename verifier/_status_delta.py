"""Status list deltas: ship the indices that changed instead of the whole list (ADR 0004).

A delta file (``status/<inst>-<purpose>-<n>.delta.json``) turns the status list file a verifier
already holds (``fromSha256``) into the new one (``toSha256``)::

    {"type": "StatusListDelta", "url": "...", "fromSha256": "<hex>", "toSha256": "<hex>",
     "flipped": "u<base64url of gzip of the sorted changed indices, LEB128 varint gaps>",
     "envelope": <the new signed status list credential without credentialSubject.encodedList>}

Rebuilding: decode the old bits, flip the listed indices, ``encode_status_bits``, put the
``encodedList`` back into the envelope (at the position it had in the old file's
``credentialSubject``), serialize with :func:`status_list_file_bytes`. The bundle names the delta
file (and its SHA-256) beside the full file's hash, and the rebuilt bytes are used only if they
hash to the full file's entry: a bad delta, or a different zlib that compresses differently,
costs a download of the full file, never wrong bits.
"""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import json
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from ._errors import IndeterminateError
from ._json import parse_json
from ._multibase import decode_multibase
from ._status import decode_status_bits, encode_status_bits, status_list_file_bytes

__all__ = [
    "DELTA_TYPE",
    "StatusDeltaError",
    "apply_status_delta",
    "decode_flipped",
    "encode_flipped",
    "make_status_delta",
    "status_delta_file_bytes",
]

DELTA_TYPE = "StatusListDelta"
_MAX_VARINT_BYTES = 5  # an index below 2**35
_MAX_FLIPPED_DECODED = 64 * 1024 * 1024


class StatusDeltaError(ValueError):
    """A delta that cannot be made or applied (the full file is used instead)."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode_flipped(indices: Iterable[int]) -> str:
    """Sorted distinct indices as LEB128 varints of the gaps between them, gzip, multibase ``u``."""
    out = bytearray()
    previous = -1
    for index in sorted(set(indices)):
        if index < 0:
            raise StatusDeltaError("a status list index is never negative")
        gap = index - previous - 1
        previous = index
        while gap >= 0x80:
            out.append((gap & 0x7F) | 0x80)
            gap >>= 7
        out.append(gap)
    compressed = gzip.compress(bytes(out), compresslevel=9, mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def decode_flipped(flipped: object, size: int) -> list[int]:
    """The indices of :func:`encode_flipped`; each below ``size`` (so at most ``size`` of them)."""
    if not isinstance(flipped, str) or not flipped.startswith("u"):
        raise StatusDeltaError("flipped must be a multibase base64url string")
    limit = min(size * _MAX_VARINT_BYTES, _MAX_FLIPPED_DECODED)
    try:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        raw = inflater.decompress(decode_multibase(flipped), limit)
    except (ValueError, zlib.error) as exc:
        raise StatusDeltaError(f"flipped is not GZIP + multibase: {exc}") from exc
    if inflater.unconsumed_tail or not inflater.eof or inflater.unused_data:
        raise StatusDeltaError("flipped is truncated, too large, or has trailing data")
    indices: list[int] = []
    previous, gap, shift = -1, 0, 0
    for byte in raw:
        gap |= (byte & 0x7F) << shift
        shift += 7
        if byte & 0x80:
            if shift >= 7 * _MAX_VARINT_BYTES:
                raise StatusDeltaError("flipped has an over-long varint")
            continue
        previous += gap + 1
        if previous >= size:
            raise StatusDeltaError(f"flipped index {previous} is outside a list of {size}")
        indices.append(previous)
        gap, shift = 0, 0
    if shift:
        raise StatusDeltaError("flipped ends inside a varint")
    return indices


def status_delta_file_bytes(delta: Mapping[str, Any]) -> bytes:
    """The bytes of a delta file (compact JSON: it is shipped often)."""
    return json.dumps(delta, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _parse_credential(data: bytes, what: str) -> dict[str, Any]:
    try:
        credential = parse_json(data)
    except ValueError as exc:
        raise StatusDeltaError(f"{what} is not JSON: {exc}") from exc
    if not isinstance(credential, dict) or not isinstance(
        credential.get("credentialSubject"), dict
    ):
        raise StatusDeltaError(f"{what} is not a status list credential")
    return credential


def _bits(credential: Mapping[str, Any], what: str) -> bytes:
    try:
        return decode_status_bits(credential["credentialSubject"].get("encodedList"))
    except IndeterminateError as exc:
        raise StatusDeltaError(f"{what}: {exc}") from exc


def make_status_delta(old: bytes, new: bytes) -> dict[str, Any]:
    """The delta from status list file bytes ``old`` to ``new`` (same URL, same list size)."""
    before, after = _parse_credential(old, "the old list"), _parse_credential(new, "the new list")
    if before.get("id") != after.get("id") or not isinstance(after.get("id"), str):
        raise StatusDeltaError("the two status lists have different ids")
    old_bits, new_bits = _bits(before, "the old list"), _bits(after, "the new list")
    if len(old_bits) != len(new_bits):
        raise StatusDeltaError("the two status lists have different sizes")
    flipped = [
        (position << 3) + bit
        for position, (a, b) in enumerate(zip(old_bits, new_bits, strict=True))
        if a != b
        for bit in range(8)
        if (a ^ b) & (0x80 >> bit)
    ]
    envelope = copy.deepcopy(after)
    del envelope["credentialSubject"]["encodedList"]
    return {
        "type": DELTA_TYPE,
        "url": after["id"],
        "fromSha256": _sha256(old),
        "toSha256": _sha256(new),
        "flipped": encode_flipped(flipped),
        "envelope": envelope,
    }


def apply_status_delta(base: bytes, delta_bytes: bytes, *, url: str, to_sha256: str) -> bytes:
    """Rebuild the status list file ``to_sha256`` from the held file ``base`` and a delta.

    Raises :class:`StatusDeltaError` unless the delta is for ``url`` and ``base``, and the
    rebuilt bytes hash to ``to_sha256`` (so a returned file is exactly the full file).
    """
    try:
        delta = parse_json(delta_bytes)
    except ValueError as exc:
        raise StatusDeltaError(f"the delta is not JSON: {exc}") from exc
    if not isinstance(delta, dict) or delta.get("type") != DELTA_TYPE:
        raise StatusDeltaError(f"not a {DELTA_TYPE}")
    if delta.get("url") != url or delta.get("toSha256") != to_sha256:
        raise StatusDeltaError("the delta is for another status list")
    if delta.get("fromSha256") != _sha256(base):
        raise StatusDeltaError("the delta is not based on the held status list")
    envelope = delta.get("envelope")
    if not isinstance(envelope, dict) or not isinstance(envelope.get("credentialSubject"), dict):
        raise StatusDeltaError("the delta has no envelope credential")
    held = _parse_credential(base, "the held list")
    bits = bytearray(_bits(held, "the held list"))
    for index in decode_flipped(delta.get("flipped"), len(bits) * 8):
        bits[index >> 3] ^= 0x80 >> (index & 7)
    subject = dict(envelope["credentialSubject"])
    subject["encodedList"] = encode_status_bits(bytes(bits))
    order = [key for key in held["credentialSubject"] if key in subject]
    order += [key for key in subject if key not in order]
    rebuilt = copy.deepcopy(envelope)
    rebuilt["credentialSubject"] = {key: subject[key] for key in order}
    try:
        data = status_list_file_bytes(rebuilt)
    except UnicodeEncodeError:  # JSON "\ud800": a lone surrogate, not Unicode text
        raise StatusDeltaError("the delta holds text that is not valid Unicode") from None
    if _sha256(data) != to_sha256:
        raise StatusDeltaError("the rebuilt status list does not match the bundle's SHA-256")
    return data
