"""Operator commands: status changes, status-list export, audit verify, clients and keys."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from issuer.cards.render import ECC_LEVELS
from issuer.cli import operator as operator_cli
from issuer.cli import run
from issuer.credentials.service import IssuerService, StatusAction
from issuer.enrolment.bulk import CARD_OUTPUTS
from issuer.enrolment.rows import ENCODINGS, EnrolmentRecord, read_records
from issuer.principal import SCOPES, cli_principal
from tests.issuer._enrolment_data import operator_env, people, write_csv
from verifier import (
    InMemoryStatusLists,
    ReasonCode,
    Verdict,
    VerificationResult,
    Verifier,
    decode_status_bits,
    status_bit,
)


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The SQLite file of the test issuer (passphrase and key folder set in the environment)."""
    return operator_env(monkeypatch, tmp_path)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = run(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def _service(db: Path) -> IssuerService:
    return operator_cli.build_service(str(db))


def _issue(db: Path, tmp_path: Path, count: int = 2) -> list[dict[str, Any]]:
    """Issue ``count`` IMSS credentials straight through the service."""
    service = _service(db)
    try:
        path = write_csv(tmp_path / "people.csv", people(count))
        return [
            service.issue(
                cli_principal("IMSS"),
                {"credentialSubject": record.subject()},
                valid_until=record.valid_until,
            ).document
            for record in read_records(path)
            if isinstance(record, EnrolmentRecord)
        ]
    finally:
        service.db.dispose()


def _export(capsys: pytest.CaptureFixture[str], db: Path, out: Path) -> dict[str, dict[str, Any]]:
    status, stdout, err = _cli(capsys, "status-lists", "export", str(out), "--db", str(db))
    assert status == 0, err
    return {Path(line).name: json.loads(Path(line).read_text()) for line in stdout.splitlines()}


def _bit(lists: dict[str, dict[str, Any]], name: str, credential: dict[str, Any]) -> int:
    index = int(credential["credentialStatus"][0]["statusListIndex"])
    bits = decode_status_bits(lists[name]["credentialSubject"]["encodedList"])
    return status_bit(bits, index)


def _check(
    db: Path, lists: dict[str, dict[str, Any]], credential: dict[str, Any]
) -> VerificationResult:
    """What a verifier holding only the exported files says about ``credential``."""
    service = _service(db)
    try:
        trust = service.trust_store()
    finally:
        service.db.dispose()
    return Verifier(trust, status_lists=InMemoryStatusLists(lists.values())).check(credential)


def _verdict(db: Path, lists: dict[str, dict[str, Any]], credential: dict[str, Any]) -> Verdict:
    return _check(db, lists, credential).verdict


# -- status ---------------------------------------------------------------------------------------


def test_status_round_trip_through_the_exported_lists(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path
) -> None:
    credential, other = _issue(db, tmp_path)
    cid = credential["id"]
    lists = _export(capsys, db, tmp_path / "lists")
    assert sorted(lists) == ["imss-revocation-1.json", "imss-suspension-1.json"]
    assert _bit(lists, "imss-suspension-1.json", credential) == 0
    assert _verdict(db, lists, credential) is Verdict.VALID

    status, out, err = _cli(capsys, "status", "suspend", cid, "--db", str(db))
    assert status == 0, err
    assert json.loads(out) == {
        "id": cid,
        "institution": "IMSS",
        "revoked": False,
        "suspended": True,
    }
    lists = _export(capsys, db, tmp_path / "lists")
    assert _bit(lists, "imss-suspension-1.json", credential) == 1
    assert _bit(lists, "imss-revocation-1.json", credential) == 0
    assert _bit(lists, "imss-suspension-1.json", other) == 0
    assert _verdict(db, lists, credential) is Verdict.INVALID
    assert _verdict(db, lists, other) is Verdict.VALID

    # A bare UUID names the same credential.
    bare = cid.removeprefix("urn:uuid:")
    status, out, err = _cli(capsys, "status", "reinstate", bare, "--db", str(db))
    assert status == 0, err
    assert json.loads(out)["suspended"] is False
    lists = _export(capsys, db, tmp_path / "lists")
    assert _bit(lists, "imss-suspension-1.json", credential) == 0
    assert _verdict(db, lists, credential) is Verdict.VALID

    status, out, err = _cli(capsys, "status", "revoke", cid, "--db", str(db))
    assert status == 0, err
    assert json.loads(out)["revoked"] is True
    lists = _export(capsys, db, tmp_path / "lists")
    assert _bit(lists, "imss-revocation-1.json", credential) == 1
    result = _check(db, lists, credential)
    assert result.verdict is Verdict.INVALID
    assert ReasonCode.REVOKED in {reason.code for reason in result.reasons}

    status, out, err = _cli(capsys, "status", "reinstate", cid, "--db", str(db))
    assert status == 1
    assert out == ""
    assert "final" in err
    lists = _export(capsys, db, tmp_path / "lists")
    assert _bit(lists, "imss-revocation-1.json", credential) == 1


def test_status_of_an_unknown_credential(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path
) -> None:
    _issue(db, tmp_path, 1)
    unknown = "urn:uuid:00000000-0000-4000-8000-000000000000"
    status, _, err = _cli(capsys, "status", "revoke", unknown, "--db", str(db))
    assert status == 64
    assert f"no credential {unknown}" in err
    status, _, err = _cli(capsys, "status", "delete", "x", "--db", str(db))
    assert status == 64
    assert "invalid choice: 'delete'" in err


def test_export_of_an_empty_database_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path
) -> None:
    status, out, err = _cli(capsys, "status-lists", "export", str(tmp_path / "l"), "--db", str(db))
    assert (status, out) == (0, "")
    assert "no status lists yet" in err
    assert list((tmp_path / "l").iterdir()) == []


# -- audit ----------------------------------------------------------------------------------------


def _audit(capsys: pytest.CaptureFixture[str], db: Path) -> tuple[int, str, str]:
    return _cli(capsys, "audit", "verify", "--db", str(db))


def _sql(db: Path, statement: str, *params: object) -> None:
    with sqlite3.connect(db) as connection:
        connection.execute(statement, params)


def test_audit_verify_detects_an_edited_entry(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path
) -> None:
    _issue(db, tmp_path, 2)
    status, out, _ = _audit(capsys, db)
    assert status == 0
    assert out == "audit: intact: 5 entries chain correctly\n"  # 3 keys + 2 issuances
    _sql(db, "UPDATE audit_log SET details = ? WHERE seq = 4", '{"list": 1, "index": 7}')
    status, out, err = _audit(capsys, db)
    assert status == 1
    assert out == "audit: entry 4: content does not match its hash\n"
    assert "BROKEN: 1 problem(s) in 5 entries" in err


def test_audit_verify_detects_an_edited_actor(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path
) -> None:
    _issue(db, tmp_path, 1)
    _sql(db, "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2")
    status, out, _ = _audit(capsys, db)
    assert status == 1
    assert "audit: entry 2: content does not match its hash" in out


def test_audit_verify_detects_a_deleted_entry(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path
) -> None:
    _issue(db, tmp_path, 2)
    _sql(db, "DELETE FROM audit_log WHERE seq = 3")
    status, out, _ = _audit(capsys, db)
    assert status == 1
    assert "audit: entry 4: entry 3 is missing" in out


def test_audit_verify_detects_deleted_last_entries(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path
) -> None:
    _issue(db, tmp_path, 2)
    _sql(db, "DELETE FROM audit_log WHERE seq = 5")
    status, out, _ = _audit(capsys, db)
    assert status == 1
    assert "entries after the last one were deleted" in out


def test_audit_verify_needs_no_passphrase_but_a_database(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    db: Path,
) -> None:
    _issue(db, tmp_path, 1)
    monkeypatch.delenv("CREDENCIAL_KEY_PASSPHRASE")
    assert _audit(capsys, db)[0] == 0
    status, _, err = _cli(capsys, "audit", "verify", "--db", str(tmp_path / "none.db"))
    assert status == 64
    assert "no database file at" in err
    assert not (tmp_path / "none.db").exists()
    sqlite3.connect(tmp_path / "empty.db").close()
    status, _, err = _cli(capsys, "audit", "verify", "--db", str(tmp_path / "empty.db"))
    assert status == 64
    assert "has no audit log" in err


# -- clients and keys -----------------------------------------------------------------------------


def test_clients_create_prints_a_working_key_once(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    status, out, err = _cli(
        capsys, "clients", "create", "--institution", "ISSSTE", "--scopes", "issue, status",
        "--name", "enrolment system", "--db", str(db),
    )  # fmt: skip
    assert status == 0, err
    api_key = out.strip()
    assert "shown once" in err
    service = _service(db)
    try:
        principal = service.authenticate(api_key)
        assert principal is not None
        assert principal.institution == "ISSSTE"
        assert principal.scopes == frozenset({"issue", "status"})
    finally:
        service.db.dispose()
    with sqlite3.connect(db) as connection:
        stored = connection.execute("SELECT * FROM api_clients").fetchall()
    assert api_key.split(".", 1)[1] not in repr(stored)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scopes", "issue,delete"], "unknown: delete"),
        (["--scopes", ","], "comma-separated subset of admin,dpo,issue,legal,records,status,units"),
        (["--institution", "PEMEX"], "unknown institution 'PEMEX'"),
    ],
)
def test_clients_create_refuses_bad_input(
    capsys: pytest.CaptureFixture[str], db: Path, args: list[str], message: str
) -> None:
    argv = ["clients", "create", "--institution", "IMSS", "--scopes", "issue", "--db", str(db)]
    status, out, err = _cli(capsys, *argv, *args)
    assert (status, out) == (64, "")
    assert message in err


def test_keys_rotate(capsys: pytest.CaptureFixture[str], tmp_path: Path, db: Path) -> None:
    [before] = _issue(db, tmp_path, 1)
    status, out, err = _cli(capsys, "keys", "rotate", "--institution", "IMSS", "--db", str(db))
    assert status == 0, err
    method, public = out.split()
    assert method == "did:web:imss.gob.mx#key-2"
    service = _service(db)
    try:
        document = service.did_document("IMSS")
        assert [m["id"] for m in document["verificationMethod"]] == [
            "did:web:imss.gob.mx#key-1",
            method,
        ]
        assert "validUntil" in document["verificationMethod"][0]
        assert document["assertionMethod"] == [method]
        assert document["verificationMethod"][1]["publicKeyMultibase"] == public
        subject = before["credentialSubject"]
        after = service.issue(cli_principal("IMSS"), {"credentialSubject": subject})
        assert after.document["proof"]["verificationMethod"] == method
        verifier = service.verifier()
        assert verifier.check(after.document).verdict is Verdict.VALID
        assert verifier.check(before).verdict is Verdict.VALID  # old keys stay trusted
    finally:
        service.db.dispose()


# -- shared behaviour -----------------------------------------------------------------------------


def test_missing_passphrase_is_a_clear_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, db: Path
) -> None:
    monkeypatch.delenv("CREDENCIAL_KEY_PASSPHRASE")
    for argv in (
        ["keys", "rotate", "--institution", "IMSS"],
        ["status", "revoke", "urn:uuid:x"],
        ["status-lists", "export", "lists"],
        ["clients", "create", "--institution", "IMSS", "--scopes", "issue"],
    ):
        status, _, err = _cli(capsys, *argv, "--db", str(db))
        assert status == 64
        assert "set CREDENCIAL_KEY_PASSPHRASE" in err


def test_wrong_passphrase_is_reported(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db: Path
) -> None:
    [credential] = _issue(db, tmp_path, 1)
    monkeypatch.setenv("CREDENCIAL_KEY_PASSPHRASE", "not the passphrase")
    status, _, err = _cli(capsys, "status-lists", "export", str(tmp_path / "l"), "--db", str(db))
    assert status == 64
    assert "wrong passphrase" in err
    status, _, err = _cli(capsys, "status", "suspend", credential["id"], "--db", str(db))
    assert status == 0, err  # a status change signs nothing


def test_database_url_and_settings(monkeypatch: pytest.MonkeyPatch, db: Path) -> None:
    from issuer.settings import IssuerSettings

    settings = IssuerSettings(_env_file=None)
    assert operator_cli.database_url(None, settings) == settings.database_url
    assert operator_cli.database_url("x/y.db", settings) == "sqlite:///x/y.db"
    url = "postgresql+psycopg://u:secret@h/db"
    assert operator_cli.database_url(url, settings) == url
    assert "secret" not in operator_cli._shown(url)
    monkeypatch.setenv("CREDENCIAL_DATABASE_URL", f"sqlite:///{db}")
    service = operator_cli.build_service(None)
    try:
        assert service.settings.database_url == f"sqlite:///{db}"
        assert db.exists()
    finally:
        service.db.dispose()


def test_parser_mirrors_the_service() -> None:
    assert operator_cli._SCOPES == SCOPES
    assert set(operator_cli._ACTIONS) == {action.value for action in StatusAction}
    assert operator_cli._CARDS == CARD_OUTPUTS
    assert operator_cli._ENCODINGS == ENCODINGS
    assert operator_cli._ECC == ECC_LEVELS
