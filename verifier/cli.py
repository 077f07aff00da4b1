"""``credencial-verify``: verify a credential offline and print the verdict.

Exit status: 0 VALID, 1 INVALID, 2 INDETERMINATE, 64 usage or input error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NoReturn

from ._card import is_card_text
from ._contexts import load_context_file
from ._errors import CredencialError, ReasonCode
from ._images import decode_qr_image, image_format
from ._messages import Language, verdict_label
from ._status import InMemoryStatusLists
from ._time import parse_datetime
from ._trust import TrustStore
from ._verifier import Verdict, VerificationResult, Verifier, VerifierConfig

__all__ = ["EXIT_CODES", "EXIT_USAGE", "main"]

EXIT_CODES = {Verdict.VALID: 0, Verdict.INVALID: 1, Verdict.INDETERMINATE: 2}
EXIT_USAGE = 64  # sysexits EX_USAGE; argparse's own 2 would read as INDETERMINATE


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="credencial-verify",
        description="Verify a health-coverage credential offline. "
        "Exit status: 0 VALID, 1 INVALID, 2 INDETERMINATE, 64 usage or input error.",
    )
    parser.add_argument(
        "input",
        metavar="INPUT",
        help="credential JSON file, card text (SUS1:...), a PNG/JPEG photo or scan of the card "
        "(needs the images extra), or - for stdin",
    )
    parser.add_argument("--trust", metavar="TRUST.json", help='trust file: {"keys": [...]}')
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
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--lang", choices=("es", "en"), default="es", help="language (default es)")
    parser.add_argument("--now", metavar="ISO8601", help="reference time (default: the clock)")
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
    for reason in result.reasons:
        print(f"  [{reason.code.value}] {reason.summary(lang)}")
        print(f"      {reason.detail}")


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status."""
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
    try:
        trust = TrustStore.from_file(args.trust) if args.trust else TrustStore()
        config = VerifierConfig(extra_contexts=_extra_contexts(args.context))
        verifier = Verifier(trust, config, InMemoryStatusLists.from_files(args.status_list))
        text = _read_input(args.input)
        if image_format(text) is not None:  # a photo or scan of the card: read its QR
            text = decode_qr_image(text).encode("utf-8")
    except (_UsageError, CredencialError) as exc:
        print(f"credencial-verify: {exc}", file=sys.stderr)
        return EXIT_USAGE
    result = verifier.check(text, now=now)
    unreadable = result.reasons and result.reasons[0].code is ReasonCode.MALFORMED_INPUT
    if result.credential is None and unreadable:  # neither JSON nor a card: not a verdict
        print(f"credencial-verify: {result.reasons[0].detail}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(result.to_json(lang), ensure_ascii=False, indent=2))
    else:
        _print_human(result, lang)
    return EXIT_CODES[result.verdict]


def main() -> NoReturn:
    """Console-script entry point."""
    sys.exit(run())
