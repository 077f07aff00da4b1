"""The person's commands of ``credencial-wallet``: consent requests, grants, access log, units,
record. Spanish by default, English with ``--lang en``, the issuer's JSON with ``--json``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TextIO
from urllib.parse import urlsplit

from ._errors import WalletError
from ._oid4vci import HttpClient
from ._person import PersonApi, approval_grant, custodians, end_of_day
from ._store import WalletStore

__all__ = ["PERSON_COMMANDS", "add_person_commands", "problem_message", "run_person_command"]

PERSON_COMMANDS = (
    "requests", "approve", "deny", "grants", "withdraw", "access-log", "units", "record",
)  # fmt: skip

_DATA_CLASSES = {
    "coverage": {"es": "datos de derechohabiencia", "en": "coverage data"},
    "ece.summary": {"es": "resumen del expediente clínico", "en": "clinical record summary"},
    "ece.full": {"es": "expediente clínico completo", "en": "full clinical record"},
}
_PURPOSES = {
    "TREAT": {"es": "atención médica", "en": "treatment"},
    "ETREAT": {"es": "atención de urgencia", "en": "emergency treatment"},
    "COC": {"es": "continuidad de la atención", "en": "continuity of care"},
    "CAREMGT": {"es": "gestión de la atención", "en": "care management"},
    "PATRQT": {"es": "a petición suya", "en": "at your request"},
    "HPAYMT": {"es": "pago de servicios de salud", "en": "healthcare payment"},
    "PUBHLTH": {"es": "salud pública", "en": "public health"},
    "HLEGAL": {"es": "orden judicial", "en": "judicial order"},
    "HRESCH": {"es": "investigación", "en": "research"},
}
_REQUEST_STATES = {
    "pending": {"es": "pendiente", "en": "pending"},
    "approved": {"es": "aprobada", "en": "approved"},
    "denied": {"es": "rechazada", "en": "denied"},
    "expired": {"es": "vencida sin respuesta", "en": "expired unanswered"},
    "withdrawn": {"es": "aprobada y después retirada", "en": "approved, then withdrawn"},
}
_GRANT_STATES = {
    "active": {"es": "vigente", "en": "active"},
    "withdrawn": {"es": "retirado", "en": "withdrawn"},
    "expired": {"es": "vencido", "en": "expired"},
}
_REASONS = {
    "NO_GRANT": {"es": "sin su consentimiento", "en": "without your consent"},
    "DATA_CLASS_NOT_GRANTED": {"es": "usted no lo autorizó", "en": "you did not allow it"},
    "REQUESTER_NOT_GRANTED": {"es": "usted no lo autorizó", "en": "you did not allow it"},
    "UNIT_NOT_GRANTED": {"es": "otra unidad", "en": "another unit"},
    "PURPOSE_NOT_GRANTED": {"es": "para otro fin", "en": "for another purpose"},
    "PURPOSE_FORBIDDEN": {"es": "fin prohibido", "en": "forbidden purpose"},
    "GRANT_WITHDRAWN": {"es": "consentimiento retirado", "en": "consent withdrawn"},
    "GRANT_EXPIRED": {"es": "consentimiento vencido", "en": "consent expired"},
    "RECIPIENT_OUTSIDE_MEXICO": {"es": "destino fuera de México", "en": "recipient abroad"},
    "DATA_PERIOD_NOT_COVERED": {"es": "fuera del periodo autorizado", "en": "outside the period"},
}
_PROBLEMS = {
    "REQUEST_NOT_FOUND": {
        "es": "no hay una solicitud con ese número dirigida a usted",
        "en": "there is no request with that number addressed to you",
    },
    "REQUEST_EXPIRED": {
        "es": "la solicitud venció sin respuesta; ya no se puede contestar",
        "en": "the request expired unanswered; it can no longer be answered",
    },
    "REQUEST_ALREADY_ANSWERED": {
        "es": "la solicitud ya fue contestada",
        "en": "the request was already answered",
    },
    "APPROVAL_WIDER_THAN_REQUEST": {
        "es": "la aprobación daría más de lo solicitado",
        "en": "the approval would give more than was asked",
    },
    "NOT_GRANTOR": {
        "es": "solo quien dio el consentimiento puede retirarlo",
        "en": "only the person who gave the consent can withdraw it",
    },
    "NOT_FOUND": {"es": "no existe", "en": "it does not exist"},
    "CHALLENGE_REUSED": {
        "es": "esa respuesta ya se había enviado (repetida)",
        "en": "that answer had already been sent (a replay)",
    },
}
_TEXT = {
    "no_requests": {"es": "No tiene solicitudes de consentimiento{}.", "en": "No consent "
                    "requests{}."},
    "pending_suffix": {"es": " pendientes", "en": " pending"},
    "requests_at": {"es": "Solicitudes de consentimiento sobre sus datos en {}:",
                    "en": "Consent requests about your data at {}:"},
    "asks": {"es": "pide: {}", "en": "asked by: {}"},
    "unit": {"es": "unidad {}", "en": "unit {}"},
    "for": {"es": "para", "en": "for"},
    "data": {"es": "datos", "en": "data"},
    "period": {"es": "periodo de los datos", "en": "period of data"},
    "any_period": {"es": "todo el expediente", "en": "the whole record"},
    "until": {"es": "acceso hasta", "en": "access until"},
    "answer_by": {"es": "conteste antes de", "en": "answer by"},
    "state": {"es": "estado", "en": "state"},
    "approved_scope": {"es": "aprobado", "en": "approved"},
    "how": {"es": "Para contestar: credencial-wallet approve {0} [--data-classes ...] "
            "[--until AAAA-MM-DD]  o  credencial-wallet deny {0}",
            "en": "To answer: credencial-wallet approve {0} [--data-classes ...] "
            "[--until YYYY-MM-DD]  or  credencial-wallet deny {0}"},
    "approved": {"es": "Aprobó la solicitud {}: {} podrá consultar {} hasta {}.",
                 "en": "You approved request {}: {} may read {} until {}."},
    "narrowed": {"es": "Dio menos de lo que se pidió.", "en": "You gave less than was asked."},
    "grant_line": {"es": "Consentimiento {} (comprobante guardado en la cartera).",
                   "en": "Consent {} (receipt kept in the wallet)."},
    "denied": {"es": "Rechazó la solicitud {}: {} no recibirá sus datos.",
               "en": "You denied request {}: {} will not receive your data."},
    "no_grants": {"es": "No ha dado consentimientos en {}.", "en": "No consents given at {}."},
    "grants_at": {"es": "Sus consentimientos en {}:", "en": "Your consents at {}:"},
    "to": {"es": "a", "en": "to"},
    "withdrawn": {"es": "Retiró el consentimiento {} el {}: desde ahora nadie accede con él.",
                  "en": "You withdrew consent {} at {}: from now on nobody reads with it."},
    "log_at": {"es": "Quién consultó sus datos en {}:", "en": "Who read your data at {}:"},
    "nobody": {"es": "  nadie", "en": "  nobody"},
    "you": {"es": "usted", "en": "you"},
    "grant_of": {"es": "consentimiento {}", "en": "consent {}"},
    "order_of": {"es": "orden judicial {}", "en": "judicial order {}"},
    "own_read": {"es": "su propia consulta", "en": "your own read"},
    "refused_at": {"es": "Solicitudes rechazadas (sin acceso):", "en": "Refused (no access):"},
    "orders": {"es": "Órdenes judiciales sobre sus datos:", "en": "Judicial orders about your "
               "data:"},
    "units_at": {"es": "Unidades con disponibilidad para su derechohabiencia ({}):",
                 "en": "Units with availability for your coverage ({}):"},
    "no_units": {"es": "  ninguna unidad con disponibilidad", "en": "  no unit with availability"},
    "places": {"es": "{} lugares", "en": "{} places"},
    "stale": {"es": "dato viejo", "en": "stale"},
    "by_consent": {"es": "por su consentimiento", "en": "by your consent"},
    "record_at": {"es": "Su expediente en {}:", "en": "Your record at {}:"},
    "empty": {"es": "  (sin registros)", "en": "  (no entries)"},
    "record_logged": {"es": "Esta consulta quedó en su bitácora de accesos como suya.",
                      "en": "This read is in your access log as your own."},
    "tz": {"es": "hora del centro de México", "en": "Mexico City time"},
}  # fmt: skip


def _t(key: str, lang: str, *values: Any) -> str:
    return _TEXT[key][lang].format(*values)


def _label(table: dict[str, dict[str, str]], key: Any, lang: str) -> str:
    return table[key][lang] if key in table else str(key)


def problem_message(error: WalletError, lang: str) -> str:
    """The person-facing text of a refusal, the issuer's or the wallet's own (the error's own
    detail when we have no words for it)."""
    if error.problem in _PROBLEMS:
        return _PROBLEMS[error.problem][lang]
    if error.code == "NARROWING_INVALID":
        return _narrowing_message(error.details, lang) or error.message
    return error.message


def _narrowing_message(details: dict[str, Any], lang: str) -> str | None:
    """Why an approval would give more than was asked, in the person's words."""
    if "notAsked" in details:
        extra, asked = _classes(details["notAsked"], lang), _classes(details.get("asked"), lang)
        return {
            "es": f"no puede aprobar {extra}: no se pidió (se pidió: {asked})",
            "en": f"you cannot approve {extra}: it was not asked for (asked: {asked})",
        }[lang]
    if "accessUntil" in details:
        until = _local(details["accessUntil"], lang)
        return {
            "es": f"el acceso no puede durar más de lo pedido (hasta {until})",
            "en": f"the access cannot last longer than asked (until {until})",
        }[lang]
    if details.get("past"):
        return {"es": "el acceso debe terminar en el futuro",
                "en": "the access must end in the future"}[lang]  # fmt: skip
    if "field" in details:
        return {
            "es": f"el periodo de los datos debe quedar dentro de lo pedido ({details['bound']})",
            "en": f"the period of the data must stay within what was asked ({details['bound']})",
        }[lang]
    return None


def _local(text: Any, lang: str) -> str:
    if not isinstance(text, str):
        return "-"
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    local = moment + timedelta(hours=-6)
    return f"{local:%Y-%m-%d %H:%M} ({_t('tz', lang)})"


def _classes(classes: Any, lang: str) -> str:
    return ", ".join(_label(_DATA_CLASSES, c, lang) for c in classes or [])


def _common(parser: argparse.ArgumentParser, *, institution: bool = True) -> None:
    parser.add_argument("--json", action="store_true", help="print the issuer's JSON")
    parser.add_argument(  # unsuppressed, it would undo a --lang given before the command
        "--lang", choices=["es", "en"], default=argparse.SUPPRESS, help="es (default) or en"
    )
    parser.add_argument(
        "--issuer-url", metavar="ID=URL", action="append", default=[],
        help="reach issuer ID at URL, e.g. https://imss.gob.mx=http://127.0.0.1:8000 "
        "(repeatable; also $CREDENCIAL_WALLET_ISSUER_URLS)",
    )  # fmt: skip
    if institution:
        parser.add_argument(
            "--institution", metavar="CODE", help="only this custodian (IMSS, ISSSTE, ...)"
        )


def _data_classes(values: Sequence[str] | None) -> list[str]:
    return [c for value in values or [] for c in value.split(",") if c]


def _near(text: str) -> tuple[float, float]:
    lat, separator, lon = text.partition(",")
    try:
        if not separator:
            raise ValueError
        return float(lat), float(lon)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write LAT,LON, e.g. 19.43,-99.13") from None


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write a date, YYYY-MM-DD") from None


def add_person_commands(commands: Any) -> None:
    """Register the person's commands on ``credencial-wallet``'s sub-command parser."""
    requests = commands.add_parser("requests", help="consent requests addressed to you")
    requests.add_argument("--all", action="store_true", help="also those already answered")
    _common(requests)
    approve = commands.add_parser("approve", help="approve a consent request (or less of it)")
    approve.add_argument("request", metavar="REQUEST", help="its number CR-… or its QR's URI")
    approve.add_argument(
        "--data-classes", metavar="CLASS", nargs="+",
        help="give only these (of those asked): coverage, ece.summary, ece.full",
    )  # fmt: skip
    approve.add_argument(
        "--until", metavar="DATE", type=_day, help="end the access earlier (YYYY-MM-DD)"
    )
    _common(approve, institution=False)
    deny = commands.add_parser("deny", help="deny a consent request")
    deny.add_argument("request", metavar="REQUEST", help="its number CR-… or its QR's URI")
    _common(deny, institution=False)
    grants = commands.add_parser("grants", help="the consents you gave")
    _common(grants)
    withdraw = commands.add_parser("withdraw", help="withdraw a consent (from now on)")
    withdraw.add_argument("grant", metavar="GRANT", help="its id urn:uuid:…")
    _common(withdraw)
    log = commands.add_parser("access-log", help="who read your data, when, under what")
    _common(log)
    units = commands.add_parser("units", help="medical units with availability")
    units.add_argument("--near", metavar="LAT,LON", type=_near, help="nearest first")
    units.add_argument("--service", metavar="NAME", help="only units with this service")
    units.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    _common(units)
    record = commands.add_parser("record", help="your own clinical record")
    record.add_argument(
        "--data-classes", metavar="CLASS", nargs="+",
        help="only these: coverage, ece.summary, ece.full (default: all)",
    )  # fmt: skip
    _common(record)


def run_person_command(
    args: argparse.Namespace,
    store: WalletStore,
    client: HttpClient,
    out: TextIO,
    clock: Callable[[], datetime],
) -> int:
    """Run one of :data:`PERSON_COMMANDS`."""
    key = store.load_key()
    held = custodians((e["credential"] for e in store.entries()), holder=key.did, now=clock())
    wanted = getattr(args, "institution", None)
    if wanted is not None:
        held = [c for c in held if c.code == wanted.upper()]
        if not held:
            raise WalletError("NO_MATCHING_CREDENTIAL", f"no coverage credential of {wanted}")
    apis = [PersonApi(client, key, custodian, clock) for custodian in held]
    lang: str = args.lang
    command: str = args.command
    if command in {"approve", "deny"}:
        api, request = _find_request(apis, args.request)
        if command == "deny":
            result = api.deny(request["id"])
            _emit(args, out, result, _t("denied", lang, request["id"], request["requester"]))
            return 0
        until = end_of_day(args.until) if args.until is not None else None
        grant = approval_grant(
            request, curp=api.curp, now=clock(),
            data_classes=_data_classes(args.data_classes) or None, until=until,
        )  # fmt: skip
        result = api.approve(request, grant)
        store.add_receipt(result["receipt"])
        who = request["requester"] + (
            f" ({_t('unit', lang, request['requesterUnit'])})" if request["requesterUnit"] else ""
        )
        lines = [
            _t("approved", lang, request["id"], who, _classes(grant["dataClasses"], lang),
               _local(grant["validUntil"], lang)),
            *([_t("narrowed", lang)] if result.get("narrowed") else []),
            _t("grant_line", lang, result["grantId"]),
        ]  # fmt: skip
        _emit(args, out, result, "\n".join(lines))
        return 0
    if command == "withdraw":
        for api in apis:
            owned = [g for g in api.grants()["grants"] if g["grantId"] == args.grant]
            if owned:
                result = api.withdraw(args.grant)
                _emit(args, out, result, _t("withdrawn", lang, args.grant,
                                            _local(result["withdrawnAt"], lang)))  # fmt: skip
                return 0
        raise WalletError("ISSUER_REFUSED", f"no consent {args.grant}", problem="NOT_FOUND")
    answers: list[dict[str, Any]] = []
    texts: list[str] = []
    for api in apis:
        render: Callable[[dict[str, Any], str], str]
        if command == "requests":
            answer = api.requests(None if args.all else "pending")
            render = _requests_text
        elif command == "grants":
            answer, render = api.grants(), _grants_text
        elif command == "access-log":
            answer, render = api.access_log(), _log_text
        elif command == "units":
            answer, render = api.units(args.near, args.service, args.limit), _units_text
        else:
            answer = api.record(_data_classes(args.data_classes))
            render = _record_text
        answers.append(answer)
        shown = {"custodian": api.custodian.code, **answer, "_all": getattr(args, "all", False)}
        texts.append(render(shown, lang))
    _emit(args, out, answers, "\n\n".join(texts))
    return 0


def _emit(args: argparse.Namespace, out: TextIO, answer: Any, text: str) -> None:
    if args.json:
        print(json.dumps(answer, ensure_ascii=False, indent=2), file=out)
    else:
        print(text, file=out)


def _find_request(apis: list[PersonApi], reference: str) -> tuple[PersonApi, dict[str, Any]]:
    """The custodian and the request a number (``CR-…``) or a QR's URI names."""
    request_id, candidates = reference.strip(), apis
    if request_id.startswith("https://"):
        parts = urlsplit(request_id)
        request_id = parts.path.rstrip("/").rsplit("/", 1)[-1]
        candidates = [api for api in apis if api.custodian.domain == parts.netloc]
    last: WalletError | None = None
    for api in candidates:
        try:
            return api, api.request(request_id)
        except WalletError as exc:
            if exc.problem != "REQUEST_NOT_FOUND":
                raise
            last = exc
    raise last or WalletError(
        "ISSUER_REFUSED", f"no request {request_id} for you", problem="REQUEST_NOT_FOUND"
    )


# -- text ------------------------------------------------------------------------------------------


def _requests_text(answer: dict[str, Any], lang: str) -> str:
    requests = answer["requests"]
    if not requests:
        suffix = "" if answer["_all"] else _t("pending_suffix", lang)
        return _t("no_requests", lang, suffix) + f" ({answer['custodian']})"
    lines = [_t("requests_at", lang, answer["custodian"])]
    for request in requests:
        who = f"{request['requester']}"
        if request.get("requesterName"):
            who += f" ({request['requesterName']})"
        if request.get("requesterUnit"):
            who += ", " + _t("unit", lang, request["requesterUnit"])
        period = (
            f"{request['dataFrom'] or '…'} – {request['dataUntil'] or '…'}"
            if request.get("dataFrom") or request.get("dataUntil")
            else _t("any_period", lang)
        )
        lines += [
            f"  {request['id']}  [{_label(_REQUEST_STATES, request['state'], lang)}]",
            f"    {_t('asks', lang, who)}",
            f"    {_t('for', lang)}: {_label(_PURPOSES, request['purpose'], lang)}",
            f"    {_t('data', lang)}: {_classes(request['dataClasses'], lang)}",
            f"    {_t('period', lang)}: {period}",
            f"    {_t('until', lang)}: {_local(request['accessUntil'], lang)}",
        ]
        if request["state"] == "pending":
            lines.append(f"    {_t('answer_by', lang)}: {_local(request['expiresAt'], lang)}")
        approved = request.get("approved")
        if approved:
            lines.append(
                f"    {_t('approved_scope', lang)}: {_classes(approved['dataClasses'], lang)}, "
                f"{_t('until', lang)} {_local(approved['accessUntil'], lang)}"
            )
    pending = [r["id"] for r in requests if r["state"] == "pending"]
    if pending:
        lines.append(_t("how", lang, pending[0]))
    return "\n".join(lines)


def _grants_text(answer: dict[str, Any], lang: str) -> str:
    if not answer["grants"]:
        return _t("no_grants", lang, answer["custodian"])
    lines = [_t("grants_at", lang, answer["custodian"])]
    for grant in answer["grants"]:
        grantees = ", ".join(
            g["institution"] + (f" ({g['unit']})" if g.get("unit") else "")
            for g in grant["grantees"] or []
        )
        purposes = ", ".join(_label(_PURPOSES, p, lang) for p in grant["purposes"] or [])
        lines += [
            f"  {grant['grantId']}  [{_label(_GRANT_STATES, grant['state'], lang)}]",
            f"    {_t('to', lang)} {grantees}: {_classes(grant['dataClasses'], lang)}; "
            f"{_t('for', lang)} {purposes}",
            f"    {_t('until', lang)}: {_local(grant['validUntil'], lang)}"
            + (f"  ({grant['requestId']})" if grant.get("requestId") else ""),
        ]
    return "\n".join(lines)


def _log_text(answer: dict[str, Any], lang: str) -> str:
    lines = [_t("log_at", lang, answer["custodian"])]
    accesses = answer.get("accesses") or []
    if not accesses:
        lines.append(_t("nobody", lang))
    for item in accesses:
        if item.get("self"):
            who, basis = _t("you", lang), _t("own_read", lang)
        else:
            who = str(item["requester"]) + (
                f" ({item['requesterUnit']})" if item.get("requesterUnit") else ""
            )
            kind = "order_of" if item.get("grantKind") == "judicial-order" else "grant_of"
            basis = _t(kind, lang, item.get("grantId"))
        lines.append(
            f"  {_local(item['at'], lang)}  {who}: {_label(_DATA_CLASSES, item['dataClass'], lang)}"
            f", {_label(_PURPOSES, item['purpose'], lang)}; {basis}"
        )
    refused = answer.get("refused") or []
    if refused:
        lines.append(_t("refused_at", lang))
        for item in refused:
            lines.append(
                f"  {_local(item['at'], lang)}  {item['requester']}: "
                f"{_label(_DATA_CLASSES, item['dataClass'], lang)} "
                f"({', '.join(_label(_REASONS, r, lang) for r in item.get('reasons') or [])})"
            )
    orders = answer.get("judicialOrders") or []
    if orders:
        lines.append(_t("orders", lang))
        for order in orders:
            lines.append(
                f"  {order['institution']}: {order['court']}, {order['caseReference']} "
                f"({order['orderDate']}): {_classes(order['dataClasses'], lang)}"
            )
    return "\n".join(lines)


def _units_text(answer: dict[str, Any], lang: str) -> str:
    lines = [_t("units_at", lang, answer.get("coverage"))]
    if not answer["units"]:
        lines.append(_t("no_units", lang))
    for unit in answer["units"]:
        notes = [_t("places", lang, unit.get("available"))]
        if "distanceKm" in unit:
            notes.append(f"{unit['distanceKm']} km")
        if unit.get("interoperability") == "consent":
            notes.append(_t("by_consent", lang))
        if unit.get("stale"):
            notes.append(_t("stale", lang))
        lines.append(
            f"  {unit['clues']}  {unit['name']} ({unit['institution']}): {', '.join(notes)}"
        )
    return "\n".join(lines)


def _record_text(answer: dict[str, Any], lang: str) -> str:
    lines = [_t("record_at", lang, answer["custodian"])]
    entries = answer["bundle"].get("entry") or []
    if not entries:
        lines.append(_t("empty", lang))
    for entry in entries:
        resource = entry.get("resource") or {}
        code = resource.get("code") if isinstance(resource.get("code"), dict) else {}
        text = code.get("text") if isinstance(code, dict) else None
        lines.append(
            f"  {resource.get('resourceType')} {resource.get('id', '')}"
            + (f": {text}" if text else "")
        )
    lines.append(_t("record_logged", lang))
    return "\n".join(lines)
