"""``credencial-verify``: verify a credential offline and print the verdict.

Exit status: 0 VALID, 1 INVALID, 2 INDETERMINATE, 64 usage or input error.

``credencial-verify sync URL|DIR --state DIR [--anchors ANCHORS.json]`` installs a trust bundle
and its status lists (exit 0 synced, 1 bundle refused, 64 usage or read error); verify against
it with ``credencial-verify --trust-dir DIR INPUT``. Only ``sync`` may use the network.
``credencial-verify serve --trust-dir DIR`` serves the front-desk page (:mod:`verifier.desk`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

from ._bundle import AnchorSet
from ._card import is_card_text
from ._commandline import EXIT_USAGE, UsageParser, positive_hours
from ._contexts import load_context_file
from ._errors import CredencialError, ReasonCode, TrustBundleError
from ._images import decode_qr_image, image_format
from ._messages import Language, verdict_label
from ._status import InMemoryStatusLists, StatusListSource
from ._time import format_datetime, parse_datetime
from ._trust import TrustStore
from ._trust_state import TrustDir
from ._verifier import Reason, Verdict, VerificationResult, Verifier, VerifierConfig

__all__ = ["EXIT_CODES", "EXIT_USAGE", "UsageParser", "main"]

EXIT_CODES = {Verdict.VALID: 0, Verdict.INVALID: 1, Verdict.INDETERMINATE: 2}
#: The subcommands (``credencial-verify NAME --help`` for each), listed by ``--help``.
SUBCOMMANDS = {
    "sync": "sync URL|DIR --state DIR [--anchors ANCHORS.json]: install a signed trust bundle "
    "and its status lists (the only subcommand that uses the network)",
    "serve": "serve --trust-dir DIR: the front-desk page on this machine "
    "(http://127.0.0.1:8765/), offline",
}
# EXIT_USAGE and UsageParser live in ._commandline (shared with the wings); they are re-exported
# here for the issuer's and the wallet's command lines.


class _UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = UsageParser(
        prog="credencial-verify",
        description="Verify a health-coverage credential offline. "
        "Exit status: 0 VALID, 1 INVALID, 2 INDETERMINATE, 64 usage or input error.",
        epilog="subcommands (credencial-verify NAME --help for their options):\n"
        + "\n".join(f"  credencial-verify {text}" for text in SUBCOMMANDS.values()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "input",
        metavar="INPUT",
        help="credential JSON file, card text (SUS1:...), a PNG/JPEG photo or scan of the card "
        "(needs the images extra), or - for stdin",
    )
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument("--trust", metavar="TRUST.json", help='trust file: {"keys": [...]}')
    trust.add_argument(
        "--trust-dir",
        metavar="DIR",
        help="a folder synced by 'credencial-verify sync' (signed trust bundle and status lists)",
    )
    parser.add_argument(
        "--anchors",
        metavar="ANCHORS.json",
        help="pinned trust-anchor keys for --trust-dir: the bundle must be signed by them and "
        "the folder's state must have been written under them, else the verdict is "
        "INDETERMINATE (without it: the anchors recorded at the last sync)",
    )
    parser.add_argument(
        "--context",
        metavar="URL=PATH",
        action="append",
        default=[],
        help="allow one extra JSON-LD context for this run (repeatable)",
    )
    parser.add_argument(
        "--status-list",
        metavar="FILE",
        action="append",
        default=[],
        help="a held BitstringStatusListCredential (repeatable)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the result as JSON: always a verdict object once the arguments are valid "
        "(INDETERMINATE when the input, a trust file or the trust folder cannot be used)",
    )
    parser.add_argument("--lang", choices=("es", "en"), default="es", help="language (default es)")
    parser.add_argument("--now", metavar="ISO8601", help="reference time (default: the clock)")
    parser.add_argument(
        "--max-offline-age",
        type=positive_hours,
        metavar="HOURS",
        help="status lists older than this (since validFrom) are stale (default 168 = 7 days)",
    )
    return parser


def _extra_contexts(pairs: Sequence[str]) -> dict[str, dict[str, Any]]:
    contexts: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        url, sep, path = pair.partition("=")
        if not sep or not url or not path:
            raise _UsageError(f"--context takes URL=PATH, got {pair!r}")
        contexts[url] = load_context_file(path)
    return contexts


def _read_input(source: str) -> bytes:
    """Raw bytes of the input (stdin for ``-``); the verifier decodes and judges them."""
    if source == "-":
        return sys.stdin.buffer.read()
    if is_card_text(source):  # scanned card text given as the argument itself
        return source.encode("utf-8")
    try:
        with open(source, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise _UsageError(f"cannot read {source}: {exc}") from exc


def _holder_lines(credential: Mapping[str, Any], lang: Language) -> list[str]:
    subject = credential.get("credentialSubject")
    if not isinstance(subject, Mapping) or "curp" not in subject:
        return []
    coverage = subject.get("coverage") or {}
    name = " ".join(
        str(subject[k]) for k in ("givenName", "familyName", "secondFamilyName") if k in subject
    )
    labels = (
        ("Titular", "Institución", "Programa", "Vigencia")
        if lang == "es"
        else ("Holder", "Institution", "Program", "Valid")
    )
    return [
        f"{labels[0]}: {name}",
        f"CURP: {subject.get('curp')}",
        f"{labels[1]}: {coverage.get('institution', '?')}",
        f"{labels[2]}: {coverage.get('program', '?')}",
        f"{labels[3]}: {credential.get('validFrom', '?')[:10]} – "
        f"{str(credential.get('validUntil', '?'))[:10]}",
    ]


def _print_human(result: VerificationResult, lang: Language) -> None:
    mark = {"VALID": "✔", "INVALID": "✘", "INDETERMINATE": "?"}[result.verdict.value]
    print(f"{mark} {verdict_label(result.verdict.value, lang)}")
    if result.credential is not None and result.verdict is not Verdict.INVALID:
        for line in _holder_lines(result.credential, lang):
            print(f"  {line}")
    details = "detalles" if lang == "es" else "details"
    for reason in result.reasons:  # the sentence first; the code and the detail under it
        print(f"  {reason.summary(lang)}")
        print(f"      {details}: [{reason.code.value}] {reason.detail}")


def _untrusted(result: VerificationResult, failure: TrustBundleError) -> VerificationResult:
    """The verdict when the trust folder failed its check: INDETERMINATE (a genuine credential
    cannot be told from a forged one), unless the input is not even readable."""
    if result.unreadable:
        return result
    reason = Reason(failure.code, f"the trust folder cannot be used: {failure.message}")
    return VerificationResult(Verdict.INDETERMINATE, (reason,), None, result.checked_at)


def _sync_parser() -> argparse.ArgumentParser:
    parser = UsageParser(
        prog="credencial-verify sync",
        description="Fetch (https URL) or copy (folder) a signed trust bundle and the status "
        "lists it names; install it only if it is signed by the trust anchors and not older "
        "than the installed one. Exit status: 0 synced, 1 bundle refused, 64 usage or read error.",
    )
    parser.add_argument("source", metavar="URL|DIR", help="bundle folder, bundle file or URL")
    parser.add_argument("--state", required=True, metavar="DIR", help="the trust folder")
    parser.add_argument(
        "--anchors",
        metavar="ANCHORS.json",
        help="pinned anchor keys: the bundle must be signed by them (needed for the first sync; "
        "without it, the anchors of the installed state)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per download")
    parser.add_argument("--now", metavar="ISO8601", help="reference time (default: the clock)")
    return parser


def run_sync(argv: Sequence[str]) -> int:
    """``credencial-verify sync``; returns the exit status."""
    from .sync import SyncInterruptedError, sync  # the only module allowed to use the network

    try:
        args = _sync_parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        now = parse_datetime(args.now) if args.now else None
        anchors = AnchorSet.from_file(args.anchors) if args.anchors else None
        result = sync(args.source, args.state, anchors=anchors, now=now, timeout=args.timeout)
    except TrustBundleError as exc:
        print(f"credencial-verify sync: refused [{exc.code.value}]: {exc}", file=sys.stderr)
        return 1
    except SyncInterruptedError as exc:
        print(
            f"credencial-verify sync: {exc}; nothing was installed: run the same command again "
            "to resume",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except (CredencialError, OSError, ValueError) as exc:
        print(f"credencial-verify sync: {exc}", file=sys.stderr)
        return EXIT_USAGE
    bundle = result.bundle
    print(
        f"credencial-verify sync: installed trust bundle version {bundle.version} "
        f"({len(bundle.institutions)} institutions, {len(bundle.keys())} keys, "
        f"{len(bundle.status_lists()) - len(result.missing)} status lists: "
        f"{result.by_delta} by delta, {result.by_full} full, {result.unchanged} unchanged; "
        f"{result.transferred} bytes read); "
        f"expires {format_datetime(bundle.expires)}",
        file=sys.stderr,
    )
    for url in result.missing:
        print(f"  missing or altered status list (not installed): {url}", file=sys.stderr)
    return 0


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sync"]:
        return run_sync(argv[1:])
    if argv[:1] == ["serve"]:
        from .desk import run_serve  # the front-desk page: a wing, loaded only for `serve`

        return run_serve(argv[1:])
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # usage errors (64) and --help (0) end here, not in the caller
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    lang: Language = args.lang
    try:
        now: datetime | None = parse_datetime(args.now) if args.now else None
    except ValueError as exc:
        print(f"credencial-verify: --now: {exc}", file=sys.stderr)
        return EXIT_USAGE
    trust_failure: TrustBundleError | None = None  # a trust folder that cannot be used
    try:
        status: StatusListSource
        if args.trust_dir:
            if args.status_list:
                raise _UsageError("--status-list cannot be combined with --trust-dir")
            pinned = AnchorSet.from_file(args.anchors) if args.anchors else None
            try:
                synced = TrustDir.load(args.trust_dir, anchors=pinned)
                trust, status = synced.trust, synced.status_lists
            except TrustBundleError as exc:  # nothing can be known: INDETERMINATE, below
                trust_failure, trust, status = exc, TrustStore(), InMemoryStatusLists()
        else:
            trust = TrustStore.from_file(args.trust) if args.trust else TrustStore()
            status = InMemoryStatusLists.from_files(args.status_list)
        limits = {} if args.max_offline_age is None else {"max_status_age": args.max_offline_age}
        config = VerifierConfig(extra_contexts=_extra_contexts(args.context), **limits)
        verifier = Verifier(trust, config, status)
        text = _read_input(args.input)
        if image_format(text) is not None:  # a photo or scan of the card: read its QR
            text = decode_qr_image(text).encode("utf-8")
    except (_UsageError, CredencialError) as exc:
        print(f"credencial-verify: {exc}", file=sys.stderr)
        if args.json:  # --json always prints a verdict object: nothing could be judged
            code = exc.code if isinstance(exc, CredencialError) else ReasonCode.MALFORMED_INPUT
            unjudged = VerificationResult(
                Verdict.INDETERMINATE, (Reason(code, str(exc)),), None, now or datetime.now(UTC)
            )
            print(json.dumps(unjudged.to_json(lang), ensure_ascii=False, indent=2))
        return EXIT_USAGE
    result = verifier.check(text, now=now)
    if trust_failure is not None:
        result = _untrusted(result, trust_failure)
    if result.unreadable:  # not a whole, well-formed card or JSON: not a verdict
        print(f"credencial-verify: {result.reasons[0].detail}", file=sys.stderr)
        if args.json:  # --json always prints a verdict object
            print(json.dumps(result.to_json(lang), ensure_ascii=False, indent=2))
        return EXIT_USAGE
    if args.json:
        print(json.dumps(result.to_json(lang), ensure_ascii=False, indent=2))
    else:
        _print_human(result, lang)
    return EXIT_CODES[result.verdict]


def main() -> NoReturn:
    """Console-script entry point."""
    sys.exit(run())
