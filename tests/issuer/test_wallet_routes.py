"""``/wallet/``: the phone wallet's files (strict policy, allow-list), the card form, and the
loopback Host that stands for one institution in development."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from issuer.app import create_app
from issuer.credentials.service import IssuerService
from issuer.http.hardening import API_CONTENT_SECURITY_POLICY, WALLET_CONTENT_SECURITY_POLICY
from issuer.principal import SCOPES
from issuer.wallet.routes import WALLET_DIR
from tests.issuer._wallet_world import person
from tests.issuer._workers import make_settings
from verifier import decode_card


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IssuerService]:
    root = tmp_path_factory.mktemp("wallet-routes")
    settings = make_settings(f"sqlite:///{root / 'issuer.db'}", root / "keys").model_copy(
        update={"loopback_institution": "IMSS"}
    )
    service = IssuerService(settings)
    service.bootstrap()
    try:
        yield service
    finally:
        service.db.dispose()


@pytest.fixture(scope="module")
def client(service: IssuerService) -> TestClient:
    return TestClient(create_app(service.settings, service), base_url="http://127.0.0.1:8000")


def test_the_page_is_served_with_the_wallet_policy(client: TestClient) -> None:
    page = client.get("/wallet/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == WALLET_CONTENT_SECURITY_POLICY
    assert page.headers["cache-control"] == "no-cache"
    assert page.headers["x-frame-options"] == "DENY"
    assert 'rel="manifest"' in page.text
    worker = client.get("/wallet/sw.js")
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["service-worker-allowed"] == "/wallet/"
    assert client.get("/wallet/manifest.webmanifest").json()["start_url"] == "/wallet/"
    moved = client.get("/wallet", follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (308, "/wallet/")
    api = client.get("/.well-known/openid-credential-issuer")
    assert api.headers["content-security-policy"] == API_CONTENT_SECURITY_POLICY


def test_text_files_go_compressed_to_a_browser_that_takes_gzip(client: TestClient) -> None:
    plain = client.get("/wallet/vendor/jsQR.js", headers={"Accept-Encoding": "identity"})
    packed = client.get("/wallet/vendor/jsQR.js", headers={"Accept-Encoding": "gzip, br"})
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding"
    assert packed.content == plain.content  # httpx decompressed it: the same file
    assert int(packed.headers["content-length"]) < len(plain.content) // 3


@pytest.mark.parametrize(
    "path",
    [
        "/wallet/nothing.js",
        "/wallet/..%2Fissuer%2Fapp.py",
        "/wallet/%2e%2e/%2e%2e/pyproject.toml",
        "/wallet/vendor/../../README.md",
        "/wallet/index.html%00.js",
        "/wallet/wallet.js/",
    ],
)
def test_only_the_wallet_files_are_served(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_the_service_worker_keeps_every_file_the_page_needs(client: TestClient) -> None:
    """Offline, the page needs each of its files: all are in the worker's list and served."""
    worker = (WALLET_DIR / "sw.js").read_text(encoding="utf-8")
    kept = set(re.findall(r'"(/wallet/[^"]*)"', worker.split("const FILES", 1)[1].split("];")[0]))
    page = (WALLET_DIR / "index.html").read_text(encoding="utf-8")
    needed = set(re.findall(r'(?:src|href)="(/wallet/[^"]+)"', page)) | {"/wallet/"}
    assert needed <= kept, needed - kept
    for path in kept:
        assert client.get(path).status_code == 200, path


def _enrolled(client: TestClient, service: IssuerService) -> dict[str, Any]:
    key = service.create_client("IMSS", "wallet-routes", sorted(SCOPES), actor="test")
    response = client.post("/enrolments", json=person(), headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 201, response.text
    credential: dict[str, Any] = response.json()["verifiableCredential"]
    return credential


def test_the_card_form_is_the_printed_cards_encoding(
    client: TestClient, service: IssuerService
) -> None:
    credential = _enrolled(client, service)
    response = client.post("/wallet/card-form", json={"credential": credential})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    card = response.json()["card"]
    assert card.startswith("SUS1:")
    assert decode_card(card) == credential


@pytest.mark.parametrize(
    "body",
    [
        {"credential": {"x": 1}},
        {"credential": {"@context": [], "credentialSubject": "nope"}},
        {"credential": []},
        {"credential": {}, "extra": 1},
        {},
    ],
)
def test_what_the_card_cannot_express_is_a_clear_422(client: TestClient, body: Any) -> None:
    response = client.post("/wallet/card-form", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_a_credential_with_an_unknown_member_is_not_expressible(
    client: TestClient, service: IssuerService
) -> None:
    credential = _enrolled(client, service)
    credential["credentialSubject"]["nickname"] = "Lupita"
    response = client.post("/wallet/card-form", json={"credential": credential})
    assert response.status_code == 422
    assert response.json()["code"] == "CARD_NOT_EXPRESSIBLE"


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "127.0.0.1"])
def test_a_loopback_host_stands_for_the_configured_institution(
    client: TestClient, host: str
) -> None:
    metadata = client.get("/.well-known/openid-credential-issuer", headers={"Host": host})
    assert metadata.status_code == 200
    assert metadata.json()["credential_issuer"] == "https://imss.gob.mx"
    other = client.get("/.well-known/openid-credential-issuer", headers={"Host": "issste.gob.mx"})
    assert other.json()["credential_issuer"] == "https://issste.gob.mx"  # real hosts still win


def test_without_the_setting_a_loopback_host_is_no_institution(service: IssuerService) -> None:
    plain = IssuerService(service.settings.model_copy(update={"loopback_institution": None}))
    try:
        client = TestClient(create_app(plain.settings, plain), base_url="http://127.0.0.1:8000")
        response = client.get("/.well-known/openid-credential-issuer")
    finally:
        plain.db.dispose()
    assert response.status_code == 404
    assert response.json()["code"] == "UNKNOWN_HOST"
    hostile = TestClient(create_app(service.settings, service), base_url="http://evil.example")
    assert hostile.get("/.well-known/openid-credential-issuer").status_code == 404


def test_a_consent_request_link_opens_the_wallet_and_looks_nothing_up(client: TestClient) -> None:
    """``/r/<id>`` (the request's QR) sends the camera app to the wallet; any well-formed id gets
    the same answer (no oracle of which requests exist), anything else is a 422."""
    for request_id in ("CR-MFRGGZDFMZTWQ2LK", "CR-AAAAAAAAAAAAAAAA"):
        response = client.get(f"/r/{request_id}", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/wallet/?request={request_id}"
    for bad in ("CR-short", "cr-mfrggzdfmztwq2lk", "CR-MFRGGZDFMZTWQ2L1"):
        assert client.get(f"/r/{bad}", follow_redirects=False).status_code == 422
