"""``credencial-verify serve``: the front-desk verification page, served on this machine.

A wing of the verifier (the offline core never imports it): the standard library's
``http.server`` serves one page, bundled in ``static/`` (no CDN, no external font), backed by a
:class:`~verifier.Verifier` over a trust folder written by ``credencial-verify sync``. Nothing
here opens an outgoing connection; the page works with the network cable unplugged.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from .._bundle import AnchorSet
from .._commandline import EXIT_USAGE, UsageParser, positive_hours
from .._errors import CredencialError
from .._time import parse_datetime
from ._http import CONTENT_SECURITY_POLICY, DeskServer, make_server
from ._service import COUNTS_FILE, DailyCounts, DeskConfig, DeskService, UnreadableScanError

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "COUNTS_FILE",
    "DailyCounts",
    "DeskConfig",
    "DeskServer",
    "DeskService",
    "UnreadableScanError",
    "make_server",
    "run_serve",
]

DEFAULT_PORT = 8765
WILDCARDS = frozenset({"", "0.0.0.0", "::", "[::]"})  # noqa: S104 (named to be refused)


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not 0 <= seconds <= 3600:
        raise argparse.ArgumentTypeError("between 0 (never) and 3600 seconds")
    return seconds


def _serve_parser() -> argparse.ArgumentParser:
    parser = UsageParser(
        prog="credencial-verify serve",
        description="Serve the front-desk verification page on this machine (default "
        f"http://127.0.0.1:{DEFAULT_PORT}/), backed by a folder synced by "
        "'credencial-verify sync'. Works offline; loads a newly synced bundle by itself.",
    )
    parser.add_argument("--trust-dir", required=True, metavar="DIR", help="the trust folder")
    parser.add_argument(
        "--anchors",
        metavar="ANCHORS.json",
        help="pinned trust-anchor keys: the bundle must be signed by them and the folder's state "
        "written under them, else every verdict is INDETERMINATE (default: those recorded at "
        "the last sync)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address the page is opened at (default 127.0.0.1; not a wildcard: requests "
        "must name it)",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT})")
    parser.add_argument(
        "--max-offline-age",
        type=positive_hours,
        metavar="HOURS",
        help="status lists older than this (since validFrom) are stale (default 168 = 7 days)",
    )
    parser.add_argument(
        "--warn-before",
        type=positive_hours,
        metavar="HOURS",
        help="warn on the status line this long before the trust data goes stale (default 6)",
    )
    parser.add_argument(
        "--clear-after",
        type=_seconds,
        default=20.0,
        metavar="SECONDS",
        help="clear a verdict from the screen after this long (default 20; 0: never)",
    )
    parser.add_argument(
        "--counts",
        metavar="FILE",
        help=f"the day's verdict counts (default: DIR/{COUNTS_FILE}; counts only, no personal "
        "data)",
    )
    parser.add_argument("--now", metavar="ISO8601", help="fixed reference time (demonstrations)")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    return parser


def run_serve(argv: Sequence[str]) -> int:
    """``credencial-verify serve``; serves until interrupted, returns the exit status."""
    try:
        args = _serve_parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.host in WILDCARDS:
        print(
            f"credencial-verify serve: --host {args.host!r} is a wildcard: give the address the "
            "page is opened at (requests naming any other host are refused)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        fixed: datetime | None = parse_datetime(args.now) if args.now else None
        anchors = AnchorSet.from_file(args.anchors) if args.anchors else None
    except (CredencialError, ValueError, OSError) as exc:
        print(f"credencial-verify serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    config = DeskConfig(
        trust_dir=Path(args.trust_dir),
        anchors=anchors,
        clear_after=args.clear_after,
        counts_file=Path(args.counts) if args.counts else None,
    )
    if args.max_offline_age is not None:
        config = replace(config, max_offline_age=args.max_offline_age)
    if args.warn_before is not None:
        config = replace(config, warn_before=args.warn_before)
    if fixed is not None:
        moment = fixed
        config = replace(config, clock=lambda: moment)
    service = DeskService(config)
    try:
        server = make_server(service, args.host, args.port, quiet=args.quiet)
    except OSError as exc:
        print(
            f"credencial-verify serve: cannot listen on {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    trust = service.status()["trust"]
    if trust["state"] == "missing":
        print(f"credencial-verify serve: no usable trust bundle yet: {trust['detail']}")
    print(f"credencial-verify serve: the front desk is at {server.url} (Ctrl-C stops it)")
    print(f"  day's counts: {config.counts_path}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
