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

A **bundle delta** (``StatusBundleDelta``, issue 20) does the same for every list of a bundle in
one file, for a thin link: a day's national change touches nearly every list, and a per-list
delta carries its whole re-signed envelope. The bundle names it once (``signed.statusDelta``:
path, SHA-256, ``fromVersion``) and it applies to the lists of the installed bundle of that
version::

    {"type": "StatusBundleDelta", "fromVersion": 6,
     "common": <JSON merge patch (RFC 7386) applied to every list's envelope: validFrom...>,
     "lists": [{"url": "...", "patch": <this list's own merge patch: its proofValue...>}],
     "flipped": "u<base64url of gzip of, per list in order: a varint count, then the varint
                 gaps of its sorted changed indices>"}

The envelope is a list's credential without ``credentialSubject.encodedList``. Each rebuilt list
is kept only if its bytes hash to the new bundle's entry.
"""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._errors import IndeterminateError
from ._json import parse_json
from ._multibase import decode_multibase
from ._status import decode_status_bits, encode_status_bits, status_list_file_bytes

__all__ = [
    "BUNDLE_DELTA_TYPE",
    "DELTA_TYPE",
    "StatusDeltaError",
    "apply_bundle_delta",
    "apply_status_delta",
    "decode_flipped",
    "decode_flipped_lists",
    "encode_flipped",
    "encode_flipped_lists",
    "make_bundle_delta",
    "make_status_delta",
    "status_delta_file_bytes",
]

DELTA_TYPE = "StatusListDelta"
BUNDLE_DELTA_TYPE = "StatusBundleDelta"
_MAX_VARINT_BYTES = 5  # an index below 2**35
_MAX_FLIPPED_DECODED = 64 * 1024 * 1024
#: The size assumed for a list of a bundle delta that is not held (its changes are skipped).
_MAX_UNKNOWN_SIZE = 2**32


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
    raw = _inflate(flipped, min(size * _MAX_VARINT_BYTES, _MAX_FLIPPED_DECODED))
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


def _inflate(flipped: str, limit: int) -> bytes:
    """The bytes of a multibase base64url GZIP string, at most ``limit`` of them."""
    try:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        raw = inflater.decompress(decode_multibase(flipped), limit)
    except (ValueError, zlib.error) as exc:
        raise StatusDeltaError(f"flipped is not GZIP + multibase: {exc}") from exc
    if inflater.unconsumed_tail or not inflater.eof or inflater.unused_data:
        raise StatusDeltaError("flipped is truncated, too large, or has trailing data")
    return raw


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


def _flipped_between(old_bits: bytes, new_bits: bytes) -> list[int]:
    """The indices whose bit differs between two bitstrings of one length, in order."""
    return [
        (position << 3) + bit
        for position, (a, b) in enumerate(zip(old_bits, new_bits, strict=True))
        if a != b
        for bit in range(8)
        if (a ^ b) & (0x80 >> bit)
    ]


def make_status_delta(old: bytes, new: bytes) -> dict[str, Any]:
    """The delta from status list file bytes ``old`` to ``new`` (same URL, same list size)."""
    before, after = _parse_credential(old, "the old list"), _parse_credential(new, "the new list")
    if before.get("id") != after.get("id") or not isinstance(after.get("id"), str):
        raise StatusDeltaError("the two status lists have different ids")
    old_bits, new_bits = _bits(before, "the old list"), _bits(after, "the new list")
    if len(old_bits) != len(new_bits):
        raise StatusDeltaError("the two status lists have different sizes")
    flipped = _flipped_between(old_bits, new_bits)
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
    bits = _bits(held, "the held list")
    flipped = decode_flipped(delta.get("flipped"), len(bits) * 8)
    return _rebuild(held, bits, envelope, flipped, to_sha256)


def _rebuild(
    held: Mapping[str, Any],
    bits: bytes,
    envelope: Mapping[str, Any],
    flipped: Iterable[int],
    to_sha256: str,
) -> bytes:
    """The file of ``envelope`` with ``bits`` (the held list's) at ``flipped`` flipped; raises
    :class:`StatusDeltaError` unless it hashes to ``to_sha256``."""
    changed = bytearray(bits)
    for index in flipped:
        changed[index >> 3] ^= 0x80 >> (index & 7)
    subject = dict(envelope["credentialSubject"])
    subject["encodedList"] = encode_status_bits(bytes(changed))
    order = [key for key in held["credentialSubject"] if key in subject]
    order += [key for key in subject if key not in order]
    rebuilt = dict(copy.deepcopy(envelope))
    rebuilt["credentialSubject"] = {key: subject[key] for key in order}
    try:
        data = status_list_file_bytes(rebuilt)
    except UnicodeEncodeError:  # JSON "\ud800": a lone surrogate, not Unicode text
        raise StatusDeltaError("the delta holds text that is not valid Unicode") from None
    if _sha256(data) != to_sha256:
        raise StatusDeltaError("the rebuilt status list does not match the bundle's SHA-256")
    return data


# -- one delta for every list of a bundle ---------------------------------------------------------


def _append_varint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def encode_flipped_lists(lists: Iterable[Iterable[int]]) -> str:
    """Several lists' changed indices in one string: per list, a LEB128 varint count and the
    varint gaps of its sorted distinct indices; then gzip, multibase ``u``."""
    out = bytearray()
    for indices in lists:
        ordered = sorted(set(indices))
        if ordered and ordered[0] < 0:
            raise StatusDeltaError("a status list index is never negative")
        _append_varint(out, len(ordered))
        previous = -1
        for index in ordered:
            _append_varint(out, index - previous - 1)
            previous = index
    compressed = gzip.compress(bytes(out), compresslevel=9, mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def decode_flipped_lists(flipped: object, sizes: Sequence[int]) -> list[list[int]]:
    """The lists of :func:`encode_flipped_lists`; list ``i`` has indices below ``sizes[i]``."""
    if not isinstance(flipped, str) or not flipped.startswith("u"):
        raise StatusDeltaError("flipped must be a multibase base64url string")
    limit = min((len(sizes) + sum(sizes)) * _MAX_VARINT_BYTES, _MAX_FLIPPED_DECODED)
    raw = _inflate(flipped, limit)
    position = 0

    def varint() -> int:
        nonlocal position
        value = shift = 0
        while True:
            if position >= len(raw):
                raise StatusDeltaError("flipped ends inside a list")
            byte = raw[position]
            position += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift >= 7 * _MAX_VARINT_BYTES:
                raise StatusDeltaError("flipped has an over-long varint")

    result: list[list[int]] = []
    for size in sizes:
        count = varint()
        if count > size:
            raise StatusDeltaError(f"flipped names {count} changes in a list of {size}")
        indices: list[int] = []
        previous = -1
        for _ in range(count):
            previous += varint() + 1
            if previous >= size:
                raise StatusDeltaError(f"flipped index {previous} is outside a list of {size}")
            indices.append(previous)
        result.append(indices)
    if position != len(raw):
        raise StatusDeltaError("flipped has data after its last list")
    return result


def _merge_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) that turns ``old`` into ``new`` (no null in ``new``)."""
    patch: dict[str, Any] = {}
    for key, value in new.items():
        if value is None:
            raise StatusDeltaError("a merge patch cannot write null")
        before = old.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            inner = _merge_diff(before, value)
            if inner:
                patch[key] = inner
        elif key not in old or before != value or type(before) is not type(value):
            patch[key] = copy.deepcopy(value)
    for key in old:
        if key not in new:
            patch[key] = None
    return patch


def _merge_apply(target: Any, patch: Any) -> Any:
    """RFC 7386: ``patch`` applied to ``target`` (a new value; ``target`` is not changed)."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_apply(result.get(key), value)
    return result


def _leaves(patch: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    leaves: dict[tuple[str, ...], Any] = {}
    for key, value in patch.items():
        if isinstance(value, Mapping) and value:
            leaves.update(_leaves(value, (*prefix, key)))
        else:
            leaves[(*prefix, key)] = value
    return leaves


def _from_leaves(leaves: Mapping[tuple[str, ...], Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, value in leaves.items():
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return tree


def _envelope(credential: Mapping[str, Any]) -> dict[str, Any]:
    """The credential without ``credentialSubject.encodedList``."""
    envelope = copy.deepcopy(dict(credential))
    envelope["credentialSubject"].pop("encodedList", None)
    return envelope


def make_bundle_delta(
    old: Mapping[str, bytes], new: Mapping[str, bytes], *, from_version: int
) -> dict[str, Any]:
    """The ``StatusBundleDelta`` from the status list files ``old`` (URL → bytes, those of the
    bundle ``from_version``) to ``new``. Lists that did not change, are new, or changed size are
    left out (a verifier keeps or downloads them whole)."""
    urls: list[str] = []
    patches: list[dict[tuple[str, ...], Any]] = []
    flipped: list[list[int]] = []
    for url, data in new.items():
        before = old.get(url)
        if before is None or before == data:
            continue
        try:
            old_list = _parse_credential(before, "the old list")
            new_list = _parse_credential(data, "the new list")
            old_bits, new_bits = _bits(old_list, "the old list"), _bits(new_list, "the new list")
            if len(old_bits) != len(new_bits) or new_list.get("id") != url:
                continue
            patch = _merge_diff(_envelope(old_list), _envelope(new_list))
        except StatusDeltaError:
            continue
        urls.append(url)
        patches.append(_leaves(patch))
        flipped.append(_flipped_between(old_bits, new_bits))
    common = dict(patches[0]) if patches else {}
    for leaves in patches[1:]:
        common = {path: v for path, v in common.items() if path in leaves and leaves[path] == v}
    lists: list[dict[str, Any]] = []
    for url, leaves in zip(urls, patches, strict=True):
        own = {path: value for path, value in leaves.items() if path not in common}
        lists.append({"url": url, "patch": _from_leaves(own)} if own else {"url": url})
    return {
        "type": BUNDLE_DELTA_TYPE,
        "fromVersion": from_version,
        "common": _from_leaves(common),
        "lists": lists,
        "flipped": encode_flipped_lists(flipped),
    }


def apply_bundle_delta(
    delta_bytes: bytes,
    held: Mapping[str, bytes],
    *,
    from_version: int,
    expected: Mapping[str, str],
) -> dict[str, bytes]:
    """The status list files a ``StatusBundleDelta`` rebuilds from the ``held`` files (URL →
    bytes, those of the installed bundle ``from_version``): URL → bytes, only those that hash to
    ``expected[url]`` (the new bundle's SHA-256). Raises :class:`StatusDeltaError` when the delta
    as a whole is unusable; a list it cannot rebuild is left out (downloaded whole)."""
    try:
        delta = parse_json(delta_bytes)
    except ValueError as exc:
        raise StatusDeltaError(f"the bundle delta is not JSON: {exc}") from exc
    if not isinstance(delta, dict) or delta.get("type") != BUNDLE_DELTA_TYPE:
        raise StatusDeltaError(f"not a {BUNDLE_DELTA_TYPE}")
    if delta.get("fromVersion") != from_version or type(delta.get("fromVersion")) is not int:
        raise StatusDeltaError(f"the bundle delta is not based on version {from_version}")
    lists, common = delta.get("lists"), delta.get("common", {})
    if not isinstance(lists, list) or not isinstance(common, dict):
        raise StatusDeltaError("the bundle delta needs 'lists' and an object 'common'")
    entries: list[tuple[str, dict[str, Any], dict[str, Any] | None, bytes]] = []
    sizes: list[int] = []
    for item in lists:
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            raise StatusDeltaError("each list of a bundle delta needs a 'url'")
        patch = item.get("patch", {})
        if not isinstance(patch, dict):
            raise StatusDeltaError("a list's patch must be an object")
        base = held.get(item["url"])
        credential: dict[str, Any] | None = None
        bits = b""
        if base is not None:
            try:
                credential = _parse_credential(base, "the held list")
                bits = _bits(credential, "the held list")
            except StatusDeltaError:
                credential = None
        entries.append((item["url"], patch, credential, bits))
        sizes.append(len(bits) * 8 if credential is not None else _MAX_UNKNOWN_SIZE)
    flipped = decode_flipped_lists(delta.get("flipped"), sizes)
    rebuilt: dict[str, bytes] = {}
    for (url, patch, credential, bits), indices in zip(entries, flipped, strict=True):
        want = expected.get(url)
        if credential is None or want is None:
            continue
        envelope = _merge_apply(_merge_apply(_envelope(credential), common), patch)
        if not isinstance(envelope.get("credentialSubject"), dict):
            continue
        try:
            rebuilt[url] = _rebuild(credential, bits, envelope, indices, want)
        except StatusDeltaError:
            continue
    return rebuilt
