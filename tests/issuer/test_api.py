"""The HTTP API: the status flow (SQLite and PostgreSQL), idempotency, the authorization matrix
over every endpoint, RFC 9457 problems, status lists, DID documents, key rotation, bad input."""

from __future__ import annotations

import base64
import json
import logging
import shlex
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from issuer.app import create_app
from issuer.biometrics import routes as biometrics
from issuer.cli import run
from issuer.consent import records
from issuer.consent import request_routes as consent_requests
from issuer.consent import routes as consent
from issuer.consent.requests import ConsentRequestInput, ConsentRequests
from issuer.consent.service import AccessControl, JudicialOrderInput
from issuer.credentials import admin, publication, verification
from issuer.credentials import routes as credentials
from issuer.credentials.service import IssuerService
from issuer.http.errors import MAX_BODY_BYTES, PROBLEM_MEDIA_TYPE
from issuer.institutions import INSTITUTIONS
from issuer.oid4vci import routes as oid4vci
from issuer.principal import SCOPES, Principal
from issuer.storage.tables import Credential, GrantRecord
from issuer.units import routes as units
from issuer.wallet import routes as wallet
from tests.issuer._workers import make_settings
from tests.postgres import PostgresServer
from tests.strategies import example_credential
from verifier import (
    Grantee,
    InMemoryStatusLists,
    TrustedKey,
    TrustStore,
    VerificationResult,
    Verifier,
    decode_card,
    decode_status_bits,
    format_datetime,
    status_bit,
)

Json = dict[str, Any]


class HttpResponse(Protocol):
    """What the tests read of a response (httpx's or httpx2's, whichever TestClient uses)."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Any: ...
    @property
    def text(self) -> str: ...
    @property
    def content(self) -> bytes: ...
    def json(self, **kwargs: Any) -> Any: ...


_OTHER_COVERAGE = {
    "ISSSTE": {
        "institution": "ISSSTE",
        "program": "Trabajador en Activo",
        "affiliationNumber": "ISS-1234567",
        "beneficiaryRelationship": "titular",
        "adscriptionUnit": "DFIST000123",
    },
    "IMSS-BIENESTAR": {
        "institution": "IMSS-BIENESTAR",
        "program": "Servicios de Salud IMSS-Bienestar",
        "affiliationNumber": "7654321",
        "beneficiaryRelationship": "hijo",
        "adscriptionUnit": "OCIMB000045",
    },
}


def subject(institution: str = "IMSS") -> Json:
    """A valid credentialSubject covered by ``institution``."""
    data: Json = example_credential()["credentialSubject"]
    if institution != "IMSS":
        data["coverage"] = dict(_OTHER_COVERAGE[institution])
    return data


def assert_problem(response: HttpResponse, status: int, code: str | None = None) -> Json:
    """``response`` is an RFC 9457 problem with this status (and code)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: Json = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    assert isinstance(body["type"], str)
    assert body["type"]
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    if code is not None:
        assert body["code"] == code, body
    return body


@dataclass
class World:
    """A test client over a bootstrapped service, with API keys and some issued credentials.

    ``keys``: one key with every scope per institution code, and ``IMSS:<scope>`` with one scope.
    """

    client: TestClient
    service: IssuerService
    keys: dict[str, str]
    credentials: dict[str, str] = field(default_factory=dict)

    def headers(self, key: str = "IMSS", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[key]}", **extra}

    def issue(
        self, key: str = "IMSS", body: Json | None = None, idempotency_key: str | None = None
    ) -> HttpResponse:
        institution = key.split(":")[0]
        payload = body or {"credential": {"credentialSubject": subject(institution)}}
        return self.client.post(
            "/credentials/issue",
            json=payload,
            headers=self.headers(
                key, **({"Idempotency-Key": idempotency_key} if idempotency_key else {})
            ),
        )

    def issued(self, key: str = "IMSS") -> Json:
        response = self.issue(key)
        assert response.status_code == 201, response.text
        credential: Json = response.json()["verifiableCredential"]
        return credential

    def verify(self, credential: Json | str) -> HttpResponse:
        return self.client.post("/credentials/verify", json={"verifiableCredential": credential})

    def set_status(self, credential_id: str, action: str, key: str = "IMSS") -> HttpResponse:
        return self.client.post(
            "/credentials/status",
            json={"credentialId": credential_id, "action": action},
            headers=self.headers(key),
        )

    def get_url(self, url: str, **params: str) -> HttpResponse:
        """GET an absolute https URL of ours: the path, with the URL's host as Host."""
        parts = urlsplit(url)
        return self.client.get(parts.path, params=params, headers={"host": parts.netloc})

    def served_trust(self) -> TrustStore:
        """Trust built only from the served did:web documents."""
        methods = []
        for institution in INSTITUTIONS.values():
            domain = institution.did.removeprefix("did:web:")
            document = self.get_url(f"https://{domain}/.well-known/did.json").json()
            methods += document["verificationMethod"]
        return TrustStore(TrustedKey.from_json(method) for method in methods)

    def library_check(self, credential: Json) -> VerificationResult:
        """The verifier library, fed the status lists and keys this API serves."""
        lists = []
        for entry in credential["credentialStatus"]:
            response = self.get_url(entry["statusListCredential"])
            assert response.status_code == 200, response.text
            lists.append(response.json())
        return Verifier(self.served_trust(), status_lists=InMemoryStatusLists(lists)).check(
            credential
        )


def make_world(service: IssuerService) -> World:
    keys = {code: service.create_client(code, "test", SCOPES) for code in INSTITUTIONS}
    for scope in sorted(SCOPES):
        keys[f"IMSS:{scope}"] = service.create_client("IMSS", f"only {scope}", [scope])
    app = create_app(service.settings, service)
    return World(TestClient(app, raise_server_exceptions=False), service, keys)


@contextmanager
def sqlite_world_at(directory: Path) -> Iterator[World]:
    """A bootstrapped service on an SQLite file in ``directory`` (keys in ``directory/k``)."""
    service = IssuerService(make_settings(f"sqlite:///{directory / 'issuer.db'}", directory / "k"))
    service.bootstrap()
    try:
        yield make_world(service)
    finally:
        service.db.dispose()


@pytest.fixture
def world(service: IssuerService) -> World:
    """A fresh world on each database (``service`` comes from tests/issuer/conftest.py)."""
    return make_world(service)


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
    ],
)
def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One world per database for this module's tests that only add to it; one credential each."""
    tmp = tmp_path_factory.mktemp("api")
    server: PostgresServer | None = None
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
        name = server.create_database()
        url = server.url(name)
    else:
        url = f"sqlite:///{tmp / 'issuer.db'}"
    service = IssuerService(make_settings(url, tmp / "keys"))
    try:
        service.bootstrap()
        world = make_world(service)
        for code in INSTITUTIONS:
            world.credentials[code] = world.issued(code)["id"]
        yield world
    finally:
        service.db.dispose()
        if server is not None:
            server.drop_database(name)


def _codes(result: Json | VerificationResult) -> list[str]:
    if isinstance(result, VerificationResult):
        return [reason.code.value for reason in result.reasons]
    return [reason["code"] for reason in result["reasons"]]


# -- the status flow, on both databases -----------------------------------------------------------


def test_issue_verify_suspend_reinstate_revoke(world: World) -> None:
    credential = world.issued()
    assert credential["issuer"] == "did:web:imss.gob.mx"
    assert credential["credentialSubject"] == subject()

    def expect(verdict: str, codes: list[str]) -> None:
        response = world.verify(credential)
        if verdict == "VALID":
            assert response.status_code == 200, response.text
            assert response.json()["verified"] is True
        else:
            body = assert_problem(response, 400, "VERIFICATION_FAILED")
            assert body["verified"] is False
        assert (response.json()["verdict"], _codes(response.json())) == (verdict, codes)
        library = world.library_check(credential)
        assert (library.verdict.value, _codes(library)) == (verdict, codes)

    expect("VALID", [])
    changed = world.set_status(credential["id"], "suspend")
    assert changed.json() == {"credentialId": credential["id"], "revoked": False, "suspended": True}
    expect("INVALID", ["SUSPENDED"])
    assert world.set_status(credential["id"], "reinstate").json()["suspended"] is False
    expect("VALID", [])
    assert world.set_status(credential["id"], "revoke").json()["revoked"] is True
    expect("INVALID", ["REVOKED"])
    for action in ("reinstate", "suspend", "revoke"):
        assert_problem(world.set_status(credential["id"], action), 409, "CONFLICT")
    stored = world.client.get(f"/credentials/{credential['id']}", headers=world.headers())
    assert stored.json() == {
        "verifiableCredential": credential,
        "status": {"revoked": True, "suspended": False},
    }
    # The other institutions see none of it.
    other = world.client.get(f"/credentials/{credential['id']}", headers=world.headers("ISSSTE"))
    missing = world.client.get(
        "/credentials/urn:uuid:00000000-0000-4000-8000-000000000000",
        headers=world.headers("ISSSTE"),
    )
    # Answered exactly as an id that does not exist: no oracle of which ids exist (issue 18).
    assert assert_problem(other, 404, "NOT_FOUND")["detail"].replace(credential["id"], "ID") == (
        assert_problem(missing, 404, "NOT_FOUND")["detail"].replace(
            "urn:uuid:00000000-0000-4000-8000-000000000000", "ID"
        )
    )


def test_idempotency_key(world: World) -> None:
    first = world.issue(idempotency_key="enrolment-batch-7/row-12")
    assert first.status_code == 201
    retry = world.issue(idempotency_key="enrolment-batch-7/row-12")
    assert retry.status_code == 200
    assert retry.json() == first.json()
    assert retry.headers["location"] == first.headers["location"]
    changed = {"credential": {"credentialSubject": {**subject(), "givenName": "MARÍA"}}}
    conflict = world.issue(body=changed, idempotency_key="enrolment-batch-7/row-12")
    assert_problem(conflict, 409, "CONFLICT")
    longer = {**changed, "options": {"validUntil": "2040-01-01T00:00:00Z"}}
    assert world.issue(body=longer, idempotency_key="other").status_code == 201
    again = world.issue(body=longer, idempotency_key="other")
    assert again.status_code == 200
    assert again.json()["verifiableCredential"]["validUntil"] == "2040-01-01T00:00:00Z"
    # Keys are per institution: ISSSTE's "enrolment-batch-7/row-12" is its own.
    assert world.issue("ISSSTE", idempotency_key="enrolment-batch-7/row-12").status_code == 201
    with world.service.db.transaction() as session:
        count = session.scalar(
            select(func.count())
            .select_from(Credential)
            .where(Credential.institution_code == "IMSS")
        )
    assert count == 2


def test_status_list_timestamp_and_cache_control(world: World) -> None:
    credential = world.issued()
    entry = next(e for e in credential["credentialStatus"] if e["statusPurpose"] == "suspension")
    index = int(entry["statusListIndex"])
    before = datetime.now(UTC)
    world.set_status(credential["id"], "suspend")

    def bit(**params: str) -> int:
        response = world.get_url(entry["statusListCredential"], **params)
        assert response.status_code == 200, response.text
        ttl_ms = response.json()["credentialSubject"]["ttl"]
        assert response.headers["cache-control"] == f"public, max-age={ttl_ms // 1000}"
        encoded = response.json()["credentialSubject"]["encodedList"]
        return status_bit(decode_status_bits(encoded), index)

    assert bit() == 1
    assert bit(timestamp=before.isoformat()) == 0
    assert bit(timestamp=datetime.now(UTC).isoformat()) == 1
    then = world.get_url(entry["statusListCredential"], timestamp=before.isoformat()).json()
    assert then["validFrom"] == before.strftime("%Y-%m-%dT%H:%M:%SZ")
    # The same list under /institutions/{code}/..., with the ttl from the settings.
    by_code = world.client.get("/institutions/IMSS/status/suspension/1")
    ttl = int(world.service.settings.status_list_ttl.total_seconds())
    assert by_code.headers["cache-control"] == f"public, max-age={ttl}"
    assert by_code.json()["id"] == entry["statusListCredential"]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert_problem(world.get_url(entry["statusListCredential"], timestamp=future), 422)


def test_key_rotation(world: World) -> None:
    before = world.issued()
    assert before["proof"]["verificationMethod"] == "did:web:imss.gob.mx#key-1"
    did = world.client.get("/.well-known/did.json", headers={"host": "imss.gob.mx"}).json()
    assert [m["id"] for m in did["verificationMethod"]] == ["did:web:imss.gob.mx#key-1"]
    assert did == world.client.get("/institutions/IMSS/did.json").json()

    rotated = world.client.post("/admin/keys/rotate", headers=world.headers("IMSS:admin"))
    assert rotated.status_code == 201, rotated.text
    assert rotated.json()["activeKey"] == "did:web:imss.gob.mx#key-2"
    did = world.client.get("/.well-known/did.json", headers={"host": "imss.gob.mx"}).json()
    old, new = did["verificationMethod"]
    assert (old["id"], new["id"]) == ("did:web:imss.gob.mx#key-1", "did:web:imss.gob.mx#key-2")
    assert "validUntil" in old
    assert "validUntil" not in new
    assert did["assertionMethod"] == [new["id"]]
    keys = world.client.get("/admin/keys", headers=world.headers("IMSS:admin")).json()
    assert keys["keys"] == did["verificationMethod"]

    after = world.issued()
    assert after["proof"]["verificationMethod"] == "did:web:imss.gob.mx#key-2"
    for credential in (before, after):
        assert world.verify(credential).status_code == 200
        assert world.library_check(credential).is_valid
    # Other institutions keep their key.
    issste = world.client.get("/institutions/ISSSTE/did.json").json()
    assert len(issste["verificationMethod"]) == 1


# -- the authorization matrix ---------------------------------------------------------------------

Request = tuple[str, Json | None]


@dataclass(frozen=True)
class Guarded:
    """An endpoint that needs an API key; ``build(world, institution)`` makes a valid request
    addressing ``institution``'s credential or coverage (None: it acts on the caller's own)."""

    method: str
    path: str
    scopes: frozenset[str]
    build: Callable[[World, str], Request]
    addresses_institution: bool = True


def _issue_request(_world: World, institution: str) -> Request:
    return "/credentials/issue", {"credential": {"credentialSubject": subject(institution)}}


def _enrol_request(_world: World, institution: str) -> Request:
    return "/enrolments", subject(institution)


def _read_request(world: World, institution: str) -> Request:
    return f"/credentials/{world.credentials[institution]}", None


def _card_request(world: World, institution: str) -> Request:
    return f"/credentials/{world.credentials[institution]}/card.png", None


def _status_request(world: World, institution: str) -> Request:
    return "/credentials/status", {
        "credentialId": world.credentials[institution],
        "action": "suspend",
    }


def _record_request(_world: World, _institution: str) -> Request:
    return "/records", {
        "subject": subject()["curp"],
        "dataClass": "ece.summary",
        "effectiveDate": "2024-01-01",
        "resource": {"resourceType": "Condition"},
    }


def _records_request(world: World, _institution: str) -> Request:
    """A request IMSS may make of its own record: a consent grant naming IMSS is seeded."""
    now = datetime.now(UTC).replace(microsecond=0)
    grant = {
        "curp": subject()["curp"], "grantees": [{"institution": "IMSS"}],
        "dataClasses": ["coverage"], "purposes": ["TREAT"], "locations": ["MX"],
        "validFrom": format_datetime(now), "validUntil": format_datetime(now + timedelta(days=1)),
    }  # fmt: skip
    with world.service.db.transaction() as session:
        session.add(
            GrantRecord(
                id=f"urn:uuid:{uuid.uuid4()}", institution_code="IMSS", kind="consent",
                subject_curp=grant["curp"], grantor="did:key:z6Mkseed", document=grant,
                valid_from=now, valid_until=now + timedelta(days=1), created_at=now,
                created_by="seed",
            )
        )  # fmt: skip
    return "/records/requests", {
        "custodian": "IMSS", "subject": grant["curp"], "dataClasses": ["coverage"],
        "purpose": "TREAT", "recipientCountry": "MX",
    }  # fmt: skip


_ORDER = {
    "curp": "HEGM850314MDFRRR01", "grantees": [{"institution": "ISSSTE"}],
    "dataClasses": ["ece.full"], "validUntil": "2099-01-01T00:00:00Z", "court": "Juzgado 3o",
    "caseReference": "1/2026", "orderDate": "2026-05-30", "documentSha256": "ab" * 32,
}  # fmt: skip


def _consent_request(world: World, _institution: str) -> Request:
    """IMSS asks a person ISSSTE holds a credential for (ISSSTE is the custodian)."""
    issued = world.issued("ISSSTE")
    return "/consent-requests", {
        "subject": issued["credentialSubject"]["curp"], "custodian": "ISSSTE", "purpose": "TREAT",
        "dataClasses": ["ece.summary"], "accessUntil": "2099-01-01T00:00:00Z",
    }  # fmt: skip


def _consent_request_state(world: World, institution: str) -> Request:
    issued = world.issued("ISSSTE")
    spec = ConsentRequestInput(
        subject=issued["credentialSubject"]["curp"], custodian="ISSSTE", purpose="TREAT",
        data_classes=("ece.summary",), access_until=datetime(2099, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    principal = Principal("seed", institution, frozenset({"records"}))
    created = ConsentRequests(world.service).create(principal, spec)
    return f"/consent-requests/{created['id']}", None


def _order_action(action: str) -> Callable[[World, str], Request]:
    def build(world: World, institution: str) -> Request:
        legal = Principal("seed-legal", institution, frozenset({"legal"}))
        order = JudicialOrderInput(
            curp="HEGM850314MDFRRR01", grantees=(Grantee("ISSSTE"),),
            data_classes=frozenset({"ece.full"}), purposes=frozenset({"HLEGAL"}),
            valid_until=datetime(2099, 1, 1, tzinfo=UTC), court="Juzgado 3o",
            case_reference="1/2026", order_date=date(2026, 5, 30), document_sha256="ab" * 32,
        )  # fmt: skip
        grant_id = AccessControl(world.service).create_judicial_order(legal, order)
        return f"/judicial-orders/{grant_id}/{action}", None

    return build


GUARDED = [
    Guarded(
        "PUT",
        "/units/feed",
        frozenset({"units"}),
        lambda _w, _i: ("/units/feed", {"units": []}),
        False,
    ),
    Guarded(
        "POST",
        "/enrolments/biometrics",
        frozenset({"issue"}),
        lambda _w, _i: (
            "/enrolments/biometrics",
            {
                "curp": "HEGM850314MDFRRR01",
                "modality": "face",
                "biometricTemplate": "AAAAAAAA",
            },
        ),
        False,
    ),
    Guarded("POST", "/records", frozenset({"records"}), _record_request, False),
    Guarded("POST", "/records/requests", frozenset({"records"}), _records_request, False),
    Guarded("POST", "/consent-requests", frozenset({"records"}), _consent_request, False),
    Guarded(
        "GET",
        "/consent-requests/{request_id}",
        frozenset({"records"}),
        _consent_request_state,
        False,
    ),
    Guarded(
        "POST",
        "/judicial-orders",
        frozenset({"legal"}),
        lambda _w, _i: ("/judicial-orders", _ORDER),
        False,
    ),
    Guarded(
        "POST",
        "/judicial-orders/{grant_id}/approvals",
        frozenset({"dpo"}),
        _order_action("approvals"),
    ),
    Guarded(
        "POST",
        "/judicial-orders/{grant_id}/revocation",
        frozenset({"legal", "dpo"}),
        _order_action("revocation"),
    ),
    Guarded("POST", "/credentials/issue", frozenset({"issue"}), _issue_request),
    Guarded("POST", "/enrolments", frozenset({"issue"}), _enrol_request),
    Guarded("GET", "/credentials/{credential_id}", frozenset({"issue", "status"}), _read_request),
    Guarded(
        "GET",
        "/credentials/{credential_id}/card.{image_format}",
        frozenset({"issue", "status"}),
        _card_request,
    ),
    Guarded("POST", "/credentials/status", frozenset({"status"}), _status_request),
    Guarded(
        "POST",
        "/oid4vci/offers",
        frozenset({"issue"}),
        lambda w, i: ("/oid4vci/offers", {"credentialId": w.issued(i)["id"]}),  # in force
    ),
    Guarded(
        "GET", "/admin/keys", frozenset({"admin"}), lambda _w, _i: ("/admin/keys", None), False
    ),
    Guarded(
        "POST",
        "/admin/keys/rotate",
        frozenset({"admin"}),
        lambda _w, _i: ("/admin/keys/rotate", None),
        False,
    ),
    Guarded(
        "POST",
        "/admin/clients",
        frozenset({"admin"}),
        lambda _w, _i: ("/admin/clients", {"name": "desk", "scopes": ["issue"]}),
        False,
    ),
]
PUBLIC = {
    ("POST", "/credentials/verify"),
    ("POST", "/presentations/verify"),
    ("GET", "/institutions/{code}/status/{purpose}/{number}"),
    ("GET", "/credencial/status/{purpose}/{number}"),
    ("GET", "/.well-known/did.json"),
    ("GET", "/institutions/{code}/did.json"),
    ("POST", "/challenges"),
    ("GET", "/.well-known/openid-credential-issuer"),
    ("GET", "/.well-known/oauth-authorization-server"),
    ("POST", "/oid4vci/token"),
    ("POST", "/oid4vci/nonce"),
    ("POST", "/oid4vci/credential"),
    ("POST", "/institutions/{code}/consent/challenges"),
    ("POST", "/institutions/{code}/consent/grants"),
    ("POST", "/institutions/{code}/consent/grants/{grant_id}/withdrawal"),
    ("GET", "/institutions/{code}/consent-status/{number}"),
    ("GET", "/credencial/consent-status/revocation/{number}"),
    ("GET", "/me/access-log"),
    ("GET", "/me/consent-requests"),
    ("GET", "/me/consent-requests/{request_id}"),
    ("POST", "/me/consent-requests/{request_id}/approval"),
    ("POST", "/me/consent-requests/{request_id}/denial"),
    ("GET", "/me/consent-grants"),
    ("GET", "/me/record"),
    ("GET", "/institutions/{code}/units/feed"),
    ("POST", "/me/units/search"),
    ("POST", "/wallet/card-form"),
}
ROUTERS = [
    credentials.router,
    verification.router,
    publication.router,
    admin.router,
    oid4vci.router,
    biometrics.router,
    consent.router,
    records.router,
    consent_requests.router,
    units.router,
    wallet.router,
]
CASES = ["no key", "not bearer", "unknown key", "wrong secret", "missing scope", "own", "other"]
MATRIX = [
    pytest.param(endpoint, case, id=f"{endpoint.method} {endpoint.path}: {case}")
    for endpoint in GUARDED
    for case in CASES
    if case != "other" or endpoint.addresses_institution
]


def test_every_route_is_public_or_in_the_matrix(shared: World) -> None:
    assert all(isinstance(route, APIRoute) for router in ROUTERS for route in router.routes)
    routes = {
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and route.include_in_schema  # not the wallet's files
        for method in route.methods or ()
    }
    guarded = {(endpoint.method, endpoint.path) for endpoint in GUARDED}
    assert not guarded & PUBLIC
    assert routes == guarded | PUBLIC, "a new endpoint must join GUARDED or PUBLIC"
    spec = shared.client.get("/openapi.json").json()
    documented = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    assert documented == routes, "the app serves exactly the router's routes"
    for method, path in routes:
        secured = spec["paths"][path][method.lower()].get("security")
        assert (secured == [{"ApiKey": []}]) == ((method, path) in guarded), (method, path)


@pytest.mark.parametrize(("endpoint", "case"), MATRIX)
def test_authorization_matrix(shared: World, endpoint: Guarded, case: str) -> None:
    institution = "ISSSTE" if case == "other" else "IMSS"
    url, body = endpoint.build(shared, institution)
    client_id = shared.keys["IMSS"].partition(".")[0]
    lacking = next(f"IMSS:{s}" for s in sorted(SCOPES) if s not in endpoint.scopes)
    headers = {
        "no key": {},
        "not bearer": {"Authorization": f"Basic {shared.keys['IMSS']}"},
        "unknown key": {"Authorization": "Bearer 0123456789abcdef.nope"},
        "wrong secret": {"Authorization": f"Bearer {client_id}.{'x' * 43}"},
        "missing scope": shared.headers(lacking),
        "own": shared.headers("IMSS"),
        "other": shared.headers("IMSS"),
    }[case]
    response = shared.client.request(endpoint.method, url, json=body, headers=headers)
    if case == "own":
        assert response.status_code in {200, 201}, response.text
        assert response.headers["cache-control"] == "no-store"
    elif case == "missing scope":
        assert_problem(response, 403, "SCOPE_MISSING")
        assert "insufficient_scope" in response.headers["www-authenticate"]
    elif case == "other":
        if (
            "{" in endpoint.path
            or endpoint.path == "/credentials/status"
            or (endpoint.path == "/oid4vci/offers")
        ):
            # Another institution's credential or order: exactly as one that does not exist.
            body = assert_problem(response, 404, "NOT_FOUND")
            assert "of yours" in body["detail"]
        else:  # issuing another institution's coverage: the caller's own right, not existence
            assert_problem(response, 403, "OTHER_INSTITUTION")
        reader = shared.client.get(
            f"/credentials/{shared.credentials['ISSSTE']}", headers=shared.headers("ISSSTE")
        )
        assert reader.json()["status"] == {"revoked": False, "suspended": False}
    else:
        code = "INVALID_API_KEY" if case in {"unknown key", "wrong secret"} else "UNAUTHENTICATED"
        assert_problem(response, 401, code)
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_issuing_in_another_institutions_name_is_forbidden(shared: World) -> None:
    body = {"credential": {"issuer": "did:web:issste.gob.mx", "credentialSubject": subject()}}
    assert_problem(shared.issue(body=body), 403, "OTHER_INSTITUTION")
    body = {"credential": {"issuer": {"id": "did:web:imss.gob.mx"}, "credentialSubject": subject()}}
    assert shared.issue(body=body).status_code == 201


def test_unknown_credential_is_404(shared: World) -> None:
    missing = "urn:uuid:00000000-0000-4000-8000-000000000000"
    assert_problem(
        shared.client.get(f"/credentials/{missing}", headers=shared.headers()), 404, "NOT_FOUND"
    )
    assert_problem(shared.set_status(missing, "revoke"), 404, "NOT_FOUND")


def test_admin_creates_a_client_of_its_own_institution(shared: World) -> None:
    response = shared.client.post(
        "/admin/clients",
        json={"name": "Módulo de afiliación UMF 14", "scopes": ["status", "status"]},
        headers=shared.headers("IMSS-BIENESTAR"),
    )
    assert response.status_code == 201
    created = response.json()
    assert created["institution"] == "IMSS-BIENESTAR"
    assert created["scopes"] == ["status"]
    principal = shared.service.authenticate(created["apiKey"])
    assert principal is not None
    assert (principal.institution, principal.scopes) == ("IMSS-BIENESTAR", frozenset({"status"}))
    issue = shared.client.post(
        "/credentials/issue",
        json={"credential": {"credentialSubject": subject("IMSS-BIENESTAR")}},
        headers={"Authorization": f"Bearer {created['apiKey']}"},
    )
    assert_problem(issue, 403, "SCOPE_MISSING")


# -- enrolments, cards, presentations -------------------------------------------------------------


@pytest.mark.parametrize("image_format", ["png", "pdf"])
def test_enrolment_returns_wallet_json_card_and_image(shared: World, image_format: str) -> None:
    person = {**subject(), "validUntil": "2030-06-30T00:00:00-06:00"}
    response = shared.client.post(
        f"/enrolments?render={image_format}", json=person, headers=shared.headers()
    )
    assert response.status_code == 201, response.text
    body = response.json()
    credential = body["verifiableCredential"]
    assert credential["validUntil"] == "2030-06-30T06:00:00Z"
    assert credential["credentialSubject"] == subject()
    assert decode_card(body["card"]) == credential
    assert shared.verify(body["card"]).json()["verdict"] == "VALID"
    image = base64.b64decode(body["cardImage"])
    magic, media_type = {"png": (b"\x89PNG", "image/png"), "pdf": (b"%PDF", "application/pdf")}[
        image_format
    ]
    assert image.startswith(magic)
    assert body["cardImageMediaType"] == media_type
    served = shared.client.get(
        f"/credentials/{credential['id']}/card.{image_format}",
        headers=shared.headers("IMSS:status"),
    )
    assert served.status_code == 200
    assert served.headers["content-type"] == media_type
    assert served.content.startswith(magic)


def test_enrolment_without_render_and_with_holder(shared: World) -> None:
    holder = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    response = shared.client.post(
        "/enrolments", json={**subject(), "holderDid": holder}, headers=shared.headers()
    )
    assert response.status_code == 201, response.text
    assert set(response.json()) == {"verifiableCredential", "card"}
    assert response.json()["verifiableCredential"]["credentialSubject"]["id"] == holder


def test_enrolment_errors_name_the_fields(shared: World) -> None:
    person = {**subject(), "curp": "HEOG850314MDFRXD07", "holderDid": "did:key:nope"}
    body = assert_problem(
        shared.client.post("/enrolments", json=person, headers=shared.headers()), 422
    )
    assert {e["pointer"] for e in body["errors"]} == {"#/curp", "#/holderDid"}
    assert all(e["location"] == "body" for e in body["errors"])
    person = {**subject(), "coverage": {**subject()["coverage"], "adscriptionUnit": "X"}}
    body = assert_problem(
        shared.client.post("/enrolments", json=person, headers=shared.headers()), 422
    )
    assert [e["pointer"] for e in body["errors"]] == ["#/coverage/adscriptionUnit"]


def test_presentations_need_the_holders_proof(shared: World) -> None:
    """The whole holder flow is in test_wallet_end_to_end.py; here: no proof, no VALID."""
    valid = shared.issued()
    presentation = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "verifiableCredential": [valid],
    }
    body = {"verifiablePresentation": presentation, "options": {"domain": "desk"}}
    body = assert_problem(shared.client.post("/presentations/verify", json=body), 400)
    assert (body["verdict"], body["presentationProofChecked"]) == ("INVALID", True)
    assert _codes(body) == ["PROOF_MISSING"]
    no_domain = {"verifiablePresentation": presentation}
    assert_problem(shared.client.post("/presentations/verify", json=no_domain), 422)


def test_verify_reports_in_english_on_request(shared: World) -> None:
    credential = shared.issued()
    credential["credentialSubject"]["givenName"] = "MARIA"
    response = shared.client.post(
        "/credentials/verify?lang=en", json={"verifiableCredential": credential}
    )
    body = assert_problem(response, 400, "VERIFICATION_FAILED")
    assert _codes(body) == ["SIGNATURE_INVALID"]
    assert body["type"].startswith("https://w3id.org/security#")
    assert body["reasons"][0]["message"].isascii()


# -- problems for every kind of error -------------------------------------------------------------


def test_problem_details_for_every_error_status(shared: World) -> None:
    client = shared.client
    assert_problem(client.post("/credentials/verify", json={"verifiableCredential": "SUS1:x"}), 400)
    assert_problem(
        client.post("/credentials/issue", content=b"{", headers=shared.headers("IMSS", **{
            "content-type": "application/json"
        })),
        400,
        "MALFORMED_JSON",
    )  # fmt: skip
    assert_problem(client.post("/credentials/issue", json={}), 401)
    assert_problem(client.get("/admin/keys", headers=shared.headers("IMSS:issue")), 403)
    assert_problem(client.get("/no/such/path"), 404)
    assert_problem(client.get("/.well-known/did.json", headers={"host": "example.org"}), 404)
    assert_problem(client.get("/institutions/IMSS/status/revocation/99"), 404)
    assert_problem(client.get("/institutions/NOPE/did.json"), 404)
    assert_problem(client.delete("/credentials/issue"), 405)
    key = "problem-shape"
    assert shared.issue(idempotency_key=key).status_code == 201
    assert_problem(
        shared.issue(body={"credential": {"credentialSubject": subject("IMSS")}, "options": {
            "validUntil": "2039-01-01T00:00:00Z"
        }}, idempotency_key=key),
        409,
    )  # fmt: skip
    invalid = {"credential": {"credentialSubject": {**subject(), "curp": "HEOG850314MDFRXD07"}}}
    body = assert_problem(shared.issue(body=invalid), 422, "VALIDATION_FAILED")
    assert body["errors"] == [
        {
            "location": "body",
            "pointer": "#/credential/credentialSubject/curp",
            "detail": "Value error, not a valid CURP (structure, birth date, state code or "
            "check digit)",
            "code": "value_error",
        }
    ]
    assert_problem(client.post("/credentials/verify", content=b"{" + b" " * MAX_BODY_BYTES), 413)

    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BODY_BYTES // 4096 + 2):
            yield b" " * 4096

    assert_problem(client.post("/credentials/verify", content=chunks()), 413, "BODY_TOO_LARGE")


def test_an_unexpected_error_is_a_logged_500_problem(
    shared: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(institution: str) -> Json:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(shared.service, "did_document", broken)
    with caplog.at_level(logging.ERROR, logger="issuer.http.errors"):
        response = shared.client.get("/institutions/IMSS/did.json")
    body = assert_problem(response, 500, "INTERNAL_ERROR")
    assert "fire" not in json.dumps(body)
    assert any("disk on fire" in str(r.exc_info) for r in caplog.records)


_DEEP = json.loads("[" * 900 + "]" * 900)
_FUTURE = (datetime.now(UTC) + timedelta(days=3650)).strftime("%Y-%m-%dT%H:%M:%SZ")
BAD_REQUESTS: list[tuple[str, str, Any, dict[str, str]]] = [
    # (method, url, body: bytes or JSON-able, extra headers)
    *[
        ("POST", path, body, {"content-type": "application/json"})
        for path in (
            "/credentials/issue", "/enrolments", "/credentials/status", "/credentials/verify",
            "/presentations/verify", "/admin/clients",
        )
        for body in (
            b"", b"null", b"[]", b"0", b'"text"', b"{", b"\xff\xfe\x00", b"[" * 20_000,
            b'{"a":' * 5_000, b'{"credential": {"credentialSubject": {"curp": "\\u0000"}}}',
            b"1e999999", b'{"\\ud800": 1}',
        )
    ],
    ("POST", "/credentials/issue", b'{"credential": {}}', {"content-type": "text/plain"}),
    ("POST", "/credentials/issue", {"credential": {"credentialSubject": subject()},
                                    "options": {"validUntil": "9999-12-31T23:59:59-05:00"}}, {}),
    ("POST", "/credentials/issue", {"credential": {"credentialSubject": subject()},
                                    "options": {"validUntil": "2001-01-01T00:00:00Z"}}, {}),
    ("POST", "/credentials/issue", {"credential": {"credentialSubject": subject()},
                                    "options": {"validUntil": "2031-01-01T00:00:00"}}, {}),
    ("POST", "/credentials/issue", {"credential": {"credentialSubject": subject()},
                                    "options": {"challenge": "x"}}, {}),
    ("POST", "/credentials/issue", {"credential": {"credentialSubject": subject(),
                                                   "proof": {}}}, {}),
    ("POST", "/credentials/issue", {"credential": {"credentialSubject": subject(),
                                                   "@context": ["https://evil.example"]}}, {}),
    ("POST", "/credentials/issue", {"credential": {"credentialSubject": subject(),
                                                   "type": ["VerifiableCredential", "Diploma"]}},
     {}),
    ("POST", "/credentials/issue", {"credential": {"credentialSubject": {
        **subject(), "givenName": "A\u0000B"}}}, {}),
    ("POST", "/credentials/issue", {"credential": {"credentialSubject": {
        **subject(), "familyName": "X" * 100_000}}}, {}),
    ("POST", "/credentials/issue", {"credential": {"credentialSubject": subject()}},
     {"Idempotency-Key": "x" * 201}),
    ("POST", "/credentials/issue", {"credential": {"credentialSubject": subject()}},
     {"Idempotency-Key": "has space"}),
    ("POST", "/enrolments?render=gif", subject(), {}),
    ("POST", "/enrolments", {**subject(), "validUntil": _FUTURE, "birthDate": "1985-02-30"}, {}),
    ("POST", "/enrolments", {**subject(), "secondFamilyName": None}, {}),
    ("POST", "/credentials/status", {"credentialId": "\u0000", "action": "revoke"}, {}),
    ("POST", "/credentials/status", {"credentialId": "x" * 1000, "action": "revoke"}, {}),
    ("POST", "/credentials/status", {"credentialId": "urn:uuid:1", "action": "delete"}, {}),
    ("POST", "/credentials/verify", {"verifiableCredential": 12}, {}),
    ("POST", "/credentials/verify", {"verifiableCredential": "SUS1:" + "A" * 100_000}, {}),
    ("POST", "/credentials/verify", {"verifiableCredential": "SUS1:%%%"}, {}),
    ("POST", "/credentials/verify", {"verifiableCredential": {"@context": ["https://evil"]}}, {}),
    ("POST", "/credentials/verify", {"verifiableCredential": {**example_credential(),
                                                             "deep": _DEEP}}, {}),
    ("POST", "/credentials/verify", b'{"verifiableCredential": "\\ud800"}', {}),
    ("POST", "/credentials/verify", b'{"verifiableCredential": {"id": "\\udfff"}}', {}),
    ("POST", "/enrolments", json.dumps({**subject(), "givenName": "A"}).replace('"A"', '"\\ud800"')
     .encode(), {}),
    ("POST", "/presentations/verify", {"verifiablePresentation": {
        "type": "VerifiablePresentation", "verifiableCredential": []}}, {}),
    ("POST", "/presentations/verify", {"verifiablePresentation": {
        "type": "VerifiablePresentation", "verifiableCredential": [{}] * 17}}, {}),
    ("POST", "/presentations/verify", {"verifiablePresentation": {
        "type": "VerifiablePresentation", "verifiableCredential": [{"a": 1}, "SUS1:", 3]}}, {}),
    ("POST", "/admin/clients", {"name": "a\u0000b", "scopes": ["issue"]}, {}),
    ("POST", "/admin/clients", {"name": "x" * 201, "scopes": ["issue"]}, {}),
    ("POST", "/admin/clients", {"name": "root", "scopes": ["root"]}, {}),
    ("POST", "/admin/clients", {"name": "none", "scopes": []}, {}),
    ("GET", "/credentials/%00", None, {}),
    ("GET", "/credentials/" + "a" * 300, None, {}),
    ("GET", "/credentials/ñ", None, {}),
    ("GET", "/credentials/urn:uuid:1/card.gif", None, {}),
    ("GET", "/institutions/IMSS/status/revocation/0", None, {}),
    ("GET", "/institutions/IMSS/status/revocation/-1", None, {}),
    ("GET", "/institutions/IMSS/status/revocation/99999999999999999999999", None, {}),
    ("GET", "/institutions/IMSS/status/revocation/abc", None, {}),
    ("GET", "/institutions/IMSS/status/other/1", None, {}),
    ("GET", "/institutions/" + "X" * 100 + "/status/revocation/1", None, {}),
    ("GET", "/institutions/%00/did.json", None, {}),
    ("GET", "/institutions/IMSS/status/revocation/1?timestamp=yesterday", None, {}),
    ("GET", "/institutions/IMSS/status/revocation/1?timestamp=2026-01-01T00:00:00", None, {}),
    ("GET", "/institutions/IMSS/status/revocation/1?timestamp=9999-12-31T23:59:59-05:00", None, {}),
    ("GET", "/institutions/IMSS/status/revocation/1?timestamp=0001-01-01T00:00:00%2B01:00", None,
     {}),
    ("GET", "/credencial/status/revocation/1", None, {"host": ""}),
    ("GET", "/credencial/status/revocation/1", None, {"host": "[::1]:8000"}),
    ("GET", "/credencial/status/revocation/1", None, {"host": "imss.gob.mx:abc:1"}),
    ("GET", "/.well-known/did.json", None, {"host": "IMSS.GOB.MX.evil"}),
    ("GET", "/credentials/verify", None, {}),
    ("GET", "/admin/keys", None, {"Authorization": "Bearer " + "a" * 300}),
    ("GET", "/admin/keys", None, {"Authorization": "Bearer a..b"}),
    ("GET", "/admin/keys", None, {"Authorization": "Bearer .%00"}),
]  # fmt: skip


@pytest.mark.parametrize(("method", "url", "body", "headers"), BAD_REQUESTS)
def test_bad_input_is_never_a_500(
    shared: World, method: str, url: str, body: Any, headers: dict[str, str]
) -> None:
    content = body if isinstance(body, bytes) else None
    payload = None if isinstance(body, bytes) or body is None else body
    all_headers = {**shared.headers("IMSS"), **headers}
    response = shared.client.request(
        method, url, content=content, json=payload, headers=all_headers
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert_problem(response, response.status_code)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(
        st.sampled_from(["credential", "credentialSubject", "options", "verifiableCredential",
                         "verifiablePresentation", "type", "curp", "credentialId", "action",
                         "name", "scopes", "validUntil", "coverage"]) | st.text(max_size=8),
        children,
        max_size=4,
    ),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from([
        "/credentials/issue", "/enrolments", "/credentials/status", "/credentials/verify",
        "/presentations/verify", "/admin/clients",
    ]),
    body=_json_values,
)  # fmt: skip
def test_random_json_is_never_a_500(shared: World, path: str, body: Any) -> None:
    response = shared.client.post(path, json=body, headers=shared.headers("IMSS"))
    assert response.status_code < 500, response.text


# -- OpenAPI and the demo -------------------------------------------------------------------------


def test_openapi_documents_examples_and_problems(shared: World) -> None:
    spec = shared.client.get("/openapi.json").json()
    issue = spec["paths"]["/credentials/issue"]["post"]
    examples = issue["requestBody"]["content"]["application/json"]["examples"]
    assert examples
    assert all("credentialSubject" in e["value"]["credential"] for e in examples.values())
    schemas = spec["components"]["schemas"]
    for name in ("IssueRequest", "IssueResponse", "EnrolmentRequest", "Problem"):
        assert schemas[name]["examples"], name
    assert {"201", "200", "401", "403", "409", "422"} <= issue["responses"].keys()
    assert "Idempotency-Key" in {p["name"] for p in issue["parameters"]}
    for path_item in spec["paths"].values():
        for operation in path_item.values():
            for status, response in operation["responses"].items():
                if status[0] in "45":
                    assert set(response.get("content", {})) == {PROBLEM_MEDIA_TYPE}, status
    assert shared.client.get("/docs").status_code == 200


def test_serve_demo_prints_a_curl_that_issues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    served: list[tuple[FastAPI, str, int]] = []
    monkeypatch.setattr(
        "issuer.cli.serve._uvicorn", lambda app, host, port: served.append((app, host, port))
    )
    assert run(["serve", "--demo"]) == 0
    out, err = capsys.readouterr()
    assert "WARNING" in err
    assert "demo" in err
    assert "http://127.0.0.1:8000/docs" in out
    ((app, host, port),) = served
    assert (host, port) == ("127.0.0.1", 8000)
    assert (tmp_path / "var/demo/credencial.db").exists()
    keys = json.loads((tmp_path / "var/demo/api-keys.json").read_text(encoding="utf-8"))
    assert set(keys) == set(INSTITUTIONS)
    curl = out[out.index("curl -sS -X POST") :].split("\n\n")[0]
    words = shlex.split(curl)
    url = words[words.index("POST") + 1]
    headers = dict(
        w.split(": ", 1) for w in (words[i + 1] for i, w in enumerate(words) if w == "-H")
    )
    body = json.loads(words[words.index("-d") + 1])
    client = TestClient(app)
    response = client.post(urlsplit(url).path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert client.post("/credentials/verify", json=response.json()).json()["verdict"] == "VALID"
    assert headers["Authorization"] == f"Bearer {keys['IMSS']}"
    # The wallet offer it prints: its body from the saved answer, then POST /oid4vci/offers.
    (tmp_path / "var/demo/issued.json").write_text(response.text, encoding="utf-8")
    offer = out[out.index("Offer it to a wallet") :].split("\n\n")[0].split("\n", 1)[1]
    words = shlex.split(offer.split("\ncurl")[0].replace("\\\n", " "))
    assert words[:2] == ["python3", "-c"]
    offer_body = subprocess.run(
        [sys.executable, "-c", words[2]], cwd=tmp_path, check=True, capture_output=True, text=True
    ).stdout
    assert urlsplit(words[words.index("POST") + 1]).path == "/oid4vci/offers"
    offered = client.post("/oid4vci/offers", content=offer_body, headers=headers)
    assert offered.status_code == 201, offered.text
    assert offered.json()["credentialOfferUri"].startswith("openid-credential-offer://")
    assert "credencial-verify serve --trust-dir var/demo/desk/" in out
    assert "docs/consent.md" in out
    # A second start reuses the keys, the database and the API keys.
    assert run(["serve", "--demo", "--port", "8001"]) == 0
    assert json.loads((tmp_path / "var/demo/api-keys.json").read_text(encoding="utf-8")) == keys
    assert served[1][2] == 8001
