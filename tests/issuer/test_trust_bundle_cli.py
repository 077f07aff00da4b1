"""``credencial-issuer anchor keygen`` and ``trust-bundle build|sign`` (ADR 0004)."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from issuer.cli import operator as operator_cli
from issuer.cli import run
from issuer.credentials.service import StatusAction
from issuer.demo import DEMO_PEOPLE
from issuer.principal import cli_principal
from tests.issuer._enrolment_data import operator_env
from verifier import decode_status_bits
from verifier._bundle import AnchorSet, valid_signers


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = run(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A bootstrapped issuer database with IMSS's key rotated once and one revoked credential."""
    path = operator_env(monkeypatch, tmp_path)
    service = operator_cli.build_service(str(path))
    try:
        service.rotate_key("IMSS", actor="test")
        issued = service.issue(
            cli_principal("IMSS"), {"credentialSubject": DEMO_PEOPLE["credential"]}
        )
        service.change_status(cli_principal("IMSS"), issued.document["id"], StatusAction.REVOKE)
    finally:
        service.db.dispose()
    return path


@pytest.fixture
def anchors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Path:
    """Three anchor keys, threshold 2."""
    status, out, err = _cli(capsys, "anchor", "keygen", "--out", str(tmp_path / "anchors"),
                            "--count", "3")  # fmt: skip
    assert status == 0, err
    assert out.strip() == str(tmp_path / "anchors" / "ANCHORS.json")
    return tmp_path / "anchors"


def _build(
    capsys: pytest.CaptureFixture[str], db: Path, anchors: Path, out: Path, *extra: str
) -> tuple[int, str]:
    status, _out, err = _cli(
        capsys, "trust-bundle", "build", "--out", str(out), "--db", str(db),
        "--anchors", str(anchors / "ANCHORS.json"), *extra,
    )  # fmt: skip
    return status, err


def _sign(capsys: pytest.CaptureFixture[str], bundle: Path, anchors: Path, number: int) -> int:
    status, _out, err = _cli(
        capsys, "trust-bundle", "sign", str(bundle),
        "--key", str(anchors / f"anchor-{number}.json"), "--key-id", f"anchor-{number}",
    )  # fmt: skip
    assert status == 0, err
    return status


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def _signers(bundle: dict[str, Any]) -> frozenset[bytes]:
    anchor = AnchorSet.from_json(bundle["signed"]["anchor"])
    return valid_signers(bundle["signed"], bundle["signatures"], anchor)


def test_anchor_keygen_writes_keys_and_a_majority_threshold(anchors: Path) -> None:
    document = _load(anchors / "ANCHORS.json")
    assert document["threshold"] == 2
    assert [key["id"] for key in document["keys"]] == ["anchor-1", "anchor-2", "anchor-3"]
    assert (anchors / "anchor-1.json").stat().st_mode & 0o077 == 0
    AnchorSet.from_json(document)


def test_anchor_keygen_never_overwrites(capsys: pytest.CaptureFixture[str], anchors: Path) -> None:
    status, _out, err = _cli(capsys, "anchor", "keygen", "--out", str(anchors), "--count", "3")
    assert status == 64
    assert "refusing to overwrite" in err


def test_build_and_sign_two_of_three(
    capsys: pytest.CaptureFixture[str], db: Path, anchors: Path, tmp_path: Path
) -> None:
    out = tmp_path / "publish" / "bundle.json"
    status, err = _build(capsys, db, anchors, out)
    assert status == 0, err
    bundle = _load(out)
    signed = bundle["signed"]
    assert signed["type"] == "CredencialTrustBundle"
    assert signed["version"] == 1
    assert signed["anchor"] == _load(anchors / "ANCHORS.json")
    assert bundle["signatures"] == []
    institutions = {i["code"]: i for i in signed["institutions"]}
    assert set(institutions) == {"IMSS", "ISSSTE", "IMSS-BIENESTAR"}
    imss = institutions["IMSS"]
    states = [(key["id"], key["state"]) for key in imss["keys"]]
    assert states == [
        ("did:web:imss.gob.mx#key-1", "retired"),
        ("did:web:imss.gob.mx#key-2", "active"),
    ]
    assert "validUntil" in imss["keys"][0]
    assert "validUntil" not in imss["keys"][1]
    # Status lists: the file named in the bundle has the hash the bundle records.
    assert {entry["purpose"] for entry in imss["statusLists"]} == {"revocation", "suspension"}
    for entry in imss["statusLists"]:
        data = (out.parent / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        document = json.loads(data)
        assert document["id"] == entry["url"]
        bits = decode_status_bits(document["credentialSubject"]["encodedList"])
        assert any(bits) is (entry["purpose"] == "revocation")  # the one revoked credential
    assert institutions["ISSSTE"]["statusLists"] == []

    keys = _load(anchors / "ANCHORS.json")["keys"]
    _sign(capsys, out, anchors, 1)
    assert len(_signers(_load(out))) == 1
    _sign(capsys, out, anchors, 3)
    signed_bundle = _load(out)
    signers = _signers(signed_bundle)
    assert len(signers) == 2 >= signed_bundle["signed"]["anchor"]["threshold"]
    anchor = AnchorSet.from_json(signed_bundle["signed"]["anchor"])
    by_id = {key.id: key.public_key for key in anchor.keys}
    assert signers == {by_id["anchor-1"], by_id["anchor-3"]}
    assert len(keys) == 3

    # Re-signing with the same key replaces its own entry: still two entries, two signers.
    _sign(capsys, out, anchors, 1)
    resigned = _load(out)
    assert [s["keyid"] for s in resigned["signatures"]] == ["anchor-3", "anchor-1"]
    assert len(_signers(resigned)) == 2


def test_editing_the_signed_bundle_invalidates_every_signature(
    capsys: pytest.CaptureFixture[str], db: Path, anchors: Path, tmp_path: Path
) -> None:
    out = tmp_path / "bundle.json"
    assert _build(capsys, db, anchors, out)[0] == 0
    _sign(capsys, out, anchors, 1)
    _sign(capsys, out, anchors, 2)
    bundle = _load(out)
    assert len(_signers(bundle)) == 2
    bundle["signed"]["expires"] = "2099-01-01T00:00:00Z"
    assert _signers(bundle) == frozenset()
    bundle = _load(out)
    bundle["signed"]["institutions"][0]["keys"][0]["state"] = "active"
    assert _signers(bundle) == frozenset()
    bundle = _load(out)
    imss = next(i for i in bundle["signed"]["institutions"] if i["code"] == "IMSS")
    imss["statusLists"][0]["sha256"] = "0" * 64
    assert _signers(bundle) == frozenset()


def test_version_increments_and_rollback_is_refused(
    capsys: pytest.CaptureFixture[str], db: Path, anchors: Path, tmp_path: Path
) -> None:
    out = tmp_path / "bundle.json"
    assert _build(capsys, db, anchors, out)[0] == 0
    assert _build(capsys, db, anchors, out)[0] == 0
    assert _load(out)["signed"]["version"] == 2
    assert _build(capsys, db, anchors, out, "--version", "7", "--expires-in", "3")[0] == 0
    signed = _load(out)["signed"]
    assert signed["version"] == 7
    assert signed["issued"] < signed["expires"]
    status, err = _build(capsys, db, anchors, out, "--version", "7")
    assert status == 64
    assert "not above" in err


def test_sign_refuses_a_key_that_is_not_the_listed_anchor(
    capsys: pytest.CaptureFixture[str], db: Path, anchors: Path, tmp_path: Path
) -> None:
    out = tmp_path / "bundle.json"
    assert _build(capsys, db, anchors, out)[0] == 0
    status, _out, err = _cli(
        capsys, "trust-bundle", "sign", str(out),
        "--key", str(anchors / "anchor-2.json"), "--key-id", "anchor-1",
    )  # fmt: skip
    assert status == 64
    assert "public key differs" in err
    assert _load(out)["signatures"] == []


def test_build_refuses_a_bad_anchor_set(
    capsys: pytest.CaptureFixture[str], db: Path, anchors: Path, tmp_path: Path
) -> None:
    document = _load(anchors / "ANCHORS.json")
    document["threshold"] = 4
    (anchors / "ANCHORS.json").write_text(json.dumps(document))
    status, err = _build(capsys, db, anchors, tmp_path / "bundle.json")
    assert status == 64
    assert "threshold" in err
    assert not (tmp_path / "bundle.json").exists()


def test_build_refuses_a_missing_database(
    capsys: pytest.CaptureFixture[str], db: Path, anchors: Path, tmp_path: Path
) -> None:
    status, err = _build(capsys, tmp_path / "nope.db", anchors, tmp_path / "bundle.json")
    assert status == 64
    assert "no issuer database" in err
    assert not (tmp_path / "nope.db").exists()


def _one_institution_service(root: Path, code: str) -> Path:
    """An issuer deployment that serves only ``code``, with one credential issued."""
    from pydantic import SecretStr

    from issuer.credentials.service import IssuerService
    from issuer.institutions import INSTITUTIONS
    from issuer.settings import IssuerSettings

    database = root / f"{code.lower()}.db"
    settings = IssuerSettings(
        database_url=f"sqlite:///{database}", key_dir=root / f"{code.lower()}-keys",
        key_passphrase=SecretStr("test"),
    )  # fmt: skip
    service = IssuerService(settings)
    try:
        service.bootstrap([INSTITUTIONS[code]])
        subject = json.loads(json.dumps(DEMO_PEOPLE["credential"]))
        subject["coverage"]["institution"] = code
        service.issue(cli_principal(code), {"credentialSubject": subject})
    finally:
        service.db.dispose()
    return database


def test_build_merges_bundles_built_on_each_institution_service(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    anchors: Path,
) -> None:
    imss_db = _one_institution_service(tmp_path, "IMSS")
    issste_db = _one_institution_service(tmp_path, "ISSSTE")
    monkeypatch.setenv("CREDENCIAL_KEY_PASSPHRASE", "test")
    fragments = []
    for name, database in (("imss", imss_db), ("issste", issste_db)):
        monkeypatch.setenv("CREDENCIAL_KEY_DIR", str(tmp_path / f"{name}-keys"))
        out = tmp_path / name / "bundle.json"
        status, err = _build(capsys, database, anchors, out)
        assert status == 0, err
        fragments.append(out)

    national = tmp_path / "national" / "bundle.json"
    status, _out, err = _cli(
        capsys, "trust-bundle", "build", "--out", str(national),
        "--anchors", str(anchors / "ANCHORS.json"),
        "--from", str(fragments[0]), "--from", str(fragments[1]),
    )  # fmt: skip
    assert status == 0, err
    bundle = _load(national)
    assert [i["code"] for i in bundle["signed"]["institutions"]] == ["IMSS", "ISSSTE"]
    for institution in bundle["signed"]["institutions"]:
        for entry in institution["statusLists"]:
            data = (national.parent / entry["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    _sign(capsys, national, anchors, 1)
    _sign(capsys, national, anchors, 2)
    assert len(_signers(_load(national))) == 2

    # The same institution from two sources is refused, and so is a fragment's altered list.
    status, _out, err = _cli(
        capsys, "trust-bundle", "build", "--out", str(tmp_path / "dup" / "bundle.json"),
        "--anchors", str(anchors / "ANCHORS.json"),
        "--from", str(fragments[0]), "--from", str(fragments[0]),
    )  # fmt: skip
    assert status != 0
    assert "more than one source" in err
    status_file = next((fragments[1].parent / "status").glob("*-revocation-*.json"))
    status_file.write_bytes(status_file.read_bytes().replace(b'"VerifiableCredential"', b'"X"'))
    status, _out, err = _cli(
        capsys, "trust-bundle", "build", "--out", str(tmp_path / "bad" / "bundle.json"),
        "--anchors", str(anchors / "ANCHORS.json"), "--from", str(fragments[1]),
    )  # fmt: skip
    assert status != 0
    assert "does not match its hash" in err


def test_a_build_after_another_keeps_the_lists_whose_bits_did_not_change(
    capsys: pytest.CaptureFixture[str], db: Path, anchors: Path, tmp_path: Path
) -> None:
    """``--previous``: within the hour, a list whose bits did not change is the previous file
    byte for byte (the delta names only what changed); a changed list is signed anew."""
    first, second = tmp_path / "v1" / "bundle.json", tmp_path / "v2" / "bundle.json"
    assert _build(capsys, db, anchors, first)[0] == 0
    service = operator_cli.build_service(str(db), bootstrap=False)
    try:
        person = service.issue(
            cli_principal("IMSS"), {"credentialSubject": DEMO_PEOPLE["credential"]}
        )
        service.change_status(cli_principal("IMSS"), person.document["id"], StatusAction.SUSPEND)
    finally:
        service.db.dispose()
    time.sleep(1.1)  # a list signed anew now differs in its validFrom and signature
    rebuilt = _build(capsys, db, anchors, second, "--previous", str(first.parent), "--version", "2")
    assert rebuilt[0] == 0, rebuilt[1]

    def lists(bundle: Path) -> dict[str, bytes]:
        entries = [e for i in _load(bundle)["signed"]["institutions"] for e in i["statusLists"]]
        return {e["purpose"]: (bundle.parent / e["path"]).read_bytes() for e in entries}

    before, after = lists(first), lists(second)
    assert after["revocation"] == before["revocation"]  # same bits: the same signed file
    assert after["suspension"] != before["suspension"]  # a bit set: signed anew
    delta = _load(second.parent / _load(second)["signed"]["statusDelta"]["path"])
    assert [item["url"].rsplit("/", 2)[1] for item in delta["lists"]] == ["suspension"]


def test_a_previous_list_is_not_kept_when_stale_or_signed_by_another_key(
    db: Path, tmp_path: Path
) -> None:
    """The re-sign rule holds for adopted lists too: older than the hour, another signing key
    or another ``ttl``, and the list is signed anew."""
    service = operator_cli.build_service(str(db), bootstrap=False)
    try:
        ((code, number),) = service.status_list_numbers("IMSS")
        current = service.status_list_credential(code, "revocation", number)
        fresh = IssuerServiceView(service)
        assert fresh.adopt([current]) == 1
        assert fresh.served(code, number) == current
        stale = {**current, "validFrom": _earlier(current["validFrom"], timedelta(hours=2)),
                 "validUntil": _earlier(current["validUntil"], timedelta(hours=2))}  # fmt: skip
        assert fresh.adopt([stale]) == 1  # adopted, yet never served: older than the hour
        assert fresh.served(code, number) != stale
        other_key = {**current, "proof": {**current["proof"], "verificationMethod":
                                          "did:web:imss.gob.mx#key-1"}}  # fmt: skip
        other_ttl = {**current, "validUntil": _earlier(current["validUntil"], timedelta(hours=1))}
        unknown = {**current, "id": "https://imss.gob.mx/credencial/status/revocation/99"}
        assert fresh.adopt([other_key, other_ttl, unknown, {"id": 1}]) == 0
    finally:
        service.db.dispose()


def _earlier(stamp: str, by: timedelta) -> str:
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ") - by
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class IssuerServiceView:
    """A fresh service on the same database (an empty cache of signed lists)."""

    def __init__(self, service: Any) -> None:
        self.service = type(service)(service.settings)

    def adopt(self, credentials: list[dict[str, Any]]) -> int:
        return int(self.service.adopt_status_lists(credentials))

    def served(self, code: str, number: int) -> dict[str, Any]:
        return dict(self.service.status_list_credential(code, "revocation", number))
