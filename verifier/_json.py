"""The one JSON reader for everything that comes from outside: I-JSON (RFC 7493) or refused.

Python's ``json.loads`` keeps the *last* of two equal member names, reads ``NaN`` and
``Infinity``, keeps lone surrogates (``"\\ud800"``) and turns ``1e400`` into infinity. Each is a
parser differential: a signature covers one reading while a reader that keeps the first value,
or a stricter parser, sees another (``{"givenName": "Mallory", "givenName": "Ana"}``).
:func:`parse_json` refuses all of them with :class:`IJsonError`:

- a member name repeated in one object (RFC 7493 §2.3, RFC 8259 §4);
- a lone surrogate in a string or a member name, escaped or not (RFC 7493 §2.1);
- ``NaN``, ``Infinity``, ``-Infinity`` (not JSON at all);
- a number beyond IEEE 754 double range or precision (RFC 7493 §2.2): an integer outside
  ±(2**53 − 1), or a number that does not survive a round trip through a double exactly as
  written (``1e400``, ``1e-400``, ``3.141592653589793238462643``);
- invalid UTF-8 in bytes, a byte-order mark, and JSON syntax errors;
- nesting deeper than :data:`MAX_DEPTH`.

``IJsonError`` is an :class:`~verifier.InputError` (code ``MALFORMED_INPUT``) and a
``ValueError``, so callers that refused ``json.JSONDecodeError`` refuse it too.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from ._errors import InputError

__all__ = ["MAX_DEPTH", "IJsonError", "parse_json"]

#: Deepest nesting of arrays and objects accepted (a credential needs 5; the C scanner's own
#: limit is far higher and ends in ``RecursionError``).
MAX_DEPTH = 64
#: Largest integer magnitude I-JSON allows (RFC 7493 §2.2: exactly representable in a double).
MAX_SAFE_INTEGER = 2**53 - 1

IJsonKind = Literal["syntax", "encoding", "duplicate-key", "surrogate", "number", "depth"]

_SURROGATE = re.compile("[\ud800-\udfff]")
#: An escaped surrogate (``\\uD800``...): only then can the parsed strings hold a lone one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class IJsonError(InputError, ValueError):
    """JSON that is not I-JSON (RFC 7493), or not JSON at all; ``kind`` says which rule broke."""

    def __init__(self, message: str, kind: IJsonKind, *, column: int | None = None) -> None:
        super().__init__(message)
        self.kind: IJsonKind = kind
        #: For a syntax error: the 1-based column (of its line) where it was found.
        self.column = column


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise IJsonError(
                    f"the member name {key!r:.80} appears twice in one object", "duplicate-key"
                )
            seen.add(key)
    return document


def _constant(name: str) -> Any:
    raise IJsonError(f"{name} is not a JSON number", "number")


def _integer(text: str) -> int:
    if len(text) > 17 or abs(value := int(text)) > MAX_SAFE_INTEGER:
        raise IJsonError(
            f"the integer {text:.40} is beyond ±(2**53 - 1): a double cannot hold it exactly",
            "number",
        )
    return value


def _float(text: str) -> float:
    value = float(text)
    try:
        exact = math.isfinite(value) and Decimal(text) == Decimal(repr(value))
    except InvalidOperation:  # pragma: no cover - the scanner passes JSON numbers only
        exact = False
    if not exact:
        raise IJsonError(
            f"the number {text:.40} is beyond the range or precision of a double", "number"
        )
    return value


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object, parse_constant=_constant, parse_int=_integer, parse_float=_float
)


def _depth_exceeds(text: str, limit: int) -> bool:
    """Whether brackets nest deeper than ``limit`` (an upper bound: brackets inside strings
    count too, so only text with that many openers at all is scanned exactly)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _has_lone_surrogate(node: Any) -> bool:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def parse_json(data: str | bytes | bytearray, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``data`` (UTF-8 bytes or text) as I-JSON; raise :class:`IJsonError` otherwise."""
    if isinstance(data, (bytes, bytearray)):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise IJsonError(f"not valid Unicode text (UTF-8): {exc}", "encoding") from None
    else:
        text = data
        if not text.isascii() and _SURROGATE.search(text):
            raise IJsonError("the text holds a lone surrogate (not valid Unicode)", "surrogate")
    if text.startswith("\ufeff"):
        raise IJsonError("JSON text must not start with a byte-order mark", "encoding")
    if _depth_exceeds(text, max_depth):
        raise IJsonError(f"JSON nested deeper than {max_depth} levels", "depth")
    try:
        document = _DECODER.decode(text)
    except IJsonError:
        raise
    except json.JSONDecodeError as exc:
        where = (
            f"line {exc.lineno}, column {exc.colno}" if exc.lineno > 1 else f"column {exc.colno}"
        )
        raise IJsonError(f"not JSON: {exc.msg} ({where})", "syntax", column=exc.colno) from None
    except RecursionError:
        raise IJsonError("JSON nested too deeply", "depth") from None
    except ValueError as exc:  # int() past Python's digit limit, and the like
        raise IJsonError(f"not JSON: {exc}", "number") from None
    if "\\u" in text and _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(document):
        raise IJsonError("a string holds a lone surrogate escape (not valid Unicode)", "surrogate")
    return document
