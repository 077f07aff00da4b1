"""``python -m bench.profile``: where a card verification spends its time (pyinstrument).

Verifies every card of a pool of distinct credentials under the sampling profiler and prints the
top of the call tree (the profiles in ``docs/perf.md`` come from here). Needs pyinstrument (the
``test`` extra).
"""

from __future__ import annotations

import argparse
import time

from bench._pool import build_pool

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Profile card verification and print the call tree down to ``--depth`` levels."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--cards", type=int, default=1_000)
    parser.add_argument("--json", action="store_true", help="profile the JSON form instead")
    args = parser.parse_args(argv)
    from pyinstrument import Profiler

    pool = build_pool(args.cards)
    inputs = pool.signed if args.json else pool.cards
    check = pool.verifier.check
    profiler = Profiler(interval=0.0001)
    began = time.perf_counter()
    with profiler:
        for item in inputs:
            check(item)
    elapsed = time.perf_counter() - began
    print(
        f"{len(inputs)} verifications, {elapsed / len(inputs) * 1e6:.0f} µs each under the profiler"
    )
    print(profiler.output_text(unicode=True, color=False, show_all=False))


if __name__ == "__main__":
    main()
