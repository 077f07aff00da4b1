"""Institution keys in an HSM (PKCS#11), against a throwaway SoftHSM2 token per test.

Keys are generated in the token and cannot leave it; credentials and status lists are signed by
the token and verify with the verifier; rotation (also from file keys to the token) keeps what the
old key signed valid. Without SoftHSM2 (Debian: ``apt-get install softhsm2``) these tests skip
with the reason, unless ``CREDENCIAL_REQUIRE_SOFTHSM=1`` (set by ``.ci/run``) makes that a failure.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from issuer.app import create_app
from issuer.cli import run
from issuer.credentials.service import IssuerService
from issuer.keys.store import FileKeyStore, open_keystore
from issuer.principal import SCOPES
from issuer.settings import IssuerSettings
from issuer.storage.tables import SigningKey
from tests.issuer._workers import make_settings
from tests.softhsm import (
    REQUIRE_SOFTHSM_ENV,
    SoftHsm,
    SoftHsmUnavailableError,
    find_softhsm_module,
    softhsm_required,
    softhsm_token,
)
from tests.strategies import example_credential
from verifier import KeyFormatError, ReasonCode, Verdict

if TYPE_CHECKING:  # python-pkcs11 is imported only where SoftHSM2 is present
    from issuer.keys.hsm import Pkcs11KeyStore

Json = dict[str, Any]


@pytest.fixture
def softhsm(tmp_path: Path) -> Iterator[SoftHsm]:
    """A new token in a temp token directory (``SOFTHSM2_CONF`` points at its config)."""
    try:
        find_softhsm_module()
    except SoftHsmUnavailableError as exc:
        if softhsm_required():
            pytest.fail(
                f"SoftHSM2 is required ({REQUIRE_SOFTHSM_ENV}=1) but unavailable: {exc}",
                pytrace=False,
            )
        pytest.skip(f"SoftHSM2 tests skipped: {exc}")
    with softhsm_token(tmp_path / "softhsm") as token:
        yield token


def hsm_settings(hsm: SoftHsm, database_url: str, key_dir: Path) -> IssuerSettings:
    """Settings of a service whose keys are in the token (PIN from the file)."""
    return IssuerSettings(
        _env_file=None,
        database_url=database_url,
        key_dir=key_dir,
        key_backend="pkcs11",
        pkcs11_module=Path(hsm.module),
        pkcs11_token_label=hsm.token_label,
        pkcs11_pin_file=hsm.pin_file,
    )


def _store(hsm: SoftHsm) -> Pkcs11KeyStore:
    from issuer.keys.hsm import Pkcs11KeyStore

    return Pkcs11KeyStore(hsm.module, hsm.token_label, hsm.pin)


def _session(hsm: SoftHsm) -> Any:
    """A separate session on the token, as another program would open it."""
    import pkcs11
    from pkcs11.exceptions import UserAlreadyLoggedIn

    token = pkcs11.lib(hsm.module).get_token(token_label=hsm.token_label)
    try:
        return token.open(user_pin=hsm.pin, rw=True)
    except UserAlreadyLoggedIn:  # a store of this process has logged in (logins are per process)
        return token.open(rw=True)


# -- the key store --------------------------------------------------------------------------------


def test_a_key_is_generated_in_the_token_and_cannot_leave_it(softhsm: SoftHsm) -> None:
    import pkcs11
    from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
    from pkcs11.exceptions import AttributeSensitive, PKCS11Error

    store = _store(softhsm)
    key = store.create("IMSS", "key-1")
    message = b"eddsa-rdfc-2022 hash data"
    signature = key.sign(message)
    public = Ed25519PublicKey.from_public_bytes(key.public_key)
    public.verify(signature, message)  # a standard Ed25519 signature
    with pytest.raises(InvalidSignature):
        public.verify(signature, message + b".")
    assert key.public_key_multibase.startswith("z6Mk")

    with _session(softhsm) as session:
        private = session.get_key(
            object_class=ObjectClass.PRIVATE_KEY, key_type=KeyType.EC_EDWARDS, label="imss/key-1"
        )
        assert private[Attribute.ID] == b"imss/key-1"
        assert private[Attribute.TOKEN]  # stored in the token, not a session object
        assert private[Attribute.SENSITIVE]
        assert private[Attribute.ALWAYS_SENSITIVE]
        assert not private[Attribute.EXTRACTABLE]
        assert private[Attribute.NEVER_EXTRACTABLE]
        with pytest.raises(AttributeSensitive):  # the private scalar is never handed out...
            private[Attribute.VALUE]
        wrapping = session.generate_key(
            KeyType.AES, 256, capabilities=pkcs11.MechanismFlag.WRAP | pkcs11.MechanismFlag.UNWRAP
        )
        with pytest.raises(PKCS11Error) as refused:  # ...nor wrapped under another key
            wrapping.wrap_key(private, mechanism=Mechanism.AES_KEY_WRAP_PAD)
        assert type(refused.value).__name__ in {"KeyUnextractable", "KeyNotWrappable"}
        with pytest.raises(PKCS11Error):  # and cannot be made extractable afterwards
            private[Attribute.EXTRACTABLE] = True

    reloaded = _store(softhsm).load("IMSS", "key-1")  # a new session finds the same key
    assert reloaded.public_key == key.public_key
    public.verify(reloaded.sign(message), message)


def test_a_key_is_never_replaced_and_a_missing_key_is_a_clear_error(softhsm: SoftHsm) -> None:
    store = _store(softhsm)
    first = store.create("IMSS", "key-1")
    with pytest.raises(KeyFormatError, match="already holds a key 'imss/key-1'"):
        store.create("IMSS", "key-1")
    assert _store(softhsm).load("IMSS", "key-1").public_key == first.public_key
    with pytest.raises(KeyFormatError, match="no Ed25519 key 'imss/key-2'"):
        store.load("IMSS", "key-2")


def test_a_lost_session_is_reopened_on_the_next_use(softhsm: SoftHsm) -> None:
    import pkcs11

    store = _store(softhsm)
    key = store.create("IMSS", "key-1")
    pkcs11.lib(softhsm.module).reinitialize()  # the token "restarts": every session is gone
    with pytest.raises(KeyFormatError, match="the token refused to sign"):
        key.sign(b"data")
    again = store.load("IMSS", "key-1")  # a new session, the same key
    assert again is not key
    Ed25519PublicKey.from_public_bytes(again.public_key).verify(again.sign(b"data"), b"data")


def test_the_curve_may_be_named_by_oid_or_by_name(
    softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pkcs11 import Attribute, KeyType, ObjectClass

    from issuer.keys import hsm

    by_name = b"\x13\x0cedwards25519"
    unknown = bytes.fromhex("06032b6500")  # an OID no token knows: refused, the next form tried
    monkeypatch.setattr(hsm, "ED25519_EC_PARAMS_FORMS", (unknown, by_name))
    key = _store(softhsm).create("IMSS", "key-1")
    with _session(softhsm) as session:
        public = session.get_key(
            object_class=ObjectClass.PUBLIC_KEY, key_type=KeyType.EC_EDWARDS, label="imss/key-1"
        )
        assert public[Attribute.EC_PARAMS] == by_name
    monkeypatch.undo()  # the real forms: the OID first, the name accepted as well
    loaded = _store(softhsm).load("IMSS", "key-1")
    assert loaded.public_key == key.public_key
    Ed25519PublicKey.from_public_bytes(loaded.public_key).verify(loaded.sign(b"m"), b"m")
    monkeypatch.setattr(hsm, "ED25519_EC_PARAMS_FORMS", (unknown, unknown))
    with pytest.raises(KeyFormatError, match=r"could not generate an Ed25519 key: \w+, \w+"):
        _store(softhsm).create("IMSS", "key-2")


def test_an_extractable_key_in_the_token_is_refused(softhsm: SoftHsm) -> None:
    from pkcs11 import Attribute, KeyType, Mechanism

    from issuer.keys.hsm import ED25519_EC_PARAMS

    with _session(softhsm) as session:  # imported the careless way: the key could be exported
        session.generate_keypair(
            KeyType.EC_EDWARDS, mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN, store=True,
            label="imss/key-1", public_template={Attribute.EC_PARAMS: ED25519_EC_PARAMS},
            private_template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True},
        )  # fmt: skip
    with pytest.raises(KeyFormatError, match="extractable, not sensitive") as refused:
        _store(softhsm).load("IMSS", "key-1")
    assert "must never leave the token" in str(refused.value)


def test_a_wrong_pin_or_token_is_refused_without_showing_the_pin(
    softhsm: SoftHsm, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from issuer.keys.hsm import Pkcs11KeyStore

    caplog.set_level(logging.DEBUG)
    wrong = "9999-wrong-pin"
    with pytest.raises(KeyFormatError, match="cannot log in to token") as refused:
        Pkcs11KeyStore(softhsm.module, softhsm.token_label, wrong).create("IMSS", "key-1")
    assert wrong not in str(refused.value)
    with pytest.raises(KeyFormatError, match="no HSM token labelled 'nope'"):
        Pkcs11KeyStore(softhsm.module, "nope", softhsm.pin).load("IMSS", "key-1")
    with pytest.raises(KeyFormatError, match="no PKCS#11 module"):
        Pkcs11KeyStore(tmp_path / "missing.so", softhsm.token_label, softhsm.pin).load("I", "k")
    with pytest.raises(KeyFormatError, match="PIN is required"):
        Pkcs11KeyStore(softhsm.module, softhsm.token_label, "")
    settings = hsm_settings(softhsm, "sqlite://", tmp_path)
    store = open_keystore(settings)
    assert store.backend == "pkcs11"
    store.create("IMSS", "key-1")  # the PIN came from the file
    for shown in (repr(store), repr(settings), str(settings.model_dump())):
        assert softhsm.pin not in shown
    assert all(softhsm.pin not in record.getMessage() for record in caplog.records)
    missing = settings.model_copy(update={"pkcs11_module": None})
    with pytest.raises(KeyFormatError, match="CREDENCIAL_PKCS11_MODULE"):
        open_keystore(missing)


def test_the_backend_setting_comes_from_the_environment(
    softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CREDENCIAL_KEY_BACKEND", "pkcs11")
    monkeypatch.setenv("CREDENCIAL_PKCS11_MODULE", softhsm.module)
    monkeypatch.setenv("CREDENCIAL_PKCS11_TOKEN_LABEL", softhsm.token_label)
    monkeypatch.setenv("CREDENCIAL_PKCS11_PIN", softhsm.pin)
    store = open_keystore(IssuerSettings(_env_file=None))
    assert store.backend == "pkcs11"
    assert store.create("ISSSTE", "key-1").public_key_multibase.startswith("z6Mk")
    monkeypatch.delenv("CREDENCIAL_KEY_BACKEND")  # the default stays the file store
    default = IssuerSettings(_env_file=None, key_dir=tmp_path, key_passphrase=SecretStr("x"))
    assert isinstance(open_keystore(default), FileKeyStore)


# -- the service, signing through the token -------------------------------------------------------


def _issue(client: TestClient, api_key: str) -> Json:
    response = client.post(
        "/credentials/issue",
        json={"credential": {"credentialSubject": example_credential()["credentialSubject"]}},
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert response.status_code == 201, response.text
    credential: Json = response.json()["verifiableCredential"]
    return credential


def test_issuing_status_lists_and_rotation_through_the_token(
    softhsm: SoftHsm, tmp_path: Path
) -> None:
    key_dir = tmp_path / "keys"
    service = IssuerService(hsm_settings(softhsm, f"sqlite:///{tmp_path / 'i.db'}", key_dir))
    try:
        service.bootstrap()
        with service.db.read() as session:
            backends = set(session.scalars(select(SigningKey.backend)))
        assert backends == {"pkcs11"}
        assert not key_dir.exists()  # no key material on disk
        api_key = service.create_client("IMSS", "hsm", SCOPES)
        client = TestClient(create_app(service.settings, service))

        before = _issue(client, api_key)
        assert before["proof"]["verificationMethod"] == "did:web:imss.gob.mx#key-1"
        # Status lists are signed by the token too: VALID needs both lists' proofs to verify.
        assert service.verifier().check(before).verdict is Verdict.VALID
        revocation = service.status_list_credential("IMSS", "revocation", 1)
        assert revocation["proof"]["verificationMethod"] == "did:web:imss.gob.mx#key-1"

        rotated = client.post("/admin/keys/rotate", headers={"Authorization": f"Bearer {api_key}"})
        assert rotated.status_code == 201, rotated.text
        assert rotated.json()["activeKey"] == "did:web:imss.gob.mx#key-2"
        after = _issue(client, api_key)
        assert after["proof"]["verificationMethod"] == "did:web:imss.gob.mx#key-2"
        for credential in (before, after):  # the old key's credential still verifies
            assert service.verifier().check(credential).verdict is Verdict.VALID
        relisted = service.status_list_credential("IMSS", "suspension", 1)
        assert relisted["proof"]["verificationMethod"] == "did:web:imss.gob.mx#key-2"
        with _session(softhsm) as session:
            labels = {str(obj[0x03]) for obj in session.get_objects()}  # CKA_LABEL
        assert {"imss/key-1", "imss/key-2", "issste/key-1", "imss-bienestar/key-1"} <= labels

        changed = client.post(
            "/credentials/status",
            json={"credentialId": before["id"], "action": "revoke"},
            headers={"Authorization": f"Bearer {api_key}"},
        )
        assert changed.status_code == 200, changed.text
        revoked = service.verifier().check(before)  # the re-signed list says so
        assert revoked.verdict is Verdict.INVALID
        assert ReasonCode.REVOKED in {reason.code for reason in revoked.reasons}
        tampered = {**after, "validUntil": "2040-01-01T00:00:00Z"}
        assert service.verifier().check(tampered).verdict is Verdict.INVALID
    finally:
        service.db.dispose()
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("i.db*"))
    assert api_key.partition(".")[2].encode() not in stored
    assert softhsm.pin.encode() not in stored  # the PIN is never stored


def test_the_operator_commands_use_the_token(
    softhsm: SoftHsm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    for name, value in {
        "KEY_BACKEND": "pkcs11",
        "PKCS11_MODULE": softhsm.module,
        "PKCS11_TOKEN_LABEL": softhsm.token_label,
        "PKCS11_PIN_FILE": str(softhsm.pin_file),
        "KEY_DIR": str(tmp_path / "keys"),
    }.items():
        monkeypatch.setenv(f"CREDENCIAL_{name}", value)
    monkeypatch.delenv("CREDENCIAL_KEY_PASSPHRASE", raising=False)  # not needed with an HSM
    monkeypatch.chdir(tmp_path)  # no .env file of the checkout
    database = str(tmp_path / "cli.db")
    assert run(["keys", "rotate", "--institution", "IMSS", "--db", database]) == 0
    assert "key-2" in capsys.readouterr().out
    with _session(softhsm) as session:
        labels = {str(obj[0x03]) for obj in session.get_objects()}
    assert {"imss/key-1", "imss/key-2"} <= labels
    assert not (tmp_path / "keys").exists()
    monkeypatch.setenv("CREDENCIAL_PKCS11_PIN_FILE", str(tmp_path / "no-such-pin"))
    assert run(["keys", "rotate", "--institution", "IMSS", "--db", database]) == 64  # input error
    assert "cannot read the PIN file" in capsys.readouterr().err


def test_moving_from_file_keys_to_the_token_is_a_rotation(softhsm: SoftHsm, tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'i.db'}"
    with_files = IssuerService(make_settings(database_url, tmp_path / "keys"))
    with_files.bootstrap()
    principal = with_files.authenticate(with_files.create_client("IMSS", "t", SCOPES))
    assert principal is not None
    subject = {"credentialSubject": example_credential()["credentialSubject"]}
    old = with_files.issue(principal, subject).document
    with_files.db.dispose()

    service = IssuerService(hsm_settings(softhsm, database_url, tmp_path / "keys"))
    try:
        service.bootstrap()  # every institution has a key already: nothing new in the token
        with pytest.raises(KeyFormatError, match=r"in the file key store.*rotate the key"):
            service.active_key("IMSS")
        assert service.rotate_key("IMSS", actor="test") == "key-2"
        new = service.issue(principal, subject).document
        assert new["proof"]["verificationMethod"] == "did:web:imss.gob.mx#key-2"
        for credential in (old, new):
            assert service.verifier().check(credential).verdict is Verdict.VALID
        with service.db.read() as session:
            rows = session.scalars(
                select(SigningKey).where(SigningKey.institution_code == "IMSS")
            ).all()
            assert [(row.key_id, row.backend) for row in rows] == [
                ("key-1", "file"),
                ("key-2", "pkcs11"),
            ]
    finally:
        service.db.dispose()


def test_a_key_that_does_not_match_its_record_never_signs(tmp_path: Path) -> None:
    """A swapped key (file or token object) would sign lists no verifier accepts: refused."""
    settings = make_settings(f"sqlite:///{tmp_path / 'i.db'}", tmp_path / "keys")
    service = IssuerService(settings)
    try:
        service.bootstrap()
        recorded = service.active_key("IMSS").public_key_multibase
        principal = service.authenticate(service.create_client("IMSS", "t", SCOPES))
        assert principal is not None
        service.issue(principal, {"credentialSubject": example_credential()["credentialSubject"]})
        stranger = FileKeyStore(tmp_path / "other", settings.key_passphrase.get_secret_value())
        stranger.create("IMSS", "key-1")
        swapped = IssuerService(settings, keystore=stranger)
        with pytest.raises(KeyFormatError, match="IMSS's key key-1 does not match its record"):
            swapped.active_key("IMSS")
        with pytest.raises(KeyFormatError, match="does not match"):
            swapped.status_list_credential("IMSS", "revocation", 1)
        assert service.active_key("IMSS").public_key_multibase == recorded
    finally:
        service.db.dispose()
