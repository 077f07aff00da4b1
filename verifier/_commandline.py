"""What the verifier's command lines share: the usage exit status, its parser, argument types.

``credencial-verify`` (:mod:`verifier.cli`) and its subcommands in the wings
(``credencial-verify serve``, :mod:`verifier.desk`) parse their arguments with these, so a wing
never imports :mod:`verifier.cli`, the composition root that loads it. The issuer's and the
wallet's command lines use :class:`UsageParser` and :data:`EXIT_USAGE` too (through
:mod:`verifier.cli`, which re-exports them).
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import NoReturn

__all__ = ["EXIT_USAGE", "UsageParser", "positive_hours"]

EXIT_USAGE = 64  # sysexits EX_USAGE; argparse's own 2 would read as INDETERMINATE


class UsageParser(argparse.ArgumentParser):
    """An argument parser whose usage errors exit with :data:`EXIT_USAGE` (every command line
    of the project uses it: argparse's own 2 would read as INDETERMINATE)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def positive_hours(value: str) -> timedelta:
    """An argument type: a positive number of hours (under ten years), as a :class:`timedelta`
    (``--max-offline-age``, ``--warn-before``)."""
    try:
        hours = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of hours: {value!r}") from None
    if not 0 < hours < 24 * 3650:
        raise argparse.ArgumentTypeError("the maximum offline age is a positive number of hours")
    return timedelta(hours=hours)
