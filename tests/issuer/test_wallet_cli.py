"""``credencial-wallet`` as a citizen would use it, against the in-process issuer app."""

from __future__ import annotations

import io
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from issuer.credentials.service import IssuerService
from tests.issuer._wallet_world import Desk, make_desk
from verifier import decode_card
from wallet_spec.holder.cli import EXIT_REFUSED, EXIT_USAGE, run

DOMAIN = "https://clinica.example.gob.mx"


@pytest.fixture
def desk(service: IssuerService) -> Desk:
    return make_desk(service)


def _run(desk: Desk, wallet: Path, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = run(["--wallet", str(wallet), *argv], client=desk.client, out=out)
    return code, out.getvalue()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_wallet_command_line(
    desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wallet = tmp_path / "wallet"
    code, did = _run(desk, wallet, "keygen")
    assert code == 0
    assert did.startswith("did:key:z6Mk")
    assert _run(desk, wallet, "keygen")[0] == EXIT_REFUSED  # never replaces the key
    assert "KEY_EXISTS" in capsys.readouterr().err

    card = desk.enrol()
    offer = desk.offer(card["id"])
    assert _run(desk, wallet, "accept", offer["credentialOfferUri"])[0] == EXIT_REFUSED
    assert "TX_CODE_REQUIRED" in capsys.readouterr().err
    code, line = _run(
        desk, wallet, "accept", offer["credentialOfferUri"], "--tx-code", offer["txCode"]
    )
    assert code == 0, capsys.readouterr().err
    assert "IMSS" in line
    assert "HERNÁNDEZ" in line
    code, listed = _run(desk, wallet, "list", "--json")
    (credential_id,) = json.loads(listed)
    code, shown = _run(desk, wallet, "show", credential_id, "--json")
    entry = json.loads(shown)
    assert entry["credential"]["credentialSubject"]["id"] == did.strip()
    assert decode_card(entry["card"]) == entry["credential"]
    code, terminal = _run(
        desk, wallet, "show", credential_id, "--qr", "--png", str(tmp_path / "q.png")
    )
    assert code == 0
    assert terminal.strip()
    assert (tmp_path / "q.png").read_bytes().startswith(b"\x89PNG")

    challenge = desk.client.post("/challenges", json={"domain": DOMAIN}).json()["challenge"]
    request = tmp_path / "request.json"
    request.write_text(json.dumps({
        "query": [{"type": "QueryByExample", "credentialQuery": {
            "example": {"type": "HealthCoverageCredential"}}}],
        "challenge": challenge, "domain": DOMAIN,
    }))  # fmt: skip
    response_file = tmp_path / "response.json"
    assert _run(desk, wallet, "present", str(request), "--out", str(response_file))[0] == 0
    response = desk.client.post(
        "/presentations/verify",
        json={**json.loads(response_file.read_text()), "options": {"domain": DOMAIN}},
    )
    assert response.status_code == 200, response.text

    # Offline state: VALID with the lists, UNVERIFIABLE without; SUSPENDED after a suspension.
    trust = tmp_path / "trust.json"
    did_document = desk.client.get("/.well-known/did.json", headers={"host": "imss.gob.mx"})
    trust.write_text(json.dumps({"keys": did_document.json()["verificationMethod"]}))

    def lists() -> list[str]:
        paths = []
        for n, status_entry in enumerate(entry["credential"]["credentialStatus"]):
            parts = urlsplit(status_entry["statusListCredential"])
            served = desk.client.get(parts.path, headers={"host": parts.netloc})
            path = tmp_path / f"list-{n}.json"
            path.write_text(served.text)
            paths += ["--status-list", str(path)]
        return paths

    code, state = _run(desk, wallet, "status", "--trust", str(trust), *lists(), "--json")
    assert json.loads(state)["credentials"] == [{"id": credential_id, "state": "VALID"}]
    code, state = _run(desk, wallet, "status", "--trust", str(trust), "--lang", "en")
    assert "Cannot be confirmed now" in state
    desk.set_status(card["id"], "suspend")
    code, state = _run(desk, wallet, "status", "--trust", str(trust), *lists())
    assert "Suspendida" in state

    assert _run(desk, wallet, "show", "urn:uuid:nope")[0] == EXIT_REFUSED
    assert _run(desk, wallet, "present", str(tmp_path / "missing.json"))[0] == EXIT_USAGE
    assert _run(desk, wallet, "frobnicate")[0] == EXIT_USAGE
    assert _run(desk, tmp_path / "empty", "present", str(request))[0] == EXIT_REFUSED
    assert "NO_KEY" in capsys.readouterr().err
