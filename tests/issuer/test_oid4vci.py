"""OpenID4VCI 1.0, pre-authorized code flow: metadata, offer, token (single-use code, PIN with an
attempt limit), nonce, credential with a key proof bound to the wallet's did:key; the wallet form
shares the card's status entries; every refusal answers with the right OAuth/OpenID4VCI error."""

from __future__ import annotations

import base64
import json
import os
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from issuer.credentials.service import IssuerService
from issuer.oid4vci.flow import PRE_AUTHORIZED_GRANT
from issuer.oid4vci.key_proof import KEY_PROOF_TYP
from issuer.storage.tables import Oid4vciAccessToken, Oid4vciOffer
from tests.issuer._wallet_world import IMSS, ISSSTE, Desk, Json, make_desk
from tests.issuer._workers import make_settings
from verifier import decode_card
from wallet_spec.holder import HolderKey, WalletError, WalletStore, key_proof, parse_offer


@pytest.fixture
def desk(service: IssuerService) -> Desk:
    return make_desk(service)


@pytest.fixture(scope="module")
def shared_desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """One SQLite desk for the many refusal cases (each makes its own offer and token)."""
    tmp = tmp_path_factory.mktemp("oid4vci")
    service = IssuerService(make_settings(f"sqlite:///{tmp / 'issuer.db'}", tmp / "keys"))
    try:
        service.bootstrap()
        yield make_desk(service)
    finally:
        service.db.dispose()


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# -- metadata -------------------------------------------------------------------------------------


def test_metadata_is_served_per_institution_by_host(desk: Desk) -> None:
    token = desk.get("/openapi.json").json()["paths"]["/oid4vci/token"]["post"]
    assert "application/x-www-form-urlencoded" in token["requestBody"]["content"]
    metadata = desk.get(f"{IMSS}/.well-known/openid-credential-issuer").json()
    assert metadata["credential_issuer"] == IMSS
    assert metadata["credential_endpoint"] == f"{IMSS}/oid4vci/credential"
    assert metadata["nonce_endpoint"] == f"{IMSS}/oid4vci/nonce"
    configuration = metadata["credential_configurations_supported"]["HealthCoverageCredential"]
    assert configuration["format"] == "ldp_vc"
    assert configuration["cryptographic_binding_methods_supported"] == ["did:key"]
    assert configuration["proof_types_supported"] == {
        "jwt": {"proof_signing_alg_values_supported": ["EdDSA"]}
    }
    assert "authorization_servers" not in metadata  # the issuer is its own server
    server = desk.get(f"{IMSS}/.well-known/oauth-authorization-server").json()
    assert server["issuer"] == IMSS
    assert server["token_endpoint"] == f"{IMSS}/oid4vci/token"
    assert server["grant_types_supported"] == [PRE_AUTHORIZED_GRANT]
    assert server["pre-authorized_grant_anonymous_access_supported"] is True
    other = desk.get(f"{ISSSTE}/.well-known/openid-credential-issuer").json()
    assert other["credential_issuer"] == ISSSTE
    unknown = desk.get("https://evil.example/.well-known/openid-credential-issuer")
    assert unknown.status_code == 404


# -- the whole flow -------------------------------------------------------------------------------


def test_offer_token_credential_store(desk: Desk, tmp_path: Path) -> None:
    card = desk.enrol()
    offer = desk.offer(card["id"])
    assert offer["credentialOfferUri"].startswith("openid-credential-offer://?credential_offer=")
    assert offer["txCode"].isdigit()
    assert len(offer["txCode"]) == 6
    parsed = parse_offer(offer["credentialOfferUri"])
    assert parsed.credential_issuer == IMSS
    assert parsed.tx_code == offer["credentialOffer"]["grants"][PRE_AUTHORIZED_GRANT]["tx_code"]
    assert offer["txCode"] not in json.dumps(offer["credentialOffer"])  # the PIN is not in the QR

    store = WalletStore(tmp_path / "wallet")
    key = store.create_key()
    credential = desk.receive(key, offer)

    # Bound to the wallet's key; otherwise the same coverage, the same status entries.
    assert credential["credentialSubject"]["id"] == key.did
    assert credential["id"] != card["id"]
    assert {k: v for k, v in credential["credentialSubject"].items() if k != "id"} == card[
        "credentialSubject"
    ]
    assert credential["credentialStatus"] == card["credentialStatus"]
    assert credential["validUntil"] == card["validUntil"]
    assert desk.library_check(credential).is_valid

    entry = store.add(credential, received_at=datetime.now(UTC), source="oid4vci")
    assert decode_card(entry["card"]) == credential  # the card form carries the holder id too
    assert store.get(credential["id"])["credential"] == credential
    assert [e["id"] for e in store.entries()] == [credential["id"]]
    for path in (store.key_path, *(tmp_path / "wallet" / "credentials").iterdir()):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    assert store.load_key().did == key.did


def test_one_status_change_covers_both_forms(desk: Desk) -> None:
    card = desk.enrol()
    wallet = desk.receive(HolderKey.generate(), desk.offer(card["id"]))
    desk.set_status(card["id"], "suspend")
    for form in (card, wallet):
        result = desk.library_check(form)
        assert [r.code.value for r in result.reasons] == ["SUSPENDED"]
    desk.set_status(card["id"], "reinstate")
    assert desk.library_check(wallet).is_valid
    desk.set_status(card["id"], "revoke")
    for form in (card, wallet):
        assert [r.code.value for r in desk.library_check(form).reasons] == ["REVOKED"]


# -- the token endpoint: single use, PIN, limits --------------------------------------------------


def _refused(excinfo: pytest.ExceptionInfo[WalletError], code: str, error: str) -> None:
    assert excinfo.value.code == code
    assert excinfo.value.message.startswith(error), excinfo.value.message


def test_a_reused_pre_authorized_code_is_refused(desk: Desk) -> None:
    offer = desk.offer(desk.enrol()["id"])
    desk.receive(HolderKey.generate(), offer)
    with pytest.raises(WalletError) as excinfo:
        desk.receive(HolderKey.generate(), offer)
    _refused(excinfo, "TOKEN_REFUSED", "invalid_grant: the pre-authorized code was already used")


def test_a_wrong_pin_is_refused_and_the_third_locks_the_offer(desk: Desk) -> None:
    offer = desk.offer(desk.enrol()["id"])
    right = offer["txCode"]
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    key = HolderKey.generate()
    with pytest.raises(WalletError) as excinfo:
        desk.receive(key, offer, tx_code=wrong)
    _refused(excinfo, "TOKEN_REFUSED", "invalid_grant: wrong transaction code (2 left)")
    with pytest.raises(WalletError) as excinfo:
        desk.receive(key, offer, tx_code=wrong)
    _refused(excinfo, "TOKEN_REFUSED", "invalid_grant: wrong transaction code (1 left)")
    with pytest.raises(WalletError) as excinfo:
        desk.receive(key, offer, tx_code=wrong)
    _refused(excinfo, "TOKEN_REFUSED", "invalid_grant: wrong transaction code; the offer is now")
    with pytest.raises(WalletError) as excinfo:  # even the right PIN: the offer is locked
        desk.receive(key, offer, tx_code=right)
    _refused(excinfo, "TOKEN_REFUSED", "invalid_grant: the offer is locked")


def _token(desk: Desk, host: str = IMSS, **form: str) -> Any:
    return desk.client.post(f"{host}/oid4vci/token", data=form)


def _code(offer: Json) -> str:
    code: str = offer["credentialOffer"]["grants"][PRE_AUTHORIZED_GRANT]["pre-authorized_code"]
    return code


def test_token_request_errors(shared_desk: Desk) -> None:
    desk = shared_desk
    card = desk.enrol()
    with_pin, without_pin = desk.offer(card["id"]), desk.offer(card["id"], tx_code=False)
    assert without_pin["credentialOffer"]["grants"][PRE_AUTHORIZED_GRANT].keys() == {
        "pre-authorized_code"
    }
    cases = [
        ({"pre-authorized_code": _code(with_pin)}, "invalid_request"),  # no grant_type
        ({"grant_type": "authorization_code", "code": "x"}, "unsupported_grant_type"),
        ({"grant_type": PRE_AUTHORIZED_GRANT}, "invalid_request"),  # no code
        ({"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": _code(with_pin)},
         "invalid_request"),  # the PIN is missing
        ({"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": _code(without_pin),
          "tx_code": "123456"}, "invalid_request"),  # a PIN where none is expected
        ({"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": "not-a-code"},
         "invalid_grant"),
    ]  # fmt: skip
    for form, error in cases:
        response = _token(desk, **form)
        assert response.status_code == 400, form
        assert response.json()["error"] == error, (form, response.json())
        assert response.headers["cache-control"] == "no-store"
    # Another institution's host does not know IMSS's codes.
    response = _token(
        desk, ISSSTE, grant_type=PRE_AUTHORIZED_GRANT, **{"pre-authorized_code": _code(with_pin)},
        tx_code=with_pin["txCode"],
    )  # fmt: skip
    assert response.json()["error"] == "invalid_grant"
    # Not a form; a repeated parameter.
    response = desk.client.post(f"{IMSS}/oid4vci/token", json={"grant_type": PRE_AUTHORIZED_GRANT})
    assert response.json()["error"] == "invalid_request"
    response = desk.client.post(
        f"{IMSS}/oid4vci/token",
        content=f"grant_type={PRE_AUTHORIZED_GRANT}&grant_type={PRE_AUTHORIZED_GRANT}",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.json()["error"] == "invalid_request"
    # The offer without a PIN still works (nothing above used it up).
    response = _token(
        desk, grant_type=PRE_AUTHORIZED_GRANT, **{"pre-authorized_code": _code(without_pin)}
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"
    assert response.json()["expires_in"] == 300


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_expired_pre_authorized_code_is_refused(desk: Desk) -> None:
    offer = desk.offer(desk.enrol()["id"])
    with desk.service.db.transaction() as session:
        session.execute(
            update(Oid4vciOffer).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    with pytest.raises(WalletError) as excinfo:
        desk.receive(HolderKey.generate(), offer)
    _refused(excinfo, "TOKEN_REFUSED", "invalid_grant: the pre-authorized code has expired")


def test_offers_only_for_credentials_in_force_of_the_callers_institution(shared_desk: Desk) -> None:
    desk = shared_desk
    card = desk.enrol()
    desk.set_status(card["id"], "suspend")
    response = desk.client.post(
        "/oid4vci/offers", json={"credentialId": card["id"]}, headers=desk.headers
    )
    assert response.status_code == 400
    assert "suspended" in response.json()["detail"]
    other = desk.service.create_client("ISSSTE", "desk", ["issue"])
    response = desk.client.post(
        "/oid4vci/offers",
        json={"credentialId": desk.enrol()["id"]},
        headers={"Authorization": f"Bearer {other}"},
    )
    assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND")
    missing = "urn:uuid:00000000-0000-4000-8000-000000000000"
    response = desk.client.post(
        "/oid4vci/offers", json={"credentialId": missing}, headers=desk.headers
    )
    assert response.status_code == 404
    response = desk.client.post("/oid4vci/offers", json={"credentialId": card["id"]})
    assert response.status_code == 401
    status_only = desk.service.create_client("IMSS", "status", ["status"])
    response = desk.client.post(
        "/oid4vci/offers",
        json={"credentialId": card["id"]},
        headers={"Authorization": f"Bearer {status_only}"},
    )
    assert response.status_code == 403
    qr = desk.client.post(
        "/oid4vci/offers?render=true", json={"credentialId": desk.enrol()["id"]},
        headers=desk.headers,
    ).json()["qrImage"]  # fmt: skip
    assert base64.b64decode(qr).startswith(b"\x89PNG")


# -- the credential endpoint and its key proof ----------------------------------------------------


class Session:
    """A wallet half-way: it holds an access token and asks for c_nonces and credentials."""

    def __init__(self, desk: Desk, *, tx_code: bool = False) -> None:
        self.desk = desk
        self.card = desk.enrol()
        offer = desk.offer(self.card["id"], tx_code=tx_code)
        form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": _code(offer)}
        if tx_code:
            form["tx_code"] = offer["txCode"]
        response = _token(desk, **form)
        assert response.status_code == 200, response.text
        self.access_token: str = response.json()["access_token"]
        self.key = HolderKey.generate()

    def nonce(self) -> str:
        response = self.desk.client.post(f"{IMSS}/oid4vci/nonce")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        c_nonce: str = response.json()["c_nonce"]
        return c_nonce

    def request(self, body: Any, *, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token or self.access_token}"}
        if isinstance(body, bytes):
            return self.desk.client.post(
                f"{IMSS}/oid4vci/credential", content=body, headers=headers
            )
        return self.desk.client.post(f"{IMSS}/oid4vci/credential", json=body, headers=headers)

    def ask(self, proof: str, configuration: str = "HealthCoverageCredential") -> Any:
        return self.request({"credential_configuration_id": configuration,
                             "proofs": {"jwt": [proof]}})  # fmt: skip

    def proof(self, **changes: Any) -> str:
        """A key proof; ``changes`` override header (``h_`` prefix) or claim values."""
        header: dict[str, Any] = {"typ": KEY_PROOF_TYP, "kid": self.key.verification_method}
        claims: dict[str, Any] = {"aud": IMSS, "iat": int(time.time()), "nonce": self.nonce()}
        for name, value in changes.items():
            target, field = (header, name[2:]) if name.startswith("h_") else (claims, name)
            if value is None:
                target.pop(field, None)
            else:
                target[field] = value
        return self.key.sign_jwt(header, claims)


def _error(response: Any, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error, body
    assert response.headers["cache-control"] == "no-store"
    description: str = body["error_description"]
    return description


def test_the_credential_is_bound_to_the_proofs_key_and_the_token_is_single_use(
    desk: Desk,
) -> None:
    session = Session(desk, tx_code=True)
    response = session.ask(session.proof())
    assert response.status_code == 200, response.text
    credential = response.json()["credentials"][0]["credential"]
    assert credential["credentialSubject"]["id"] == session.key.did
    assert desk.library_check(credential).is_valid
    _error(session.ask(session.proof()), 401, "invalid_token")  # one credential per token
    with desk.service.db.transaction() as db:
        db.execute(
            update(Oid4vciAccessToken).values(
                used_at=None, expires_at=datetime.now(UTC) - timedelta(seconds=1)
            )
        )
    assert "expired" in _error(session.ask(session.proof()), 401, "invalid_token")
    response = desk.client.post(f"{IMSS}/oid4vci/credential", json={})
    assert _error(response, 401, "invalid_token")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert _error(session.request({}, token="nope"), 401, "invalid_token")


def test_a_jwk_key_proof_binds_the_same_did_key(shared_desk: Desk) -> None:
    desk = shared_desk
    session = Session(desk)
    x = base64.urlsafe_b64encode(session.key.public_key).rstrip(b"=").decode()
    proof = session.proof(h_kid=None, h_jwk={"kty": "OKP", "crv": "Ed25519", "x": x})
    response = session.ask(proof)
    assert response.status_code == 200, response.text
    assert response.json()["credentials"][0]["credential"]["credentialSubject"]["id"] == (
        session.key.did
    )


KEY_PROOF_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("wrong typ", {"h_typ": "JWT"}, "invalid_proof", "typ must be"),
    ("no typ", {"h_typ": None}, "invalid_proof", "typ must be"),
    ("wrong aud", {"aud": ISSSTE}, "invalid_proof", "aud must be"),
    ("aud as a list", {"aud": [IMSS]}, "invalid_proof", "aud must be"),
    ("stale iat", {"iat": int(time.time()) - 3600}, "invalid_proof", "the proof is stale"),
    ("future iat", {"iat": int(time.time()) + 3600}, "invalid_proof", "iat is in the future"),
    ("no iat", {"iat": None}, "invalid_proof", "iat must be"),
    ("iat as text", {"iat": "now"}, "invalid_proof", "iat must be"),
    ("no nonce", {"nonce": None}, "invalid_proof", "nonce"),
    ("unknown nonce", {"nonce": "made-up"}, "invalid_nonce", "CHALLENGE_UNKNOWN"),
    ("iss present", {"iss": "wallet"}, "invalid_proof", "iss must be absent"),
    ("kid and jwk", {"h_jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AA"}}, "invalid_proof",
     "exactly one of kid and jwk"),
    ("no key", {"h_kid": None}, "invalid_proof", "exactly one of kid and jwk"),
    ("kid not a did:key", {"h_kid": "did:web:evil.example#key-1"}, "invalid_proof", "kid"),
    ("kid without fragment", {"h_kid": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"},
     "invalid_proof", "kid must be"),
    ("x5c", {"h_x5c": ["MII"]}, "invalid_proof", "unsupported header parameters: x5c"),
    ("crit", {"h_crit": ["b64"], "h_b64": True}, "invalid_proof",
     "unsupported header parameters: crit"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "error", "why"),
    [pytest.param(c, e, w, id=name) for name, c, e, w in KEY_PROOF_CASES],
)
def test_key_proof_refusals(
    shared_desk: Desk, changes: dict[str, Any], error: str, why: str
) -> None:
    session = Session(shared_desk)
    description = _error(session.ask(session.proof(**changes)), 400, error)
    assert why in description, description
    assert session.ask(session.proof()).status_code == 200  # the token was not used up


def test_a_bad_signature_is_refused_and_does_not_burn_the_nonce(shared_desk: Desk) -> None:
    desk = shared_desk
    session = Session(desk)
    c_nonce = session.nonce()
    claims = {"aud": IMSS, "iat": int(time.time()), "nonce": c_nonce}
    header = {"typ": KEY_PROOF_TYP, "kid": session.key.verification_method}
    forged = HolderKey.generate().sign_jwt(header, claims)  # someone else's key, our kid
    assert "signature" in _error(session.ask(forged), 400, "invalid_proof")
    good = session.key.sign_jwt(header, claims)
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    assert "signature" in _error(session.ask(tampered), 400, "invalid_proof")
    unsigned = _b64({**header, "alg": "none"}) + "." + _b64(claims) + "."
    assert "alg must be" in _error(session.ask(unsigned), 400, "invalid_proof")
    secret_jwk = {"kty": "OKP", "crv": "Ed25519", "x": "AA", "d": "AA"}
    leaked = session.key.sign_jwt({"typ": KEY_PROOF_TYP, "jwk": secret_jwk}, claims)
    assert "private key" in _error(session.ask(leaked), 400, "invalid_proof")
    response = session.ask(good)  # the nonce survived every forgery
    assert response.status_code == 200, response.text
    session2 = Session(desk)
    replay = session2.key.sign_jwt(
        {"typ": KEY_PROOF_TYP, "kid": session2.key.verification_method}, claims
    )
    assert "CHALLENGE_REUSED" in _error(session2.ask(replay), 400, "invalid_nonce")


def test_credential_request_errors(shared_desk: Desk) -> None:
    desk = shared_desk
    session = Session(desk)
    proof = session.proof()
    cases: list[tuple[Any, str]] = [
        ({"credential_configuration_id": "Diploma", "proofs": {"jwt": [proof]}},
         "unknown_credential_configuration"),
        ({"proofs": {"jwt": [proof]}}, "invalid_credential_request"),
        ({"credential_identifier": "x", "proofs": {"jwt": [proof]}}, "invalid_credential_request"),
        ({"credential_configuration_id": "HealthCoverageCredential",
          "proof": {"proof_type": "jwt", "jwt": proof}}, "invalid_credential_request"),
        ({"credential_configuration_id": "HealthCoverageCredential"}, "invalid_proof"),
        ({"credential_configuration_id": "HealthCoverageCredential",
          "proofs": {"jwt": [proof, proof]}}, "invalid_proof"),
        ({"credential_configuration_id": "HealthCoverageCredential",
          "proofs": {"di_vp": [{}]}}, "invalid_proof"),
        ({"credential_configuration_id": "HealthCoverageCredential",
          "proofs": {"jwt": [12]}}, "invalid_proof"),
        ({"credential_configuration_id": "HealthCoverageCredential",
          "proofs": {"jwt": ["a.b.c"]}}, "invalid_proof"),
        ([], "invalid_credential_request"),
        (b"{not json", "invalid_credential_request"),
        (b"[" * 10_000, "invalid_credential_request"),
        (b"x" * 20_000, "invalid_credential_request"),
    ]  # fmt: skip
    for body, error in cases:
        _error(session.request(body), 400, error)
    assert session.ask(proof).status_code == 200  # nothing above consumed the token


def test_a_credential_suspended_after_the_offer_is_denied(shared_desk: Desk) -> None:
    desk = shared_desk
    session = Session(desk)
    desk.set_status(session.card["id"], "suspend")
    assert "suspended" in _error(session.ask(session.proof()), 400, "credential_request_denied")


def test_the_wallet_refuses_unknown_issuers_and_needs_the_pin(shared_desk: Desk) -> None:
    desk = shared_desk
    offer = desk.offer(desk.enrol()["id"])
    key = HolderKey.generate()
    with pytest.raises(WalletError) as excinfo:
        desk.receive(key, offer, tx_code="")
    assert excinfo.value.code == "TX_CODE_REQUIRED"
    forged = dict(offer["credentialOffer"], credential_issuer="https://evil.example")
    with pytest.raises(WalletError) as excinfo:
        desk.receive(key, {"credentialOfferUri": json.dumps(forged)})
    assert excinfo.value.code == "ISSUER_NOT_TRUSTED"
    for text in ("", "https://imss.gob.mx/?credential_offer={}", "openid-credential-offer://?x=1",
                 "openid-credential-offer://?credential_offer=%7B",
                 "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fx"):  # fmt: skip
        with pytest.raises(WalletError) as excinfo:
            parse_offer(text)
        assert excinfo.value.code == "OFFER_MALFORMED", text
    # The offer is still good: none of the refusals above reached the token endpoint.
    assert desk.receive(key, offer)["credentialSubject"]["id"] == key.did


def test_key_proof_shape() -> None:
    key = HolderKey.generate()
    token = key_proof(key, audience=IMSS, nonce="n", issued_at=1_700_000_000)
    header, claims = (
        json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        for part in token.split(".")[:2]
    )
    assert header == {"typ": KEY_PROOF_TYP, "kid": key.verification_method, "alg": "EdDSA"}
    assert claims == {"aud": IMSS, "iat": 1_700_000_000, "nonce": "n"}


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(
        st.sampled_from(["credential_configuration_id", "proofs", "jwt", "proof", "grant_type",
                         "credential_identifier"]) | st.text(max_size=6),
        children, max_size=3,
    ),
    max_leaves=8,
)  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_json_values, form=st.dictionaries(st.text(max_size=12), st.text(max_size=12)))
@example(body={"credential_configuration_id": 2**53}, form={})  # beyond I-JSON: 400, not 422
def test_hostile_requests_are_never_a_500(
    shared_desk: Desk, body: Any, form: dict[str, str]
) -> None:
    response = shared_desk.client.post(
        f"{IMSS}/oid4vci/credential", json=body, headers={"Authorization": "Bearer x" * 3}
    )
    assert response.status_code in {400, 401}, response.text
    response = shared_desk.client.post(f"{IMSS}/oid4vci/token", data=form)
    assert response.status_code == 400, response.text
    assert response.json()["error"] in {
        "invalid_request",
        "invalid_grant",
        "unsupported_grant_type",
    }
    response = shared_desk.client.post("/oid4vci/offers", json=body, headers=shared_desk.headers)
    if _beyond_ijson(body):  # an integer a double cannot hold: refused before validation
        assert (response.status_code, response.json()["code"]) == (400, "MALFORMED_JSON")
    else:
        assert response.status_code == 422, response.text


def _beyond_ijson(value: Any) -> bool:
    """Whether ``value`` holds an integer beyond ±(2^53 − 1) (RFC 7493 §2.2)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) > 2**53 - 1
    if isinstance(value, list):
        return any(_beyond_ijson(item) for item in value)
    if isinstance(value, dict):
        return any(_beyond_ijson(item) for item in value.values())
    return False


def test_nonces_and_challenges_are_bounded(
    shared_desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    from issuer.credentials import verification
    from issuer.oid4vci import routes as oid4vci
    from issuer.storage.challenges import DatabaseChallengeStore

    real_flow = oid4vci._flow

    def capped_flow(service: IssuerService) -> Any:
        flow = real_flow(service)
        flow.nonces.max_outstanding = 0
        return flow

    monkeypatch.setattr(oid4vci, "_flow", capped_flow)

    def capped_store(service: IssuerService) -> DatabaseChallengeStore:
        return DatabaseChallengeStore(service.db, max_outstanding=0)

    monkeypatch.setattr(verification, "_challenge_store", capped_store)
    response = shared_desk.client.post(f"{IMSS}/oid4vci/nonce")
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert response.headers["retry-after"] == "60"
    response = shared_desk.client.post("/challenges", json={"domain": "desk"})
    assert (response.status_code, response.json()["code"]) == (503, "TOO_MANY_CHALLENGES")
