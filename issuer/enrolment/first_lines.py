"""The first line of each CURP in a file, in about 32 bytes per CURP (not ~150 in a dict).

:func:`issuer.enrolment.rows.read_records` refuses a second row for a person, so it remembers every
CURP of the file: for a national file of 130 million rows, a ``dict[str, int]`` would take about
20 GiB. This table packs each CURP exactly (18 characters of ``0-9A-Z`` read as a base-36 number
fit in 12 bytes) beside its line (4 bytes) in one ``bytearray``, kept at most half full (open
addressing, linear probing): no false duplicate is possible, and no Python object per CURP.
"""

from __future__ import annotations

__all__ = ["FirstLines"]

_KEY = 12  # bytes of a packed CURP: 36**18 < 2**96
_SLOT = _KEY + 4  # and its line
_EMPTY = bytes(_SLOT)
_MIX = 0x9E3779B97F4A7C15  # Fibonacci hashing: spreads the packed keys over the table


class FirstLines:
    """A map from CURP (18 characters, ``0-9`` and ``A-Z``) to the line where it first appeared."""

    def __init__(self, capacity: int = 1024) -> None:
        self._slots = 1 << max(capacity - 1, 1).bit_length()
        self._table = bytearray(self._slots * _SLOT)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @staticmethod
    def _key(curp: str) -> bytes:
        if len(curp) != 18 or not curp.isascii() or not curp.isalnum() or not curp.isupper():
            raise ValueError(f"not a CURP: {curp!r}")
        # +1: the all-zero key marks an empty slot.
        return (int(curp, 36) + 1).to_bytes(_KEY, "big")

    def _find(self, key: bytes) -> int:
        """The offset of ``key``'s slot, or of the empty slot where it belongs."""
        mask = self._slots - 1
        slot = ((int.from_bytes(key, "big") * _MIX) >> 32) & mask
        table = self._table
        while True:
            offset = slot * _SLOT
            stored = table[offset : offset + _KEY]
            if stored == key or stored == _EMPTY[:_KEY]:
                return offset
            slot = (slot + 1) & mask

    def get(self, curp: str) -> int | None:
        """The line ``curp`` first appeared on, or None."""
        offset = self._find(self._key(curp))
        if self._table[offset : offset + _KEY] == _EMPTY[:_KEY]:
            return None
        return int.from_bytes(self._table[offset + _KEY : offset + _SLOT], "big")

    def add(self, curp: str, line: int) -> None:
        """Remember that ``curp`` first appeared on ``line`` (a CURP held keeps its first line)."""
        key = self._key(curp)
        offset = self._find(key)
        if self._table[offset : offset + _KEY] == key:
            return
        self._table[offset : offset + _SLOT] = key + line.to_bytes(4, "big")
        self._count += 1
        if self._count * 2 > self._slots:
            self._grow()

    def _grow(self) -> None:
        old, old_slots = self._table, self._slots
        self._slots *= 2
        self._table = bytearray(self._slots * _SLOT)
        for slot in range(old_slots):
            entry = bytes(old[slot * _SLOT : (slot + 1) * _SLOT])
            if entry[:_KEY] != _EMPTY[:_KEY]:
                offset = self._find(entry[:_KEY])
                self._table[offset : offset + _SLOT] = entry
