"""The citizen's walk-through ``make run`` prints: every step a command that works as printed.

The enrolment desk (IMSS) issues and offers; the person's wallet accepts (the offer names
``https://imss.gob.mx``: the wallet reaches the local server through
``CREDENCIAL_WALLET_ISSUER_URLS``); another institution (ISSSTE) asks for consent; the person
approves less than asked; ISSSTE receives only what was approved; the person reads the access log
and their record; withdraws; ISSSTE is refused. :func:`seed_demo_data` stores the demo person's
record and a unit feed once, so each step has something to show.
"""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from issuer.credentials.service import IssuerService
from issuer.demo import DEMO_PEOPLE, DEMO_RECORDS, DEMO_UNITS
from issuer.institutions import INSTITUTIONS
from issuer.storage.tables import ClinicalRecord, UnitFeed
from issuer.units.models import MedicalUnit
from issuer.units.service import publish_feed

__all__ = ["WALKTHROUGH_END", "WALKTHROUGH_START", "citizen_walkthrough", "seed_demo_data"]

#: The lines that open and close the walk-through in ``make run``'s output (a test runs what is
#: between them).
WALKTHROUGH_START = "The citizen's side, step by step (paste in order, in one terminal):"
WALKTHROUGH_END = "# End of the walk-through."
#: The unit of ISSSTE that asks (a CLUES).
REQUESTER_UNIT = "DFSSA003961"
#: Turns a JSON answer on stdin into one value: ``field KEY...`` (numbers index lists).
_FIELD = (
    "field() { python3 -c 'import functools, json, sys; print(functools.reduce(lambda d, k: "
    'd[int(k)] if isinstance(d, list) else d[k], sys.argv[1:], json.load(sys.stdin)))\' "$@"; }'
)


def seed_demo_data(service: IssuerService, now: datetime | None = None) -> None:
    """Store the demo person's IMSS record and IMSS's unit feed, unless already there."""
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    curp = DEMO_PEOPLE["credential"]["curp"]
    with service.db.transaction() as session:
        stored = session.scalars(
            select(ClinicalRecord.id).where(
                ClinicalRecord.institution_code == "IMSS", ClinicalRecord.subject_curp == curp
            )
        ).first()
        if stored is None:
            for entry in DEMO_RECORDS:
                session.add(
                    ClinicalRecord(
                        institution_code="IMSS", subject_curp=curp,
                        data_class=entry["dataClass"],
                        effective_date=datetime.fromisoformat(entry["effectiveDate"]).date(),
                        resource=entry["resource"],
                    )
                )  # fmt: skip
        feed = session.get(UnitFeed, "IMSS")
    if feed is None:
        units = [MedicalUnit.model_validate({**u, "updatedAt": moment}) for u in DEMO_UNITS]
        publish_feed(service, "IMSS", units, now=moment)


def _curl(base_url: str, api_key: str, path: str, body: object | None = None) -> str:
    auth = shlex.quote(f"Authorization: Bearer {api_key}")
    if body is None:
        return f"curl -sS -w '\\n' {base_url}{path} -H {auth}"
    data = shlex.quote(json.dumps(body, ensure_ascii=False))
    return (
        f"curl -sS -w '\\n' -X POST {base_url}{path} -H {auth} "
        f"-H 'Content-Type: application/json' -d {data}"
    )


def citizen_walkthrough(
    base_url: str, keys: dict[str, str], directory: Path, now: datetime | None = None
) -> str:
    """The walk-through's text (dates relative to ``now``: access for 30 days, approved 7)."""
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    d = shlex.quote(str(directory))
    person = DEMO_PEOPLE["credential"]
    curp = person["curp"]
    mapping = " ".join(
        f"https://{inst.did.removeprefix('did:web:')}={base_url}" for inst in INSTITUTIONS.values()
    )
    asked = {
        "subject": curp,
        "custodian": "IMSS",
        "purpose": "TREAT",
        "dataClasses": ["ece.summary", "ece.full"],
        "dataFrom": "2020-01-01",
        "dataUntil": moment.date().isoformat(),
        # the end of the 30th day in Mexico City (UTC-6)
        "accessUntil": (moment + timedelta(days=31)).strftime("%Y-%m-%dT05:59:59Z"),
        "requesterUnit": REQUESTER_UNIT,
    }
    records = {
        "custodian": "IMSS",
        "subject": curp,
        "dataClasses": ["ece.summary", "ece.full"],
        "purpose": "TREAT",
        "requesterUnit": REQUESTER_UNIT,
        "recipientCountry": "MX",
    }
    until = (moment + timedelta(days=7)).date().isoformat()
    wallet = ".venv/bin/credencial-wallet"
    issue = _curl(base_url, keys["IMSS"], "/credentials/issue",
                  {"credential": {"credentialSubject": person}})  # fmt: skip
    offer = (
        f"curl -sS -X POST {base_url}/oid4vci/offers "
        f"-H {shlex.quote('Authorization: Bearer ' + keys['IMSS'])} "
        "-H 'Content-Type: application/json' "
        '-d "{\\"credentialId\\": \\"$CREDENTIAL\\"}"'
        f" > {d}/offer.json"
    )
    lines = [
        WALKTHROUGH_START,
        _FIELD,
        "# 1. The enrolment desk (IMSS) issues the person's credential and offers it to a wallet"
        " (QR text and PIN):",
        f"CREDENTIAL=$({issue} | field verifiableCredential id)",
        offer,
        "# 2. The person's wallet receives it. The offer names https://imss.gob.mx; the wallet"
        " reaches this server instead (identifiers unchanged):",
        f"export CREDENCIAL_WALLET={d}/wallet CREDENCIAL_WALLET_ISSUER_URLS={shlex.quote(mapping)}",
        f"test -f {d}/wallet/holder-key.json || {wallet} keygen",
        f'{wallet} accept "$(field credentialOfferUri < {d}/offer.json)" '
        f'--tx-code "$(field txCode < {d}/offer.json)"',
        "# 3. Another institution (ISSSTE) asks the person for consent to read their IMSS"
        " record (a hospital screen would show the request's uri as a QR):",
        f"{_curl(base_url, keys['ISSSTE'], '/consent-requests', asked)} > {d}/consent-request.json",
        f"REQUEST=$(field id < {d}/consent-request.json)",
        "# 4. The person sees it and approves less than asked: the summary only, for a week:",
        f"{wallet} requests",
        f'{wallet} approve "$REQUEST" --data-classes ece.summary --until {until}',
        "# 5. ISSSTE reads its request's state, then asks IMSS for both classes: it receives the"
        " summary only:",
        _curl(base_url, keys["ISSSTE"], "/consent-requests/$REQUEST"),
        _curl(base_url, keys["ISSSTE"], "/records/requests", records),
        "# 6. The person reads who accessed their data, their own record, and nearby units:",
        f"{wallet} access-log",
        f"{wallet} record",
        f"{wallet} units --near 19.43,-99.13",
        "# 7. The person withdraws the consent; from then on ISSSTE is refused (403):",
        f"{wallet} grants",
        f'{wallet} withdraw "$({wallet} grants --json | field 0 grants 0 grantId)"',
        _curl(base_url, keys["ISSSTE"], "/records/requests", records),
        "# In English: add --lang en to any wallet command; --json prints the issuer's answer.",
        WALKTHROUGH_END,
    ]
    return "\n".join(lines) + "\n"
