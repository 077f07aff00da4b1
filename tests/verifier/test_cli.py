"""``credencial-verify``: exit statuses, human and JSON output, inputs and usage errors."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import schemas
from tests.conftest import NOW, Issuers
from verifier import InMemoryStatusLists, ReasonCode, TrustedKey, TrustStore, reason_summary
from verifier.cli import EXIT_USAGE, run

NOW_ARG = "2026-06-01T12:00:00Z"
EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
W3C_ISSUER = "https://vc.example/issuers/5678"
HOLDER = "MARÍA GUADALUPE DEL SOCORRO HERNÁNDEZ DE LA O"
CURP = "HEOG850314MDFRXD08"


@dataclass(frozen=True)
class Files:
    """Paths of the inputs written into ``tmp_path``."""

    root: Path
    trust: Path
    credential: Path
    revocation: Path
    suspension: Path

    def status_args(self) -> list[str]:
        return ["--status-list", str(self.revocation), "--status-list", str(self.suspension)]

    def args(self, *extra: str, credential: Path | None = None) -> list[str]:
        """Trust, both status lists, ``--now`` and the credential, plus ``extra`` options."""
        return [
            "--trust",
            str(self.trust),
            *self.status_args(),
            "--now",
            NOW_ARG,
            *extra,
            str(credential or self.credential),
        ]


def _write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def _entry(credential: dict[str, Any], purpose: str) -> dict[str, Any]:
    entries: list[dict[str, Any]] = credential["credentialStatus"]
    (entry,) = [e for e in entries if e["statusPurpose"] == purpose]
    return entry


@pytest.fixture
def files(
    tmp_path: Path,
    issuers: Issuers,
    credential: dict[str, Any],
    status_lists: InMemoryStatusLists,
) -> Files:
    lists = {}
    for purpose in ("revocation", "suspension"):
        held = status_lists.get(_entry(credential, purpose)["statusListCredential"])
        assert held is not None
        lists[purpose] = _write_json(tmp_path / f"{purpose}.json", held)
    return Files(
        root=tmp_path,
        trust=_write_json(tmp_path / "trust.json", issuers.trust.to_json()),
        credential=_write_json(tmp_path / "credential.json", credential),
        revocation=lists["revocation"],
        suspension=lists["suspension"],
    )


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    status = run(argv)
    out, err = capsys.readouterr()
    return status, out, err


def _run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict[str, Any]]:
    status, out, err = _run(capsys, ["--json", *argv])
    assert err == ""
    document: dict[str, Any] = json.loads(out)
    return status, document


def _codes(document: dict[str, Any]) -> list[str]:
    return [reason["code"] for reason in document["reasons"]]


def test_now_argument_is_the_conftest_reference_time() -> None:
    assert NOW.strftime("%Y-%m-%dT%H:%M:%SZ") == NOW_ARG


# -- VALID ----------------------------------------------------------------------------------------


def test_valid_in_spanish_by_default(capsys: pytest.CaptureFixture[str], files: Files) -> None:
    status, out, err = _run(capsys, files.args())
    assert status == 0
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == "✔ VÁLIDA"
    assert lines[1:] == [
        f"  Titular: {HOLDER}",
        f"  CURP: {CURP}",
        "  Institución: IMSS",
        "  Programa: Régimen Obligatorio",
        "  Vigencia: 2026-01-01 – 2031-01-01",
    ]


def test_valid_in_english(capsys: pytest.CaptureFixture[str], files: Files) -> None:
    status, out, _ = _run(capsys, files.args("--lang", "en"))
    assert status == 0
    assert out.splitlines()[0] == "✔ VALID"
    assert f"  Holder: {HOLDER}" in out.splitlines()
    assert f"  CURP: {CURP}" in out.splitlines()
    assert "VÁLIDA" not in out
    assert "Titular" not in out


def test_valid_as_json(
    capsys: pytest.CaptureFixture[str], files: Files, credential: dict[str, Any]
) -> None:
    status, document = _run_json(capsys, files.args())
    assert status == 0
    assert {"verdict", "reasons", "credential"} <= document.keys()
    assert document["verdict"] == "VALID"
    assert document["reasons"] == []
    assert document["credential"] == credential
    assert document["checkedAt"] == NOW_ARG


def test_now_outside_validity_is_invalid(capsys: pytest.CaptureFixture[str], files: Files) -> None:
    argv = files.args()
    argv[argv.index(NOW_ARG)] = "2031-01-02T00:00:00Z"
    status, document = _run_json(capsys, argv)
    assert status == 1
    assert _codes(document)[0] == "CREDENTIAL_EXPIRED"


# -- INVALID --------------------------------------------------------------------------------------


def test_tampered_claim_is_invalid(
    capsys: pytest.CaptureFixture[str], files: Files, credential: dict[str, Any]
) -> None:
    credential["credentialSubject"]["givenName"] = "MARÍA GUADALUPE"
    tampered = _write_json(files.root / "tampered.json", credential)

    status, document = _run_json(capsys, files.args(credential=tampered))
    assert status == 1
    assert document["verdict"] == "INVALID"
    assert _codes(document) == ["SIGNATURE_INVALID"]
    (reason,) = document["reasons"]
    assert reason["message"] == reason_summary(ReasonCode.SIGNATURE_INVALID, "es")
    assert reason["message"].startswith("La firma no corresponde")
    assert document["credential"]["credentialSubject"]["givenName"] == "MARÍA GUADALUPE"

    status, document = _run_json(capsys, files.args("--lang", "en", credential=tampered))
    assert status == 1
    assert document["reasons"][0]["message"].startswith("The signature does not match")

    status, out, _ = _run(capsys, files.args(credential=tampered))
    assert status == 1
    assert out.splitlines()[0] == "✘ NO VÁLIDA"
    assert "[SIGNATURE_INVALID]" in out
    assert "CURP:" not in out  # an INVALID credential's claims are not shown as facts


def test_untrusted_issuer_is_invalid(capsys: pytest.CaptureFixture[str], files: Files) -> None:
    """A trust file that trusts other keys, not this credential's: INVALID."""
    trusted = json.loads(files.trust.read_text(encoding="utf-8"))
    others = [key for key in trusted["keys"] if "imss" not in key["id"]]
    assert others
    assert len(others) < len(trusted["keys"])
    _write_json(files.trust, {"keys": others})
    status, document = _run_json(capsys, files.args())
    assert status == 1
    assert _codes(document) == ["KEY_UNKNOWN"]


def test_no_trust_material_at_all_is_indeterminate(
    capsys: pytest.CaptureFixture[str], files: Files
) -> None:
    """An empty trust file is the verifier's own gap, not the credential's fault (issue 18)."""
    _write_json(files.trust, {"keys": []})
    status, document = _run_json(capsys, files.args())
    assert status == 2
    assert document["verdict"] == "INDETERMINATE"
    assert _codes(document) == ["KEY_UNKNOWN"]


@pytest.mark.parametrize(
    ("purpose", "code"), [("revocation", "REVOKED"), ("suspension", "SUSPENDED")]
)
def test_status_bit_set_is_invalid(
    capsys: pytest.CaptureFixture[str],
    files: Files,
    issuers: Issuers,
    credential: dict[str, Any],
    purpose: str,
    code: str,
) -> None:
    index = int(_entry(credential, purpose)["statusListIndex"])
    target = files.revocation if purpose == "revocation" else files.suspension

    _write_json(target, issuers.status_list(purpose, set_indices=frozenset({index - 1, index + 1})))
    status, document = _run_json(capsys, files.args())
    assert (status, document["verdict"]) == (0, "VALID")  # the neighbours' bits are not ours

    _write_json(target, issuers.status_list(purpose, set_indices=frozenset({index})))
    status, document = _run_json(capsys, files.args())
    assert status == 1
    assert document["verdict"] == "INVALID"
    assert _codes(document) == [code]
    assert f"at index {index}" in document["reasons"][0]["detail"]


# -- INDETERMINATE --------------------------------------------------------------------------------


def test_no_status_list_is_indeterminate(capsys: pytest.CaptureFixture[str], files: Files) -> None:
    argv = ["--trust", str(files.trust), "--now", NOW_ARG, str(files.credential)]
    status, document = _run_json(capsys, argv)
    assert status == 2
    assert document["verdict"] == "INDETERMINATE"
    assert set(_codes(document)) == {"STATUS_UNAVAILABLE"}
    assert "revocation" in document["reasons"][0]["detail"]

    status, out, _ = _run(capsys, argv)
    assert status == 2
    assert out.splitlines()[0] == "? INDETERMINADA"
    assert "[STATUS_UNAVAILABLE]" in out
    assert f"  CURP: {CURP}" in out.splitlines()  # authentic, only its status is unknown


def test_one_status_list_missing_is_indeterminate(
    capsys: pytest.CaptureFixture[str], files: Files
) -> None:
    argv = ["--trust", str(files.trust), "--status-list", str(files.revocation)]
    status, document = _run_json(capsys, [*argv, "--now", NOW_ARG, str(files.credential)])
    assert status == 2
    assert _codes(document) == ["STATUS_UNAVAILABLE"]
    assert "suspension" in document["reasons"][0]["detail"]


# -- usage and input errors: 64 -------------------------------------------------------------------


def _usage_case(files: Files, case: str) -> tuple[list[str], str]:
    """The argv for ``case`` and a fragment its error message must contain."""
    root, trust, valid = files.root, str(files.trust), files.args()
    if case == "missing input":
        return [*valid[:-1], str(root / "missing.json")], "cannot read"
    if case == "non-JSON input":
        (root / "text.json").write_text("this is not JSON", encoding="utf-8")
        return [*valid[:-1], str(root / "text.json")], "not JSON"
    if case == "JSON array input":
        return [*valid[:-1], str(_write_json(root / "array.json", [1]))], "JSON object"
    if case == "non-UTF-8 input":
        (root / "latin1.json").write_bytes(b'{"givenName": "MAR\xcdA"}')
        return [*valid[:-1], str(root / "latin1.json")], "'utf-8' codec can't decode"
    if case == "malformed trust file":
        (root / "trust.json").write_text("{keys: [", encoding="utf-8")
        return valid, "cannot read trust file"
    if case == "trust file without keys":
        _write_json(root / "trust.json", {"issuers": []})
        return valid, "'keys' list"
    if case == "trust entry with a bad key":
        entry = {"id": "did:web:imss.gob.mx#key-1", "controller": "did:web:imss.gob.mx"}
        _write_json(root / "trust.json", {"keys": [{**entry, "publicKeyMultibase": "z6Mk"}]})
        return valid, "not an Ed25519 Multikey"
    if case == "missing trust file":
        return ["--trust", str(root / "none.json"), str(files.credential)], "cannot read trust"
    if case == "missing status list":
        return [*valid[:-1], "--status-list", str(root / "none.json"), valid[-1]], "status list"
    if case == "--context without =":
        return ["--trust", trust, "--context", EXAMPLES_V2, valid[-1]], "--context takes URL=PATH"
    if case == "--context with an empty path":
        return ["--trust", trust, "--context", EXAMPLES_V2 + "=", valid[-1]], "URL=PATH"
    if case == "--context with a missing file":
        arg = f"{EXAMPLES_V2}={root / 'none.jsonld'}"
        return ["--trust", trust, "--context", arg, valid[-1]], "cannot read context file"
    if case == "--context that is not a context":
        arg = f"{EXAMPLES_V2}={_write_json(root / 'x.jsonld', {'a': 1})}"
        return ["--trust", trust, "--context", arg, valid[-1]], "no '@context'"
    if case == "bad --now":
        return ["--now", "2026-13-01T00:00:00Z", valid[-1]], "--now"
    if case == "--now without time zone":
        return ["--now", "2026-06-01T12:00:00", valid[-1]], "dateTimeStamp"
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "missing input",
        "non-JSON input",
        "JSON array input",
        "non-UTF-8 input",
        "malformed trust file",
        "trust file without keys",
        "trust entry with a bad key",
        "missing trust file",
        "missing status list",
        "--context without =",
        "--context with an empty path",
        "--context with a missing file",
        "--context that is not a context",
        "bad --now",
        "--now without time zone",
    ],
)
def test_usage_and_input_errors_exit_64(
    capsys: pytest.CaptureFixture[str], files: Files, case: str
) -> None:
    argv, fragment = _usage_case(files, case)
    status, out, err = _run(capsys, argv)
    assert status == EXIT_USAGE == 64
    assert out == ""
    assert err.startswith("credencial-verify: ")
    assert fragment in err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--bogus", "credential.json"], "unrecognized arguments: --bogus"),
        (["--lang", "fr", "credential.json"], "invalid choice: 'fr'"),
        ([], "the following arguments are required: INPUT"),
        (["--now"], "expected one argument"),
    ],
)
def test_argument_errors_exit_64(
    capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    assert run(argv) == 64
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("usage: credencial-verify")
    assert fragment in err


# -- stdin ----------------------------------------------------------------------------------------


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    """Replace stdin as a UTF-8 locale opens it (text with surrogateescape, and ``.buffer``)."""
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="surrogateescape")
    monkeypatch.setattr(sys, "stdin", stream)


def test_stdin_input(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    files: Files,
    credential: dict[str, Any],
) -> None:
    _stdin(monkeypatch, json.dumps(credential, ensure_ascii=False).encode("utf-8"))
    status, document = _run_json(capsys, files.args(credential=Path("-")))
    assert status == 0
    assert document["credential"] == credential


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "not JSON"),
        (b"[]", "JSON object"),
        (b'\xff\xfe{"a": 1}', "UTF-8"),  # a traceback with exit 1 (INVALID) in an older version
    ],
)
def test_bad_stdin_exits_64(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    files: Files,
    data: bytes,
    fragment: str,
) -> None:
    _stdin(monkeypatch, data)
    status, out, err = _run(capsys, files.args(credential=Path("-")))
    assert status == 64
    assert out == ""
    assert err.startswith("credencial-verify: ")
    assert fragment in err


# -- --context with the W3C vector ----------------------------------------------------------------


@pytest.fixture
def w3c_vector(shared_w3c: Path, tmp_path: Path) -> tuple[list[str], Path]:
    """Trust args for the signed W3C vector, and the vector's path (read in place)."""
    signed_path = shared_w3c / "eddsa" / "eddsa-rdfc-2022" / "signedDataInt.json"
    signed = json.loads(signed_path.read_text(encoding="utf-8"))
    key_pair = json.loads((shared_w3c / "eddsa" / "keyPair.json").read_text(encoding="utf-8"))
    entry = {
        "id": signed["proof"]["verificationMethod"],
        "controller": W3C_ISSUER,
        "publicKeyMultibase": key_pair["publicKeyMultibase"],
    }
    trust = _write_json(tmp_path / "w3c-trust.json", {"keys": [entry]})
    assert len(TrustStore.from_file(trust)) == 1
    return ["--trust", str(trust), "--now", NOW_ARG], signed_path


def test_context_option_makes_the_w3c_vector_verify(
    capsys: pytest.CaptureFixture[str], shared_w3c: Path, w3c_vector: tuple[list[str], Path]
) -> None:
    trust_args, signed = w3c_vector
    context = f"{EXAMPLES_V2}={shared_w3c / 'contexts' / 'credentials-examples-v2.jsonld'}"

    status, out, err = _run(capsys, [*trust_args, "--context", context, str(signed)])
    assert (status, err) == (0, "")
    assert out == "✔ VÁLIDA\n"  # no CURP: no holder lines

    status, document = _run_json(capsys, [*trust_args, "--context", context, str(signed)])
    assert status == 0
    assert document["verdict"] == "VALID"
    assert document["credential"]["credentialSubject"]["alumniOf"] == "The School of Examples"


def test_w3c_vector_without_its_context_is_invalid(
    capsys: pytest.CaptureFixture[str], w3c_vector: tuple[list[str], Path]
) -> None:
    trust_args, signed = w3c_vector
    status, document = _run_json(capsys, [*trust_args, "--lang", "en", str(signed)])
    assert status == 1
    assert document["verdict"] == "INVALID"
    assert _codes(document) == ["CONTEXT_NOT_ALLOWED"]
    assert EXAMPLES_V2 in document["reasons"][0]["detail"]
    assert document["reasons"][0]["message"] == reason_summary(ReasonCode.CONTEXT_NOT_ALLOWED, "en")


def test_context_for_another_url_does_not_help(
    capsys: pytest.CaptureFixture[str], shared_w3c: Path, w3c_vector: tuple[list[str], Path]
) -> None:
    trust_args, signed = w3c_vector
    path = shared_w3c / "contexts" / "credentials-examples-v2.jsonld"
    argv = [*trust_args, "--context", f"https://example.org/other={path}", str(signed)]
    status, document = _run_json(capsys, argv)
    assert status == 1
    assert _codes(document) == ["CONTEXT_NOT_ALLOWED"]


def test_context_option_cannot_replace_a_bundled_context(
    capsys: pytest.CaptureFixture[str], files: Files, credential: dict[str, Any]
) -> None:
    document = schemas.credencial_context()
    terms = document["@context"]
    terms["givenName"], terms["familyName"] = terms["familyName"], terms["givenName"]
    swapped = _write_json(files.root / "swapped.jsonld", document)
    subject = credential["credentialSubject"]
    subject["givenName"], subject["familyName"] = subject["familyName"], subject["givenName"]
    forged = _write_json(files.root / "forged.json", credential)

    assert _run_json(capsys, files.args(credential=forged))[0] == 1  # SIGNATURE_INVALID
    context = f"{schemas.CREDENCIAL_CONTEXT_URL}={swapped}"
    status, _, err = _run(capsys, files.args("--context", context, credential=forged))
    assert status == 64
    assert "cannot replace the bundled context" in err


# -- the installed script -------------------------------------------------------------------------


def _script() -> str:
    sibling = Path(sys.executable).with_name("credencial-verify")
    found = str(sibling) if sibling.is_file() else shutil.which("credencial-verify")
    assert found is not None, "credencial-verify is not installed"
    return found


def test_installed_script(files: Files, issuers: Issuers, credential: dict[str, Any]) -> None:
    script = _script()
    valid = subprocess.run(
        [script, "--json", "--lang", "en", *files.args()],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert valid.returncode == 0, valid.stderr
    assert json.loads(valid.stdout)["verdict"] == "VALID"

    index = int(_entry(credential, "revocation")["statusListIndex"])
    _write_json(files.revocation, issuers.status_list("revocation", set_indices=frozenset({index})))
    revoked = subprocess.run(
        [script, *files.args()], capture_output=True, text=True, timeout=60, check=False
    )
    assert revoked.returncode == 1
    assert revoked.stdout.splitlines()[0] == "✘ NO VÁLIDA"
    assert "[REVOKED]" in revoked.stdout

    usage = subprocess.run(
        [script, "--bogus", "credential.json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert usage.returncode == 64
    assert "unrecognized arguments" in usage.stderr


def test_installed_script_reads_stdin(files: Files, credential: dict[str, Any]) -> None:
    argv = ["--trust", str(files.trust), "--now", NOW_ARG, "-"]
    done = subprocess.run(
        [_script(), *argv],
        input=json.dumps(credential),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2  # no status lists given
    assert done.stdout.splitlines()[0] == "? INDETERMINADA"


def test_trusted_key_round_trips_through_the_trust_file(files: Files, issuers: Issuers) -> None:
    loaded = TrustStore.from_file(files.trust)
    assert loaded.to_json() == issuers.trust.to_json()
    vm = issuers.vm("IMSS")
    assert vm in loaded
    key = loaded.resolve(vm, issuer="did:web:imss.gob.mx", at=NOW)
    assert isinstance(key, TrustedKey)
    assert key.public_key == issuers.keys["IMSS"].public_key


def test_max_offline_age_option(capsys: pytest.CaptureFixture[str], files: Files) -> None:
    """The held lists were published an hour before NOW: stale under a 30-minute limit."""
    status, document = _run_json(capsys, files.args("--max-offline-age", "0.5"))
    assert status == 2
    assert set(_codes(document)) == {"STATUS_STALE"}
    status, document = _run_json(capsys, files.args("--max-offline-age", "2"))
    assert status == 0
    for bad in ("0", "-1", "soon"):
        assert run(files.args("--max-offline-age", bad)) == 64
        assert "hours" in capsys.readouterr().err


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    """A new desk discovers ``sync`` and ``serve`` from ``credencial-verify --help``."""
    from verifier.cli import SUBCOMMANDS

    assert run(["--help"]) == 0
    text = capsys.readouterr().out
    assert set(SUBCOMMANDS) == {"sync", "serve"}
    for name in SUBCOMMANDS:
        assert f"credencial-verify {name} " in text
        assert run([name, "--help"]) == 0  # each one answers its own --help
        assert f"usage: credencial-verify {name}" in capsys.readouterr().out


def test_a_damaged_card_is_a_read_error_not_a_verdict(
    signed_example: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from verifier import encode_card

    card = encode_card(signed_example)
    assert run(["--now", NOW.isoformat(), card[: len(card) // 2]]) == EXIT_USAGE
    assert "card" in capsys.readouterr().err
