"""``credencial-issuer``: the institution's command line.

Keys, signing, the printed card and the demo here; the operator commands that work on the
database (:mod:`~issuer.cli.operator`), the trust bundle's (:mod:`~issuer.cli.trust`) and
``serve``, which ``make run`` starts (:mod:`~issuer.cli.serve`), beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from issuer.cli.demo import run_demo
from issuer.cli.operator import OPERATOR_COMMANDS, add_operator_commands, run_operator
from issuer.cli.trust import TRUST_COMMANDS, add_trust_commands, run_trust
from issuer.credentials.signing import sign_document
from issuer.keys.files import Ed25519KeyPair
from verifier import (
    ContextLoader,
    CredencialError,
    encode_card,
    load_context_file,
    parse_datetime,
    parse_json,
)
from verifier.cli import EXIT_USAGE, UsageParser

__all__ = ["EXIT_USAGE", "main", "run"]


def _parser() -> argparse.ArgumentParser:
    parser = UsageParser(prog="credencial-issuer", description="Issue health-coverage credentials.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=UsageParser)

    keygen = commands.add_parser("keygen", help="write a new Ed25519 key file (Multikey JSON)")
    keygen.add_argument("--out", metavar="KEY.json", help="file to create (default: stdout)")

    sign = commands.add_parser("sign", help="sign a credential with eddsa-rdfc-2022")
    sign.add_argument("input", metavar="IN.json", help="unsigned credential, or - for stdin")
    sign.add_argument("--key", required=True, metavar="KEY.json", help="key file")
    sign.add_argument(
        "--verification-method",
        required=True,
        metavar="VM",
        help="verification method id the proof names",
    )
    sign.add_argument("--created", metavar="ISO8601", help="proof creation time (default: now)")
    sign.add_argument(
        "--context",
        metavar="URL=PATH",
        action="append",
        default=[],
        help="allow one extra JSON-LD context (repeatable)",
    )

    card = commands.add_parser("card", help="print the card text (SUS1:...) and draw the card")
    card.add_argument("input", metavar="SIGNED.json", help="signed credential, or - for stdin")
    card.add_argument("--png", metavar="OUT.png", help="write the printed card as a 300 dpi PNG")
    card.add_argument("--pdf", metavar="OUT.pdf", help="write it as an 85.60 × 53.98 mm PDF")
    card.add_argument(
        "--ecc", choices=("L", "M", "Q", "H"), help="QR error-correction level (default: M)"
    )

    demo = commands.add_parser("demo", help="demo keys for the three institutions, issue, verify")
    demo.add_argument("--out", default="demo", metavar="DIR", help="demo folder (default: demo)")

    serve = commands.add_parser("serve", help="run the HTTP API (docs at /docs) until interrupted")
    serve.add_argument("--host", help="interface (default: CREDENCIAL_HOST, else 127.0.0.1)")
    serve.add_argument("--port", type=_port, help="port (default: CREDENCIAL_PORT, else 8000)")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="demo: SQLite, keys and one API key per institution under var/demo/",
    )
    add_operator_commands(commands)
    add_trust_commands(commands)
    return parser


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise argparse.ArgumentTypeError(f"not a TCP port: {value!r}")
    return int(value)


def _read_json(source: str) -> object:
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    return parse_json(text)


def _card(source: str, png: str | None, pdf: str | None, ecc: str | None) -> int:
    document = _read_json(source)
    if not isinstance(document, dict):
        raise ValueError("the input is not a JSON object")
    if "proof" not in document:
        raise ValueError("the credential is not signed (it has no proof): sign it first")
    text = encode_card(document)
    if png or pdf:
        try:
            from issuer.cards.render import card_pdf, card_png, ecc_level
        except ImportError as exc:
            raise ValueError(
                f"drawing cards needs the issuer extra: pip install 'credencial[issuer]' ({exc})"
            ) from None
        level = ecc_level(ecc)
        for path, draw in ((png, card_png), (pdf, card_pdf)):
            if path:
                Path(path).write_bytes(draw(document, level))
                print(f"{path}: card with a level-{level} QR", file=sys.stderr)
    print(text)
    return 0


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # usage errors (64) and --help (0) end here, not in the caller
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command in OPERATOR_COMMANDS:
        return run_operator(args)
    if args.command in TRUST_COMMANDS:
        return run_trust(args)
    try:
        if args.command == "keygen":
            key = Ed25519KeyPair.generate()
            if args.out:
                key.save(args.out)
                print(f"{args.out}: {key.public_key_multibase}", file=sys.stderr)
            else:
                print(json.dumps(key.to_json(), indent=2))
            return 0
        if args.command == "sign":
            if args.created:
                parse_datetime(args.created)
            extra = {}
            for pair in args.context:
                url, sep, path = pair.partition("=")
                if not sep:
                    raise ValueError(f"--context takes URL=PATH, got {pair!r}")
                extra[url] = load_context_file(path)
            document = _read_json(args.input)
            if not isinstance(document, dict):
                raise ValueError("the input is not a JSON object")
            signed = sign_document(
                document,
                Ed25519KeyPair.from_file(args.key),
                args.verification_method,
                loader=ContextLoader(extra),
                created=args.created,
            )
            print(json.dumps(signed, ensure_ascii=False, indent=2))
            return 0
        if args.command == "card":
            return _card(args.input, args.png, args.pdf, args.ecc)
        if args.command == "serve":
            from issuer.cli.serve import serve  # the web stack is imported only to serve

            return serve(args.host, args.port, demo=args.demo)
        return run_demo(Path(args.out))
    except (CredencialError, OSError, ValueError) as exc:
        print(f"credencial-issuer: {exc}", file=sys.stderr)
        return EXIT_USAGE


def main() -> NoReturn:
    """Console-script entry point."""
    sys.exit(run())
