"""Fuzz bookkeeping: every fuzzed call goes through :func:`fuzz_call`, which counts it per parser.

An input passes when the parser returns or raises one of its typed errors (the
:class:`~verifier.CredencialError` tree, or the parser's own documented error such as
``StatusDeltaError``). Anything else is a *crash*; a call that runs past the per-input time bound
is a *hang* (a ``SIGALRM`` interrupts it); a mutated signed input that is accepted (VALID, or a
loaded bundle) is *VALID-on-mutated*; growth of the process's peak RSS during the calls of one
parser is summed and bounded. Each of these fails the test at once; the counts are printed as a
table at the end of the run (``tests/conftest.py``'s terminal summary), so ``make fuzz`` reports
real figures from the run it just did.

The tamper sweeps count their verdicts with :func:`tamper_record`.
"""

from __future__ import annotations

import copy
import json
import os
import resource
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, TypeVar

from hypothesis import strategies as st

from tests.conftest import FUZZ_EXAMPLES
from verifier import CredencialError, Verdict

__all__ = [
    "FUZZ_EXAMPLES",
    "MAX_RSS_GROWTH_KIB",
    "TALLIES",
    "TAMPER",
    "TIME_LIMIT",
    "FuzzHang",
    "Tally",
    "examples",
    "fuzz_call",
    "hostile_json",
    "is_valid_verdict",
    "json_paths",
    "mutated_json_text",
    "mutated_text",
    "parses_to",
    "summary_lines",
    "swapped_node",
    "tamper_record",
    "time_bound",
]

T = TypeVar("T")

#: Seconds one input may take before it counts as a hang (generous: the machine is shared).
TIME_LIMIT = float(os.environ.get("CREDENCIAL_FUZZ_TIME_LIMIT", "10"))
#: Largest growth of the peak RSS the inputs of one parser may cause, in KiB (a status list may
#: legitimately inflate to its 64 MiB cap; an unbounded allocation or a leak goes far past this).
MAX_RSS_GROWTH_KIB = 384 * 1024


def examples(share: float, minimum: int = 10) -> int:
    """Hypothesis ``max_examples`` for a test that is ``share`` of its parser's budget."""
    return max(minimum, round(FUZZ_EXAMPLES * share))


class FuzzHang(BaseException):
    """Raised by the alarm in a call past :data:`TIME_LIMIT` (a BaseException: nothing swallows
    it on the way out)."""


@dataclass
class Tally:
    """What the inputs of one parser did."""

    inputs: int = 0
    crashes: int = 0
    hangs: int = 0
    mutated: int = 0
    valid_on_mutated: int = 0
    slowest: float = 0.0
    rss_growth_kib: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


#: Parser name → its tally, in the order the parsers were first fuzzed.
TALLIES: dict[str, Tally] = {}
#: Tamper sweep name → counts of ``inputs`` and of each verdict.
TAMPER: dict[str, Counter[str]] = {}


def _peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise FuzzHang(f"an input ran longer than {TIME_LIMIT} s")


@contextmanager
def time_bound() -> Iterator[None]:
    """Raise :class:`FuzzHang` in the block once it has run for :data:`TIME_LIMIT` seconds."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def is_valid_verdict(result: Any) -> bool:
    """A verification result (credential or presentation) whose verdict is VALID."""
    return getattr(result, "verdict", None) is Verdict.VALID


def _outcome(result: Any) -> str:
    verdict = getattr(result, "verdict", None)
    return verdict.value if isinstance(verdict, Verdict) else "accepted"


def fuzz_call(
    parser: str,
    call: Callable[[], T],
    *,
    mutated: bool = False,
    typed: tuple[type[BaseException], ...] = (CredencialError,),
    accepted: Callable[[Any], bool] = is_valid_verdict,
) -> T | BaseException:
    """Run one fuzz input through ``call`` and count it under ``parser``.

    Returns the result, or the typed error it raised. Raises ``AssertionError`` for a hang, for
    ``accepted(result)`` on a ``mutated`` signed input, or for too much memory; re-raises any
    untyped exception (a crash) so that Hypothesis reports and shrinks the input.
    """
    tally = TALLIES.setdefault(parser, Tally())
    tally.inputs += 1
    tally.mutated += mutated
    rss_before = _peak_rss_kib()
    started = time.perf_counter()
    try:
        with time_bound():
            result: T | BaseException = call()
    except typed as exc:
        result = exc
        tally.outcomes[type(exc).__name__] += 1
    except FuzzHang:
        tally.hangs += 1
        raise AssertionError(f"{parser}: an input took longer than {TIME_LIMIT} s") from None
    except BaseException:
        tally.crashes += 1
        raise
    else:
        tally.outcomes[_outcome(result)] += 1
    finally:
        tally.slowest = max(tally.slowest, time.perf_counter() - started)
        tally.rss_growth_kib += _peak_rss_kib() - rss_before
    assert tally.rss_growth_kib <= MAX_RSS_GROWTH_KIB, (
        f"{parser}: inputs grew the peak RSS by {tally.rss_growth_kib} KiB"
    )
    if mutated and not isinstance(result, BaseException) and accepted(result):
        tally.valid_on_mutated += 1
        raise AssertionError(f"{parser}: a mutated signed input was accepted: {result!r:.500}")
    return result


def tamper_record(sweep: str, verdict: Verdict) -> None:
    """Count one verified tampered input of ``sweep``."""
    counts = TAMPER.setdefault(sweep, Counter())
    counts["inputs"] += 1
    counts[verdict.value] += 1


def summary_lines() -> list[str]:
    """The fuzz and tamper tables (empty when nothing was fuzzed in this run)."""
    lines: list[str] = []
    if TALLIES:
        header = (
            f"{'parser':<28}{'inputs':>9}{'crashes':>9}{'hangs':>7}{'mutated':>9}"
            f"{'VALID-on-mutated':>18}{'slowest ms':>12}{'RSS growth MiB':>16}"
        )
        lines += [header, "-" * len(header)]
        for name, t in TALLIES.items():
            lines.append(
                f"{name:<28}{t.inputs:>9,}{t.crashes:>9}{t.hangs:>7}{t.mutated:>9,}"
                f"{t.valid_on_mutated:>18}{t.slowest * 1000:>12.1f}"
                f"{t.rss_growth_kib / 1024:>16.1f}"
            )
    if TAMPER:
        if lines:
            lines.append("")
        header = f"{'tamper sweep':<34}{'inputs':>9}{'INVALID':>9}{'INDETERMINATE':>15}{'VALID':>7}"
        lines += [header, "-" * len(header)]
        for name, counts in TAMPER.items():
            lines.append(
                f"{name:<34}{counts['inputs']:>9,}{counts['INVALID']:>9,}"
                f"{counts['INDETERMINATE']:>15,}{counts['VALID']:>7}"
            )
    return lines


# -- strategies shared by the fuzz tests ----------------------------------------------------------

#: Arbitrary JSON values (small: Hypothesis generates ~200 of these a second on a busy machine).
hostile_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=25,
)


def json_paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every node of a JSON value (the root's is ``()``), depth first."""
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += json_paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += json_paths(value, (*path, index))
    return found


def _same_meaning(value: Any) -> st.SearchStrategy[Any]:
    """Rewrites of ``value`` that JSON-LD expands to the same RDF (so the proof still matches):
    a value wrapped in a one-element list, a string as ``{"@value": ...}`` or ``{"id": ...}``.

    (Reordering an unordered array, such as the two ``credentialStatus`` entries, is not here: it
    is the same RDF *and* the same entries, each still checked, so it rightly verifies.)"""
    forms: list[st.SearchStrategy[Any]] = [st.just([value])]
    if isinstance(value, str):
        forms += [st.just({"@value": value}), st.just({"id": value}), st.just({"@id": value})]
    return st.one_of(forms)


_PATHS: dict[int, tuple[Any, list[tuple[Any, ...]]]] = {}


def _paths_of(root: Any) -> list[tuple[Any, ...]]:
    """``json_paths(root)[1:]``, computed once per reference document (they are reused)."""
    held = _PATHS.get(id(root))
    if held is None or held[0] is not root:
        held = _PATHS[id(root)] = (root, json_paths(root)[1:])
    return held[1]


def _replaced(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A copy of ``node`` with the node at ``path`` replaced (only the containers on the path
    are copied; the reference document is untouched)."""
    if not path:
        return value
    copied = copy.copy(node)
    copied[path[0]] = _replaced(node[path[0]], path[1:], value)
    return copied


@st.composite
def swapped_node(
    draw: st.DrawFn,
    document: dict[str, Any],
    under: tuple[Any, ...] = (),
    *,
    hostile: bool = True,
    same_meaning: bool = True,
) -> dict[str, Any]:
    """``document`` with one node below ``under`` replaced: by ``hostile`` JSON, or by a
    ``same_meaning`` rewrite of the node (the result differs from ``document``; it shares the
    untouched subtrees with it, so do not mutate either)."""
    root: Any = document
    for step in under:
        root = root[step]
    path = draw(st.sampled_from(_paths_of(root)), label="path")
    original: Any = root
    for step in path:
        original = original[step]
    # A proof set of one proof is the same proof (Data Integrity allows a list): hostile only.
    same_meaning = same_meaning and path[-1] != "proof"
    rewrites = st.one_of(
        [hostile_json] * (hostile or not same_meaning) + [_same_meaning(original)] * same_meaning
    )
    replacement = draw(rewrites.filter(lambda new: new != original), label="replacement")
    result: dict[str, Any] = _replaced(document, (*under, *path), replacement)
    return result


_EDITS = ("replace", "insert", "delete", "truncate", "repeat")


@st.composite
def mutated_text(draw: st.DrawFn, reference: str, alphabet: str) -> str:
    """``reference`` after 1 to 4 random edits (replace, insert, delete, truncate, repeat a
    span) with characters of ``alphabet``; may equal ``reference``."""
    text = reference
    for _ in range(draw(st.integers(1, 4), label="edits")):
        kind = draw(st.sampled_from(_EDITS), label="edit")
        at = draw(st.integers(0, max(len(text) - 1, 0)), label="at")
        char = draw(st.sampled_from(alphabet), label="char")
        if kind == "replace":
            text = text[:at] + char + text[at + 1 :]
        elif kind == "insert":
            text = text[:at] + char + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + 1 :]
        elif kind == "truncate":
            text = text[:at]
        else:
            span = draw(st.integers(1, 16), label="span")
            text = text[:at] + text[at : at + span] + text[at:]
    return text


#: Bytes a JSON mutation inserts: JSON's structural characters, quotes, escapes, digits,
#: letters, whitespace, and bytes that are not UTF-8 on their own.
_JSON_NOISE = '{}[]:,"\\/ \t\n0123456789eE+-.abcdefnrtuxzZ@#_\x00\x7f\u00e9\ud800'


def mutated_json_text(reference: str) -> st.SearchStrategy[str]:
    """``reference`` (JSON text) after 1 to 4 character edits that favour JSON's syntax."""
    return mutated_text(reference, _JSON_NOISE)


def parses_to(text: str | bytes, document: Any) -> bool:
    """Whether ``text`` is JSON for ``document`` (an "edit" that changed nothing that counts)."""
    try:
        return bool(json.loads(text) == document)
    except (ValueError, RecursionError):
        return False
