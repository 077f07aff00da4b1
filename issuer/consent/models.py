"""Request and response shapes of the consent, consent-request, judicial-order, access-log and
records routes (OpenAPI).

Consent requests and the person's own routes validate their bodies with these models; the routes
answer with ``JSONResponse``\\ s they build themselves (for their headers), and their models are
what the published schema says those bodies are (``tests/issuer/test_disclosure.py`` checks each
route's real answer against its model). Response models (problems aside) forbid extra fields: a
field a route adds must join its model, and docs/disclosure.md. The examples are those of the demo
person (``issuer/demo.py``); ``wallet_spec/consent-requests.md`` describes the same messages for
wallet makers.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from issuer.http.params import CLUES_PATTERN, CURP_PATTERN, RequestBody
from verifier import DATA_CLASSES, HEALTH_PURPOSES

__all__ = [
    "AccessLog",
    "ApprovalRequest",
    "ApprovalResponse",
    "ApprovedScope",
    "ConsentChallenge",
    "ConsentRecorded",
    "ConsentRequestCreate",
    "ConsentRequestView",
    "ConsentWithdrawn",
    "DenialRequest",
    "DenialResponse",
    "HolderGrant",
    "HolderGrants",
    "HolderRequests",
    "JudicialOrderApproval",
    "JudicialOrderCreated",
    "JudicialOrderRevoked",
    "OwnRecord",
    "RecordDecision",
    "RecordStored",
    "RecordsAnswer",
    "RecordsDenied",
]

Institution = Literal["IMSS", "ISSSTE", "IMSS-BIENESTAR"]
RequestState = Literal["pending", "approved", "denied", "expired", "withdrawn"]

_CURP = "HEGM850314MDFRRR01"
_REQUEST_ID = "CR-MFRGGZDFMZTWQ2LK"
_GRANT_ID = "urn:uuid:5b1e2c3d-4f5a-4b6c-9d7e-8f9a0b1c2d3e"
_REQUEST_EXAMPLE: dict[str, Any] = {
    "subject": _CURP,
    "custodian": "IMSS",
    "purpose": "TREAT",
    "dataClasses": ["ece.summary", "ece.full"],
    "dataFrom": "2020-01-01",
    "dataUntil": "2026-12-31",
    "accessUntil": "2027-01-31T00:00:00Z",
    "requesterUnit": "DFSSA003961",
}
_VIEW_EXAMPLE: dict[str, Any] = {
    "id": _REQUEST_ID,
    "uri": f"https://imss.gob.mx/r/{_REQUEST_ID}",
    "state": "approved",
    "requester": "ISSSTE",
    "requesterUnit": "DFSSA003961",
    "custodian": "IMSS",
    "purpose": "TREAT",
    "dataClasses": ["ece.summary", "ece.full"],
    "dataFrom": "2020-01-01",
    "dataUntil": "2026-12-31",
    "accessUntil": "2027-01-31T00:00:00Z",
    "createdAt": "2026-12-07T16:00:00Z",
    "expiresAt": "2026-12-08T16:00:00Z",
    "answeredAt": "2026-12-07T16:05:00Z",
    "approved": {
        "grantId": _GRANT_ID,
        "dataClasses": ["ece.summary"],
        "dataFrom": "2020-01-01",
        "dataUntil": "2026-12-31",
        "accessFrom": "2026-12-07T16:05:00Z",
        "accessUntil": "2026-12-14T00:00:00Z",
    },
    "subject": _CURP,
}
_GRANT_EXAMPLE: dict[str, Any] = {
    "curp": _CURP,
    "grantees": [{"institution": "ISSSTE", "unit": "DFSSA003961"}],
    "dataClasses": ["ece.summary"],
    "purposes": ["TREAT"],
    "dataFrom": "2020-01-01",
    "dataUntil": "2026-12-31",
    "validFrom": "2026-12-07T16:05:00Z",
    "validUntil": "2026-12-14T00:00:00Z",
    "locations": ["MX"],
}


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class ConsentRequestCreate(RequestBody):
    """What a requesting institution asks the person for, filed with the custodian."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, json_schema_extra={"examples": [_REQUEST_EXAMPLE]}
    )

    subject: str = Field(pattern=CURP_PATTERN, description="The person's CURP.")
    custodian: Institution = Field(description="The institution that holds the data.")
    purpose: str = Field(
        min_length=1, max_length=16,
        description=f"One HL7 PurposeOfUse code, of {list(HEALTH_PURPOSES)} (never HMARKT).",
    )  # fmt: skip
    data_classes: list[str] = Field(
        alias="dataClasses", min_length=1, max_length=8, description=f"Of {list(DATA_CLASSES)}."
    )
    data_from: date | None = Field(
        default=None, alias="dataFrom", description="Period of data: from (inclusive)."
    )
    data_until: date | None = Field(
        default=None, alias="dataUntil", description="Period of data: until (inclusive)."
    )
    access_until: AwareDatetime = Field(
        alias="accessUntil", description="When the requester's access would end."
    )
    requester_unit: str | None = Field(
        default=None, alias="requesterUnit", pattern=CLUES_PATTERN,
        description="The requesting unit (CLUES), if the access is for one unit only.",
    )  # fmt: skip


class ApprovedScope(BaseModel):
    """What the person approved (never wider than the request)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    grant_id: str = Field(alias="grantId")
    data_classes: list[str] = Field(alias="dataClasses")
    data_from: str | None = Field(alias="dataFrom")
    data_until: str | None = Field(alias="dataUntil")
    access_from: str = Field(alias="accessFrom")
    access_until: str = Field(alias="accessUntil")
    withdrawn_at: str | None = Field(default=None, alias="withdrawnAt")


class ConsentRequestView(BaseModel):
    """A consent request as its requester, or the person it is addressed to, sees it."""

    model_config = ConfigDict(
        populate_by_name=True, extra="forbid", json_schema_extra={"examples": [_VIEW_EXAMPLE]}
    )

    id: str = Field(description="`CR-` and 16 base32 characters.")
    uri: str = Field(description="The short URI a hospital screen shows as a QR.")
    state: RequestState
    requester: Institution
    requester_unit: str | None = Field(alias="requesterUnit")
    custodian: Institution
    purpose: str
    data_classes: list[str] = Field(alias="dataClasses")
    data_from: str | None = Field(alias="dataFrom")
    data_until: str | None = Field(alias="dataUntil")
    access_until: str = Field(alias="accessUntil")
    created_at: str = Field(alias="createdAt")
    expires_at: str = Field(alias="expiresAt", description="When it expires unanswered.")
    answered_at: str | None = Field(alias="answeredAt")
    approved: ApprovedScope | None = Field(description="Approved (or withdrawn): the scope.")
    subject: str | None = Field(
        default=None, description="The requester's view only: the CURP it filed."
    )
    requester_name: str | None = Field(
        default=None, alias="requesterName", description="The person's view only."
    )
    qr_image: str | None = Field(
        default=None, alias="qrImage", description="With `?render=png`: the URI's QR, base64 PNG."
    )


class HolderRequests(BaseModel):
    """The requests addressed to the presenting person at one custodian, newest first."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "curp": _CURP,
                    "custodian": "IMSS",
                    "requests": [
                        {
                            **{k: v for k, v in _VIEW_EXAMPLE.items() if k != "subject"},
                            "state": "pending",
                            "answeredAt": None,
                            "approved": None,
                            "requesterName": "Instituto de Seguridad y Servicios Sociales de "
                            "los Trabajadores del Estado",
                        }
                    ],
                }
            ]
        },
    )

    curp: str
    custodian: Institution
    requests: list[ConsentRequestView]


class ApprovalRequest(RequestBody):
    """The person's approval: the grant and the presentation that signs it for this request."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "grant": _GRANT_EXAMPLE,
                    "presentation": {"type": ["VerifiablePresentation"], "id": "urn:credencial:"
                                     "statement:sha256:…", "holder": "did:key:z6Mk…",
                                     "verifiableCredential": ["…"], "proof": {"…": "…"}},
                }
            ]
        },
    )  # fmt: skip

    grant: dict[str, Any] = Field(
        description="The consent grant: curp, grantees [the requester (and its unit)], "
        "dataClasses (a subset of the request's), purposes [the request's purpose], "
        "dataFrom/dataUntil (inside the request's period), validFrom (now), validUntil (no "
        "later than the request's accessUntil), locations ['MX']."
    )
    presentation: dict[str, Any] = Field(
        description="A presentation of the person's coverage credential at the custodian whose "
        'id is consent_statement_id({"action": "consent.grant", "institution": CUSTODIAN, '
        '"grant": GRANT, "request": REQUEST_ID}).'
    )


class ApprovalResponse(BaseModel):
    """The recorded grant and its signed receipt credential."""

    model_config = ConfigDict(
        populate_by_name=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "requestId": _REQUEST_ID,
                    "state": "approved",
                    "narrowed": True,
                    "grantId": _GRANT_ID,
                    "receipt": {
                        "type": ["VerifiableCredential", "ConsentReceiptCredential"],
                        "issuer": "did:web:imss.gob.mx",
                        "credentialSubject": {
                            "id": "did:key:z6Mk…",
                            "consentGrant": {"id": _GRANT_ID, **_GRANT_EXAMPLE},
                        },
                        "credentialStatus": {
                            "type": "BitstringStatusListEntry",
                            "statusPurpose": "revocation",
                            "statusListIndex": "40321",
                            "statusListCredential": "https://imss.gob.mx/credencial/"
                            "consent-status/revocation/1",
                        },
                        "proof": {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022"},
                    },
                }
            ]
        },
    )

    request_id: str = Field(alias="requestId")
    state: Literal["approved"]
    narrowed: bool = Field(description="Whether less was approved than asked.")
    grant_id: str = Field(alias="grantId")
    receipt: dict[str, Any] = Field(description="The ConsentReceiptCredential.")


class DenialRequest(RequestBody):
    """The person's denial."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "presentation": {
                        "type": ["VerifiablePresentation"],
                        "id": "urn:credencial:statement:sha256:…",
                        "holder": "did:key:z6Mk…",
                        "verifiableCredential": ["…"],
                        "proof": {"…": "…"},
                    }
                }
            ]
        },
    )

    presentation: dict[str, Any] = Field(
        description="A presentation of the person's coverage credential at the custodian whose "
        'id is consent_statement_id({"action": "consent.deny", "institution": CUSTODIAN, '
        '"request": REQUEST_ID}).'
    )


class DenialResponse(BaseModel):
    """The request, denied."""

    model_config = ConfigDict(
        populate_by_name=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"requestId": _REQUEST_ID, "state": "denied", "answeredAt": "2026-12-07T16:05:00Z"}
            ]
        },
    )

    request_id: str = Field(alias="requestId")
    state: Literal["denied"]
    answered_at: str = Field(alias="answeredAt")


class HolderGrant(BaseModel):
    """One consent grant the custodian holds about the person."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    grant_id: str = Field(alias="grantId")
    request_id: str | None = Field(alias="requestId", description="The request it answered.")
    state: Literal["active", "withdrawn", "expired"]
    grantees: list[dict[str, Any]]
    data_classes: list[str] = Field(alias="dataClasses")
    purposes: list[str]
    data_from: str | None = Field(alias="dataFrom")
    data_until: str | None = Field(alias="dataUntil")
    valid_from: str = Field(alias="validFrom")
    valid_until: str = Field(alias="validUntil")
    withdrawn_at: str | None = Field(alias="withdrawnAt")


class HolderGrants(BaseModel):
    """The person's consent grants at one custodian, newest first."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "curp": _CURP,
                    "custodian": "IMSS",
                    "grants": [
                        {
                            "grantId": _GRANT_ID,
                            "requestId": _REQUEST_ID,
                            "state": "active",
                            **{k: v for k, v in _GRANT_EXAMPLE.items() if k not in {"curp",
                               "locations"}},
                            "withdrawnAt": None,
                        }
                    ],
                }
            ]
        }
    )  # fmt: skip

    curp: str
    custodian: Institution
    grants: list[HolderGrant]


class OwnRecord(BaseModel):
    """The person's own record at one custodian (each class read is in their access log)."""

    model_config = ConfigDict(
        populate_by_name=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "curp": _CURP,
                    "custodian": "IMSS",
                    "dataClasses": ["ece.summary"],
                    "bundle": {
                        "resourceType": "Bundle",
                        "type": "collection",
                        "entry": [
                            {
                                "resource": {
                                    "resourceType": "Condition",
                                    "id": "dm2",
                                    "code": {"text": "Diabetes mellitus tipo 2"},
                                },
                                "search": {"mode": "match"},
                            }
                        ],
                    },
                }
            ]
        },
    )

    curp: str
    custodian: Institution
    data_classes: list[str] = Field(alias="dataClasses")
    bundle: dict[str, Any] = Field(description="A FHIR R4 Bundle (collection).")


class _Body(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class ConsentChallenge(_Body):
    """A single-use challenge and the domain a holder presentation must name."""

    challenge: str
    domain: str = Field(description="The institution's domain, e.g. imss.gob.mx.")


class ConsentRecorded(_Body):
    """The recorded grant's id and its receipt, signed by the institution."""

    grant_id: str = Field(alias="grantId")
    receipt: dict[str, Any] = Field(
        description="A ConsentReceiptCredential with an entry in the receipt status list."
    )


class ConsentWithdrawn(_Body):
    """When the withdrawal took effect (not retroactive)."""

    grant_id: str = Field(alias="grantId")
    withdrawn_at: str = Field(alias="withdrawnAt", description="XML Schema dateTimeStamp.")


class AccessEntry(_Body):
    """One permitted access to the person's data, as the audit chain recorded it."""

    at: str
    custodian: str
    requester: str | None
    requester_unit: str | None = Field(alias="requesterUnit")
    purpose: str | None
    data_class: str | None = Field(alias="dataClass")
    grant_id: str | None = Field(alias="grantId")
    grant_kind: str | None = Field(alias="grantKind")
    is_self: bool = Field(
        alias="self", description="The person reading their own record (`GET /me/record`)."
    )
    audit_seq: int = Field(alias="auditSeq")


class RefusedAccess(AccessEntry):
    """A refused request for the person's data, with the decision point's reason codes."""

    reasons: list[str]


class JudicialOrderNotice(_Body):
    """A judicial order over the person's data, shown once its notice is due."""

    grant_id: str = Field(alias="grantId")
    institution: str
    court: str | None
    case_reference: str | None = Field(alias="caseReference")
    order_date: str | None = Field(alias="orderDate")
    document_sha256: str | None = Field(alias="documentSha256")
    data_classes: list[str] | None = Field(alias="dataClasses")


class AccessLog(_Body):
    """Who accessed the person's data, who was refused, and the orders they have been told of."""

    curp: str
    accesses: list[AccessEntry]
    refused: list[RefusedAccess]
    judicial_orders: list[JudicialOrderNotice] = Field(alias="judicialOrders")


class JudicialOrderCreated(_Body):
    """A recorded order, approved by the legal unit only: not effective yet."""

    grant_id: str = Field(alias="grantId")
    approved_by: list[Literal["legal", "dpo"]] = Field(alias="approvedBy")
    effective: bool


class JudicialOrderApproval(JudicialOrderCreated):
    """The order after one more approval; effective once both roles approved."""


class JudicialOrderRevoked(_Body):
    """When the order stopped allowing access."""

    grant_id: str = Field(alias="grantId")
    revoked_at: str = Field(alias="revokedAt", description="XML Schema dateTimeStamp.")


class RecordStored(_Body):
    """The stored resource's row id."""

    id: int


class DecisionReason(_Body):
    """A reason of a decision, about the request or about a grant that names the requester."""

    code: str
    message: str
    grant_id: str | None = Field(default=None, alias="grantId")


class RecordDecision(_Body):
    """The decision for one data class, as the requesting institution may see it."""

    data_class: str = Field(alias="dataClass")
    outcome: Literal["permit", "deny"]
    grant_id: str | None = Field(alias="grantId")
    grant_kind: str | None = Field(alias="grantKind")
    data_from: str | None = Field(alias="dataFrom")
    data_until: str | None = Field(alias="dataUntil")
    reasons: list[DecisionReason]


class RecordsAnswer(_Body):
    """A FHIR ``Bundle`` (type collection) of the permitted classes, and every decision."""

    bundle: dict[str, Any]
    decisions: list[RecordDecision]


class RecordsDenied(BaseModel):
    """403 ``ACCESS_DENIED``: an RFC 9457 problem with the decisions (nothing permitted)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    type: str
    title: str
    status: Literal[403]
    detail: str
    code: Literal["ACCESS_DENIED"]
    decisions: list[RecordDecision]
