"""The person's commands of ``credencial-wallet`` against the in-process issuer app: refusals with
clear text in Spanish and English, ``--json``, and the issuer-URL mapping (identifiers intact,
plain http only to this machine)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from issuer.credentials.service import IssuerService
from tests.issuer._wallet_world import Desk, make_desk
from tests.issuer.test_api import make_world
from tests.issuer.test_consent import store_records
from verifier import format_datetime
from wallet_spec.holder import (
    ISSUER_URLS_ENV,
    IssuerUrls,
    MappedClient,
    WalletError,
    approval_grant,
)
from wallet_spec.holder.cli import EXIT_REFUSED, EXIT_USAGE, run

#: The issuer side is covered on both databases elsewhere; the wallet's behaviour on one.
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def desk(service: IssuerService) -> Desk:
    return make_desk(service)


def _run(desk: Desk, wallet: Path, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = run(["--wallet", str(wallet), *argv], client=desk.client, out=out)
    return code, out.getvalue()


def _wallet_with_credential(desk: Desk, tmp_path: Path) -> tuple[Path, str]:
    wallet = tmp_path / "wallet"
    assert _run(desk, wallet, "keygen")[0] == 0
    offer = desk.offer(desk.enrol()["id"])
    code, _ = _run(
        desk, wallet, "accept", offer["credentialOfferUri"], "--tx-code", offer["txCode"]
    )
    assert code == 0
    curp: str = desk.enrol()["credentialSubject"]["curp"]
    return wallet, curp


def _ask(desk: Desk, curp: str, **changes: Any) -> dict[str, Any]:
    issste = desk.service.create_client("ISSSTE", "hospital", ["records"])
    body = {
        "subject": curp, "custodian": "IMSS", "purpose": "COC",
        "dataClasses": ["ece.summary", "coverage"], "accessUntil": "2099-01-01T05:59:59Z",
        **changes,
    }  # fmt: skip
    response = desk.client.post(
        "/consent-requests", json=body, headers={"Authorization": f"Bearer {issste}"}
    )
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


@SQLITE
def test_requests_approve_by_uri_in_english_and_json(
    desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wallet, curp = _wallet_with_credential(desk, tmp_path)
    code, text = _run(desk, wallet, "requests")
    assert (code, text.strip()) == (0, "No tiene solicitudes de consentimiento pendientes. (IMSS)")
    request = _ask(desk, curp)
    code, text = _run(desk, wallet, "requests", "--lang", "en")
    assert "Consent requests about your data at IMSS:" in text
    assert f"{request['id']}  [pending]" in text
    assert "for: continuity of care" in text
    assert "data: clinical record summary, coverage data" in text
    before = _run(desk, wallet, "--lang", "en", "requests")  # also before the command
    assert before[0] == 0
    assert "Consent requests about your data at IMSS:" in before[1]
    code, listed = _run(desk, wallet, "requests", "--json")
    assert [r["id"] for r in json.loads(listed)[0]["requests"]] == [request["id"]]

    # A class that was not asked for: refused by the wallet itself, before anything is signed.
    code, _ = _run(desk, wallet, "approve", request["id"], "--data-classes", "ece.full")
    assert code == EXIT_REFUSED
    err = capsys.readouterr().err
    assert "no puede aprobar expediente clínico completo: no se pidió (se pidió: " in err
    assert err.rstrip().endswith("(NARROWING_INVALID)")  # the sentence first, the code after
    code, _ = _run(desk, wallet, "approve", request["id"], "--until", "2100-01-01", "--lang", "en")
    assert code == EXIT_REFUSED
    err = capsys.readouterr().err
    assert "the access cannot last longer than asked (until " in err
    assert err.rstrip().endswith("(NARROWING_INVALID)")
    code, _ = _run(desk, wallet, "approve", request["id"], "--until", "tomorrow")
    assert code == EXIT_USAGE

    # Approved as asked, through the QR's URI, in English, as JSON.
    code, answer = _run(desk, wallet, "approve", request["uri"], "--json")
    assert code == 0, capsys.readouterr().err
    body = json.loads(answer)
    assert (body["state"], body["narrowed"]) == ("approved", False)
    receipts = list((wallet / "receipts").glob("*.json"))
    assert [json.loads(p.read_text())["id"] for p in receipts] == [body["receipt"]["id"]]
    code, _ = _run(desk, wallet, "deny", request["id"], "--lang", "en")
    assert code == EXIT_REFUSED
    err = capsys.readouterr().err
    assert "the request was already answered (ISSUER_REFUSED: REQUEST_ALREADY_ANSWERED)" in err
    code, text = _run(desk, wallet, "grants", "--lang", "en")
    assert "[active]" in text
    assert f"({request['id']})" in text

    # An unknown request: clear, in Spanish.
    code, _ = _run(desk, wallet, "approve", "CR-AAAAAAAAAAAAAAAA")
    assert code == EXIT_REFUSED
    assert "no hay una solicitud con ese número dirigida a usted" in capsys.readouterr().err
    code, _ = _run(desk, wallet, "withdraw", "urn:uuid:00000000-0000-4000-8000-000000000000")
    assert code == EXIT_REFUSED


@SQLITE
def test_deny_and_record(desk: Desk, tmp_path: Path) -> None:
    wallet, curp = _wallet_with_credential(desk, tmp_path)
    request = _ask(desk, curp)
    code, text = _run(desk, wallet, "deny", request["id"])
    assert code == 0
    assert text.strip() == f"Rechazó la solicitud {request['id']}: ISSSTE no recibirá sus datos."
    code, text = _run(desk, wallet, "requests", "--all")
    assert "[rechazada]" in text
    world = make_world(desk.service)
    store_records(world, curp=curp)
    code, text = _run(desk, wallet, "record", "--data-classes", "coverage", "--lang", "en")
    assert code == 0
    assert "Your record at IMSS:\n  Coverage cov-1\nThis read is in your access log" in text
    code, text = _run(desk, wallet, "access-log", "--json")
    (log,) = json.loads(text)
    assert [(a["dataClass"], a["self"]) for a in log["accesses"]] == [("coverage", True)]


@SQLITE
def test_no_credential_no_key(
    desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(desk, tmp_path / "none", "requests")[0] == EXIT_REFUSED
    assert "NO_KEY" in capsys.readouterr().err
    assert _run(desk, tmp_path / "w", "keygen")[0] == 0
    assert _run(desk, tmp_path / "w", "grants")[0] == EXIT_REFUSED
    assert "NO_MATCHING_CREDENTIAL" in capsys.readouterr().err
    code, _ = _run(desk, tmp_path / "w", "units", "--near", "north")
    assert code == EXIT_USAGE


# -- the issuer-URL mapping ------------------------------------------------------------------------


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []

    def get(self, url: str, *, headers: Any = None) -> Any:
        self.calls.append((url, dict(headers or {})))
        return None

    def post(self, url: str, *, data: Any = None, json: Any = None, headers: Any = None) -> Any:
        self.calls.append((url, dict(headers or {})))
        return None


def test_only_the_transport_is_mapped() -> None:
    urls = IssuerUrls.parse(
        ["https://imss.gob.mx=http://127.0.0.1:8000/"],
        environment="https://issste.gob.mx=https://staging.example",
    )
    recorder = _Recorder()
    client = MappedClient(recorder, urls)
    client.get("https://imss.gob.mx/.well-known/openid-credential-issuer?x=1")
    client.post("https://issste.gob.mx/oid4vci/token", headers={"Accept": "application/json"})
    client.get("https://imssbienestar.gob.mx/.well-known/did.json")
    assert recorder.calls == [
        ("http://127.0.0.1:8000/.well-known/openid-credential-issuer?x=1", {"Host": "imss.gob.mx"}),
        (
            "https://staging.example/oid4vci/token",
            {"Accept": "application/json", "Host": "issste.gob.mx"},
        ),
        ("https://imssbienestar.gob.mx/.well-known/did.json", {}),  # not mapped: unchanged
    ]
    for loopback in ("http://localhost:8000", "http://[::1]:8000", "http://127.0.0.2"):
        assert IssuerUrls({"https://imss.gob.mx": loopback}).mapping


@pytest.mark.parametrize(
    "pair",
    [
        "https://imss.gob.mx=http://192.168.1.10:8000",  # plain http to another machine
        "https://imss.gob.mx=http://imss.example",
        "http://imss.gob.mx=http://127.0.0.1:8000",  # an issuer id is https
        "https://imss.gob.mx/path=http://127.0.0.1:8000",
        "https://imss.gob.mx=ftp://127.0.0.1",
        "https://imss.gob.mx",  # no =URL
    ],
)
def test_a_mapping_is_refused(pair: str) -> None:
    with pytest.raises(WalletError) as excinfo:
        IssuerUrls.parse([pair], environment="")
    assert excinfo.value.code == "ISSUER_URL_REFUSED"


@SQLITE
def test_the_environment_variable_and_the_option(
    monkeypatch: pytest.MonkeyPatch, desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(ISSUER_URLS_ENV, "https://imss.gob.mx=http://10.0.0.1:8000")
    assert _run(desk, tmp_path / "w", "keygen")[0] == 0
    assert _run(desk, tmp_path / "w", "requests")[0] == EXIT_REFUSED
    assert "ISSUER_URL_REFUSED" in capsys.readouterr().err
    monkeypatch.setenv(
        ISSUER_URLS_ENV,
        "https://imss.gob.mx=http://127.0.0.1:1, https://issste.gob.mx=http://127.0.0.1:2",
    )
    assert set(IssuerUrls.parse([]).mapping) == {"https://imss.gob.mx", "https://issste.gob.mx"}


def test_an_approval_never_widens() -> None:
    request = {
        "id": "CR-AAAAAAAAAAAAAAAA", "requester": "ISSSTE", "requesterUnit": None,
        "purpose": "TREAT", "dataClasses": ["ece.summary"], "dataFrom": "2020-01-01",
        "dataUntil": "2024-12-31", "accessUntil": "2030-01-01T00:00:00Z",
    }  # fmt: skip
    from datetime import UTC, date, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    grant = approval_grant(request, curp="HEGM850314MDFRRR01", now=now)
    assert grant["grantees"] == [{"institution": "ISSSTE"}]
    assert (grant["dataFrom"], grant["dataUntil"]) == ("2020-01-01", "2024-12-31")
    assert grant["validFrom"] == format_datetime(now)
    narrowed = approval_grant(
        request, curp="HEGM850314MDFRRR01", now=now, data_from=date(2022, 1, 1)
    )
    assert narrowed["dataFrom"] == "2022-01-01"
    for wider in ({"data_from": date(2019, 1, 1)}, {"data_until": date(2025, 1, 1)},
                  {"data_classes": ["ece.full"]}):  # fmt: skip
        with pytest.raises(WalletError) as excinfo:
            approval_grant(request, curp="HEGM850314MDFRRR01", now=now, **wider)
        assert excinfo.value.code == "NARROWING_INVALID"
