"""Biometric purpose limitation: templates are stored at enrolment and never leave.

The session-wide guard (``tests/conftest.py``) scans every response and log record of the whole
run; these tests store templates, try to make them leak, and check the guard would notice.
"""

from __future__ import annotations

import ast
import base64
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from issuer.storage.tables import AuditEntry, BiometricTemplate
from tests._biometric_guard import SENTINEL, BiometricLeakGuard
from tests.issuer.test_api import World, assert_problem, sqlite_world_at, subject

ROOT = Path(__file__).resolve().parents[2]
CURP = subject()["curp"]


def template() -> bytes:
    return SENTINEL + os.urandom(200)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with sqlite_world_at(tmp_path) as world:
        yield world


def enrol(world: World, data: bytes, **changes: str) -> Any:
    body = {
        "curp": CURP,
        "modality": "fingerprint",
        "biometricTemplate": base64.b64encode(data).decode(),
        **changes,
    }
    return world.client.post("/enrolments/biometrics", json=body, headers=world.headers("IMSS"))


def test_template_is_stored_and_not_returned(
    world: World, biometric_guard: BiometricLeakGuard
) -> None:
    data = template()
    seen = biometric_guard.responses
    response = enrol(world, data)
    assert response.status_code == 201, response.text
    assert response.json() == {"curp": CURP, "modality": "fingerprint", "stored": True}
    assert biometric_guard.responses == seen + 1  # the guard saw this very response
    with world.service.db.read() as session:
        stored = session.scalars(select(BiometricTemplate)).one()
        assert stored.template == data
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "biometric.store")
        ).one()
        assert audit.details == {"modality": "fingerprint"}
        assert SENTINEL.decode() not in json.dumps(audit.details)
    assert biometric_guard.leaks == []


def test_invalid_requests_do_not_echo_the_template(world: World) -> None:
    for changes in ({"curp": "NOT-A-CURP"}, {"modality": "dna"}):
        response = enrol(world, template(), **changes)
        body = assert_problem(response, 422, "VALIDATION_FAILED")
        assert SENTINEL.decode() not in json.dumps(body)
    response = world.client.post(
        "/enrolments/biometrics",
        json={"curp": CURP, "modality": "face", "biometricTemplate": "%%" + SENTINEL.hex()},
        headers=world.headers("IMSS"),
    )
    assert_problem(response, 422, "NOT_BASE64")


def test_a_credential_cannot_carry_a_biometric_field(world: World) -> None:
    person = {**subject(), "biometricTemplate": base64.b64encode(template()).decode()}
    response = world.client.post(
        "/credentials/issue",
        json={"credential": {"credentialSubject": person}},
        headers=world.headers("IMSS"),
    )
    assert response.status_code in {400, 422}, response.text


def test_the_guard_catches_leaks() -> None:
    guard = BiometricLeakGuard()
    leaked = base64.b64encode(template()).decode()
    guard.scan_response("GET", "/x", 200, json.dumps({"data": leaked}).encode())
    guard.scan_response("GET", "/y", 200, json.dumps({"biometricTemplate": "redacted"}).encode())
    guard.scan_response("GET", "/openapi.json", 200, b'{"biometricTemplate": {}}')
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "got %s", (SENTINEL.hex(),), None)
    guard.emit(record)
    assert len(guard.leaks) == 3
    assert guard.leaks[0].startswith("GET /x")
    assert "biometric field" in guard.leaks[1]
    assert guard.leaks[2].startswith("log record")


def test_only_the_enrolment_boundary_touches_templates() -> None:
    """No issuer module but the enrolment-side store (and the schema) names the table."""
    touching = set()
    for path in (ROOT / "issuer").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        texts = {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
        if "BiometricTemplate" in names or "biometric_templates" in texts:
            touching.add(path.relative_to(ROOT).as_posix())
    assert touching == {
        "issuer/biometrics/service.py",
        "issuer/storage/tables.py",
        "issuer/storage/migrations/versions/0004_consent.py",
    }
