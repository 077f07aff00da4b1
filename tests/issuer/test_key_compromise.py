"""Key compromise on the issuer side: service, ``keys compromise``, the bundle, the verdicts.

The service tests run on SQLite and PostgreSQL (the ``service`` fixture); the end of the file
follows one compromise through ``trust-bundle build``/``sign`` and ``credencial-verify sync``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from issuer.cli import operator as operator_cli
from issuer.cli import run as issuer_cli
from issuer.credentials import service as service_module
from issuer.credentials.service import IssuerService
from issuer.errors import ConflictError, NotFoundError, ServiceError
from issuer.principal import Principal, cli_principal
from issuer.storage.database import utc
from issuer.storage.tables import AuditEntry, SigningKey
from tests.issuer._enrolment_data import operator_env
from tests.strategies import example_credential
from verifier import Verdict, encode_card, format_datetime
from verifier.cli import run as verify_cli

IMSS = Principal("test-client", "IMSS", frozenset({"issue", "status", "admin"}))
KEY1 = "did:web:imss.gob.mx#key-1"
KEY2 = "did:web:imss.gob.mx#key-2"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _keys(service: IssuerService) -> dict[str, SigningKey]:
    with service.db.read() as session:
        rows = session.scalars(select(SigningKey).where(SigningKey.institution_code == "IMSS"))
        return {row.key_id: row for row in rows}


def _audit(service: IssuerService) -> list[tuple[str, str, dict[str, Any]]]:
    with service.db.read() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.seq))
        return [(row.action, row.subject, row.details) for row in rows]


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else utc(moment)


# -- the service ----------------------------------------------------------------------------------


def test_compromising_the_active_key_retires_it_and_issuance_continues(
    service: IssuerService,
) -> None:
    before = service.issue(IMSS, example_credential()).document
    other = IssuerService(service.settings)  # another process serving the same database
    try:
        for server in (service, other):
            served = server.status_list_credential("IMSS", "revocation", 1)
            assert served["proof"]["verificationMethod"] == KEY1  # and now cached
        at = _now() - timedelta(minutes=5)
        assert service.mark_key_compromised("IMSS", "key-1", at, actor="admin") == "key-2"
        for server in (service, other):  # no cached list signed by the compromised key
            served = server.status_list_credential("IMSS", "revocation", 1)
            assert served["proof"]["verificationMethod"] == KEY2
    finally:
        other.db.dispose()

    keys = _keys(service)
    assert _utc(keys["key-1"].compromised_at) == at
    assert keys["key-1"].retired_at is not None
    assert keys["key-2"].retired_at is None
    assert keys["key-2"].compromised_at is None
    assert service.active_key("IMSS").verification_method == KEY2
    # one transaction: retire, create the next key, record the compromise
    assert _audit(service)[-3:] == [
        ("key.retire", "key-1", {}),
        ("key.create", "key-2", {"publicKeyMultibase": keys["key-2"].public_key_multibase}),
        ("key.compromise", "key-1", {"compromisedAt": format_datetime(at), "replacedBy": "key-2"}),
    ]

    after = service.issue(IMSS, example_credential()).document
    assert after["proof"]["verificationMethod"] == KEY2
    verifier = service.verifier()
    assert verifier.check(after).verdict is Verdict.VALID
    # `before` was signed after `at` (the key was compromised while it still signed)
    result = verifier.check(before)
    assert result.verdict is Verdict.INVALID
    assert "KEY_COMPROMISED" in {reason.code.value for reason in result.reasons}

    document = service.did_document("IMSS")
    methods = {m["id"]: m for m in document["verificationMethod"]}
    assert methods[KEY1]["revoked"] == format_datetime(at)
    assert "revoked" not in methods[KEY2]
    assert document["assertionMethod"] == [KEY2]


def test_compromising_a_retired_key_creates_no_new_key(service: IssuerService) -> None:
    service.rotate_key("IMSS", actor="admin")
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-6)))  # Mexico City time
    assert service.mark_key_compromised("IMSS", KEY1, at, actor="admin") is None  # full id too
    keys = _keys(service)
    assert sorted(keys) == ["key-1", "key-2"]
    assert _utc(keys["key-1"].compromised_at) == datetime(2026, 1, 2, 9, 4, 5, tzinfo=UTC)
    assert service.active_key("IMSS").verification_method == KEY2
    assert _audit(service)[-1] == (
        "key.compromise",
        "key-1",
        {"compromisedAt": "2026-01-02T09:04:05Z"},
    )
    assert service.did_document("IMSS")["assertionMethod"] == [KEY2]
    [trusted] = [key for key in service.trust_store().to_json()["keys"] if key["id"] == KEY1]
    assert (trusted["state"], trusted["compromisedAt"]) == ("compromised", "2026-01-02T09:04:05Z")


def test_a_compromise_time_only_moves_earlier(service: IssuerService) -> None:
    first = _now() - timedelta(hours=1)
    service.mark_key_compromised("IMSS", "key-1", first, actor="admin")
    for later in (first, first + timedelta(minutes=1)):
        with pytest.raises(ConflictError, match="already compromised since"):
            service.mark_key_compromised("IMSS", "key-1", later, actor="admin")
    earlier = first - timedelta(days=1)
    assert service.mark_key_compromised("IMSS", "key-1", earlier, actor="admin") is None
    assert _utc(_keys(service)["key-1"].compromised_at) == earlier
    assert sorted(_keys(service)) == ["key-1", "key-2"]  # no second rotation
    assert _audit(service)[-1][2] == {
        "compromisedAt": format_datetime(earlier),
        "previousCompromisedAt": format_datetime(first),
    }


def test_compromise_refuses_bad_input(service: IssuerService) -> None:
    now = _now()
    with pytest.raises(NotFoundError, match="no signing key 'key-9'"):
        service.mark_key_compromised("IMSS", "key-9", now, actor="admin")
    with pytest.raises(NotFoundError, match="unknown institution"):
        service.mark_key_compromised("PEMEX", "key-1", now, actor="admin")
    with pytest.raises(ServiceError, match="in the future"):
        service.mark_key_compromised("IMSS", "key-1", now + timedelta(hours=1), actor="admin")
    with pytest.raises(ServiceError, match="time zone"):
        service.mark_key_compromised("IMSS", "key-1", datetime(2026, 1, 1), actor="admin")
    assert all(key.compromised_at is None for key in _keys(service).values())
    assert service.active_key("IMSS").verification_method == KEY1


# -- credencial-issuer keys compromise ------------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = issuer_cli(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_keys_compromise_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    db = operator_env(monkeypatch, tmp_path)
    operator_cli.build_service(str(db)).db.dispose()  # bootstrap: key-1 of each institution
    argv = ["keys", "compromise", "--institution", "IMSS", "--key-id", "key-1", "--db", str(db)]

    status, out, err = _cli(capsys, *argv, "--at", "2026-01-01T00:00:00-06:00")
    assert status == 0, err
    assert json.loads(out) == {
        "key": KEY1,
        "compromisedAt": "2026-01-01T06:00:00Z",
        "newKey": KEY2,
    }
    assert "key-2 signs from now on" in err
    service = operator_cli.build_service(str(db))
    try:
        assert service.active_key("IMSS").verification_method == KEY2
    finally:
        service.db.dispose()

    status, out, err = _cli(capsys, *argv, "--at", "2026-02-01T00:00:00Z")
    assert (status, out) == (1, "")
    assert "already compromised since 2026-01-01T06:00:00Z" in err
    status, out, err = _cli(capsys, *argv, "--at", "2026-01-01T00:00:00")
    assert (status, out) == (64, "")
    assert "dateTimeStamp" in err
    argv[argv.index("key-1")] = "key-7"
    status, out, err = _cli(capsys, *argv, "--at", "2026-01-01T00:00:00Z")
    assert (status, out) == (64, "")
    assert "no signing key 'key-7'" in err


# -- through the trust bundle ---------------------------------------------------------------------


class _Clock(datetime):
    """The service's clock, set by the test (the rest of the world keeps the real one)."""

    current: ClassVar[datetime]

    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return cls.current if tz is None else cls.current.astimezone(tz)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> type[_Clock]:
    _Clock.current = _now()
    monkeypatch.setattr(service_module, "datetime", _Clock)
    return _Clock


def test_a_compromise_reaches_the_verifier_through_the_synced_bundle(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    clock: type[_Clock],
    no_network: list[str],
) -> None:
    db = operator_env(monkeypatch, tmp_path)
    start = _now() - timedelta(hours=3)
    clock.current = start
    service = operator_cli.build_service(str(db))
    try:
        clock.current = start + timedelta(minutes=10)
        before = service.issue(cli_principal("IMSS"), {"credentialSubject": _subject()}).document
        clock.current = start + timedelta(minutes=60)
        after = service.issue(cli_principal("IMSS"), {"credentialSubject": _subject()}).document
        clock.current = start + timedelta(hours=2)
        compromised_at = start + timedelta(minutes=30)
        service.mark_key_compromised("IMSS", "key-1", compromised_at, actor="admin")
    finally:
        service.db.dispose()
    assert before["proof"]["verificationMethod"] == after["proof"]["verificationMethod"] == KEY1

    anchors = tmp_path / "anchors"
    assert _cli(capsys, "anchor", "keygen", "--out", str(anchors), "--count", "3")[0] == 0
    bundle = tmp_path / "publish" / "trust-bundle.json"
    status, _, err = _cli(
        capsys, "trust-bundle", "build", "--out", str(bundle), "--db", str(db),
        "--anchors", str(anchors / "ANCHORS.json"),
    )  # fmt: skip
    assert status == 0, err
    imss = next(i for i in json.loads(bundle.read_text())["signed"]["institutions"]
                if i["code"] == "IMSS")  # fmt: skip
    key1, key2 = imss["keys"]
    assert (key1["id"], key1["state"], key1["compromisedAt"]) == (
        KEY1,
        "compromised",
        format_datetime(compromised_at),
    )
    assert "validUntil" in key1
    assert (key2["id"], key2["state"]) == (KEY2, "active")
    for number in (1, 2):
        status, _, err = _cli(
            capsys, "trust-bundle", "sign", str(bundle),
            "--key", str(anchors / f"anchor-{number}.json"), "--key-id", f"anchor-{number}",
        )  # fmt: skip
        assert status == 0, err

    trust = tmp_path / "trust"
    argv = ["sync", str(bundle.parent), "--state", str(trust), "--anchors"]
    assert verify_cli([*argv, str(anchors / "ANCHORS.json")]) == 0
    capsys.readouterr()

    def verify(document: dict[str, Any]) -> tuple[int, list[str]]:
        status = verify_cli(["--trust-dir", str(trust), "--json", encode_card(document)])
        out = capsys.readouterr().out
        return status, [reason["code"] for reason in json.loads(out)["reasons"]]

    assert verify(before) == (0, [])  # signed before compromisedAt: still good
    assert verify(after) == (1, ["KEY_COMPROMISED"])
    assert no_network == []


def _subject() -> dict[str, Any]:
    subject: dict[str, Any] = example_credential()["credentialSubject"]
    return subject
