"""``python -m bench.national``: a synthetic national status snapshot (issue 5, national scale).

130,000,000 entries, 1% revoked and 0.5% suspended at random indices (fixed seed). Reports the
size in the standard encoding (``encode_status_bits``: gzip level 9 + multibase base64url), split
as the issuer splits it (lists of 131,072 entries per purpose) and as one big list, the time to
decode every list, resident memory, the time of one status lookup, and the size of one day's
sync (issue 20): the bundle and its one delta (``make_bundle_delta``) for 0.01 % of the entries
changed, as a desk downloads them (gzip on the wire), with every list re-signed, for lists of
131,072 and of 1,048,576 entries; the delta is applied and each rebuilt list checked against the
bundle's hash. Better-than-gzip encodings are information only: the standard stays.
Pure Python (no numpy); about 2-3 minutes.
"""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import json
import lzma
import math
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from issuer.credentials.signing import new_status_list_credential, sign_document
from issuer.institutions import INSTITUTIONS
from issuer.keys.files import Ed25519KeyPair
from issuer.settings import STATUS_LIST_SIZE, STATUS_LIST_TTL
from verifier import ContextLoader, decode_status_bits, encode_status_bits, status_bit
from verifier._multibase import b58encode
from verifier._status import status_list_file_bytes
from verifier._status_delta import (
    apply_bundle_delta,
    encode_flipped,
    make_bundle_delta,
    status_delta_file_bytes,
)

__all__ = ["main"]

ENTRIES = 130_000_000
LIST_SIZE = 131_072  # the spec's minimum list size (the whole-population size analysis below)
REVOKED, SUSPENDED = 0.01, 0.005
DAILY_CHANGE = 0.0001
SAMPLE_EIGHTHS = 1  # one big list at gzip 9, and xz: measured on 1/8 of the bits, times 8
GOAL_BYTES = 2_000_000
#: Bytes a per-list delta adds for the list's re-signed envelope (measured: ~1,000).
ENVELOPE_BYTES = 1_000
GOAL_DAY_SYNC_BYTES = 150_000  # a day's sync over a thin link (issue 20)
#: The issuer's default list size (``status_list_size``), chosen for that goal.
NATIONAL_LIST_SIZE = STATUS_LIST_SIZE
#: HTTP gzip as a web server sends it (nginx's ``gzip_comp_level`` 6; level 1 is its default).
WIRE_GZIP_LEVEL = 6
GOAL_LOAD_SECONDS = 1.0
GOAL_LOOKUP_MICROSECONDS = 10.0  # "microseconds": a lookup must cost a few µs, not ms
MB = 1_000_000


def _bitstring(size: int, indices: Sequence[int]) -> bytes:
    bits = bytearray(size // 8)
    for index in indices:
        bits[index >> 3] |= 0x80 >> (index & 7)
    return bytes(bits)


def _multibase_gzip(data: bytes, level: int) -> str:
    """As ``encode_status_bits``, at any gzip level."""
    compressed = gzip.compress(data, compresslevel=level, mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def _split(bits: bytes) -> list[bytes]:
    """Lists of ``LIST_SIZE`` entries; the last padded with clear bits, as the issuer's are."""
    step = LIST_SIZE // 8
    return [bits[start : start + step].ljust(step, b"\0") for start in range(0, len(bits), step)]


def _rss_mb() -> float:
    """Current resident memory (``VmRSS``), else the peak from ``getrusage``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / MB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB


def _rice_bytes(indices: Sequence[int], size: int) -> int:
    """Exact size of the Golomb-Rice coding of the gaps (best parameter for the density)."""
    k = max(0, round(math.log2(math.log(2) * size / max(1, len(indices)))))
    previous, total = -1, 0
    for index in indices:
        total += ((index - previous - 1) >> k) + 1 + k
        previous = index
    return (total + 7) // 8


def _entropy_bytes(density: float, size: int) -> int:
    """Shannon bound for ``size`` independent bits set with probability ``density``."""
    h = -density * math.log2(density) - (1 - density) * math.log2(1 - density)
    return math.ceil(h * size / 8)


def _median_per_call(operation: Callable[[], object], calls: int, batches: int) -> float:
    samples = []
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(calls):
            operation()
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)


def _list_envelope_bytes() -> int:
    """Bytes a signed status list credential adds around its ``encodedList`` (JSON, proof)."""
    institution = INSTITUTIONS["IMSS"]
    document = new_status_list_credential(
        institution, institution.status_list_url("revocation", 992), purpose="revocation",
        valid_from=datetime.now(UTC).replace(microsecond=0),
    )  # fmt: skip
    signed = sign_document(
        document,
        Ed25519KeyPair.generate(),
        institution.verification_method("key-1"),
        loader=ContextLoader(),
    )
    encoded = signed["credentialSubject"]["encodedList"]
    return len(json.dumps(signed, ensure_ascii=False, indent=2).encode()) + 1 - len(encoded)


def _signed_list_template() -> dict[str, Any]:
    """A really signed status list credential: the shape every synthetic list copies."""
    institution = INSTITUTIONS["IMSS"]
    document = new_status_list_credential(
        institution, institution.status_list_url("revocation", 1), purpose="revocation",
        valid_from=datetime(2026, 6, 5, 18, 0, tzinfo=UTC),
    )  # fmt: skip
    return sign_document(
        document,
        Ed25519KeyPair.generate(),
        institution.verification_method("key-1"),
        loader=ContextLoader(),
    )


def _list_file(
    template: dict[str, Any], url: str, purpose: str, chunk: bytes, day: int, rng: random.Random
) -> bytes:
    """A status list file as the issuer writes it on ``day``, signed (a random signature of the
    real length: the bytes a desk downloads, not a verifiable one)."""
    start = datetime(2026, 6, 5, 18, 0, tzinfo=UTC) + timedelta(days=day)
    credential = copy.deepcopy(template)
    credential["id"] = url
    credential["validFrom"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    credential["validUntil"] = (start + STATUS_LIST_TTL).strftime("%Y-%m-%dT%H:%M:%SZ")
    subject = credential["credentialSubject"]
    subject.update(id=f"{url}#list", statusPurpose=purpose, encodedList=encode_status_bits(chunk))
    credential["proof"]["created"] = credential["validFrom"]
    credential["proof"]["proofValue"] = "z" + b58encode(rng.randbytes(64))
    return status_list_file_bytes(credential)


def _day_sync(
    bits: dict[str, bytes], changed: dict[str, list[int]], list_size: int, rng: random.Random
) -> dict[str, int]:
    """The bytes of one day's sync with lists of ``list_size``: the bundle (every list's URL,
    validity and SHA-256, the keys, two anchor signatures) and the one delta, each gzipped as a
    web server sends it. Every rebuilt list is checked against the new bundle's hash."""
    template = _signed_list_template()
    step = list_size // 8
    codes = list(INSTITUTIONS)
    old: dict[str, bytes] = {}
    new: dict[str, bytes] = {}
    entries: dict[str, list[dict[str, Any]]] = {code: [] for code in codes}
    for purpose, data in bits.items():
        after = bytearray(data)
        for index in changed[purpose]:
            after[index >> 3] ^= 0x80 >> (index & 7)
        chunks = range(0, len(data), step)
        for number, start in enumerate(chunks, start=1):
            code = codes[(number - 1) * len(codes) // len(chunks)]
            url = INSTITUTIONS[code].status_list_url(purpose, number)
            before_chunk = data[start : start + step].ljust(step, b"\0")
            after_chunk = bytes(after[start : start + step]).ljust(step, b"\0")
            old[url] = _list_file(template, url, purpose, before_chunk, 0, rng)
            new[url] = (
                old[url]
                if after_chunk == before_chunk
                else _list_file(template, url, purpose, after_chunk, 1, rng)
            )
            credential = json.loads(new[url])
            entries[code].append({
                "url": url, "purpose": purpose, "validFrom": credential["validFrom"],
                "validUntil": credential["validUntil"],
                "path": f"status/{code.lower()}-{purpose}-{number}.json",
                "sha256": hashlib.sha256(new[url]).hexdigest(),
            })  # fmt: skip
    delta = make_bundle_delta(old, new, from_version=1)
    delta_bytes = status_delta_file_bytes(delta)
    expected = {url: hashlib.sha256(data).hexdigest() for url, data in new.items()}
    rebuilt = apply_bundle_delta(delta_bytes, old, from_version=1, expected=expected)
    touched = {url for url in new if new[url] != old[url]}
    assert set(rebuilt) == touched, "the delta must rebuild every changed list"
    key = {
        "id": "", "publicKeyMultibase": "z6Mk" + b58encode(rng.randbytes(34))[:44],
        "validFrom": "2026-01-01T00:00:00Z", "state": "active",
    }  # fmt: skip
    signed = {
        "type": "CredencialTrustBundle", "specVersion": 1, "version": 2,
        "issued": "2026-06-06T18:00:00Z", "expires": "2026-07-06T18:00:00Z",
        "anchor": {"threshold": 2, "keys": [
            {"id": f"anchor-{n}", "publicKeyMultibase": key["publicKeyMultibase"]}
            for n in (1, 2, 3)
        ]},
        "institutions": [
            {"code": code, "name": INSTITUTIONS[code].name, "did": INSTITUTIONS[code].did,
             "keys": [{**key, "id": INSTITUTIONS[code].verification_method("key-1")}],
             "statusLists": entries[code]}
            for code in codes
        ],
        "statusDelta": {"path": "status/delta-from-v1.json",
                        "sha256": hashlib.sha256(delta_bytes).hexdigest(), "fromVersion": 1},
    }  # fmt: skip
    signatures = [
        {"keyid": f"anchor-{n}", "sig": "z" + b58encode(rng.randbytes(64))} for n in (1, 2)
    ]
    bundle = (
        json.dumps({"signed": signed, "signatures": signatures}, ensure_ascii=False, indent=2)
        + "\n"
    ).encode()
    return {
        "lists": len(new),
        "touched": len(touched),
        "bundle": len(gzip.compress(bundle, WIRE_GZIP_LEVEL, mtime=0)),
        "bundle_raw": len(bundle),
        "delta": len(gzip.compress(delta_bytes, WIRE_GZIP_LEVEL, mtime=0)),
        "delta_raw": len(delta_bytes),
    }


def _fmt_mb(size: float) -> str:
    return f"{size / MB:.2f} MB"


def main() -> None:
    """Build the snapshot, measure, and print the table with the goals."""
    started = time.perf_counter()
    rng = random.Random(20_260_130)
    print(
        f"\nNational status snapshot: {ENTRIES:,} entries, {REVOKED:.1%} revoked, "
        f"{SUSPENDED:.1%} suspended (random indices, seed fixed); lists of {LIST_SIZE:,}"
    )
    purposes: dict[str, list[int]] = {
        "revocation": sorted(rng.sample(range(ENTRIES), int(ENTRIES * REVOKED))),
        "suspension": sorted(rng.sample(range(ENTRIES), int(ENTRIES * SUSPENDED))),
    }
    bits = {purpose: _bitstring(ENTRIES, indices) for purpose, indices in purposes.items()}
    lists = {purpose: _split(data) for purpose, data in bits.items()}
    count = len(lists["revocation"])
    print(f"generated in {time.perf_counter() - started:.1f} s; {count} lists per purpose\n")

    # -- size on disk --------------------------------------------------------------------------
    standard: dict[str, list[str]] = {}
    sizes: dict[tuple[str, str], int] = {}
    for purpose, chunks in lists.items():
        standard[purpose] = [encode_status_bits(chunk) for chunk in chunks]  # gzip 9 + base64url
        sizes[purpose, "split9"] = sum(len(text) for text in standard[purpose])
        sizes[purpose, "split6"] = sum(len(_multibase_gzip(chunk, 6)) for chunk in chunks)
        sizes[purpose, "big6"] = len(_multibase_gzip(bits[purpose], 6))
        sample = bits[purpose][: len(bits[purpose]) * SAMPLE_EIGHTHS // 8]
        sizes[purpose, "big9"] = len(_multibase_gzip(sample, 9)) * 8 // SAMPLE_EIGHTHS
        sizes[purpose, "xz"] = (
            len(lzma.compress(sample, preset=9 | lzma.PRESET_EXTREME)) * 8 // SAMPLE_EIGHTHS
        )
        sizes[purpose, "rice"] = _rice_bytes(purposes[purpose], ENTRIES)
        sizes[purpose, "entropy"] = _entropy_bytes(len(purposes[purpose]) / ENTRIES, ENTRIES)
    envelope = _list_envelope_bytes()

    def both(kind: str) -> int:
        return sizes["revocation", kind] + sizes["suspension", kind]

    rows = [
        ("gzip 9 + base64url, 992 lists (STANDARD: encode_status_bits)", "split9", ""),
        ("gzip 6 + base64url, 992 lists", "split6", ""),
        ("gzip 9 + base64url, one big list", "big9", " (from 1/8, ×8)"),
        ("gzip 6 + base64url, one big list", "big6", ""),
        ("info: xz -9e, binary, one big list", "xz", " (from 1/8, ×8)"),
        ("info: Golomb-Rice coded gaps, binary", "rice", " (exact)"),
        ("info: Shannon bound, binary", "entropy", ""),
    ]
    header = f"{'revocation':>11} {'suspension':>11} {'both':>9}"
    print(f"{'encoding (bytes of encodedList)':<64} {header}")
    for label, kind, note in rows:
        print(
            f"{label:<64} {_fmt_mb(sizes['revocation', kind]):>11} "
            f"{_fmt_mb(sizes['suspension', kind]):>11} {_fmt_mb(both(kind)):>9}{note}"
        )
    files = 2 * count * envelope
    print(
        f"{'+ signed credential around each list (JSON + proof), ' + str(2 * count) + ' files':<64}"
        f" {'':>11} {'':>11} {_fmt_mb(files):>9} ({envelope} B each)"
    )

    # -- load ----------------------------------------------------------------------------------
    rss_before = _rss_mb()
    start = time.perf_counter()
    loaded = {p: [decode_status_bits(text) for text in standard[p]] for p in standard}
    load_seconds = time.perf_counter() - start
    rss_after = _rss_mb()
    held = sum(sys.getsizeof(data) for chunks in loaded.values() for data in chunks)
    held += sum(sys.getsizeof(chunks) for chunks in loaded.values())
    assert loaded["revocation"][0] == lists["revocation"][0]
    big = _multibase_gzip(bits["revocation"], 6)
    start = time.perf_counter()
    decode_status_bits(big)
    big_load = time.perf_counter() - start
    del big

    # -- lookup --------------------------------------------------------------------------------
    probes = [rng.randrange(ENTRIES) for _ in range(10_000)]
    revocation, suspension = loaded["revocation"], loaded["suspension"]
    position = iter(probes * 1000)

    def lookup() -> int:
        index = next(position)
        number, offset = divmod(index, LIST_SIZE)
        return status_bit(revocation[number], offset) | status_bit(suspension[number], offset)

    lookup_us = _median_per_call(lookup, 10_000, 30) * 1e6
    truth = set(purposes["revocation"])
    assert all(
        status_bit(revocation[i // LIST_SIZE], i % LIST_SIZE) == (i in truth) for i in probes
    )

    # -- one day's change as a delta ---------------------------------------------------------------
    changed = rng.sample(range(ENTRIES), int(ENTRIES * DAILY_CHANGE))
    half = len(changed) // 2
    delta_parts = {"revocation": sorted(changed[:half]), "suspension": sorted(changed[half:])}
    # The same encoding delta sync ships (verifier/_status_delta.py), one string per purpose.
    delta_b64 = sum(len(encode_flipped(indices)) for indices in delta_parts.values())
    touched = {p: len({i // LIST_SIZE for i in idx}) for p, idx in delta_parts.items()}
    touched_bytes = sum(
        len(standard[p][number]) for p, numbers in delta_parts.items()
        for number in {i // LIST_SIZE for i in numbers}
    )  # fmt: skip

    # -- table -----------------------------------------------------------------------------------
    standard_size = both("split9")

    def verdict(met: bool) -> str:
        return "MET" if met else "NOT MET"

    print(f"\n{'figure':<58} {'measured':>14} {'goal':>12}  result")
    print(
        f"{'snapshot size, standard, revocation + suspension':<58} "
        f"{_fmt_mb(standard_size):>14} {'≤ 2 MB':>12}  {verdict(standard_size <= GOAL_BYTES)}"
    )
    revocation_size = sizes["revocation", "split9"]
    print(
        f"{'snapshot size, standard, revocation list only (1%)':<58} "
        f"{_fmt_mb(revocation_size):>14} {'≤ 2 MB':>12}  {verdict(revocation_size <= GOAL_BYTES)}"
    )
    print(
        f"{'load: decode_status_bits of all ' + str(2 * count) + ' lists':<58} "
        f"{load_seconds:>12.3f} s {'< 1 s':>12}  {verdict(load_seconds < GOAL_LOAD_SECONDS)}"
    )
    print(f"{'  (one big 130M-entry list, for comparison)':<58} {big_load:>12.3f} s")
    print(
        f"{'memory: the loaded lists (sys.getsizeof, 1 bit per entry)':<58} "
        f"{held / MB:>10.1f} MB {'':>12}  (process RSS {rss_after:.0f} MB, "
        f"+{rss_after - rss_before:.0f} MB by loading; RSS includes the generator's data)"
    )
    print(
        f"{'lookup: list + status_bit, both purposes (median)':<58} "
        f"{lookup_us:>11.2f} µs {'µs':>12}  {verdict(lookup_us < GOAL_LOOKUP_MICROSECONDS)}"
    )
    print(
        f"{'one day (0.01% = ' + f'{len(changed):,}' + ' changes): delta, varint gaps + gzip':<58} "
        f"{delta_b64 / 1000:>11.1f} kB {'':>12}  {standard_size / delta_b64:,.0f}× smaller than "
        "the snapshot"
    )
    print(
        f"{'  whole lists it touches (revocation + suspension)':<58} "
        f"{_fmt_mb(touched_bytes):>14} {'':>12}  {touched['revocation']}+{touched['suspension']} "
        f"of {2 * count} lists"
    )
    print(
        "\nOne day's sync as a desk downloads it (issue 20): the new bundle + its one delta "
        "(changed indices of every list,\nshared envelope fields once, each re-signed list's "
        "signature), gzip on the wire; every rebuilt list hash-checked"
    )
    day_goal = f"≤ {GOAL_DAY_SYNC_BYTES // 1000} kB"
    for size in (LIST_SIZE, NATIONAL_LIST_SIZE):
        day = _day_sync(bits, delta_parts, size, rng)
        total = day["bundle"] + day["delta"]
        which = "the issuer's default" if size == NATIONAL_LIST_SIZE else "the spec's minimum"
        label = f"  lists of {size:,} ({which}): {day['lists']} lists, {day['touched']} changed"
        result = verdict(total <= GOAL_DAY_SYNC_BYTES) if size == NATIONAL_LIST_SIZE else "info"
        print(
            f"{label:<72} {total / 1000:>9.1f} kB {day_goal:>12}  "
            f"{result}: bundle {day['bundle'] / 1000:.1f} kB "
            f"({day['bundle_raw'] / 1000:.0f} kB unzipped) + delta {day['delta'] / 1000:.1f} kB "
            f"({day['delta_raw'] / 1000:.0f} kB)"
        )
        if size == NATIONAL_LIST_SIZE:
            day_sync_total = total
    print(
        "\nSize: gzip + base64url cannot reach 2 MB for both purposes: the Shannon bound alone is "
        f"{_fmt_mb(both('entropy'))} binary for the two lists together; the revocation list "
        f"alone would fit 2 MB only with a near-entropy code (Golomb-Rice: "
        f"{_fmt_mb(sizes['revocation', 'rice'])}) — reported, not adopted: the standard stays. "
        "A day's changes touch nearly every list, and each touched list is re-signed: "
        f"with lists of {LIST_SIZE:,} the signatures and hashes of {2 * count} lists alone pass "
        f"the sync goal; so the issuer's default status_list_size is {NATIONAL_LIST_SIZE:,} "
        f"(larger herds, too): one day's sync is then {day_sync_total / 1000:.0f} kB."
    )
    print(
        f"(load times decode only, from encodedList strings in memory; lookups include the loop; "
        f"total bench time {time.perf_counter() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
