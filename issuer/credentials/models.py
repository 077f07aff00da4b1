"""Request and response models of the credentials routes, with their OpenAPI examples.

Request models refuse unknown fields, so a typo is a 422 naming the field rather than a silently
ignored option. The credential subject is validated by the verifier's own model
(:class:`verifier.CoverageSubject`): the issuer accepts exactly what the verifier accepts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

import schemas
from issuer.credentials.service import StatusAction
from issuer.demo import DEMO_PEOPLE
from verifier import CREDENTIALS_V2_URL, Coverage, CoverageSubject, is_card_text

__all__ = [
    "CREDENTIAL_ID_PATTERN",
    "EXAMPLE_CARD",
    "EXAMPLE_CREDENTIAL",
    "EXAMPLE_PRESENTATION",
    "EXAMPLE_SUBJECT",
    "IDEMPOTENCY_KEY_PATTERN",
    "ChallengeRequest",
    "ChallengeResponse",
    "ClientRequest",
    "ClientResponse",
    "CredentialResponse",
    "CredentialStatusFlags",
    "CredentialTemplate",
    "EnrolmentRequest",
    "EnrolmentResponse",
    "FutureDatetime",
    "IssueOptions",
    "IssueRequest",
    "IssueResponse",
    "KeyListResponse",
    "PresentationVerificationResponse",
    "PresentationVerifyOptions",
    "RotateKeyResponse",
    "StatusRequest",
    "StatusResponse",
    "VerificationMethod",
    "VerificationReason",
    "VerificationResponse",
    "VerifyCredentialRequest",
    "VerifyOptions",
    "VerifyPresentationRequest",
]

#: Credential ids are ``urn:uuid:…``; anything printable up to the column size is looked up.
CREDENTIAL_ID_PATTERN = r"^[\x21-\x7e]{1,64}$"
#: Printable ASCII without spaces, at most 200 characters (the stored column).
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,200}$"

EXAMPLE_SUBJECT: dict[str, Any] = DEMO_PEOPLE["credential"]

#: A credential as the service returns it (signed by a throwaway key: for reading, not verifying).
EXAMPLE_CREDENTIAL: dict[str, Any] = {
    "@context": [CREDENTIALS_V2_URL, schemas.CREDENCIAL_CONTEXT_URL],
    "id": "urn:uuid:0b5c6f2e-8a41-4d1e-9a7b-3c2d1e0f9a8b",
    "type": ["VerifiableCredential", "HealthCoverageCredential"],
    "issuer": "did:web:imss.gob.mx",
    "validFrom": "2026-01-15T16:30:00Z",
    "validUntil": "2031-01-15T16:30:00Z",
    "credentialSubject": EXAMPLE_SUBJECT,
    "credentialStatus": [
        {
            "type": "BitstringStatusListEntry",
            "statusPurpose": purpose,
            "statusListIndex": "94567",
            "statusListCredential": f"https://imss.gob.mx/credencial/status/{purpose}/1",
        }
        for purpose in ("revocation", "suspension")
    ],
    "credentialSchema": {"id": schemas.HEALTH_COVERAGE_SCHEMA_URL, "type": "JsonSchema"},
    "proof": {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": "2026-01-15T16:30:00Z",
        "verificationMethod": "did:web:imss.gob.mx#key-1",
        "proofPurpose": "assertionMethod",
        "proofValue": "z5qyzTXKmfTfCxNQ5bhMmLqFDGcbnD8ugb3iaVVypmfAzUZgm7ZXNcGmLPba5sEiKzSGNb9Pj8n"
        "JL9sgsCXchAz6Q",
    },
}

EXAMPLE_CARD = (
    "SUS1:3KHG5A%UBY*5MB84*33QFUV5Y/1YPHQ00UEDFZ2KF3SFQM31*J3GWL-HKNP8QDN*D4O+8/6C*3JPUCV1RHGNCU"
    "BYT9J-85L7PFN.:7Z439+P6-3S GO10 D3CMANV6B%8MXAT3OW0IC601006FE:20000BF3$CDO01/10L98R:9J$LQ4Q"
    "6IHCPH6B9GD678K%G4TTNF8R-9G*I6 1IJ-M7S8.UIP+9BQ5DV8J50:FJQUU%KLFDB3O8Z9B%.H-VNMT6QAC50"
)

_KEY_1 = "z6MkrMnRKVC3wauki7Zzr368WxbiqBCZouC6mvH2UcXLoX5B"
_KEY_2 = "z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


def _future_utc(value: datetime) -> datetime:
    """An aware date-time in the future, as UTC whole seconds."""
    try:
        moment = value.astimezone(UTC).replace(microsecond=0)
    except OverflowError:
        raise ValueError("the date-time is out of range") from None
    if moment <= datetime.now(UTC):
        raise ValueError("must be in the future")
    return moment


#: A future date-time with a time zone (``2031-01-15T00:00:00Z``), normalised to UTC seconds.
FutureDatetime = Annotated[AwareDatetime, AfterValidator(_future_utc)]


class _Request(BaseModel):
    """Request bodies: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


# -- issuing --------------------------------------------------------------------------------------


class CredentialTemplate(_Request):
    """The credential to issue. The issuer fills in id, validity, status, schema and proof."""

    context: list[str] | None = Field(
        default=None,
        alias="@context",
        description="Optional; if given, exactly the two contexts the issuer uses.",
    )
    type: list[str] | None = Field(
        default=None, description="Optional; if given, a subset of the two credential types."
    )
    issuer: str | dict[str, Any] | None = Field(
        default=None, description="Optional; if given, the caller's institution's DID."
    )
    credential_subject: CoverageSubject = Field(alias="credentialSubject")

    @field_validator("context")
    @classmethod
    def _known_contexts(cls, value: list[str] | None) -> list[str] | None:
        expected = [CREDENTIALS_V2_URL, schemas.CREDENCIAL_CONTEXT_URL]
        if value is not None and value != expected:
            raise ValueError(f"must be {expected} (or omitted)")
        return value

    @field_validator("type")
    @classmethod
    def _known_types(cls, value: list[str] | None) -> list[str] | None:
        allowed = {"VerifiableCredential", "HealthCoverageCredential"}
        if value is not None and not set(value) <= allowed:
            raise ValueError(f"may only list {sorted(allowed)} (or be omitted)")
        return value

    def issuer_id(self) -> str | None:
        """The issuer the caller named, if any."""
        if isinstance(self.issuer, dict):
            named = self.issuer.get("id")
            return named if isinstance(named, str) else ""
        return self.issuer


class IssueOptions(_Request):
    """Issuance options."""

    valid_until: FutureDatetime | None = Field(
        default=None,
        alias="validUntil",
        description="End of validity (default: the deployment's credential validity from now).",
    )


class IssueRequest(_Request):
    """VC API ``POST /credentials/issue`` body."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "credential": {
                        "@context": [CREDENTIALS_V2_URL, schemas.CREDENCIAL_CONTEXT_URL],
                        "type": ["VerifiableCredential", "HealthCoverageCredential"],
                        "credentialSubject": EXAMPLE_SUBJECT,
                    },
                    "options": {"validUntil": "2031-01-15T00:00:00Z"},
                },
                {"credential": {"credentialSubject": EXAMPLE_SUBJECT}},
            ]
        }
    )

    credential: CredentialTemplate
    options: IssueOptions = Field(default_factory=IssueOptions)


class IssueResponse(BaseModel):
    """The issued credential."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"verifiableCredential": EXAMPLE_CREDENTIAL}]}
    )

    verifiable_credential: dict[str, Any] = Field(alias="verifiableCredential")


class EnrolmentRequest(_Request):
    """A person's enrolment data: the convenience form of an issuance."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **EXAMPLE_SUBJECT,
                    "validUntil": "2031-01-15T00:00:00Z",
                },
                {
                    **EXAMPLE_SUBJECT,
                    "holderDid": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
                },
            ]
        }
    )

    curp: str = Field(description="CURP (18 characters, check digit verified).")
    given_name: str = Field(alias="givenName")
    family_name: str = Field(alias="familyName")
    second_family_name: str | None = Field(default=None, alias="secondFamilyName")
    birth_date: str = Field(alias="birthDate", description="YYYY-MM-DD (must match the CURP).")
    coverage: Coverage
    valid_until: FutureDatetime | None = Field(default=None, alias="validUntil")
    holder_did: str | None = Field(
        default=None, alias="holderDid", description="The holder's Ed25519 did:key, if any."
    )

    def subject(self) -> dict[str, Any]:
        """The credentialSubject in JSON form (validated by the caller)."""
        subject: dict[str, Any] = {
            "curp": self.curp,
            "givenName": self.given_name,
            "familyName": self.family_name,
            "birthDate": self.birth_date,
            "coverage": self.coverage.to_json(),
        }
        if self.second_family_name is not None:
            subject["secondFamilyName"] = self.second_family_name
        if self.holder_did is not None:
            subject["id"] = self.holder_did
        return subject


class EnrolmentResponse(BaseModel):
    """The wallet JSON, the card text and, on request, the printed card."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"verifiableCredential": EXAMPLE_CREDENTIAL, "card": EXAMPLE_CARD},
                {
                    "verifiableCredential": EXAMPLE_CREDENTIAL,
                    "card": EXAMPLE_CARD,
                    "cardImage": "iVBORw0KGgoAAAANSUhEUgAAA/MAAAJ+CAIAAAB…",
                    "cardImageMediaType": "image/png",
                },
            ]
        }
    )

    verifiable_credential: dict[str, Any] = Field(alias="verifiableCredential")
    card: str = Field(description="The card text (SUS1:…), what the QR holds.")
    card_image: str | None = Field(
        default=None, alias="cardImage", description="Base64 of the PNG or PDF, with ?render="
    )
    card_image_media_type: Literal["image/png", "application/pdf"] | None = Field(
        default=None, alias="cardImageMediaType"
    )


class CredentialStatusFlags(BaseModel):
    """A credential's current status."""

    revoked: bool
    suspended: bool


class CredentialResponse(BaseModel):
    """A stored credential and its current status."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "verifiableCredential": EXAMPLE_CREDENTIAL,
                    "status": {"revoked": False, "suspended": False},
                }
            ]
        }
    )

    verifiable_credential: dict[str, Any] = Field(alias="verifiableCredential")
    status: CredentialStatusFlags


# -- status ---------------------------------------------------------------------------------------


class StatusRequest(_Request):
    """Suspend, reinstate or revoke one of the caller's institution's credentials."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"credentialId": EXAMPLE_CREDENTIAL["id"], "action": "suspend"},
                {"credentialId": EXAMPLE_CREDENTIAL["id"], "action": "revoke"},
            ]
        }
    )

    credential_id: str = Field(alias="credentialId", pattern=CREDENTIAL_ID_PATTERN)
    action: StatusAction = Field(description="Revocation is final: nothing changes it afterwards.")


class StatusResponse(BaseModel):
    """The credential's status after the change."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"credentialId": EXAMPLE_CREDENTIAL["id"], "revoked": False, "suspended": True}
            ]
        }
    )

    credential_id: str = Field(alias="credentialId")
    revoked: bool
    suspended: bool


# -- verifying ------------------------------------------------------------------------------------


class VerifyOptions(BaseModel):
    """Verification options. VC API options this verifier does not use are accepted and ignored."""

    model_config = ConfigDict(extra="allow")


def _card_text(value: str) -> str:
    """A string is card text only: a JSON credential sent as a string is refused, not parsed."""
    if not is_card_text(value):
        raise ValueError(
            "a string is card text (SUS1:…); send a JSON credential as an object, not as a string"
        )
    return value


_VerifiableCredential = Annotated[
    dict[str, Any] | str,
    Field(
        description="The credential as a JSON object, or the card text (SUS1:…); any other "
        "string is refused (422)."
    ),
]


class VerifyCredentialRequest(_Request):
    """VC API ``POST /credentials/verify`` body."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"verifiableCredential": EXAMPLE_CREDENTIAL},
                {"verifiableCredential": EXAMPLE_CARD},
            ]
        }
    )

    verifiable_credential: _VerifiableCredential = Field(alias="verifiableCredential")
    options: VerifyOptions = Field(default_factory=VerifyOptions)

    @field_validator("verifiable_credential")
    @classmethod
    def _string_is_card_text(cls, value: dict[str, Any] | str) -> dict[str, Any] | str:
        return _card_text(value) if isinstance(value, str) else value


class PresentationVerifyOptions(BaseModel):
    """Options of ``POST /presentations/verify``: the domain the presentation must be made for."""

    model_config = ConfigDict(extra="allow")

    domain: str = Field(
        min_length=1,
        max_length=255,
        description="The verifier's domain: the one its challenge was issued for "
        "(`POST /challenges`) and the presentation's proof names.",
    )
    challenge: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="If given, the proof's challenge must be this one.",
    )


#: A presentation as a wallet sends it (shape only; the signature is a placeholder).
EXAMPLE_PRESENTATION: dict[str, Any] = {
    "@context": [CREDENTIALS_V2_URL],
    "type": ["VerifiablePresentation"],
    "holder": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
    "verifiableCredential": [EXAMPLE_CREDENTIAL],
    "proof": {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": "2026-02-01T10:00:00Z",
        "verificationMethod": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
        "#z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "proofPurpose": "authentication",
        "challenge": "kN3Zb0oJw8e2mXq1vYt5Ag",
        "domain": "https://hospital.example.gob.mx",
        "proofValue": "z3FXQjecWufY46yg5abdVZsXqLhxhueuSoZgNSARiKBk9czhSePTFehP8c3PGfb6a22gkfUKKn"
        "Cmmb8quyTRvzWk",
    },
}


class VerifyPresentationRequest(_Request):
    """VC API ``POST /presentations/verify`` body."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "verifiablePresentation": EXAMPLE_PRESENTATION,
                    "options": {
                        "domain": "https://hospital.example.gob.mx",
                        "challenge": "kN3Zb0oJw8e2mXq1vYt5Ag",
                    },
                }
            ]
        }
    )

    verifiable_presentation: dict[str, Any] = Field(alias="verifiablePresentation")
    options: PresentationVerifyOptions


class ChallengeRequest(_Request):
    """``POST /challenges``: a challenge for presentations made for ``domain``."""

    domain: str = Field(
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="The verifier's domain, e.g. https://hospital.example.gob.mx",
    )


class ChallengeResponse(BaseModel):
    """A fresh single-use challenge."""

    challenge: str
    domain: str
    expires: str


class VerificationReason(BaseModel):
    """Why a credential is not VALID (see :class:`verifier.ReasonCode`)."""

    code: str
    message: str
    detail: str
    type: str


class VerificationResponse(BaseModel):
    """The verdict on one credential (200 only when VALID; otherwise a 400 problem with these)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "verified": True,
                    "verdict": "VALID",
                    "reasons": [],
                    "checks": ["proof", "validityPeriod", "credentialStatus"],
                    "checkedAt": "2026-02-01T10:00:00Z",
                }
            ]
        }
    )

    verified: bool
    verdict: Literal["VALID", "INVALID", "INDETERMINATE"]
    reasons: list[VerificationReason]
    checks: list[str]
    checked_at: str = Field(alias="checkedAt")


class PresentationVerificationResponse(BaseModel):
    """The verdict on a presentation: the holder's proof, challenge, domain, holder binding, and
    each presented credential (200 only when VALID; otherwise a 400 problem with these)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "verified": True,
                    "verdict": "VALID",
                    "holder": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
                    "reasons": [],
                    "credentialResults": [
                        {
                            "verified": True,
                            "verdict": "VALID",
                            "reasons": [],
                            "checks": ["proof", "validityPeriod", "credentialStatus"],
                            "checkedAt": "2026-02-01T10:00:00Z",
                        }
                    ],
                    "presentationProofChecked": True,
                    "checkedAt": "2026-02-01T10:00:00Z",
                }
            ]
        }
    )

    verified: bool
    verdict: Literal["VALID", "INVALID", "INDETERMINATE"]
    holder: str | None = Field(description="The holder's did:key, once its proof verified.")
    reasons: list[VerificationReason]
    credential_results: list[VerificationResponse] = Field(alias="credentialResults")
    presentation_proof_checked: Literal[True] = Field(alias="presentationProofChecked")
    checked_at: str = Field(alias="checkedAt")


# -- administration -------------------------------------------------------------------------------


class VerificationMethod(BaseModel):
    """A key as the DID document lists it (``validUntil`` once retired)."""

    model_config = ConfigDict(extra="allow")

    id: str
    type: str
    controller: str
    public_key_multibase: str = Field(alias="publicKeyMultibase")
    valid_from: str = Field(alias="validFrom")
    valid_until: str | None = Field(default=None, alias="validUntil")


class KeyListResponse(BaseModel):
    """The caller's institution's keys: the active one signs, retired ones stay listed."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "institution": "IMSS",
                    "did": "did:web:imss.gob.mx",
                    "activeKey": "did:web:imss.gob.mx#key-2",
                    "keys": [
                        {
                            "id": "did:web:imss.gob.mx#key-1",
                            "type": "Multikey",
                            "controller": "did:web:imss.gob.mx",
                            "publicKeyMultibase": _KEY_1,
                            "validFrom": "2026-01-01T00:00:00Z",
                            "validUntil": "2026-06-01T00:00:00Z",
                        },
                        {
                            "id": "did:web:imss.gob.mx#key-2",
                            "type": "Multikey",
                            "controller": "did:web:imss.gob.mx",
                            "publicKeyMultibase": _KEY_2,
                            "validFrom": "2026-06-01T00:00:00Z",
                        },
                    ],
                }
            ]
        }
    )

    institution: str
    did: str
    active_key: str | None = Field(alias="activeKey")
    keys: list[VerificationMethod]


class RotateKeyResponse(KeyListResponse):
    """The keys after a rotation; ``activeKey`` is the new key."""


class ClientRequest(_Request):
    """A new API client of the caller's own institution."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "Enrolment desk, UMF 14", "scopes": ["issue", "status"]}]
        }
    )

    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    scopes: list[Literal["issue", "status", "admin", "records", "legal", "dpo", "units"]] = Field(
        min_length=1, max_length=7
    )


class ClientResponse(BaseModel):
    """The new client and its API key, shown this once (only a hash is stored)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "clientId": "3f9a1c2b7d4e5f60",
                    "apiKey": "3f9a1c2b7d4e5f60.kq0Xr2l8…",
                    "institution": "IMSS",
                    "name": "Enrolment desk, UMF 14",
                    "scopes": ["issue", "status"],
                }
            ]
        }
    )

    client_id: str = Field(alias="clientId")
    api_key: str = Field(alias="apiKey")
    institution: str
    name: str
    scopes: list[str]
