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
