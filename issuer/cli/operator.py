"""Operator commands of ``credencial-issuer`` that work on the issuer database without the API.

``bulk``, ``print``, ``status``, ``status-lists export``, ``audit verify``, ``clients create``,
``keys rotate`` and ``keys compromise``. Settings come from :class:`IssuerSettings`
(``CREDENCIAL_*``); ``--db`` overrides the database URL. Exit status: 0 done, 1 refused or
failed (a revoked credential, a broken audit chain, rows in ``errors.csv``, a key already marked
compromised), 64 usage or input error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from issuer.institutions import INSTITUTIONS

if TYPE_CHECKING:  # the database stack is imported only when an operator command runs
    from issuer.cards.printing import PrintReport
    from issuer.credentials.service import IssuerService
    from issuer.settings import IssuerSettings

__all__ = [
    "OPERATOR_COMMANDS",
    "OperatorError",
    "add_operator_commands",
    "build_service",
    "database_url",
    "run_operator",
]

#: The subcommands this module adds to ``credencial-issuer``.
OPERATOR_COMMANDS = frozenset(
    {"bulk", "print", "status", "status-lists", "audit", "clients", "keys"}
)
_EXIT_USAGE, _EXIT_INTERRUPTED = 64, 130
# Mirrors of issuer.principal.SCOPES, issuer.credentials.service.StatusAction and
# issuer.enrolment.bulk.CARD_OUTPUTS (a test keeps them equal), so that building the parser
# does not import SQLAlchemy.
_SCOPES = frozenset({"issue", "status", "admin", "records", "legal", "dpo", "units"})
_ACTIONS = ("suspend", "reinstate", "revoke")
_CARDS = ("png", "pdf", "none")  # issuer.enrolment.bulk.CARD_OUTPUTS
_ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "latin-1")  # issuer.enrolment.rows.ENCODINGS
_ECC = ("L", "M", "Q", "H")  # issuer.cards.render.ECC_LEVELS


class OperatorError(Exception):
    """A usage or input problem, reported with exit status 64."""


def database_url(db: str | None, settings: IssuerSettings) -> str:
    """``--db`` (a SQLAlchemy URL, or a path taken as a SQLite file) or the configured URL."""
    if not db:
        return settings.database_url
    return db if "://" in db else f"sqlite:///{db}"


def _shown(url: str) -> str:
    """``url`` safe to print (no password)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable URL)"


def build_service(db: str | None = None, *, bootstrap: bool = True) -> IssuerService:
    """The issuer service from settings (env ``CREDENCIAL_*``), ``--db`` overriding the database.

    Requires ``CREDENCIAL_KEY_PASSPHRASE`` with file keys (the default; an HSM needs its PIN).
    With ``bootstrap`` the schema is migrated and every institution gets a key if it has none.
    """
    from issuer.credentials.service import IssuerService
    from issuer.settings import IssuerSettings

    settings = IssuerSettings()
    settings = settings.model_copy(update={"database_url": database_url(db, settings)})
    if settings.key_backend == "file" and not settings.key_passphrase.get_secret_value():
        raise OperatorError(
            "set CREDENCIAL_KEY_PASSPHRASE: the passphrase that encrypts the institution keys"
        )
    service = IssuerService(settings)
    if bootstrap:
        service.bootstrap()
    return service


def _credential_id(value: str) -> str:
    """Our ids are ``urn:uuid:...``; a bare UUID is accepted too."""
    return value if value.startswith("urn:") else f"urn:uuid:{value}"


def _institution(value: str) -> str:
    if value not in INSTITUTIONS:
        raise argparse.ArgumentTypeError(
            f"unknown institution {value!r} (choose from {', '.join(INSTITUTIONS)})"
        )
    return value


def _scopes(value: str) -> frozenset[str]:
    scopes = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = sorted(scopes - _SCOPES)
    if not scopes or unknown:
        raise argparse.ArgumentTypeError(
            f"scopes are a comma-separated subset of {','.join(sorted(_SCOPES))}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        )
    return scopes


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {value!r}")
    return int(value)


def _count(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}")
    return int(value)


def _encoding(value: str) -> str:
    from issuer.enrolment.rows import text_encoding

    try:
        return text_encoding(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _moment(value: str) -> datetime:
    from verifier import parse_datetime

    try:
        return parse_datetime(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_operator_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """Add the operator subcommands to ``credencial-issuer``'s parser."""
    db_help = "database URL, or a SQLite file path (default: CREDENCIAL_DATABASE_URL)"

    def with_db(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("--db", metavar="URL", help=db_help)
        return parser

    bulk = with_db(commands.add_parser("bulk", help="issue a batch of enrolment records"))
    bulk.add_argument("people", metavar="PEOPLE.csv|.jsonl", help="enrolment records")
    bulk.add_argument("--institution", required=True, type=_institution, metavar="CODE")
    bulk.add_argument("--out", required=True, metavar="DIR", help="output folder")
    bulk.add_argument(
        "--encoding", type=_encoding, default="utf-8", metavar="NAME",
        help=f"the file's text encoding: {', '.join(_ENCODINGS)} (default: utf-8; never guessed)",
    )  # fmt: skip
    bulk.add_argument(
        "--cards", choices=_CARDS, default="none",
        help="also draw the cards once issued, as `print` does (default: none: only card texts)",
    )  # fmt: skip
    bulk.add_argument(
        "--progress-every", type=_positive, default=100, metavar="N",
        help="without a terminal, report progress every N rows (default: 100)",
    )  # fmt: skip
    bulk.add_argument(
        "--workers", type=_count, metavar="N",
        help="processes that sign (0: this one; default: one per CPU from 2,000 rows on)",
    )  # fmt: skip
    bulk.add_argument(
        "--chunk", type=_positive, default=512, metavar="N",
        help="rows stored per transaction, at most (default: 512; up to 10,000)",
    )  # fmt: skip

    printing = commands.add_parser(
        "print",
        help="draw cards from card texts: a PNG per card, or A4 sheets for a print shop",
        description=(
            "Draw the cards of bulk output folders (credentials/part-*.txt) or of text files of "
            "card texts (one per line): a PNG per card (--png DIR), or PDF sheets of ten cards "
            "per A4 page with cut marks (--pdf OUT.pdf). Run it again after an interruption: "
            "what was drawn is kept."
        ),
    )
    printing.add_argument("sources", nargs="+", metavar="BULK_DIR|CARDS.txt")
    target = printing.add_mutually_exclusive_group(required=True)
    target.add_argument("--pdf", metavar="OUT.pdf", help="A4 sheets, ten cards a page")
    target.add_argument("--png", metavar="DIR", help="one PNG per card")
    printing.add_argument(
        "--workers", type=_count, metavar="N",
        help="processes that draw (0: this one; default: one per CPU core)",
    )  # fmt: skip
    printing.add_argument(
        "--ecc", choices=_ECC, default="M", help="QR error-correction level (default: M)"
    )
    printing.add_argument(
        "--progress-every", type=_positive, default=1000, metavar="N",
        help="without a terminal, report progress every N cards (default: 1000)",
    )  # fmt: skip

    status = commands.add_parser("status", help="suspend, reinstate or revoke a credential")
    status.add_argument("action", choices=_ACTIONS)
    status.add_argument("credential_id", metavar="CREDENTIAL_ID", help="urn:uuid:... (or UUID)")
    with_db(status)

    lists = commands.add_parser("status-lists", help="signed status list credentials")
    lists_commands = lists.add_subparsers(dest="lists_command", required=True)
    export = with_db(lists_commands.add_parser("export", help="write every status list to DIR"))
    export.add_argument("out", metavar="DIR")
    export.add_argument("--institution", type=_institution, metavar="CODE", help="only this one")

    audit = commands.add_parser("audit", help="the hash-chained audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    with_db(audit_commands.add_parser("verify", help="check the chain: exit 0 intact, 1 broken"))

    clients = commands.add_parser("clients", help="API clients")
    clients_commands = clients.add_subparsers(dest="clients_command", required=True)
    create = with_db(clients_commands.add_parser("create", help="create one; prints its API key"))
    create.add_argument("--institution", required=True, type=_institution, metavar="CODE")
    create.add_argument(
        "--scopes", required=True, type=_scopes, metavar="SCOPES", help="e.g. issue,status"
    )
    create.add_argument("--name", default="cli", metavar="N", help="a label (default: cli)")

    keys = commands.add_parser("keys", help="signing keys")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    rotate = with_db(keys_commands.add_parser("rotate", help="a new key signs from now on"))
    rotate.add_argument("--institution", required=True, type=_institution, metavar="CODE")
    compromise = with_db(
        keys_commands.add_parser(
            "compromise",
            help="mark a key compromised since a time (an active key is also rotated)",
        )
    )
    compromise.add_argument("--institution", required=True, type=_institution, metavar="CODE")
    compromise.add_argument("--key-id", required=True, metavar="key-N", help="e.g. key-1")
    compromise.add_argument(
        "--at", required=True, type=_moment, metavar="ISO8601",
        help="since when the key is compromised, with a time zone (e.g. 2026-05-01T00:00:00Z)",
    )  # fmt: skip


def _terminate_as_interrupt(stop: threading.Event | None = None) -> Any:
    """Make SIGTERM stop a run like Ctrl-C (cleanly, resumable); the previous handler.

    ``stop`` is set as well: a run that checks it stops even where Python swallowed the
    ``KeyboardInterrupt`` (raised inside a finalizer or a weakref callback, it is only printed).
    """

    def interrupt(_signal: int, _frame: object) -> None:
        if stop is not None:
            stop.set()
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        return None


def _bulk(args: argparse.Namespace) -> int:
    from issuer.enrolment.bulk import Progress, run_bulk
    from issuer.enrolment.rows import count_rows, record_format

    source = Path(args.people)
    record_format(source)  # unknown extension: a usage error before touching the database
    if not source.is_file():
        raise OperatorError(f"{source}: no such file")
    service = build_service(args.db)
    stop = threading.Event()
    previous = _terminate_as_interrupt(stop)
    try:
        print(
            f"bulk: {source} for {args.institution} into {args.out} "
            f"(database {_shown(service.settings.database_url)})",
            file=sys.stderr,
        )
        progress = Progress(count_rows(source), every=args.progress_every)
        report = run_bulk(
            service,
            source,
            institution=args.institution,
            out=Path(args.out),
            cards=args.cards,
            progress=progress,
            workers=args.workers,
            chunk=args.chunk,
            encoding=args.encoding,
            print_progress=Progress(None, label="print", unit="cards", every=1000),
            stop=stop,
        )
    finally:
        service.db.dispose()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print(
        f"bulk: {report.rows} rows: {report.issued} issued, {report.existing} already issued, "
        f"{report.errors} with errors; {report.files_written} files written",
        file=sys.stderr,
    )
    if report.printed is not None:
        _print_summary(report.printed)
    if report.errors:
        print(f"bulk: see {Path(args.out) / 'errors.csv'}", file=sys.stderr)
        return 1
    if report.printed is None:
        sheet = Path(args.out) / "cards.pdf"
        print(
            f"bulk: draw the cards with: credencial-issuer print {args.out} --pdf {sheet}",
            file=sys.stderr,
        )
    return 1 if report.printed is not None and report.printed.errors else 0


def _print_summary(report: PrintReport) -> None:
    pages = f", {report.pages} pages" if report.pages else ""
    print(
        f"print: {report.cards} cards: {report.printed} drawn, {report.existing} already drawn, "
        f"{len(report.errors)} not drawn{pages}",
        file=sys.stderr,
    )
    for error in report.errors[:20]:
        print(f"print: {error}", file=sys.stderr)
    if len(report.errors) > 20:
        print(f"print: and {len(report.errors) - 20} more", file=sys.stderr)


def _print(args: argparse.Namespace) -> int:
    from issuer.cards.printing import CardSourceError, print_cards
    from issuer.progress import Progress

    progress = Progress(None, label="print", unit="cards", every=args.progress_every)

    def total(count: int) -> None:
        progress.total = count

    previous = _terminate_as_interrupt()
    try:
        report = print_cards(
            [Path(source) for source in args.sources],
            png=Path(args.png) if args.png else None,
            pdf=Path(args.pdf) if args.pdf else None,
            workers=args.workers,
            ecc=args.ecc,
            progress=progress,
            on_total=total,
        )
    except CardSourceError as exc:
        raise OperatorError(str(exc)) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    _print_summary(report)
    if not report.cards:
        print("print: no card texts to draw", file=sys.stderr)
        return 1
    print(args.pdf or args.png)
    return 1 if report.errors else 0


def _status(args: argparse.Namespace) -> int:
    from issuer.credentials.service import StatusAction
    from issuer.principal import cli_principal

    service = build_service(args.db)
    try:
        credential_id = _credential_id(args.credential_id)
        institution = service.credential_institution(credential_id)
        status = service.change_status(
            cli_principal(institution), credential_id, StatusAction(args.action)
        )
    finally:
        service.db.dispose()
    print(json.dumps({"id": credential_id, "institution": institution, **status}))
    return 0


def _export_lists(args: argparse.Namespace) -> int:

    from issuer.credentials.signing import STATUS_PURPOSES
    from issuer.storage.files import atomic_write

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    service = build_service(args.db)
    try:
        lists = service.status_list_numbers(args.institution or None)
        for institution, number in lists:
            for purpose in STATUS_PURPOSES:
                document = service.status_list_credential(institution, purpose, number)
                path = out / f"{institution.lower()}-{purpose}-{number}.json"
                text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
                atomic_write(path, text.encode("utf-8"))
                print(path)
    finally:
        service.db.dispose()
    if not lists:
        print("status-lists: no status lists yet (nothing issued)", file=sys.stderr)
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from sqlalchemy import func, inspect, select

    from issuer.settings import IssuerSettings
    from issuer.storage.audit import verify_audit_chain
    from issuer.storage.database import Database
    from issuer.storage.tables import AuditEntry

    url = database_url(args.db, IssuerSettings())
    if url.startswith("sqlite") and not Path(url.split("///", 1)[-1]).is_file():
        raise OperatorError(f"no database file at {url.split('///', 1)[-1]}")
    database = Database(url)
    try:
        if not inspect(database.engine).has_table("audit_log"):
            raise OperatorError(f"{_shown(url)} has no audit log (not an issuer database)")
        with database.transaction() as session:
            problems = verify_audit_chain(session)
            entries = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    finally:
        database.dispose()
    for problem in problems:
        print(f"audit: entry {problem.seq}: {problem.reason}")
    if problems:
        print(f"audit: BROKEN: {len(problems)} problem(s) in {entries} entries", file=sys.stderr)
        return 1
    print(f"audit: intact: {entries} entries chain correctly")
    return 0


def _clients_create(args: argparse.Namespace) -> int:
    service = build_service(args.db)
    try:
        api_key = service.create_client(args.institution, args.name, args.scopes, actor="cli")
    finally:
        service.db.dispose()
    print(api_key)
    print(
        f"clients: {args.institution} client {args.name!r} with scopes "
        f"{','.join(sorted(args.scopes))}; store the key now: it is shown once, kept as a hash",
        file=sys.stderr,
    )
    return 0


def _keys_rotate(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from issuer.storage.tables import SigningKey

    service = build_service(args.db)
    try:
        key_id = service.rotate_key(args.institution, actor="cli")
        with service.db.transaction() as session:
            public = session.scalar(
                select(SigningKey.public_key_multibase).where(
                    SigningKey.institution_code == args.institution, SigningKey.key_id == key_id
                )
            )
    finally:
        service.db.dispose()
    print(f"{INSTITUTIONS[args.institution].verification_method(key_id)} {public}")
    print(
        f"keys: {key_id} signs for {args.institution} from now on; "
        "older keys are retired and stay listed",
        file=sys.stderr,
    )
    return 0


def _keys_compromise(args: argparse.Namespace) -> int:
    from verifier import format_datetime

    service = build_service(args.db)
    try:
        replacement = service.mark_key_compromised(
            args.institution, args.key_id, args.at, actor="cli"
        )
    finally:
        service.db.dispose()
    institution = INSTITUTIONS[args.institution]
    key_id = args.key_id.removeprefix(f"{institution.did}#")
    print(
        json.dumps(
            {
                "key": institution.verification_method(key_id),
                "compromisedAt": format_datetime(args.at),
                "newKey": (institution.verification_method(replacement) if replacement else None),
            }
        )
    )
    print(
        f"keys: {key_id} of {args.institution} is compromised since {format_datetime(args.at)}"
        + (f"; {replacement} signs from now on" if replacement else "")
        + "; build and sign a new trust bundle so verifiers learn of it",
        file=sys.stderr,
    )
    return 0


def _keys(args: argparse.Namespace) -> int:
    if args.keys_command == "compromise":
        return _keys_compromise(args)
    return _keys_rotate(args)


def run_operator(args: argparse.Namespace) -> int:
    """Run one operator command; returns the exit status and prints problems on stderr."""
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from issuer.enrolment.rows import EnrolmentFileError
    from issuer.errors import NotFoundError, ServiceError
    from verifier import CredencialError

    handlers = {
        "bulk": _bulk,
        "print": _print,
        "status": _status,
        "status-lists": _export_lists,
        "audit": _audit_verify,
        "clients": _clients_create,
        "keys": _keys,
    }
    try:
        return handlers[args.command](args)
    except (OperatorError, EnrolmentFileError, NotFoundError, ArgumentError) as exc:
        print(f"credencial-issuer: {exc}", file=sys.stderr)
        return _EXIT_USAGE
    except ServiceError as exc:
        print(f"credencial-issuer: {exc.detail}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"credencial-issuer: database error: {exc}", file=sys.stderr)
        return 1
    except (CredencialError, OSError, ValueError) as exc:  # keys, files, settings
        print(f"credencial-issuer: {exc}", file=sys.stderr)
        return _EXIT_USAGE
    except KeyboardInterrupt:
        print(
            "\ncredencial-issuer: interrupted; what was committed is kept, "
            "run the same command again to resume",
            file=sys.stderr,
        )
        return _EXIT_INTERRUPTED
