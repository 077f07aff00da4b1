"""OpenID4VCI issuance, independent of HTTP: metadata, offers, the token and credential steps.

Implements the pre-authorized code flow of OpenID for Verifiable Credential Issuance 1.0
(https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html). The routes are in
:mod:`issuer.oid4vci.routes`; the wallet side in :mod:`wallet_spec.holder`.

**One coverage, two forms, one status entry.** An offer is made for a credential already issued
(the card form, enrolled at the desk). The wallet credential the offer yields repeats that
credential's subject, ``validUntil`` and *both status entries* (same list, same index), adds
``credentialSubject.id`` = the holder's did:key, and gets its own ``id``, ``validFrom`` and
proof. Suspending, reinstating or revoking the card credential (``POST /credentials/status``
with its id) flips the bits both forms point at, so one change covers both; no second index is
allocated. A revoked, suspended or expired credential gets no wallet form
(``credential_request_denied``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from sqlalchemy import select

import schemas
from issuer.credentials.service import IssuerService
from issuer.credentials.signing import new_coverage_credential
from issuer.errors import NotFoundError, ServiceError
from issuer.institutions import INSTITUTIONS, Institution
from issuer.oid4vci.key_proof import (
    KEY_PROOF_ALGORITHMS,
    KeyProofError,
    KeyProofPolicy,
    verify_key_proof,
)
from issuer.principal import Principal
from issuer.storage.audit import append_audit
from issuer.storage.challenges import C_NONCE_PURPOSE, DatabaseChallengeStore
from issuer.storage.database import utc
from issuer.storage.tables import Credential, Oid4vciAccessToken, Oid4vciOffer, WalletCredential
from verifier import CREDENTIALS_V2_URL, format_datetime

__all__ = [
    "CONFIGURATION_ID",
    "OFFER_URI_SCHEME",
    "PRE_AUTHORIZED_GRANT",
    "CreatedOffer",
    "CredentialRequestError",
    "InvalidTokenError",
    "Oid4vciIssuer",
    "Oid4vciPolicy",
    "TokenError",
    "authorization_server_metadata",
    "credential_issuer_url",
    "credential_offer",
    "credential_offer_uri",
    "issuer_metadata",
    "new_wallet_credential",
]

#: The grant type of the pre-authorized code flow (OpenID4VCI 1.0 §4.1.1).
PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
#: The custom URL scheme of a Credential Offer QR when the wallet's endpoint is unknown (§12.1).
OFFER_URI_SCHEME = "openid-credential-offer://"
#: Our one Credential Configuration (also its ``scope``).
CONFIGURATION_ID = "HealthCoverageCredential"
_TYPES = ["VerifiableCredential", "HealthCoverageCredential"]


@dataclass(frozen=True, slots=True)
class Oid4vciPolicy:
    """Lifetimes and limits of the flow."""

    #: How long a pre-authorized code can be redeemed (short-lived, single use: §4.1.1).
    offer_lifetime: timedelta = timedelta(minutes=10)
    #: How long an access token is good for (one credential).
    token_lifetime: timedelta = timedelta(minutes=5)
    #: How long a ``c_nonce`` can be used in a key proof.
    nonce_lifetime: timedelta = timedelta(minutes=5)
    #: Digits of the transaction code (PIN) the desk tells the person.
    tx_code_length: int = 6
    #: Wrong transaction codes that lock an offer for good.
    tx_code_attempts: int = 3
    key_proof: KeyProofPolicy = field(default_factory=KeyProofPolicy)


# -- documents ------------------------------------------------------------------------------------


def credential_issuer_url(institution: Institution) -> str:
    """The Credential Issuer Identifier: ``https://`` + the institution's did:web domain."""
    return "https://" + institution.did.removeprefix("did:web:").replace("%3A", ":")


_CLAIMS = [
    (("credentialSubject", "curp"), "CURP", "CURP"),
    (("credentialSubject", "givenName"), "Nombre(s)", "Given name"),
    (("credentialSubject", "familyName"), "Primer apellido", "Family name"),
    (("credentialSubject", "secondFamilyName"), "Segundo apellido", "Second family name"),
    (("credentialSubject", "birthDate"), "Fecha de nacimiento", "Birth date"),
    (("credentialSubject", "coverage", "institution"), "Institución", "Institution"),
    (("credentialSubject", "coverage", "program"), "Régimen o programa", "Program"),
    (("credentialSubject", "coverage", "affiliationNumber"), "Número de afiliación",
     "Affiliation number"),
    (("credentialSubject", "coverage", "beneficiaryRelationship"), "Parentesco",
     "Relationship"),
    (("credentialSubject", "coverage", "adscriptionUnit"), "Unidad de adscripción (CLUES)",
     "Unit of adscription (CLUES)"),
]  # fmt: skip


def issuer_metadata(institution: Institution) -> dict[str, Any]:
    """Credential Issuer Metadata (§12.2), served at ``/.well-known/openid-credential-issuer``."""
    base = credential_issuer_url(institution)
    return {
        "credential_issuer": base,
        "credential_endpoint": f"{base}/oid4vci/credential",
        "nonce_endpoint": f"{base}/oid4vci/nonce",
        "display": [
            {"name": institution.name, "locale": "es-MX"},
            {"name": institution.name, "locale": "en"},
        ],
        "credential_configurations_supported": {
            CONFIGURATION_ID: {
                "format": "ldp_vc",
                "scope": CONFIGURATION_ID,
                "cryptographic_binding_methods_supported": ["did:key"],
                "credential_signing_alg_values_supported": ["eddsa-rdfc-2022"],
                "proof_types_supported": {
                    "jwt": {"proof_signing_alg_values_supported": list(KEY_PROOF_ALGORITHMS)}
                },
                "credential_definition": {
                    "@context": [CREDENTIALS_V2_URL, schemas.CREDENCIAL_CONTEXT_URL],
                    "type": list(_TYPES),
                },
                "credential_metadata": {
                    "display": [
                        {
                            "name": "Credencial de derechohabiencia",
                            "locale": "es-MX",
                            "description": f"Derechos de atención médica en {institution.code}",
                        },
                        {
                            "name": "Health coverage credential",
                            "locale": "en",
                            "description": f"Health-care coverage rights at {institution.code}",
                        },
                    ],
                    "claims": [
                        {
                            "path": list(path),
                            "display": [
                                {"name": es, "locale": "es-MX"},
                                {"name": en, "locale": "en"},
                            ],
                        }
                        for path, es, en in _CLAIMS
                    ],
                },
            }
        },
    }


def authorization_server_metadata(institution: Institution) -> dict[str, Any]:
    """OAuth 2.0 Authorization Server Metadata (RFC 8414) for the pre-authorized code grant.

    The Credential Issuer is its own Authorization Server (no ``authorization_servers`` in its
    metadata), so this is served at ``/.well-known/oauth-authorization-server`` on the same host.
    """
    base = credential_issuer_url(institution)
    return {
        "issuer": base,
        "token_endpoint": f"{base}/oid4vci/token",
        "grant_types_supported": [PRE_AUTHORIZED_GRANT],
        "token_endpoint_auth_methods_supported": ["none"],
        "pre-authorized_grant_anonymous_access_supported": True,
    }


def credential_offer(
    issuer_url: str, pre_authorized_code: str, *, tx_code_length: int | None
) -> dict[str, Any]:
    """A Credential Offer object (§4.1.1), with a numeric ``tx_code`` when one is required."""
    grant: dict[str, Any] = {"pre-authorized_code": pre_authorized_code}
    if tx_code_length is not None:
        grant["tx_code"] = {
            "input_mode": "numeric",
            "length": tx_code_length,
            "description": f"El código de {tx_code_length} dígitos que le dio el módulo de "
            "afiliación",
        }
    return {
        "credential_issuer": issuer_url,
        "credential_configuration_ids": [CONFIGURATION_ID],
        "grants": {PRE_AUTHORIZED_GRANT: grant},
    }


def credential_offer_uri(offer: dict[str, Any]) -> str:
    """The offer by value as the URI a QR carries: ``openid-credential-offer://?credential_offer=``."""
    compact = json.dumps(offer, ensure_ascii=False, separators=(",", ":"))
    return f"{OFFER_URI_SCHEME}?credential_offer={quote(compact, safe='')}"


def new_wallet_credential(
    institution: Institution,
    base: dict[str, Any],
    *,
    holder: str,
    list_number: int,
    status_index: int,
    valid_from: datetime,
    credential_id: str | None = None,
) -> dict[str, Any]:
    """The unsigned wallet form of ``base``: same subject, status entries and ``validUntil``,
    ``credentialSubject.id`` = ``holder``, its own ``id`` and ``validFrom``."""
    subject = {"id": holder, **{k: v for k, v in base["credentialSubject"].items() if k != "id"}}
    valid_until = datetime.strptime(base["validUntil"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return new_coverage_credential(
        institution, subject, status_list=list_number, status_index=status_index,
        valid_from=valid_from, valid_until=valid_until, credential_id=credential_id,
    )  # fmt: skip


# -- errors ---------------------------------------------------------------------------------------


class TokenError(Exception):
    """A Token Error Response (RFC 6749 §5.2, OpenID4VCI §6.3): HTTP 400."""

    def __init__(
        self,
        error: Literal[
            "invalid_request", "invalid_grant", "unsupported_grant_type", "invalid_client"
        ],
        description: str,
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class InvalidTokenError(Exception):
    """No valid access token at the Credential Endpoint (RFC 6750 §3.1): HTTP 401."""


class CredentialRequestError(Exception):
    """A Credential Error Response (OpenID4VCI §8.3.1.2): HTTP 400."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


# -- the flow -------------------------------------------------------------------------------------


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _tx_digest(pre_authorized_code: str, tx_code: str) -> str:
    """The transaction code hashed with the pre-authorized code (which is stored only hashed)."""
    return _sha256(f"{pre_authorized_code}\n{tx_code}")


def _refusal(row: Credential, now: datetime) -> str | None:
    """Why ``row`` gets no wallet form (revoked, suspended, expired), or None."""
    if row.revoked_at is not None:
        return "the credential is revoked"
    if row.suspended:
        return "the credential is suspended"
    if utc(row.valid_until) <= now:
        return "the credential has expired"
    return None


@dataclass(frozen=True, slots=True)
class CreatedOffer:
    """An offer made at the desk: the offer, its QR URI, and the PIN to tell the person."""

    offer: dict[str, Any]
    uri: str
    tx_code: str | None
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A token issued at the Token Endpoint."""

    access_token: str
    expires_in: int


class Oid4vciIssuer:
    """The pre-authorized code flow over an :class:`IssuerService`'s database and keys."""

    def __init__(self, service: IssuerService, policy: Oid4vciPolicy | None = None) -> None:
        self.service = service
        self.policy = policy or Oid4vciPolicy()
        self.nonces = DatabaseChallengeStore(
            service.db, purpose=C_NONCE_PURPOSE, lifetime=self.policy.nonce_lifetime
        )

    def create_offer(
        self, principal: Principal, credential_id: str, *, tx_code: bool = True
    ) -> CreatedOffer:
        """An offer of the wallet form of ``credential_id`` (one of the caller's institution)."""
        institution = INSTITUTIONS[principal.institution]
        now = datetime.now(UTC).replace(microsecond=0)
        code = secrets.token_urlsafe(32)
        pin = None
        if tx_code:
            pin = "".join(secrets.choice("0123456789") for _ in range(self.policy.tx_code_length))
        expires_at = now + self.policy.offer_lifetime
        with self.service.db.transaction() as session:
            row = session.get(Credential, credential_id)
            if row is None or row.institution_code != principal.institution:
                raise NotFoundError(f"no credential {credential_id} of {principal.institution}")
            refusal = _refusal(row, now)
            if refusal is not None:
                raise ServiceError(refusal)
            session.add(
                Oid4vciOffer(
                    code_sha256=_sha256(code), institution_code=principal.institution,
                    credential_id=credential_id,
                    tx_code_sha256=_tx_digest(code, pin) if pin is not None else None,
                    tx_code_failures=0, client_id=principal.client_id, created_at=now,
                    expires_at=expires_at,
                )
            )  # fmt: skip
            append_audit(
                session, institution=principal.institution, actor=principal.client_id,
                action="oid4vci.offer", subject=credential_id,
                details={"txCode": pin is not None, "expiresAt": format_datetime(expires_at)},
            )  # fmt: skip
        offer = credential_offer(
            credential_issuer_url(institution),
            code,
            tx_code_length=self.policy.tx_code_length if pin is not None else None,
        )
        return CreatedOffer(offer, credential_offer_uri(offer), pin, expires_at)

    def redeem(self, institution: str, form: dict[str, list[str]], now: datetime) -> AccessToken:
        """The Token Endpoint (§6): a pre-authorized code (and PIN) for an access token."""
        for name, values in form.items():
            if len(values) > 1:
                raise TokenError("invalid_request", f"the parameter {name} is repeated")
        grant_type = (form.get("grant_type") or [""])[0]
        if not grant_type:
            raise TokenError("invalid_request", "grant_type is required")
        if grant_type != PRE_AUTHORIZED_GRANT:
            raise TokenError("unsupported_grant_type", f"only {PRE_AUTHORIZED_GRANT}")
        code = (form.get("pre-authorized_code") or [""])[0]
        if not code or len(code) > 200:
            raise TokenError("invalid_request", "pre-authorized_code is required")
        pin = form.get("tx_code", [None])[0]
        outcome = self._redeem(institution, code, pin, now)
        if isinstance(outcome, TokenError):
            raise outcome
        return outcome

    def _redeem(
        self, institution: str, code: str, pin: str | None, now: datetime
    ) -> AccessToken | TokenError:
        """Redeem in one transaction; a wrong PIN is *returned* so its count is committed."""
        with self.service.db.transaction() as session:
            offer = session.scalars(
                select(Oid4vciOffer)
                .where(Oid4vciOffer.code_sha256 == _sha256(code))
                .with_for_update()
            ).first()
            if offer is None or offer.institution_code != institution:
                return TokenError("invalid_grant", "unknown pre-authorized code")
            if offer.redeemed_at is not None:
                return TokenError("invalid_grant", "the pre-authorized code was already used")
            if offer.locked_at is not None:
                return TokenError("invalid_grant", "the offer is locked: too many wrong codes")
            if utc(offer.expires_at) <= now:
                return TokenError("invalid_grant", "the pre-authorized code has expired")
            expected = offer.tx_code_sha256
            if expected is None and pin is not None:
                return TokenError("invalid_request", "this offer has no transaction code")
            if expected is not None and pin is None:
                return TokenError("invalid_request", "tx_code (the PIN from the desk) is required")
            if (
                expected is not None
                and pin is not None
                and not hmac.compare_digest(expected, _tx_digest(code, pin))
            ):
                offer.tx_code_failures += 1
                left = self.policy.tx_code_attempts - offer.tx_code_failures
                if left <= 0:
                    offer.locked_at = now
                    return TokenError(
                        "invalid_grant", "wrong transaction code; the offer is now locked"
                    )
                return TokenError("invalid_grant", f"wrong transaction code ({left} left)")
            offer.redeemed_at = now
            token = secrets.token_urlsafe(32)
            session.add(
                Oid4vciAccessToken(
                    token_sha256=_sha256(token),
                    offer_id=offer.id,
                    expires_at=now + self.policy.token_lifetime,
                )
            )
            append_audit(
                session, institution=institution, actor="wallet", action="oid4vci.token",
                subject=offer.credential_id,
            )  # fmt: skip
        return AccessToken(token, int(self.policy.token_lifetime.total_seconds()))

    def nonce(self, institution: str, now: datetime) -> str:
        """A fresh ``c_nonce`` for key proofs addressed to this Credential Issuer (§7)."""
        return self.nonces.issue(credential_issuer_url(INSTITUTIONS[institution]), now)

    def _token_offer(self, institution: str, access_token: str, now: datetime) -> Oid4vciOffer:
        with self.service.db.read() as session:
            token = session.get(Oid4vciAccessToken, _sha256(access_token))
            offer = session.get(Oid4vciOffer, token.offer_id) if token is not None else None
        if token is None or offer is None or offer.institution_code != institution:
            raise InvalidTokenError("unknown access token")
        if token.used_at is not None:
            raise InvalidTokenError("the access token was already used")
        if utc(token.expires_at) <= now:
            raise InvalidTokenError("the access token has expired")
        return offer

    def issue_credential(
        self, institution_code: str, access_token: str, request: Any, now: datetime
    ) -> dict[str, Any]:
        """The Credential Endpoint (§8): check the request and key proof; sign the wallet form."""
        offer = self._token_offer(institution_code, access_token, now)
        holder = self._holder(institution_code, request, now)
        institution = INSTITUTIONS[institution_code]
        with self.service.db.read() as session:
            base = session.get(Credential, offer.credential_id)
        assert base is not None
        refusal = _refusal(base, now)
        if refusal is not None:
            raise CredentialRequestError("credential_request_denied", refusal)
        unsigned = new_wallet_credential(
            institution, dict(base.document), holder=holder, list_number=base.list_number,
            status_index=base.status_index, valid_from=now,
        )  # fmt: skip
        signed = self.service.sign_checked(institution_code, unsigned, now)
        with self.service.db.transaction() as session:
            token = session.get(Oid4vciAccessToken, _sha256(access_token), with_for_update=True)
            if token is None or token.used_at is not None:
                raise InvalidTokenError("the access token was already used")
            token.used_at = now
            session.add(
                WalletCredential(
                    id=signed["id"], base_credential_id=base.id, institution_code=institution_code,
                    holder=holder, document=signed, issued_at=now,
                )
            )  # fmt: skip
            append_audit(
                session, institution=institution_code, actor="wallet",
                action="oid4vci.credential", subject=signed["id"],
                details={"base": base.id, "holder": holder},
            )  # fmt: skip
        return signed

    def _holder(self, institution_code: str, request: Any, now: datetime) -> str:
        if not isinstance(request, dict):
            raise CredentialRequestError("invalid_credential_request", "the body is not an object")
        if "credential_identifier" in request:
            raise CredentialRequestError(
                "invalid_credential_request",
                "credential_identifier is not used here: no authorization_details were issued",
            )
        configuration = request.get("credential_configuration_id")
        if not isinstance(configuration, str):
            raise CredentialRequestError(
                "invalid_credential_request", "credential_configuration_id is required"
            )
        if configuration != CONFIGURATION_ID:
            raise CredentialRequestError(
                "unknown_credential_configuration", f"only {CONFIGURATION_ID} is issued"
            )
        if "proof" in request:
            raise CredentialRequestError(
                "invalid_credential_request", "use proofs (OpenID4VCI 1.0), not proof"
            )
        proofs = request.get("proofs")
        if not isinstance(proofs, dict) or list(proofs) != ["jwt"]:
            raise CredentialRequestError("invalid_proof", 'proofs must be {"jwt": [<one JWT>]}')
        tokens = proofs["jwt"]
        if not isinstance(tokens, list) or len(tokens) != 1:
            raise CredentialRequestError(
                "invalid_proof", "exactly one jwt proof (batch issuance is not supported)"
            )
        try:
            return verify_key_proof(
                tokens[0],
                audience=credential_issuer_url(INSTITUTIONS[institution_code]),
                nonces=self.nonces,
                now=now,
                policy=self.policy.key_proof,
            )
        except KeyProofError as exc:
            raise CredentialRequestError(exc.error, exc.description) from None
