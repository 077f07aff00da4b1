"""Mexican identifiers: CURP (with its check digit), CLUES health-facility codes, institutions."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

__all__ = [
    "CURP_STATE_CODES",
    "INSTITUTION_CODES",
    "curp_check_digit",
    "is_valid_clues",
    "is_valid_curp",
]

#: Institution codes a health-coverage credential may name.
INSTITUTION_CODES: tuple[str, ...] = ("IMSS", "ISSSTE", "IMSS-BIENESTAR")

#: The 32 state codes RENAPO uses in a CURP, plus ``NE`` (born abroad).
CURP_STATE_CODES: tuple[str, ...] = (
    "AS", "BC", "BS", "CC", "CL", "CM", "CS", "CH", "DF", "DG", "GT", "GR", "HG", "JC", "MC",
    "MN", "MS", "NT", "NL", "OC", "PL", "QT", "QR", "SP", "SL", "SR", "TC", "TS", "TL", "VZ",
    "YN", "ZS", "NE",
)  # fmt: skip

# Check-digit alphabet: Ñ sits between N and O, so O..Z are worth one more than in plain base 36.
_CURP_ALPHABET = "0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ"
_CURP_VALUE = {char: value for value, char in enumerate(_CURP_ALPHABET)}
_CURP_WEIGHTS = tuple(range(18, 1, -1))

_CURP = re.compile(
    r"(?P<initials>[A-Z]{4})"
    r"(?P<yy>[0-9]{2})(?P<mm>[0-9]{2})(?P<dd>[0-9]{2})"
    r"(?P<sex>[HMX])"
    r"(?P<state>[A-Z]{2})"
    r"(?P<consonants>[B-DF-HJ-NP-TV-Z]{3})"
    r"(?P<homoclave>[0-9A-Z])"
    r"(?P<check>[0-9])"
)
_CLUES = re.compile(r"[A-Z]{5}[0-9]{6}")


def curp_check_digit(first17: str) -> str:
    """The check digit (``"0"``..``"9"``) of a CURP given its first 17 characters.

    Weights 18..2 over the alphabet ``0-9 A-N Ñ O-Z``; digit = (10 - sum mod 10) mod 10.
    Raises ``ValueError`` if the input is not 17 characters of that alphabet.
    """
    if len(first17) != 17:
        raise ValueError("a CURP check digit is computed over exactly 17 characters")
    try:
        total = sum(map(int.__mul__, map(_CURP_VALUE.__getitem__, first17), _CURP_WEIGHTS))
    except KeyError as exc:
        raise ValueError(f"{exc.args[0]!r} is not a CURP character") from None
    return str((10 - total % 10) % 10)


def is_valid_curp(value: str) -> bool:
    """Whether ``value`` is a well-formed CURP with a real birth date and a correct check digit.

    The homoclave (position 17) is a digit for people born before 2000 and a letter from 2000 on;
    since the century is otherwise unknown, both are accepted and the date must exist in either
    the 1900s or the 2000s (which differ only for 29 February of a year ``00``).
    """
    return isinstance(value, str) and len(value) == 18 and _is_valid_curp_text(value)


@lru_cache(maxsize=256)  # one verification checks the same CURP in the card codec and the model
def _is_valid_curp_text(value: str) -> bool:
    match = _CURP.fullmatch(value)
    if match is None or match["state"] not in CURP_STATE_CODES:
        return False
    yy, mm, dd = int(match["yy"]), int(match["mm"]), int(match["dd"])
    if not any(_is_date(century + yy, mm, dd) for century in (1900, 2000)):
        return False
    return curp_check_digit(value[:17]) == match["check"]


def is_valid_clues(value: str) -> bool:
    """Whether ``value`` has the shape of a CLUES facility code (``^[A-Z]{5}[0-9]{6}$``)."""
    return isinstance(value, str) and _CLUES.fullmatch(value) is not None


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True
