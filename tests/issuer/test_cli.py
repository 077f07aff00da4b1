"""``credencial-issuer``: keygen, sign (W3C vector and round trip through the verifier), demo."""

from __future__ import annotations

import io
import json
import stat
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from issuer.cli import EXIT_USAGE, run
from issuer.credentials.signing import new_status_list_credential
from issuer.institutions import INSTITUTIONS
from issuer.keys.files import Ed25519KeyPair
from tests.conftest import NOW, SIGNED_AT, Issuers
from tests.strategies import example_credential
from verifier import ED25519_PRIV_PREFIX, TrustStore, decode_multikey
from verifier import cli as verify_cli

EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
NOW_ARG = "2026-06-01T12:00:00Z"
IMSS = INSTITUTIONS["IMSS"]
VM = IMSS.verification_method("key-1")


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    status = run(argv)
    out, err = capsys.readouterr()
    return status, out, err


def _write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


# -- keygen ---------------------------------------------------------------------------------------


def test_keygen_to_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    status, out, err = _run(capsys, ["keygen", "--out", str(path)])
    assert status == 0
    assert out == ""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = Ed25519KeyPair.from_file(path)
    assert err == f"{path}: {key.public_key_multibase}\n"
    assert _read_json(path) == key.to_json()


def test_keygen_never_overwrites(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    assert _run(capsys, ["keygen", "--out", str(path)])[0] == 0
    before = path.read_bytes()
    status, out, err = _run(capsys, ["keygen", "--out", str(path)])
    assert status == EXIT_USAGE == 64
    assert out == ""
    assert err.startswith("credencial-issuer: ")
    assert "File exists" in err
    assert path.read_bytes() == before


def test_keygen_into_a_missing_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, _, err = _run(capsys, ["keygen", "--out", str(tmp_path / "no" / "key.json")])
    assert status == 64
    assert "No such file or directory" in err


def test_keygen_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, ["keygen"])
    assert (status, err) == (0, "")
    document = json.loads(out)
    assert set(document) == {"publicKeyMultibase", "privateKeyMultibase"}
    assert document["publicKeyMultibase"].startswith("z6Mk")
    assert document["privateKeyMultibase"].startswith("z3u2")
    assert len(decode_multikey(document["privateKeyMultibase"], ED25519_PRIV_PREFIX)) == 32
    key = Ed25519KeyPair.from_json(document)
    assert key.public_key_multibase == document["publicKeyMultibase"]

    status, second, _ = _run(capsys, ["keygen"])  # a second key is a different key
    assert status == 0
    assert json.loads(second)["publicKeyMultibase"] != document["publicKeyMultibase"]


# -- sign: the W3C vector -------------------------------------------------------------------------


@pytest.fixture
def w3c_sign_args(shared_w3c: Path) -> list[str]:
    eddsa = shared_w3c / "eddsa"
    config = _read_json(eddsa / "eddsa-rdfc-2022" / "proofConfigDataInt.json")
    context = shared_w3c / "contexts" / "credentials-examples-v2.jsonld"
    return [
        "sign",
        "--key",
        str(eddsa / "keyPair.json"),
        "--verification-method",
        config["verificationMethod"],
        "--created",
        "2023-02-24T23:36:38Z",
        "--context",
        f"{EXAMPLES_V2}={context}",
    ]


def test_sign_reproduces_the_w3c_vector(
    capsys: pytest.CaptureFixture[str], shared_w3c: Path, w3c_sign_args: list[str]
) -> None:
    eddsa = shared_w3c / "eddsa"
    status, out, err = _run(capsys, [*w3c_sign_args, str(eddsa / "unsigned.json")])
    assert (status, err) == (0, "")
    expected = _read_json(eddsa / "eddsa-rdfc-2022" / "signedDataInt.json")
    assert json.loads(out) == expected
    assert json.loads(out)["proof"]["proofValue"] == expected["proof"]["proofValue"]


def test_sign_reads_stdin(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    shared_w3c: Path,
    w3c_sign_args: list[str],
) -> None:
    unsigned = (shared_w3c / "eddsa" / "unsigned.json").read_text(encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", io.StringIO(unsigned))
    status, out, _ = _run(capsys, [*w3c_sign_args, "-"])
    assert status == 0
    expected = _read_json(shared_w3c / "eddsa" / "eddsa-rdfc-2022" / "signedDataInt.json")
    assert json.loads(out) == expected


def test_sign_without_the_examples_context_fails(
    capsys: pytest.CaptureFixture[str], shared_w3c: Path, w3c_sign_args: list[str]
) -> None:
    argv = [*w3c_sign_args[:-2], str(shared_w3c / "eddsa" / "unsigned.json")]
    status, out, err = _run(capsys, argv)
    assert (status, out) == (64, "")
    assert EXAMPLES_V2 in err


# -- sign: round trip through credencial-verify ----------------------------------------------------


def _sign_file(
    capsys: pytest.CaptureFixture[str], key: Path, document: dict[str, Any], out: Path
) -> dict[str, Any]:
    unsigned = _write_json(out.with_suffix(".unsigned.json"), document)
    argv = ["sign", "--key", str(key), "--verification-method", VM, "--created", SIGNED_AT]
    status, text, err = _run(capsys, [*argv, str(unsigned)])
    assert (status, err) == (0, ""), err
    out.write_text(text, encoding="utf-8")
    signed: dict[str, Any] = json.loads(text)
    return signed


def test_sign_then_verify(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    key_path = tmp_path / "imss.json"
    assert _run(capsys, ["keygen", "--out", str(key_path)])[0] == 0
    key = Ed25519KeyPair.from_file(key_path)

    credential = _sign_file(capsys, key_path, example_credential(), tmp_path / "credential.json")
    assert credential["proof"]["verificationMethod"] == VM
    assert credential["proof"]["created"] == SIGNED_AT
    assert {k: v for k, v in credential.items() if k != "proof"} == example_credential()

    status_files = []
    for entry in credential["credentialStatus"]:
        unsigned = new_status_list_credential(
            IMSS,
            entry["statusListCredential"],
            purpose=entry["statusPurpose"],
            valid_from=NOW - timedelta(hours=1),
        )
        path = tmp_path / f"{entry['statusPurpose']}.json"
        _sign_file(capsys, key_path, unsigned, path)
        status_files += ["--status-list", str(path)]

    trust_entry = {
        "id": VM,
        "controller": IMSS.did,
        "publicKeyMultibase": key.public_key_multibase,
    }
    trust = _write_json(tmp_path / "trust.json", {"keys": [trust_entry]})
    argv = ["--json", "--trust", str(trust), *status_files, "--now", NOW_ARG]
    assert verify_cli.run([*argv, str(tmp_path / "credential.json")]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "VALID"

    other = Ed25519KeyPair.generate()  # the same verification method, another key: refused
    _write_json(
        trust, {"keys": [{**trust_entry, "publicKeyMultibase": other.public_key_multibase}]}
    )
    assert verify_cli.run([*argv, str(tmp_path / "credential.json")]) == 1
    document = json.loads(capsys.readouterr().out)
    assert [r["code"] for r in document["reasons"]] == ["SIGNATURE_INVALID"]


# -- sign: refusals -------------------------------------------------------------------------------


@pytest.fixture
def key_file(tmp_path: Path, issuers: Issuers) -> Path:
    path = tmp_path / "key.json"
    issuers.keys["IMSS"].save(path)
    return path


@pytest.mark.parametrize("where", ["subject", "top level"])
def test_sign_refuses_an_undefined_term(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, key_file: Path, where: str
) -> None:
    document = example_credential()
    target = document["credentialSubject"] if where == "subject" else document
    target["favouriteColour"] = "azul"
    path = _write_json(tmp_path / "unsigned.json", document)
    status, out, err = _run(
        capsys, ["sign", "--key", str(key_file), "--verification-method", VM, str(path)]
    )
    assert (status, out) == (64, "")
    assert "drop the property favouriteColour" in err


def test_sign_refuses_a_key_file_whose_public_key_does_not_match(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, key_file: Path
) -> None:
    document = _read_json(key_file)
    document["publicKeyMultibase"] = Ed25519KeyPair.generate().public_key_multibase
    mismatched = _write_json(tmp_path / "mismatched.json", document)
    unsigned = _write_json(tmp_path / "unsigned.json", example_credential())
    argv = ["sign", "--key", str(mismatched), "--verification-method", VM, str(unsigned)]
    status, out, err = _run(capsys, argv)
    assert (status, out) == (64, "")
    assert "publicKeyMultibase does not match privateKeyMultibase" in err
    argv[2] = str(key_file)  # the same document with the right key file signs
    assert _run(capsys, argv)[0] == 0


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("bad --created", "not an XML Schema dateTimeStamp"),
        ("--context without =", "--context takes URL=PATH"),
        ("missing key file", "cannot read key file"),
        ("missing input", "No such file"),
        ("array input", "not a JSON object"),
        ("non-JSON input", "Expecting value"),
        ("relative verification method", "not an absolute IRI"),
    ],
)
def test_sign_usage_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, key_file: Path, case: str, fragment: str
) -> None:
    unsigned = str(_write_json(tmp_path / "unsigned.json", example_credential()))
    key, vm, extra = str(key_file), VM, []
    if case == "bad --created":
        extra = ["--created", "2026-01-01"]
    elif case == "--context without =":
        extra = ["--context", EXAMPLES_V2]
    elif case == "missing key file":
        key = str(tmp_path / "none.json")
    elif case == "missing input":
        unsigned = str(tmp_path / "none.json")
    elif case == "array input":
        unsigned = str(_write_json(tmp_path / "array.json", [example_credential()]))
    elif case == "non-JSON input":
        (tmp_path / "text.json").write_text("unsigned", encoding="utf-8")
        unsigned = str(tmp_path / "text.json")
    elif case == "relative verification method":
        vm = "key-1"
    status, out, err = _run(
        capsys, ["sign", "--key", key, "--verification-method", vm, *extra, unsigned]
    )
    assert (status, out) == (64, "")
    assert err.startswith("credencial-issuer: ")
    assert fragment in err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        ([], "required: command"),
        (["mint"], "invalid choice: 'mint'"),
        (["sign", "x.json"], "required: --key, --verification-method"),
        (["keygen", "--bits", "4096"], "unrecognized arguments"),
    ],
)
def test_argument_errors_exit_64(
    capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    assert run(argv) == 64
    assert fragment in capsys.readouterr().err


# -- demo -----------------------------------------------------------------------------------------

DEMO_FILES = (
    "keys/imss.json",
    "keys/issste.json",
    "keys/imss-bienestar.json",
    "trust.json",
    "credential.json",
    "credential-revoked.json",
    "status/imss-revocation-1.json",
    "status/imss-suspension-1.json",
)


def test_demo(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "demo"
    status, text, _ = _run(capsys, ["demo", "--out", str(out)])
    assert status == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.json")) == sorted(DEMO_FILES)
    assert f"{out}/credential.json: VALID" in text
    assert f"{out}/credential-revoked.json: INVALID (REVOKED)" in text

    keys = {name: Ed25519KeyPair.from_file(out / name) for name in DEMO_FILES[:3]}
    assert {stat.S_IMODE((out / name).stat().st_mode) for name in DEMO_FILES[:3]} == {0o600}
    trust = TrustStore.from_file(out / "trust.json")
    assert len(trust) == 3
    assert {entry["publicKeyMultibase"] for entry in trust.to_json()["keys"]} == {
        key.public_key_multibase for key in keys.values()
    }
    assert _read_json(out / "credential.json")["issuer"] == IMSS.did

    before = {name: (out / name).read_bytes() for name in DEMO_FILES[:3]}
    trust_before = _read_json(out / "trust.json")
    credential_before = _read_json(out / "credential.json")
    assert _run(capsys, ["demo", "--out", str(out)])[0] == 0
    assert {name: (out / name).read_bytes() for name in DEMO_FILES[:3]} == before
    assert _read_json(out / "trust.json") == trust_before
    assert _read_json(out / "credential.json")["id"] != credential_before["id"]  # new issuance

    status_args = [arg for f in DEMO_FILES[-2:] for arg in ("--status-list", str(out / f))]
    verify = ["--json", "--trust", str(out / "trust.json"), *status_args]
    assert verify_cli.run([*verify, str(out / "credential.json")]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "VALID"
    assert verify_cli.run([*verify, str(out / "credential-revoked.json")]) == 1
    document = json.loads(capsys.readouterr().out)
    assert [r["code"] for r in document["reasons"]] == ["REVOKED"]
    # without the status lists the same credential cannot be judged
    assert verify_cli.run(["--trust", str(out / "trust.json"), str(out / "credential.json")]) == 2


def test_demo_refuses_a_corrupt_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "demo"
    (out / "keys").mkdir(parents=True)
    (out / "keys" / "imss.json").write_text('{"privateKeyMultibase": "z3u2"}', encoding="utf-8")
    status, _, err = _run(capsys, ["demo", "--out", str(out)])
    assert status == 64
    assert "Multikey" in err
    assert not (out / "credential.json").exists()
