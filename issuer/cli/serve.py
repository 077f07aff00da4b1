"""``credencial-issuer serve``: the HTTP API under uvicorn; ``--demo`` is what ``make run`` starts.

The demo keeps everything under ``var/demo/``: an embedded SQLite database, the three
institutions' keys (encrypted with a fixed, public passphrase: demo only) and one API key per
institution in ``api-keys.json``, reused on the next run. ``CREDENCIAL_DATABASE_URL``, when set,
puts the demo's database elsewhere (e.g. a PostgreSQL database). It stores the demo person's
record and a unit feed, and prints the citizen's walk-through (:mod:`issuer.cli.walkthrough`).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from pydantic import SecretStr

from issuer.app import create_app
from issuer.cli.walkthrough import citizen_walkthrough, seed_demo_data
from issuer.credentials.service import IssuerService
from issuer.demo import DEMO_PEOPLE
from issuer.institutions import INSTITUTIONS
from issuer.principal import SCOPES
from issuer.settings import IssuerSettings
from verifier import parse_json

__all__ = [
    "DEMO_DIR",
    "DEMO_PASSPHRASE",
    "demo_clients",
    "demo_curl",
    "demo_next_steps",
    "demo_settings",
    "serve",
]

#: Where ``serve --demo`` keeps its database, keys and API keys.
DEMO_DIR = Path("var/demo")
#: The demo's key passphrase: public, so demo keys must never sign anything real.
DEMO_PASSPHRASE = "demo-only-passphrase-not-secret"  # noqa: S105 - public on purpose

Runner = Callable[[FastAPI, str, int], None]


def _uvicorn(app: FastAPI, host: str, port: int) -> None:
    import uvicorn

    # No "Server: uvicorn" header. The client address and scheme come from X-Forwarded-For and
    # X-Forwarded-Proto only when a TLS proxy on FORWARDED_ALLOW_IPS (default 127.0.0.1) sets them.
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)


def demo_settings(directory: Path, host: str, port: int) -> IssuerSettings:
    """Settings of the demo: SQLite and keys under ``directory``, the demo passphrase."""
    return IssuerSettings(
        database_url=os.environ.get("CREDENCIAL_DATABASE_URL")
        or f"sqlite:///{directory / 'credencial.db'}",
        key_dir=directory / "keys",
        key_passphrase=SecretStr(DEMO_PASSPHRASE),
        loopback_institution="IMSS",  # the phone wallet at /wallet/ in a browser on this machine
        host=host,
        port=port,
    )


def demo_clients(service: IssuerService, directory: Path) -> dict[str, str]:
    """One API key per institution (every scope), kept in ``api-keys.json`` and reused."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "api-keys.json"
    try:
        stored = parse_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stored = {}
    keys: dict[str, str] = {}
    for code in INSTITUTIONS:
        key = stored.get(code) if isinstance(stored, dict) else None
        if not isinstance(key, str) or service.authenticate(key) is None:
            key = service.create_client(code, "demo", sorted(SCOPES), actor="demo")
        keys[code] = key
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(keys, handle, indent=2)
    return keys


def demo_curl(base_url: str, api_key: str) -> str:
    """A ready-to-paste ``curl`` that issues the demo person's IMSS credential."""
    body = json.dumps(
        {"credential": {"credentialSubject": DEMO_PEOPLE["credential"]}}, ensure_ascii=False
    )
    return (
        f"curl -sS -X POST {base_url}/credentials/issue \\\n"
        f"  -H {shlex.quote('Authorization: Bearer ' + api_key)} \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        f"  -d {shlex.quote(body)}"
    )


def demo_next_steps(base_url: str, api_key: str, directory: Path) -> str:
    """What a first-time user can try against the demo: issue, verify, offer to a wallet, the
    front-desk page on a trust bundle of the demo database, and where consent is explained."""
    d = shlex.quote(str(directory))
    issued = f"{d}/issued.json"
    auth = shlex.quote("Authorization: Bearer " + api_key)
    offer_body = (
        f"import json; credential = json.load(open({json.dumps(str(directory / 'issued.json'))}))"
        '["verifiableCredential"]; print(json.dumps({"credentialId": credential["id"], '
        '"txCode": True}))'
    )
    env = (
        f"CREDENCIAL_DATABASE_URL=sqlite:///{d}/credencial.db CREDENCIAL_KEY_DIR={d}/keys "
        f"CREDENCIAL_KEY_PASSPHRASE={DEMO_PASSPHRASE}"
    )
    return (
        f"Issue a credential as IMSS (the answer is also saved in {issued}):\n"
        f"{demo_curl(base_url, api_key)} | tee {issued}\n\n"
        "Verify it (the issue answer is a verify request):\n"
        f"curl -sS -X POST {base_url}/credentials/verify -H 'Content-Type: application/json' "
        f"-d @{issued}\n\n"
        "Offer it to a wallet (OpenID4VCI: the offer's QR text and its PIN, shown once):\n"
        f"python3 -c {shlex.quote(offer_body)} \\\n"
        f"  | curl -sS -X POST {base_url}/oid4vci/offers -H {auth} \\\n"
        "    -H 'Content-Type: application/json' -d @-\n"
        f"curl -sS {base_url}/.well-known/openid-credential-issuer -H 'Host: imss.gob.mx'\n\n"
        "The front-desk page (credencial-verify serve) on a trust bundle of this database:\n"
        f"export {env}\n"
        f".venv/bin/credencial-issuer anchor keygen --out {d}/anchors --count 1\n"
        f".venv/bin/credencial-issuer trust-bundle build --out {d}/pub/trust-bundle.json "
        f"--anchors {d}/anchors/ANCHORS.json\n"
        f".venv/bin/credencial-issuer trust-bundle sign {d}/pub/trust-bundle.json "
        f"--key {d}/anchors/anchor-1.json --key-id anchor-1\n"
        f".venv/bin/credencial-verify sync {d}/pub/ --state {d}/desk/ "
        f"--anchors {d}/anchors/ANCHORS.json\n"
        f".venv/bin/credencial-verify serve --trust-dir {d}/desk/   "
        "# scan a card, or paste a credential's JSON + Enter\n\n"
        "Consent, judicial orders, record exchange and unit feeds: docs/consent.md; "
        f"every route: {base_url}/docs\n"
    )


def serve(
    host: str | None,
    port: int | None,
    *,
    demo: bool = False,
    demo_dir: Path = DEMO_DIR,
    runner: Runner | None = None,
) -> int:
    """Bootstrap the service (migrate; institutions and keys) and serve the API until stopped."""
    if demo:
        settings = demo_settings(demo_dir, host or "127.0.0.1", port or 8000)
        print(
            f"WARNING: demo mode. The keys in {demo_dir / 'keys'} are encrypted with a fixed, "
            "public passphrase: never use them for real credentials.",
            file=sys.stderr,
        )
    else:
        settings = IssuerSettings()
        settings = settings.model_copy(
            update={"host": host or settings.host, "port": port or settings.port}
        )
    service = IssuerService(settings)
    try:
        service.bootstrap()
        app = create_app(settings, service)
        shown = "127.0.0.1" if settings.host in {"0.0.0.0", "::"} else settings.host  # noqa: S104 - compared, not bound
        base_url = f"http://{shown}:{settings.port}"
        print(f"credencial issuer API: {base_url}  (docs: {base_url}/docs)")
        if demo:
            keys = demo_clients(service, demo_dir)
            print(f"Database: {settings.database_url}")
            print(f"Demo API keys (scopes {', '.join(sorted(SCOPES))}), also in {demo_dir}/:")
            for code, key in keys.items():
                print(f"  {code:<15} {key}")
            print("\n" + demo_next_steps(base_url, keys["IMSS"], demo_dir))
            seed_demo_data(service)
            print(citizen_walkthrough(base_url, keys, demo_dir))
            print(f"The phone wallet, in a browser on this machine (as IMSS): {base_url}/wallet/")
            print("Press Ctrl+C to stop.", flush=True)
        (runner or _uvicorn)(app, settings.host, settings.port)
    finally:
        service.db.dispose()
    return 0
