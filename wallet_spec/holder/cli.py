"""``credencial-wallet``: the reference wallet on the command line (what tests use as a citizen).

::

    credencial-wallet [--wallet DIR] keygen                     # the holder key (did:key)
    credencial-wallet accept 'openid-credential-offer://?…' --tx-code 123456
    credencial-wallet list [--json]
    credencial-wallet show ID [--json] [--qr] [--png card.png]   # the card form as a QR
    credencial-wallet present REQUEST.json [--out RESPONSE.json]  # answer a presentation request
    credencial-wallet status --trust-dir DIR [--json]           # offline state of each credential
    credencial-wallet status --trust TRUST.json --status-list FILE ...

The person's side (each call authenticated by a fresh presentation of the custodian's credential):

    credencial-wallet requests [--all]                          # consent requests addressed to you
    credencial-wallet approve REQUEST [--data-classes ...] [--until DATE]
    credencial-wallet deny REQUEST
    credencial-wallet grants                                    # the consents you gave
    credencial-wallet withdraw GRANT
    credencial-wallet access-log                                # who read your data
    credencial-wallet units [--near LAT,LON]                    # units with availability
    credencial-wallet record [--data-classes ...]               # your own record

Each takes ``--lang en`` and ``--json``. ``--issuer-url https://imss.gob.mx=http://127.0.0.1:8000``
(repeatable; or ``$CREDENCIAL_WALLET_ISSUER_URLS``) reaches an issuer at a local server: the
identifiers stay the same, only the transport is mapped (plain http only to this machine).

The wallet folder is ``--wallet``, else ``$CREDENCIAL_WALLET``, else ``~/.credencial-wallet``.
Exit status: 0 done, 1 refused (the wallet error code is printed), 64 usage or input error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TextIO

from verifier import (
    CredencialError,
    InMemoryStatusLists,
    TrustDir,
    TrustStore,
    Verifier,
    format_datetime,
    parse_json,
)
from verifier.cli import EXIT_USAGE, UsageParser

from ._errors import WalletError
from ._oid4vci import TRUSTED_ISSUERS, HttpClient, accept_offer
from ._person_cli import PERSON_COMMANDS, add_person_commands, problem_message, run_person_command
from ._present import answer_request
from ._state import STATE_LABELS, credential_state
from ._store import WalletStore, write_private_file
from ._transport import IssuerUrls, MappedClient

__all__ = ["EXIT_REFUSED", "EXIT_USAGE", "main", "run"]

EXIT_REFUSED = 1


def _parser() -> argparse.ArgumentParser:
    parser = UsageParser(
        prog="credencial-wallet",
        description="The reference wallet: receive (OpenID4VCI), store, show and present "
        "health-coverage credentials. Exit status: 0 done, 1 refused, 64 usage error.",
    )
    parser.add_argument(
        "--wallet",
        metavar="DIR",
        help="the wallet folder (default: $CREDENCIAL_WALLET or ~/.credencial-wallet)",
    )
    parser.add_argument(
        "--issuer-url", metavar="ID=URL", action="append", default=[], dest="issuer_urls",
        help="reach issuer ID at URL, e.g. https://imss.gob.mx=http://127.0.0.1:8000 "
        "(repeatable; also $CREDENCIAL_WALLET_ISSUER_URLS)",
    )  # fmt: skip
    parser.add_argument(
        "--lang", choices=["es", "en"], default="es",
        help="the language of the messages (default es); also after a command",
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True, parser_class=UsageParser)
    commands.add_parser("keygen", help="create the holder key (an Ed25519 did:key)")
    accept = commands.add_parser("accept", help="receive a credential from an offer (QR text)")
    accept.add_argument("offer", metavar="OFFER", help="openid-credential-offer://?… or its JSON")
    accept.add_argument("--tx-code", metavar="PIN", help="the PIN the enrolment desk gave you")
    accept.add_argument(
        "--trust-issuer",
        metavar="URL",
        action="append",
        default=[],
        help="also accept offers from this Credential Issuer (testing; repeatable)",
    )
    accept.add_argument(
        "--issuer-url", metavar="ID=URL", action="append", default=[],
        help="reach issuer ID at URL, e.g. https://imss.gob.mx=http://127.0.0.1:8000 (repeatable)",
    )  # fmt: skip
    listing = commands.add_parser("list", help="list the stored credentials")
    listing.add_argument("--json", action="store_true")
    show = commands.add_parser("show", help="one credential; its card form as a QR")
    show.add_argument("id", metavar="ID")
    show.add_argument("--json", action="store_true", help="print the stored entry")
    show.add_argument("--qr", action="store_true", help="print the card QR in the terminal")
    show.add_argument("--png", metavar="FILE", help="write the card QR as a PNG")
    present = commands.add_parser("present", help="answer a presentation request")
    present.add_argument("request", metavar="REQUEST.json", help="the request, or - for stdin")
    present.add_argument("--out", metavar="FILE", help="write the response here (default stdout)")
    status = commands.add_parser("status", help="check every credential offline")
    trust = status.add_mutually_exclusive_group(required=True)
    trust.add_argument("--trust-dir", metavar="DIR", help="synced by 'credencial-verify sync'")
    trust.add_argument("--trust", metavar="TRUST.json", help='trust file: {"keys": [...]}')
    status.add_argument(
        "--status-list", metavar="FILE", action="append", default=[],
        help="a status list credential, with --trust (repeatable)",
    )  # fmt: skip
    status.add_argument("--json", action="store_true")
    status.add_argument("--lang", choices=["es", "en"], default=argparse.SUPPRESS)
    add_person_commands(commands)
    return parser


def _wallet_dir(option: str | None) -> Path:
    if option:
        return Path(option)
    return Path(os.environ.get("CREDENCIAL_WALLET") or Path.home() / ".credencial-wallet")


def _summary(entry: dict[str, Any]) -> str:
    credential = entry["credential"]
    subject = credential.get("credentialSubject") or {}
    coverage = subject.get("coverage") or {}
    names = " ".join(
        str(subject[k]) for k in ("givenName", "familyName", "secondFamilyName") if k in subject
    )
    return (
        f"{entry['id']}  {coverage.get('institution', '?')}  {names}  "
        f"hasta {credential.get('validUntil', '?')}"
    )


def _read_json(source: str) -> Any:
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    return parse_json(text)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _client(args: argparse.Namespace, client: HttpClient | None) -> HttpClient:
    """The HTTP client, with the issuer URL mappings of the options and the environment."""
    urls = IssuerUrls.parse([*args.issuer_urls, *getattr(args, "issuer_url", [])])
    if client is None:
        import httpx

        client = httpx.Client(timeout=30.0, follow_redirects=False)
    return MappedClient(client, urls) if urls.mapping else client


def _dispatch(
    args: argparse.Namespace, store: WalletStore, client: HttpClient | None, out: TextIO
) -> int:
    now = datetime.now(UTC)
    if args.command in PERSON_COMMANDS:
        return run_person_command(
            args, store, _client(args, client), out, lambda: datetime.now(UTC)
        )
    if args.command == "keygen":
        key = store.create_key()
        print(key.did, file=out)
    elif args.command == "accept":
        credential = accept_offer(
            args.offer,
            key=store.load_key(),
            client=_client(args, client),
            tx_code=args.tx_code,
            trusted_issuers=TRUSTED_ISSUERS | set(args.trust_issuer),
        )
        entry = store.add(credential, received_at=now, source="oid4vci")
        print(_summary(entry), file=out)
    elif args.command == "list":
        entries = list(store.entries())
        if args.json:
            print(json.dumps([e["id"] for e in entries]), file=out)
        for entry in [] if args.json else entries:
            print(_summary(entry), file=out)
    elif args.command == "show":
        entry = store.get(args.id)
        if args.json:
            print(json.dumps(entry, ensure_ascii=False, indent=2), file=out)
        if args.qr or args.png:
            if entry["card"] is None:
                raise WalletError("NOT_FOUND", "this credential has no card form")
            import segno

            qr = segno.make(entry["card"], error="m", mode="alphanumeric")
            if args.png:
                qr.save(args.png, kind="png", scale=8, border=4)
            if args.qr:
                qr.terminal(out=out, compact=True)
        if not (args.json or args.qr or args.png):
            print(_summary(entry), file=out)
    elif args.command == "present":
        request = _read_json(args.request)
        response = answer_request(
            request,
            key=store.load_key(),
            credentials=[e["credential"] for e in store.entries()],
            now=now,
        )
        text = json.dumps(response, ensure_ascii=False, indent=2) + "\n"
        if args.out:
            write_private_file(Path(args.out), text.encode("utf-8"))
        else:
            out.write(text)
    elif args.command == "status":
        if args.trust_dir:
            synced = TrustDir.load(args.trust_dir)
            verifier = Verifier(synced.trust, status_lists=synced.status_lists)
        else:
            lists = InMemoryStatusLists.from_files(args.status_list)
            verifier = Verifier(TrustStore.from_file(args.trust), status_lists=lists)
        states = []
        for entry in store.entries():
            state = credential_state(verifier.check(entry["credential"], now=now))
            states.append({"id": entry["id"], "state": state.value})
            if not args.json:
                print(f"{entry['id']}  {STATE_LABELS[state][args.lang]}", file=out)
        if args.json:
            print(json.dumps({"checkedAt": format_datetime(now), "credentials": states}), file=out)
    return 0


def run(
    argv: Sequence[str] | None = None,
    *,
    client: HttpClient | None = None,
    out: TextIO | None = None,
) -> int:
    """Run the command line; ``client`` replaces the HTTP client (tests pass the app's)."""
    try:
        args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    store = WalletStore(_wallet_dir(args.wallet))
    try:
        return _dispatch(args, store, client, out or sys.stdout)
    except WalletError as exc:
        lang = getattr(args, "lang", "es")
        codes = f"{exc.code}: {exc.problem}" if exc.problem else exc.code
        # The sentence first, in the person's language; the codes after it, for support.
        print(f"credencial-wallet: {problem_message(exc, lang)} ({codes})", file=sys.stderr)
        return EXIT_REFUSED
    except (OSError, ValueError, CredencialError) as exc:
        print(f"credencial-wallet: {exc}", file=sys.stderr)
        return EXIT_USAGE


def main() -> NoReturn:
    """Console-script entry point."""
    sys.exit(run())
