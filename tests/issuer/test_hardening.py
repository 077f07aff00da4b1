"""Service hardening of the issuer API: body limits on every route, bare 500s, security headers,
CORS closed by default, the authentication-failure limit, and secrets only hashed at rest."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError
from sqlalchemy import MetaData, create_engine, select

import issuer
from issuer.app import create_app
from issuer.credentials.service import IssuerService
from issuer.http import hardening
from issuer.http.errors import MAX_BODY_BYTES, PROBLEM_MEDIA_TYPE
from issuer.http.hardening import API_CONTENT_SECURITY_POLICY, AuthFailureLimiter
from issuer.principal import SCOPES
from issuer.settings import IssuerSettings
from tests.issuer._workers import make_settings
from tests.strategies import example_credential
from verifier import KeyFormatError

Json = dict[str, Any]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IssuerService]:
    """One bootstrapped SQLite service for the module (the middleware does not see the database)."""
    tmp = tmp_path_factory.mktemp("hardening")
    service = IssuerService(make_settings(f"sqlite:///{tmp / 'issuer.db'}", tmp / "keys"))
    try:
        service.bootstrap()
        yield service
    finally:
        service.db.dispose()


@pytest.fixture(scope="module")
def api_key(service: IssuerService) -> str:
    """An IMSS key with every scope."""
    return service.create_client("IMSS", "hardening", SCOPES)


def app_with(service: IssuerService, **settings: Any) -> FastAPI:
    """The API over ``service``, with some settings changed."""
    return create_app(service.settings.model_copy(update=settings), service)


def client_of(app: FastAPI, address: str = "198.51.100.7", **kwargs: Any) -> TestClient:
    """A client calling from ``address`` (the source address the limiter keys on)."""
    return TestClient(app, client=(address, 50_000), **kwargs)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def issue_body() -> Json:
    return {"credential": {"credentialSubject": example_credential()["credentialSubject"]}}


def assert_problem(response: Any, status: int, code: str) -> Json:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: Json = response.json()
    assert (body["status"], body["code"]) == (status, code)
    return body


def assert_hardened_headers(response: Any) -> None:
    """The headers every answer carries."""
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "access-control-allow-origin" not in headers


# -- request size ---------------------------------------------------------------------------------


def _body_routes(app: FastAPI) -> list[str]:
    """The POST paths whose OpenAPI operation takes a request body."""
    return sorted(
        path
        for path, item in app.openapi()["paths"].items()
        if "requestBody" in item.get("post", {})
    )


def test_every_route_with_a_body_refuses_an_oversized_one_declared_or_chunked(
    service: IssuerService, api_key: str
) -> None:
    app = app_with(service)
    routes = _body_routes(app)
    assert {"/credentials/issue", "/credentials/verify", "/admin/clients"} <= set(routes)
    client = client_of(app)
    oversized = b"{" + b" " * MAX_BODY_BYTES + b"}"

    def chunks() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding: chunked
        for _ in range(MAX_BODY_BYTES // 8192 + 2):
            yield b" " * 8192

    for path in routes:
        for headers in ({}, bearer(api_key)):  # refused before and after authentication
            declared = client.post(path, content=oversized, headers=headers)
            assert_problem(declared, 413, "BODY_TOO_LARGE")
            assert_hardened_headers(declared)
            streamed = client.post(path, content=chunks(), headers=headers)
            assert "content-length" not in streamed.request.headers
            assert_problem(streamed, 413, "BODY_TOO_LARGE")
    # Just under the limit is read and judged on its content.
    fits = b"{" + b" " * (MAX_BODY_BYTES - 2) + b"}"
    assert_problem(client.post("/credentials/verify", content=fits), 422, "VALIDATION_FAILED")


# -- no internals in answers ----------------------------------------------------------------------

_INTERNALS = re.compile(r"Traceback|File \"|site-packages|\.py\b|/usr/|/tmp/|/home/|/work/")


def test_an_internal_error_answers_a_bare_500_with_no_trace_or_path(
    service: IssuerService, api_key: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret_path = str(tmp_path / "keys" / "imss" / "key-1.pem")

    def broken_did(institution: str) -> Json:
        raise RuntimeError(f"cannot open {secret_path}: disk on fire")

    def broken_keys(institution: str) -> Any:
        raise KeyFormatError(f"cannot decrypt {secret_path}: wrong passphrase or bad file")

    client = client_of(app_with(service), raise_server_exceptions=True)
    first = client.post("/credentials/issue", json=issue_body(), headers=bearer(api_key))
    assert first.status_code == 201  # status list 1 exists
    monkeypatch.setattr(service, "did_document", broken_did)
    monkeypatch.setattr(service, "active_key", broken_keys)
    # The client re-raises server errors, yet gets an answer: nothing escapes the app.
    answers = [
        client.get("/institutions/IMSS/did.json"),
        client.get("/.well-known/did.json", headers={"host": "imss.gob.mx"}),
        client.post("/credentials/issue", json=issue_body(), headers=bearer(api_key)),
        client.get("/institutions/IMSS/status/revocation/1"),
    ]
    for response in answers:
        body = assert_problem(response, 500, "INTERNAL_ERROR")
        assert body["detail"] == "an unexpected error occurred; it has been logged"
        assert not _INTERNALS.search(response.text), response.text
        for leaked in ("fire", "decrypt", "RuntimeError", "KeyFormatError", secret_path):
            assert leaked not in response.text
        assert_hardened_headers(response)
        assert response.headers["cache-control"] == "no-store"


def test_error_answers_never_show_internal_paths(service: IssuerService, api_key: str) -> None:
    client = client_of(app_with(service))
    root = str(Path(issuer.__file__).resolve().parent.parent)
    answers = [
        client.get("/nope"),
        client.delete("/credentials/issue"),
        client.get(
            "/credentials/urn:uuid:0b5c6f2e-8a41-4d1e-9a7b-3c2d1e0f9a8b", headers=bearer(api_key)
        ),
        client.post("/credentials/issue", content=b"{", headers=bearer(api_key)),
        client.post("/credentials/issue", json={"credential": []}, headers=bearer(api_key)),
        client.post("/credentials/verify", json={"verifiableCredential": "SUS1:%%%"}),
        client.get("/institutions/IMSS/status/revocation/99"),
        client.get("/institutions/IMSS/status/revocation/1", params={"timestamp": "yesterday"}),
        client.get("/.well-known/did.json", headers={"host": "evil.example"}),
    ]
    for response in answers:
        assert response.status_code >= 400, response.text
        assert root not in response.text
        assert not _INTERNALS.search(response.text), response.text
        assert_hardened_headers(response)


# -- security headers -----------------------------------------------------------------------------


def test_security_headers_and_cache_policy(service: IssuerService, api_key: str) -> None:
    client = client_of(app_with(service))
    issued = client.post("/credentials/issue", json=issue_body(), headers=bearer(api_key))
    assert issued.status_code == 201, issued.text
    credential_id = issued.json()["verifiableCredential"]["id"]
    personal = [
        issued,
        client.get(f"/credentials/{credential_id}", headers=bearer(api_key)),
        client.get(f"/credentials/{credential_id}/card.png", headers=bearer(api_key)),
        client.post(
            "/credentials/issue",
            json={"credential": {"credentialSubject": {"curp": "HEOG850314MDFRXD07"}}},
            headers=bearer(api_key),
        ),
        client.post(
            "/credentials/verify",
            json={"verifiableCredential": issued.json()["verifiableCredential"]},
        ),
    ]
    for response in personal:  # personal data: never stored by a cache
        assert response.headers["cache-control"] == "no-store", response.request.url
        assert response.headers["content-security-policy"] == API_CONTENT_SECURITY_POLICY
        assert_hardened_headers(response)
        assert "strict-transport-security" not in response.headers  # plain HTTP
    public = client.get("/institutions/IMSS/status/revocation/1")
    assert public.status_code == 200
    assert public.headers["cache-control"].startswith("public, max-age=")  # the route's choice
    assert_hardened_headers(public)

    docs = client.get("/docs")
    assert docs.status_code == 200
    policy = docs.headers["content-security-policy"]
    assert "https://cdn.jsdelivr.net" in policy  # Swagger UI's own sources, nothing else
    assert "frame-ancestors 'none'" in policy
    assert docs.headers["x-frame-options"] == "DENY"

    over_tls = TestClient(app_with(service), base_url="https://imss.gob.mx")
    secure = over_tls.get("/.well-known/did.json")
    assert secure.status_code == 200
    assert secure.headers["strict-transport-security"] == "max-age=31536000"


# -- CORS -----------------------------------------------------------------------------------------


def test_cors_is_closed_by_default(service: IssuerService, api_key: str) -> None:
    client = client_of(app_with(service))
    foreign = {"Origin": "https://evil.example"}
    for response in (
        client.get("/institutions/IMSS/did.json", headers=foreign),
        client.post("/credentials/verify", json={"verifiableCredential": "x"}, headers=foreign),
        client.get("/admin/keys", headers={**foreign, **bearer(api_key)}),
        client.options(
            "/credentials/issue",
            headers={
                **foreign,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization",
            },
        ),
    ):
        assert not any(name.startswith("access-control-") for name in response.headers)


def test_cors_allows_only_the_listed_origins(service: IssuerService, api_key: str) -> None:
    portal = "https://portal.imss.gob.mx"
    client = client_of(app_with(service, cors_allow_origins=(portal,)))
    allowed = client.get("/admin/keys", headers={"Origin": portal, **bearer(api_key)})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == portal
    assert "access-control-allow-credentials" not in allowed.headers  # bearer keys, no cookies
    preflight = client.options(
        "/credentials/issue",
        headers={"Origin": portal, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"},
    )  # fmt: skip
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == portal
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    foreign = client.get(
        "/admin/keys", headers={"Origin": "https://evil.example", **bearer(api_key)}
    )
    assert "access-control-allow-origin" not in foreign.headers
    refused = client.options(
        "/credentials/issue",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


@pytest.mark.parametrize(
    "origin", ["*", "https://portal.imss.gob.mx/", "https://*.gob.mx", "portal.imss.gob.mx", ""]
)
def test_a_cors_allow_list_holds_only_explicit_origins(origin: str) -> None:
    with pytest.raises(ValidationError, match="is not an origin"):
        IssuerSettings(_env_file=None, cors_allow_origins=(origin,))


def test_the_cors_allow_list_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDENCIAL_CORS_ALLOW_ORIGINS", '["https://a.gob.mx", "http://b:8080"]')
    settings = IssuerSettings(_env_file=None)
    assert settings.cors_allow_origins == ("https://a.gob.mx", "http://b:8080")


# -- authentication-failure limit -----------------------------------------------------------------


class FakeClock:
    """The limiter's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(hardening, "_clock", fake)
    return fake


def test_failed_authentications_are_limited_per_address_and_per_client(
    service: IssuerService, clock: FakeClock
) -> None:
    app = app_with(service, auth_failure_limit=3)
    attacked = service.create_client("IMSS", "attacked", SCOPES)
    other = service.create_client("ISSSTE", "bystander", SCOPES)
    client_id = attacked.partition(".")[0]
    guesses = client_of(app, "203.0.113.5")
    for _ in range(3):
        assert_problem(
            guesses.get("/admin/keys", headers=bearer(f"{client_id}.guess")), 401, "INVALID_API_KEY"
        )
    held = assert_problem(guesses.get("/admin/keys", headers=bearer(other)), 429,
                          "TOO_MANY_AUTH_FAILURES")  # fmt: skip
    assert "retry after 60 s" in held["detail"]
    refused = guesses.get("/admin/keys", headers=bearer(f"{client_id}.guess"))
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"
    assert_hardened_headers(refused)
    # Requests without credentials are never held back: verifiers keep working.
    assert guesses.get("/institutions/IMSS/did.json").status_code == 200
    assert_problem(guesses.get("/admin/keys"), 401, "UNAUTHENTICATED")

    elsewhere = client_of(app, "192.0.2.99")  # another address, the attacked client id: held
    assert elsewhere.get("/admin/keys", headers=bearer(attacked)).status_code == 429
    assert elsewhere.get("/admin/keys", headers=bearer(other)).status_code == 200

    clock.now += 20
    assert guesses.get("/admin/keys", headers=bearer(other)).headers["retry-after"] == "40"
    clock.now += 40.5  # the failures have left the window
    assert guesses.get("/admin/keys", headers=bearer(other)).status_code == 200
    assert elsewhere.get("/admin/keys", headers=bearer(attacked)).status_code == 200


def test_the_openapi_document_lists_the_429_answer(service: IssuerService) -> None:
    document = client_of(app_with(service)).get("/openapi.json").json()
    assert "Problem" in document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            answer = operation["responses"]["429"]
            assert "Retry-After" in answer["headers"], (method, path)
            assert PROBLEM_MEDIA_TYPE in answer["content"]


def test_only_authentication_failures_count(service: IssuerService, clock: FakeClock) -> None:
    app = app_with(service, auth_failure_limit=2)
    reader = service.create_client("IMSS", "status only", ["status"])
    client = client_of(app, "203.0.113.77")
    for _ in range(5):  # 403 (a missing scope) and 401 without any key are not guesses
        assert_problem(client.get("/admin/keys", headers=bearer(reader)), 403, "SCOPE_MISSING")
        assert_problem(client.get("/admin/keys"), 401, "UNAUTHENTICATED")
    assert client.get("/credentials/urn:uuid:0b5c6f2e-8a41-4d1e-9a7b-3c2d1e0f9a8b",
                      headers=bearer(reader)).status_code == 404  # fmt: skip


def test_the_limiter_remembers_a_bounded_number_of_keys(clock: FakeClock) -> None:
    limiter = AuthFailureLimiter(limit=1, window_seconds=60, tracked=100)
    for number in range(1000):
        limiter.record([f"address:{number}"])
    assert limiter.retry_after(["address:999"]) == 60
    assert limiter.retry_after(["address:0"]) is None  # forgotten: the oldest go first
    assert sum(limiter.retry_after([f"address:{n}"]) is not None for n in range(1000)) == 100


# -- secrets at rest ------------------------------------------------------------------------------


def _database_text(url: str) -> str:
    """Every row of every table, as text (the way a leaked backup would be read)."""
    engine = create_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            rows = [
                repr(tuple(row))
                for table in metadata.sorted_tables
                for row in connection.execute(select(table))
            ]
    finally:
        engine.dispose()
    return "\n".join(rows)


def test_secrets_are_only_hashed_at_rest(database_url: str, tmp_path: Path) -> None:
    passphrase = "passphrase-7f3c9e1a-never-stored"
    settings = make_settings(database_url, tmp_path / "keys").model_copy(
        update={"key_passphrase": SecretStr(passphrase)}
    )
    service = IssuerService(settings)
    try:
        service.bootstrap()
        admin = service.create_client("IMSS", "admin", SCOPES)
        client = client_of(create_app(settings, service))
        created = client.post(
            "/admin/clients", json={"name": "desk", "scopes": ["issue"]}, headers=bearer(admin)
        )
        assert created.status_code == 201, created.text
        issuer_key = created.json()["apiKey"]
        issued = client.post("/credentials/issue", json=issue_body(), headers=bearer(issuer_key))
        assert issued.status_code == 201, issued.text
        assert client.post("/admin/keys/rotate", headers=bearer(admin)).status_code == 201
    finally:
        service.db.dispose()

    stored = _database_text(database_url)
    if database_url.startswith("sqlite:///"):  # and the raw file, free pages and WAL included
        path = Path(database_url.removeprefix("sqlite:///"))
        stored += "".join(
            p.read_bytes().decode("latin-1") for p in path.parent.glob(path.name + "*")
        )
    for api_key in (admin, issuer_key):
        client_id, _, secret = api_key.partition(".")
        assert client_id in stored  # the scan sees the clients' rows...
        assert hashlib.sha256(secret.encode()).hexdigest() in stored  # ...and their hashes
        assert secret not in stored  # but never a secret itself
    assert passphrase not in stored
    assert json.loads(issued.text)["verifiableCredential"]["id"] in stored
    key_files = list((tmp_path / "keys").rglob("*.pem"))
    assert len(key_files) == 4  # three institutions, one rotation
    for key_file in key_files:
        text = key_file.read_text()
        assert text.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert passphrase not in text
        assert key_file.stat().st_mode & 0o077 == 0  # readable by the service's user only


def test_the_server_runs_without_a_server_header(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from issuer.cli.serve import _uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(options))
    _uvicorn(FastAPI(), "127.0.0.1", 8000)
    assert calls == [
        {"host": "127.0.0.1", "port": 8000, "log_level": "info", "server_header": False}
    ]
