"""Response bodies of the consent, judicial-order, access-log and records routes (OpenAPI).

The routes answer with ``JSONResponse``\\ s they build themselves (for their headers); these
models are what the published schema says those bodies are. ``tests/issuer/test_disclosure.py``
checks each route's real answer against its model.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AccessLog",
    "ConsentChallenge",
    "ConsentRecorded",
    "ConsentWithdrawn",
    "JudicialOrderApproval",
    "JudicialOrderCreated",
    "JudicialOrderRevoked",
    "RecordDecision",
    "RecordStored",
    "RecordsAnswer",
    "RecordsDenied",
]


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
