"""Issue 5, "Done when": from the issuer service to an offline front desk, through a signed bundle.

The issuer service issues a credential; ``credencial-issuer anchor keygen``, ``trust-bundle build``
and two ``trust-bundle sign`` publish a bundle folder; ``credencial-verify sync`` installs it; with
every socket disabled the card text verifies VALID, then INVALID (REVOKED) after a revocation and
a new bundle, then INDETERMINATE (STATUS_STALE) once the synced status lists are past their age
limit. An older bundle synced afterwards is refused and changes nothing.
"""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from issuer.cli import run as issuer_cli
from issuer.credentials.service import IssuerService, StatusAction
from issuer.principal import Principal
from issuer.settings import IssuerSettings
from tests.issuer._enrolment_data import operator_env
from tests.strategies import example_credential
from verifier import encode_card, format_datetime, parse_datetime
from verifier.cli import run as verify_cli

IMSS = Principal("front-office", "IMSS", frozenset({"issue", "status"}))


def _issuer(capsys: pytest.CaptureFixture[str], *argv: str) -> None:
    status = issuer_cli(list(argv))
    err = capsys.readouterr().err
    assert status == 0, err


def _publish(capsys: pytest.CaptureFixture[str], db: Path, anchors: Path, bundle: Path) -> None:
    """``trust-bundle build`` (next version) and two of the three anchor signatures."""
    _issuer(capsys, "trust-bundle", "build", "--out", str(bundle), "--db", str(db),
            "--anchors", str(anchors / "ANCHORS.json"))  # fmt: skip
    for number in (1, 3):
        key = anchors / f"anchor-{number}.json"
        _issuer(capsys, "trust-bundle", "sign", str(bundle), "--key", str(key),
                "--key-id", f"anchor-{number}")  # fmt: skip


def _sync(capsys: pytest.CaptureFixture[str], source: Path, state: Path, *extra: str) -> str:
    status = verify_cli(["sync", str(source), "--state", str(state), *extra])
    err = capsys.readouterr().err
    assert status == 0, err
    return err


def _verify(
    capsys: pytest.CaptureFixture[str], state: Path, card: str, *extra: str
) -> tuple[int, list[str]]:
    capsys.readouterr()
    status = verify_cli(["--trust-dir", str(state), "--json", *extra, card])
    result = json.loads(capsys.readouterr().out)
    return status, [reason["code"] for reason in result["reasons"]]


def _tree(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder``: file bytes, or a symlink's target."""
    tree: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_symlink():
            tree[name] = str(path.readlink())
        elif path.is_file():
            tree[name] = path.read_bytes()
    return tree


def test_issue_publish_sync_and_verify_offline(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    no_network: list[str],
) -> None:
    # -- the issuer: SQLite in tmp_path, keys encrypted with CREDENCIAL_KEY_PASSPHRASE
    db = operator_env(monkeypatch, tmp_path)
    service = IssuerService(IssuerSettings(database_url=f"sqlite:///{db}"))
    try:
        service.bootstrap()
        subject = example_credential()["credentialSubject"]
        credential: dict[str, Any] = service.issue(IMSS, {"credentialSubject": subject}).document
    finally:
        service.db.dispose()
    card = encode_card(credential)
    assert card.startswith("SUS1:")

    # -- the national trust anchor: 3 keys, 2 must sign; the first bundle
    anchors = tmp_path / "anchors"
    _issuer(capsys, "anchor", "keygen", "--out", str(anchors), "--count", "3", "--threshold", "2")
    bundle = tmp_path / "publish" / "trust-bundle.json"
    _publish(capsys, db, anchors, bundle)
    assert json.loads(bundle.read_text())["signed"]["version"] == 1
    first = tmp_path / "published-v1"
    shutil.copytree(bundle.parent, first)

    # -- the front desk: first sync pins the anchors; verification reads files only
    state = tmp_path / "desk"
    _sync(capsys, bundle.parent, state, "--anchors", str(anchors / "ANCHORS.json"))
    assert _verify(capsys, state, card) == (0, [])

    # -- a revocation, a new bundle (version 2), a new sync (anchors from the recorded state)
    service = IssuerService(IssuerSettings(database_url=f"sqlite:///{db}"))
    try:
        service.change_status(IMSS, credential["id"], StatusAction.REVOKE)
    finally:
        service.db.dispose()
    _publish(capsys, db, anchors, bundle)
    signed = json.loads(bundle.read_text())["signed"]
    assert signed["version"] == 2
    assert "version 2" in _sync(capsys, bundle.parent, state)
    assert _verify(capsys, state, card) == (1, ["REVOKED"])

    # -- the desk stays offline: its status lists pass validUntil (the bundle has not expired)
    [imss] = [i for i in signed["institutions"] if i["code"] == "IMSS"]
    lists_until = max(parse_datetime(entry["validUntil"]) for entry in imss["statusLists"])
    later = lists_until + timedelta(minutes=1)
    assert later < parse_datetime(signed["expires"])
    status, codes = _verify(capsys, state, card, "--now", format_datetime(later))
    assert status == 2  # INDETERMINATE: never VALID, and no longer sure it is revoked
    assert codes == ["STATUS_STALE", "STATUS_STALE"]

    # -- an older, validly signed bundle is refused and changes nothing
    before = _tree(state)
    status = verify_cli(["sync", str(first), "--state", str(state)])
    err = capsys.readouterr().err
    assert status == 1
    assert "TRUST_BUNDLE_ROLLBACK" in err
    assert _tree(state) == before
    assert _verify(capsys, state, card) == (1, ["REVOKED"])

    assert no_network == []
