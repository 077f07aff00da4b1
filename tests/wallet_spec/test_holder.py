"""The reference holder library on its own: key files, the store, request parsing and selection,
pure authentication, and the display states."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tools.wallet_examples import EXAMPLE_NOW, EXAMPLES_DIR, example_holder_key
from verifier import (
    InMemoryChallengeStore,
    KeyFormatError,
    PresentationVerifier,
    Reason,
    ReasonCode,
    TrustStore,
    Verdict,
    VerificationResult,
    Verifier,
)
from wallet_spec.holder import (
    CredentialState,
    HolderKey,
    WalletError,
    WalletStore,
    answer_request,
    credential_state,
    matches_query,
    parse_request,
    select_credentials,
)

DOMAIN = "https://clinica.example.gob.mx"


def _credential() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES_DIR / "wallet-credential.json").read_text())
    return loaded


def _query(institution: str | None = None) -> dict[str, Any]:
    example: dict[str, Any] = {"type": "HealthCoverageCredential"}
    if institution:
        example["credentialSubject"] = {"coverage": {"institution": institution}}
    return {"type": "QueryByExample", "credentialQuery": {"example": example}}


def test_key_files_round_trip_and_refuse_a_mismatch(tmp_path: Path) -> None:
    store = WalletStore(tmp_path / "w")
    key = store.create_key()
    assert store.load_key().did == key.did
    assert stat.S_IMODE(os.stat(store.key_path).st_mode) == 0o600
    with pytest.raises(WalletError) as excinfo:
        store.create_key()
    assert excinfo.value.code == "KEY_EXISTS"
    document = key.to_json()
    document["publicKeyMultibase"] = HolderKey.generate().to_json()["publicKeyMultibase"]
    with pytest.raises(KeyFormatError):
        HolderKey.from_json(document)
    store.key_path.write_text("{not json")
    with pytest.raises(WalletError) as excinfo:
        store.load_key()
    assert excinfo.value.code == "STORE_CORRUPT"
    with pytest.raises(WalletError) as excinfo:
        WalletStore(tmp_path / "empty").load_key()
    assert excinfo.value.code == "NO_KEY"
    with pytest.raises(ValueError, match="unknown wallet error code"):
        WalletError("NOPE", "x")


def test_the_store_writes_atomically_and_reports_corruption(tmp_path: Path) -> None:
    store = WalletStore(tmp_path / "w")
    credential = _credential()
    entry = store.add(credential, received_at=EXAMPLE_NOW, source="oid4vci")
    store.add(credential, received_at=EXAMPLE_NOW, source="oid4vci")  # replaced, not duplicated
    files = list((tmp_path / "w" / "credentials").iterdir())
    assert [f.name for f in files if not f.name.startswith(".")] == [files[0].name]
    assert len(files) == 1  # no temporary file left behind
    assert store.get(credential["id"]) == entry
    store.remove(credential["id"])
    assert list(store.entries()) == []
    with pytest.raises(WalletError) as excinfo:
        store.remove(credential["id"])
    assert excinfo.value.code == "NOT_FOUND"
    (tmp_path / "w" / "credentials" / "bad.json").write_text("[1, 2]")
    with pytest.raises(WalletError) as excinfo:
        list(store.entries())
    assert excinfo.value.code == "STORE_CORRUPT"
    with pytest.raises(WalletError) as excinfo:
        store.add({"type": "x"}, received_at=EXAMPLE_NOW, source="import")
    assert excinfo.value.code == "CREDENTIAL_INVALID"


@pytest.mark.parametrize(
    "request_",
    [
        None,
        [],
        {"challenge": "c", "domain": "d"},
        {"query": [], "challenge": "c", "domain": "d"},
        {"query": [_query()] * 5, "challenge": "c", "domain": "d"},
        {"query": [{"type": "QueryByFrame"}], "challenge": "c", "domain": "d"},
        {"query": [_query()], "challenge": "", "domain": "d"},
        {"query": [_query()], "challenge": "c", "domain": "d" * 256},
        {"query": [_query()], "challenge": 7, "domain": "d"},
    ],
)
def test_malformed_requests_are_refused(request_: Any) -> None:
    with pytest.raises(WalletError) as excinfo:
        parse_request(request_)
    assert excinfo.value.code == "REQUEST_MALFORMED"


def test_selection_gives_only_what_is_asked_and_bound_to_the_holder() -> None:
    credential = _credential()
    holder = example_holder_key().did
    assert matches_query(credential, _query("IMSS"))
    assert not matches_query(credential, _query("ISSSTE"))
    assert not matches_query(credential, {"type": "QueryByExample", "credentialQuery": {}})
    other = {**credential, "id": "urn:uuid:other", "credentialSubject": {
        **credential["credentialSubject"], "id": HolderKey.generate().did}}  # fmt: skip
    chosen = select_credentials([other, credential], [_query()], holder=holder, now=EXAMPLE_NOW)
    assert chosen == [credential]
    with pytest.raises(WalletError) as excinfo:  # expired by then
        select_credentials([credential], [_query()], holder=holder,
                           now=datetime(2031, 6, 1, tzinfo=UTC))  # fmt: skip
    assert excinfo.value.code == "NO_MATCHING_CREDENTIAL"
    with pytest.raises(WalletError) as excinfo:  # one credential cannot answer two queries
        select_credentials([credential], [_query(), _query()], holder=holder, now=EXAMPLE_NOW)
    assert excinfo.value.code == "NO_MATCHING_CREDENTIAL"


def test_pure_authentication_carries_no_credential() -> None:
    key = HolderKey.generate()
    store = InMemoryChallengeStore()
    now = datetime.now(UTC)
    challenge = store.issue(DOMAIN, now)
    request = {"query": [{"type": "DIDAuthentication"}], "challenge": challenge, "domain": DOMAIN}
    presentation = answer_request(request, key=key, credentials=[_credential()], now=now)[
        "verifiablePresentation"
    ]
    assert "verifiableCredential" not in presentation
    checker = PresentationVerifier(Verifier(TrustStore()), store)
    result = checker.check(presentation, domain=DOMAIN, now=now, require_credentials=False)
    assert result.is_valid, result.to_json("en")
    assert result.holder == key.did


def _result(verdict: Verdict, *codes: ReasonCode) -> VerificationResult:
    reasons = tuple(Reason(code, code.value) for code in codes)
    return VerificationResult(verdict, reasons, None, datetime.now(UTC))


@pytest.mark.parametrize(
    ("verdict", "codes", "state"),
    [
        (Verdict.VALID, (), CredentialState.VALID),
        (Verdict.INVALID, (ReasonCode.SUSPENDED, ReasonCode.REVOKED), CredentialState.REVOKED),
        (Verdict.INVALID, (ReasonCode.SUSPENDED,), CredentialState.SUSPENDED),
        (Verdict.INVALID, (ReasonCode.CREDENTIAL_EXPIRED,), CredentialState.EXPIRED),
        (Verdict.INVALID, (ReasonCode.CREDENTIAL_NOT_YET_VALID,), CredentialState.NOT_YET_VALID),
        (Verdict.INDETERMINATE, (ReasonCode.STATUS_STALE,), CredentialState.UNVERIFIABLE),
        (Verdict.INDETERMINATE, (ReasonCode.STATUS_UNAVAILABLE,), CredentialState.UNVERIFIABLE),
        (Verdict.INVALID, (ReasonCode.SIGNATURE_INVALID,), CredentialState.INVALID),
    ],
)
def test_display_states(verdict: Verdict, codes: tuple[ReasonCode, ...], state: Any) -> None:
    assert credential_state(_result(verdict, *codes)) is state


def test_a_wallet_never_shows_valid_without_status_lists() -> None:
    from tools.wallet_examples import example_issuer_trust

    result = Verifier(example_issuer_trust()).check(
        _credential(), now=EXAMPLE_NOW + timedelta(days=1)
    )
    assert result.verdict is Verdict.INDETERMINATE
    assert credential_state(result) is CredentialState.UNVERIFIABLE
