"""``credencial-issuer trust-bundle build|sign`` and ``anchor keygen``: the trust bundle's commands.

``trust-bundle build`` writes ``BUNDLE.json`` and, next to it, the current signed status lists
under ``status/`` (:mod:`issuer.trust.bundle`); ``trust-bundle sign`` adds one anchor signature;
``anchor keygen`` makes anchor keys. Exit status: 0 done, 1 failed (database, no signing key),
64 usage or input error.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from issuer.keys.files import Ed25519KeyPair
from issuer.trust.bundle import (
    STATUS_DIR,
    TrustBundleError,
    anchor_keygen,
    build_bundle,
    load_anchors,
    sign_bundle,
)
from verifier import CredencialError

__all__ = ["TRUST_COMMANDS", "add_trust_commands", "run_trust"]

#: The subcommands this module adds to ``credencial-issuer``.
TRUST_COMMANDS = frozenset({"trust-bundle", "anchor"})
_EXIT_USAGE = 64


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {value!r}")
    return int(value)


def add_trust_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``trust-bundle build|sign`` and ``anchor keygen`` to ``credencial-issuer``."""
    bundle = commands.add_parser("trust-bundle", help="the signed trust bundle (ADR 0004)")
    bundle_commands = bundle.add_subparsers(dest="bundle_command", required=True)
    build = bundle_commands.add_parser(
        "build", help="write an unsigned bundle and its status lists (under status/)"
    )
    build.add_argument("--out", required=True, metavar="BUNDLE.json")
    build.add_argument(
        "--db", metavar="URL", help="database URL or SQLite path (default: CREDENCIAL_DATABASE_URL)"
    )
    build.add_argument("--anchors", required=True, metavar="ANCHORS.json", help="anchor key set")
    build.add_argument(
        "--version", type=_positive, metavar="N", help="default: the existing bundle's + 1, else 1"
    )
    build.add_argument(
        "--expires-in", type=_positive, default=30, metavar="DAYS", help="default: 30"
    )
    build.add_argument(
        "--from",
        dest="fragments",
        action="append",
        default=[],
        metavar="BUNDLE.json",
        help="merge the institutions of a bundle built on another issuer service (repeatable); "
        "with --from and no --db, no local database is read",
    )
    build.add_argument(
        "--previous",
        metavar="PREV_DIR",
        help="folder of the previous bundle: also write one delta from its status lists",
    )
    sign = bundle_commands.add_parser("sign", help="add (or replace) one anchor signature")
    sign.add_argument("bundle", metavar="BUNDLE.json")
    sign.add_argument("--key", required=True, metavar="ANCHOR_KEY.json")
    sign.add_argument("--key-id", required=True, metavar="ID", help="e.g. anchor-1")

    anchor = commands.add_parser("anchor", help="national trust-anchor keys")
    anchor_commands = anchor.add_subparsers(dest="anchor_command", required=True)
    keygen = anchor_commands.add_parser("keygen", help="anchor key files and ANCHORS.json")
    keygen.add_argument("--out", required=True, metavar="DIR")
    keygen.add_argument("--count", required=True, type=_positive, metavar="N")
    keygen.add_argument("--threshold", type=_positive, metavar="K", help="default: a majority")


def _previous_dir(value: str | None) -> Path | None:
    """``--previous``: a bundle folder (or a bundle file in it) that has a status/ folder."""
    if value is None:
        return None
    path = Path(value)
    folder = path.parent if path.is_file() else path
    if not (folder / STATUS_DIR).is_dir():
        raise TrustBundleError(f"--previous {value}: no {STATUS_DIR}/ folder there")
    return folder


def _build(args: argparse.Namespace) -> int:
    from issuer.cli.operator import build_service, database_url
    from issuer.settings import IssuerSettings

    anchors = load_anchors(Path(args.anchors))
    fragments = tuple(Path(path) for path in args.fragments)
    service = None
    if args.db is not None or not fragments:
        url = database_url(args.db, IssuerSettings())
        if url.startswith("sqlite") and not Path(url.split("///", 1)[-1]).is_file():
            raise TrustBundleError(f"no issuer database at {url.split('///', 1)[-1]}")
        service = build_service(args.db, bootstrap=False)
    try:
        bundle = build_bundle(
            service,
            Path(args.out),
            anchors,
            version=args.version,
            expires_in=timedelta(days=args.expires_in),
            previous_dir=_previous_dir(args.previous),
            fragments=fragments,
        )
    finally:
        if service is not None:
            service.db.dispose()
    signed = bundle["signed"]
    lists = sum(len(i["statusLists"]) for i in signed["institutions"])
    delta = signed.get("statusDelta")
    since = f"a delta from version {delta['fromVersion']}" if delta else "no delta"
    keys = sum(len(i["keys"]) for i in signed["institutions"])
    print(args.out)
    print(
        f"trust-bundle: version {signed['version']}, {len(signed['institutions'])} institutions, "
        f"{keys} keys, {lists} status lists ({since}); expires {signed['expires']}; "
        f"needs {signed['anchor']['threshold']} anchor signatures",
        file=sys.stderr,
    )
    return 0


def _sign(args: argparse.Namespace) -> int:
    bundle, in_set = sign_bundle(Path(args.bundle), Ed25519KeyPair.from_file(args.key), args.key_id)
    print(
        f"trust-bundle: signed by {args.key_id}; {len(bundle['signatures'])} signature(s), "
        f"threshold {bundle['signed']['anchor']['threshold']}",
        file=sys.stderr,
    )
    if not in_set:
        print(
            f"trust-bundle: {args.key_id} is not in this bundle's anchor set "
            "(counts only for verifiers that trust the previous set: a rotation)",
            file=sys.stderr,
        )
    return 0


def _keygen(args: argparse.Namespace) -> int:
    anchors = anchor_keygen(Path(args.out), args.count, args.threshold)
    print(Path(args.out) / "ANCHORS.json")
    print(
        f"anchor: {args.count} keys, threshold {anchors['threshold']}; the key files hold "
        "private keys: move each to its keeper, offline",
        file=sys.stderr,
    )
    return 0


def run_trust(args: argparse.Namespace) -> int:
    """Run ``trust-bundle`` or ``anchor``; returns the exit status."""
    try:
        if args.command == "anchor":
            return _keygen(args)
        if args.bundle_command == "sign":
            return _sign(args)
    except (CredencialError, OSError, ValueError) as exc:
        print(f"credencial-issuer: {exc}", file=sys.stderr)
        return _EXIT_USAGE
    from sqlalchemy.exc import SQLAlchemyError

    from issuer.cli.operator import OperatorError
    from issuer.errors import ServiceError

    try:
        return _build(args)
    except ServiceError as exc:
        print(f"credencial-issuer: {exc.detail}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"credencial-issuer: database error: {exc}", file=sys.stderr)
        return 1
    except (OperatorError, CredencialError, OSError, ValueError) as exc:
        print(f"credencial-issuer: {exc}", file=sys.stderr)
        return _EXIT_USAGE
