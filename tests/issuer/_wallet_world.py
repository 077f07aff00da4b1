"""A desk, an issuer app and a citizen's wallet, in-process, for the OpenID4VCI and presentation
tests: the enrolment desk enrols and offers; the citizen uses :mod:`wallet_spec.holder`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from issuer.app import create_app
from issuer.credentials.service import IssuerService
from issuer.principal import SCOPES
from tests.strategies import example_credential
from verifier import InMemoryStatusLists, TrustedKey, TrustStore, VerificationResult, Verifier
from wallet_spec.holder import HolderKey, accept_offer

Json = dict[str, Any]

#: Where the issuer endpoints of each institution live (the Host decides the institution).
IMSS = "https://imss.gob.mx"
ISSSTE = "https://issste.gob.mx"


def person(institution: str = "IMSS") -> Json:
    """The enrolment data of a person covered by IMSS."""
    assert institution == "IMSS"
    return dict(example_credential()["credentialSubject"])


@dataclass
class Desk:
    """The enrolment desk of IMSS (an API key with every scope) over an in-process app."""

    client: TestClient
    service: IssuerService
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def enrol(self) -> Json:
        response = self.client.post("/enrolments", json=person(), headers=self.headers)
        assert response.status_code == 201, response.text
        credential: Json = response.json()["verifiableCredential"]
        return credential

    def offer(self, credential_id: str, *, tx_code: bool = True) -> Json:
        response = self.client.post(
            "/oid4vci/offers",
            json={"credentialId": credential_id, "txCode": tx_code},
            headers=self.headers,
        )
        assert response.status_code == 201, response.text
        body: Json = response.json()
        return body

    def set_status(self, credential_id: str, action: str) -> None:
        response = self.client.post(
            "/credentials/status",
            json={"credentialId": credential_id, "action": action},
            headers=self.headers,
        )
        assert response.status_code == 200, response.text

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.client.get(url, **kwargs)

    def receive(self, key: HolderKey, offer: Json, *, tx_code: str | None = None) -> Json:
        """The citizen scans the QR and types the PIN: the whole pre-authorized code flow."""
        return accept_offer(
            offer["credentialOfferUri"],
            key=key,
            client=self.client,
            tx_code=tx_code if tx_code is not None else offer.get("txCode"),
        )

    def library_check(self, credential: Json) -> VerificationResult:
        """The verifier library with the keys and status lists this app serves."""
        lists = []
        for entry in credential["credentialStatus"]:
            parts = urlsplit(entry["statusListCredential"])
            response = self.client.get(parts.path, headers={"host": parts.netloc})
            assert response.status_code == 200, response.text
            lists.append(response.json())
        document = self.client.get("/.well-known/did.json", headers={"host": "imss.gob.mx"}).json()
        trust = TrustStore(TrustedKey.from_json(m) for m in document["verificationMethod"])
        return Verifier(trust, status_lists=InMemoryStatusLists(lists)).check(credential)


def make_desk(service: IssuerService) -> Desk:
    api_key = service.create_client("IMSS", "desk", SCOPES)
    client = TestClient(create_app(service.settings, service), raise_server_exceptions=False)
    return Desk(client, service, api_key)
