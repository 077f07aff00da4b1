"""The wallet side of OpenID4VCI 1.0's pre-authorized code flow (``wallet_spec/issuance.md``).

``accept_offer`` reads the offer (the QR's ``openid-credential-offer://?credential_offer=…``),
refuses an issuer outside the wallet's list, reads the issuer's and authorization server's
metadata, redeems the pre-authorized code (with the PIN), fetches a ``c_nonce``, signs the key
proof with the holder key and receives the credential, which must name this holder as its
subject. The HTTP client is injected: an ``httpx.Client`` (the ``wallet`` extra), or anything
with the same ``get``/``post`` (tests pass Starlette's ``TestClient`` over the issuer app).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import httpx

from verifier import parse_json

from ._errors import WalletError
from ._keys import HolderKey

__all__ = [
    "KEY_PROOF_TYP",
    "OFFER_URI_SCHEME",
    "PRE_AUTHORIZED_GRANT",
    "TRUSTED_ISSUERS",
    "CredentialOffer",
    "HttpClient",
    "HttpResponse",
    "accept_offer",
    "key_proof",
    "parse_offer",
]

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
OFFER_URI_SCHEME = "openid-credential-offer://"
KEY_PROOF_TYP = "openid4vci-proof+jwt"
#: The Credential Issuers a wallet accepts offers from by default (the three institutions).
TRUSTED_ISSUERS = frozenset(
    {"https://imss.gob.mx", "https://issste.gob.mx", "https://imssbienestar.gob.mx"}
)
_MAX_OFFER = 8192


class HttpResponse(Protocol):
    """What the flow reads of a response."""

    @property
    def status_code(self) -> int: ...
    @property
    def content(self) -> bytes: ...
    def json(self) -> Any: ...


class HttpClient(Protocol):
    """The HTTP client the flow uses (``httpx.Client`` fits)."""

    def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> HttpResponse: ...
    def post(
        self,
        url: str,
        *,
        data: Mapping[str, Any] | None = None,
        json: Any | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse: ...


@dataclass(frozen=True, slots=True)
class CredentialOffer:
    """A parsed Credential Offer with a pre-authorized code."""

    credential_issuer: str
    configuration_ids: tuple[str, ...]
    pre_authorized_code: str
    tx_code: Mapping[str, Any] | None

    @property
    def needs_tx_code(self) -> bool:
        """Whether the Token Request must carry the PIN."""
        return self.tx_code is not None


def _offer_json(text: str) -> Any:
    text = text.strip()
    if len(text) > _MAX_OFFER:
        raise WalletError("OFFER_MALFORMED", f"the offer is longer than {_MAX_OFFER} characters")
    if text.startswith("{"):
        raw = text
    else:
        parts = urlsplit(text)
        if f"{parts.scheme}://" != OFFER_URI_SCHEME:
            raise WalletError("OFFER_MALFORMED", f"an offer URI starts with {OFFER_URI_SCHEME}")
        query = parse_qs(parts.query)
        if "credential_offer_uri" in query:
            raise WalletError("OFFER_MALFORMED", "offers by reference are not supported")
        values = query.get("credential_offer", [])
        if len(values) != 1:
            raise WalletError("OFFER_MALFORMED", "the URI needs exactly one credential_offer")
        raw = values[0]
    try:
        return parse_json(raw)
    except (ValueError, RecursionError):
        raise WalletError("OFFER_MALFORMED", "the credential_offer is not JSON") from None


def parse_offer(text: str) -> CredentialOffer:
    """Read an offer: the ``openid-credential-offer://`` URI, or the offer JSON itself."""
    offer = _offer_json(text)
    if not isinstance(offer, dict):
        raise WalletError("OFFER_MALFORMED", "the credential_offer is not a JSON object")
    issuer = offer.get("credential_issuer")
    ids = offer.get("credential_configuration_ids")
    if not isinstance(issuer, str) or not issuer.startswith("https://"):
        raise WalletError("OFFER_MALFORMED", "credential_issuer must be an https URL")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise WalletError("OFFER_MALFORMED", "credential_configuration_ids must list strings")
    grants = offer.get("grants")
    grant = grants.get(PRE_AUTHORIZED_GRANT) if isinstance(grants, dict) else None
    if not isinstance(grant, dict):
        raise WalletError("OFFER_MALFORMED", "the offer has no pre-authorized code grant")
    code = grant.get("pre-authorized_code")
    if not isinstance(code, str) or not code:
        raise WalletError("OFFER_MALFORMED", "the grant has no pre-authorized_code")
    tx_code = grant.get("tx_code")
    if tx_code is not None and not isinstance(tx_code, dict):
        raise WalletError("OFFER_MALFORMED", "tx_code must be an object")
    return CredentialOffer(issuer, tuple(ids), code, tx_code)


def key_proof(key: HolderKey, *, audience: str, nonce: str, issued_at: int) -> str:
    """The ``jwt`` key proof (OpenID4VCI 1.0 Appendix F.1): ``kid`` = the holder's did:key
    verification method, ``aud`` = the Credential Issuer, ``iat``, ``nonce`` = the c_nonce."""
    return key.sign_jwt(
        {"typ": KEY_PROOF_TYP, "kid": key.verification_method},
        {"aud": audience, "iat": issued_at, "nonce": nonce},
    )


def _json(response: HttpResponse, what: str) -> dict[str, Any]:
    try:
        body = parse_json(response.content)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise WalletError("METADATA_INVALID", f"{what} did not answer a JSON object")
    return body


def _get(client: HttpClient, url: str, what: str) -> dict[str, Any]:
    try:
        response = client.get(url, headers={"Accept": "application/json"})
    except (httpx.HTTPError, OSError) as exc:
        raise WalletError("NETWORK", f"{what}: {exc}") from None
    if response.status_code != 200:
        raise WalletError("METADATA_INVALID", f"{what}: HTTP {response.status_code}")
    return _json(response, what)


def _post(
    client: HttpClient,
    url: str,
    what: str,
    *,
    data: Mapping[str, Any] | None = None,
    json: Any | None = None,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    try:
        return client.post(url, data=data, json=json, headers=headers)
    except (httpx.HTTPError, OSError) as exc:
        raise WalletError("NETWORK", f"{what}: {exc}") from None


def _oauth_error(response: HttpResponse) -> str:
    try:
        body = parse_json(response.content)
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        description = body.get("error_description")
        return str(body["error"]) + (f": {description}" if isinstance(description, str) else "")
    return f"HTTP {response.status_code}"


def _same_origin(url: Any, issuer: str) -> str:
    if not isinstance(url, str) or not url.startswith(issuer + "/"):
        raise WalletError("METADATA_INVALID", f"endpoint {url!r} is not under {issuer}")
    return url


def _check_configuration(metadata: dict[str, Any], configuration_id: str) -> None:
    configurations = metadata.get("credential_configurations_supported")
    configuration = (
        configurations.get(configuration_id) if isinstance(configurations, dict) else None
    )
    if not isinstance(configuration, dict) or configuration.get("format") != "ldp_vc":
        raise WalletError("METADATA_INVALID", f"no ldp_vc configuration {configuration_id!r}")
    if "did:key" not in (configuration.get("cryptographic_binding_methods_supported") or []):
        raise WalletError("METADATA_INVALID", "the issuer does not bind to did:key")
    jwt = (configuration.get("proof_types_supported") or {}).get("jwt") or {}
    if "EdDSA" not in (jwt.get("proof_signing_alg_values_supported") or []):
        raise WalletError("METADATA_INVALID", "the issuer does not take EdDSA jwt key proofs")


def accept_offer(
    offer_text: str,
    *,
    key: HolderKey,
    client: HttpClient,
    tx_code: str | None = None,
    trusted_issuers: Iterable[str] = TRUSTED_ISSUERS,
    now: float | None = None,
) -> dict[str, Any]:
    """Run the pre-authorized code flow; return the credential, bound to ``key.did``.

    Raises :class:`WalletError` with a stable code (see ``WALLET_ERROR_CODES``).
    """
    offer = parse_offer(offer_text)
    issuer = offer.credential_issuer
    if issuer not in frozenset(trusted_issuers):
        raise WalletError("ISSUER_NOT_TRUSTED", f"{issuer} is not a Credential Issuer we know")
    if offer.needs_tx_code and not tx_code:
        raise WalletError("TX_CODE_REQUIRED", "enter the PIN the desk gave you")
    metadata = _get(client, f"{issuer}/.well-known/openid-credential-issuer", "issuer metadata")
    if metadata.get("credential_issuer") != issuer:
        raise WalletError("METADATA_INVALID", "credential_issuer does not match the offer")
    configuration_id = offer.configuration_ids[0]
    _check_configuration(metadata, configuration_id)
    credential_endpoint = _same_origin(metadata.get("credential_endpoint"), issuer)
    nonce_endpoint = _same_origin(metadata.get("nonce_endpoint"), issuer)
    server = _get(client, f"{issuer}/.well-known/oauth-authorization-server", "server metadata")
    if server.get("issuer") != issuer:
        raise WalletError("METADATA_INVALID", "the authorization server is not the issuer")
    token_endpoint = _same_origin(server.get("token_endpoint"), issuer)

    form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": offer.pre_authorized_code}
    if offer.needs_tx_code and tx_code:
        form["tx_code"] = tx_code
    response = _post(client, token_endpoint, "token", data=form)
    if response.status_code != 200:
        raise WalletError("TOKEN_REFUSED", _oauth_error(response))
    access_token = _json(response, "the token endpoint").get("access_token")
    if not isinstance(access_token, str):
        raise WalletError("TOKEN_REFUSED", "the token response has no access_token")

    response = _post(client, nonce_endpoint, "nonce")
    c_nonce = _json(response, "the nonce endpoint").get("c_nonce")
    if response.status_code != 200 or not isinstance(c_nonce, str):
        raise WalletError("CREDENTIAL_REFUSED", "no c_nonce from the nonce endpoint")
    issued_at = int(time.time() if now is None else now)
    proof = key_proof(key, audience=issuer, nonce=c_nonce, issued_at=issued_at)
    response = _post(
        client,
        credential_endpoint,
        "credential",
        json={"credential_configuration_id": configuration_id, "proofs": {"jwt": [proof]}},
        headers={"Authorization": f"Bearer {access_token}"},
    )
    if response.status_code != 200:
        raise WalletError("CREDENTIAL_REFUSED", _oauth_error(response))
    credentials = _json(response, "the credential endpoint").get("credentials")
    if not isinstance(credentials, list) or len(credentials) != 1:
        raise WalletError("CREDENTIAL_INVALID", "expected exactly one credential")
    credential = credentials[0].get("credential") if isinstance(credentials[0], dict) else None
    if not isinstance(credential, dict):
        raise WalletError("CREDENTIAL_INVALID", "the credential is not a JSON object (ldp_vc)")
    if credential.get("issuer") != "did:web:" + urlsplit(issuer).netloc.replace(":", "%3A"):
        raise WalletError("CREDENTIAL_INVALID", f"the credential was not issued by {issuer}")
    subject = credential.get("credentialSubject")
    if not isinstance(subject, dict) or subject.get("id") != key.did:
        raise WalletError("CREDENTIAL_INVALID", "the credential is not bound to this holder")
    return credential
