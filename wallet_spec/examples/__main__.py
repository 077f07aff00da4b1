"""``python -m wallet_spec.examples [--check]``: regenerate (or check) the spec's examples."""

from __future__ import annotations

import argparse
import sys

from . import EXAMPLES_DIR, check_examples, write_examples


def main() -> int:
    """Write the examples (exit 0), or with ``--check`` list the stale ones (exit 1 if any)."""
    parser = argparse.ArgumentParser(prog="python -m wallet_spec.examples")
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on a difference")
    args = parser.parse_args()
    if args.check:
        stale = check_examples()
        for name in stale:
            print(f"stale: {EXAMPLES_DIR / name}", file=sys.stderr)
        return 1 if stale else 0
    for name in write_examples():
        print(f"wrote {EXAMPLES_DIR / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
