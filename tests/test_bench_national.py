"""The national-scale benchmark's helpers (``bench/national.py``; ``make bench`` runs it)."""

from __future__ import annotations

import math
import random

from bench.national import (
    LIST_SIZE,
    _bitstring,
    _entropy_bytes,
    _rice_bytes,
    _split,
)
from verifier import decode_status_bits, encode_status_bits, status_bit


def test_split_pads_the_last_list_and_keeps_every_bit() -> None:
    size = LIST_SIZE * 2 + 800
    indices = [*sorted(random.Random(1).sample(range(size), 500)), size - 1]
    lists = _split(_bitstring(size, indices))
    assert [len(chunk) * 8 for chunk in lists] == [LIST_SIZE] * 3
    for index in indices:
        bits = decode_status_bits(encode_status_bits(lists[index // LIST_SIZE]))
        assert status_bit(bits, index % LIST_SIZE) == 1
    assert sum(bin(byte).count("1") for chunk in lists for byte in chunk) == len(set(indices))


def test_rice_code_is_near_the_entropy_bound() -> None:
    size = 10_000_000
    indices = sorted(random.Random(3).sample(range(size), size // 100))
    bound = _entropy_bytes(0.01, size)
    assert bound <= _rice_bytes(indices, size) <= math.ceil(bound * 1.05)


def test_a_days_sync_is_measured_on_a_delta_that_rebuilds_every_changed_list() -> None:
    """``_day_sync`` on four lists per purpose: only the changed lists are in the delta (which it
    applies and checks), and the sizes it reports are the gzipped bundle and delta."""
    from bench.national import _day_sync

    rng = random.Random(7)
    size = LIST_SIZE * 4
    bits = {
        p: _bitstring(size, sorted(rng.sample(range(size), 300)))
        for p in ("revocation", "suspension")
    }
    changed = {"revocation": [5, LIST_SIZE + 9], "suspension": []}  # lists 1 and 2 of 8
    day = _day_sync(bits, changed, LIST_SIZE, rng)
    assert (day["lists"], day["touched"]) == (8, 2)
    assert 0 < day["bundle"] < day["bundle_raw"]
    assert 0 < day["delta"] <= day["delta_raw"]
    bigger = _day_sync(
        bits, {"revocation": list(range(0, size, 997)), "suspension": []}, LIST_SIZE, rng
    )
    assert bigger["touched"] == 4
    assert bigger["delta"] > day["delta"]
