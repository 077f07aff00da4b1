"""XML Schema ``dateTimeStamp`` parsing and formatting (the form VC 2.0 and Data Integrity use)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache

__all__ = ["format_datetime", "parse_datetime"]

_DATETIME_STAMP = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}:\d{2})(?P<frac>\.\d+)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})\Z"
)


def parse_datetime(value: object) -> datetime:
    """Parse an XML Schema ``dateTimeStamp`` (time zone required) to an aware UTC datetime.

    Raises ``ValueError`` for anything else, including a missing time zone.
    """
    if not isinstance(value, str):
        raise ValueError("a dateTimeStamp is a string")
    if len(value) <= _MAX_CACHED_LENGTH:
        return _parse_cached(value)
    return _parse(value)


def _parse(value: str) -> datetime:
    match = _DATETIME_STAMP.match(value)
    if match is None:
        raise ValueError(
            f"{value!r} is not an XML Schema dateTimeStamp (e.g. 2026-01-01T00:00:00Z)"
        )
    frac = match["frac"][:7] if match["frac"] else ""
    tz = "+00:00" if match["tz"] == "Z" else match["tz"]
    parsed = datetime.fromisoformat(f"{match['date']}T{match['time']}{frac}{tz}")
    return parsed.astimezone(UTC)


#: One verification reads the same few stamps several times (data model, schema, validity, key
#: window); ``datetime`` values are immutable, so the parse is cached (short text only).
_parse_cached = lru_cache(maxsize=1024)(_parse)
_MAX_CACHED_LENGTH = 40


def format_datetime(moment: datetime) -> str:
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds)."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no time zone")
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
