"""Record exchange: a small FHIR-shaped store of clinical-record data, behind the decision point.

- ``POST /records`` (scope ``records``): the caller's institution stores one FHIR resource of a
  person's record, tagged with its data class (``coverage``, ``ece.summary``, ``ece.full``) and
  its date.
- ``POST /records/requests`` (scope ``records``): the caller's institution asks a custodian
  institution for data classes of one person, for one purpose, for a recipient in a country. Each
  data class is one decision by :func:`verifier.authorize` over the custodian's grants, audited
  once. The answer is a FHIR ``Bundle`` holding only the permitted classes, and only resources
  dated inside the period the grant covers; when nothing is permitted the answer is 403
  (``ACCESS_DENIED``) with the decisions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import Field

from issuer.consent.service import AccessControl, record_entries
from issuer.credentials.dependencies import ServiceDep
from issuer.http.auth import require
from issuer.http.errors import problem_response, problems
from issuer.http.params import CLUES_PATTERN, CURP_PATTERN, NO_STORE, RequestBody
from issuer.principal import Principal
from issuer.storage.tables import ClinicalRecord
from verifier import AccessRequest

__all__ = ["router"]

router = APIRouter()
RecordsCaller = Annotated[Principal, Depends(require("records"))]
DataClass = Literal["coverage", "ece.summary", "ece.full"]
Institution = Literal["IMSS", "ISSSTE", "IMSS-BIENESTAR"]


class RecordEntry(RequestBody):
    """One FHIR resource of a person's record."""

    subject: str = Field(pattern=CURP_PATTERN, description="The person's CURP.")
    data_class: DataClass = Field(alias="dataClass")
    effective_date: date = Field(alias="effectiveDate")
    resource: dict[str, Any] = Field(description="A FHIR R4 resource (with resourceType).")


class RecordRequest(RequestBody):
    """What one institution asks of another's record of a person."""

    custodian: Institution
    subject: str = Field(pattern=CURP_PATTERN)
    data_classes: list[DataClass] = Field(alias="dataClasses", min_length=1, max_length=3)
    purpose: str = Field(min_length=1, max_length=16, description="HL7 PurposeOfUse code.")
    requester_unit: str | None = Field(default=None, alias="requesterUnit", pattern=CLUES_PATTERN)
    recipient_country: str = Field(alias="recipientCountry", pattern=r"^[A-Z]{2}$")
    data_from: date | None = Field(default=None, alias="dataFrom")
    data_until: date | None = Field(default=None, alias="dataUntil")


@router.post(
    "/records",
    tags=["records"],
    summary="Store one FHIR resource of a person's record (the caller's institution)",
    status_code=201,
    responses=problems(400, 401, 403, 413, 422),
)
def store_record(body: RecordEntry, principal: RecordsCaller, service: ServiceDep) -> Any:
    """Scope `records`."""
    resource_type = body.resource.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type.isalpha():
        return problem_response(422, "resource.resourceType is required", code="NOT_FHIR")
    with service.db.transaction() as session:
        row = ClinicalRecord(
            institution_code=principal.institution,
            subject_curp=body.subject,
            data_class=body.data_class,
            effective_date=body.effective_date,
            resource=body.resource,
        )
        session.add(row)
        session.flush()
        record_id = row.id
    return JSONResponse({"id": record_id}, status_code=201, headers=NO_STORE)


@router.post(
    "/records/requests",
    tags=["records"],
    summary="Ask another institution for a person's record data (consent-gated)",
    responses=problems(400, 401, 403, 413, 422),
)
def request_records(body: RecordRequest, principal: RecordsCaller, service: ServiceDep) -> Any:
    """Scope `records`. Answers only the data classes the decision point permits."""
    control = AccessControl(service)
    now = datetime.now(UTC)
    decisions: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    with service.db.transaction() as session:
        for data_class in dict.fromkeys(body.data_classes):
            request = AccessRequest(
                requester=principal.institution,
                requester_unit=body.requester_unit,
                subject=body.subject,
                data_class=data_class,
                purpose=body.purpose,
                recipient_country=body.recipient_country,
                data_from=body.data_from,
                data_until=body.data_until,
            )
            decision = control.decide(
                session, body.custodian, request, actor=principal.client_id, now=now
            )
            decisions.append({"dataClass": data_class, **decision.to_json()})
            if not decision.permit:
                continue
            entries.extend(
                {"resource": resource, "search": {"mode": "match"}}
                for resource in record_entries(
                    session, body.custodian, body.subject, data_class,
                    decision.data_from, decision.data_until,
                )
            )  # fmt: skip
    if not any(d["outcome"] == "permit" for d in decisions):
        codes = sorted({r["code"] for d in decisions for r in d["reasons"]})
        return problem_response(
            403, f"access denied: {', '.join(codes)}", code="ACCESS_DENIED",
            extra={"decisions": decisions}, headers=NO_STORE,
        )  # fmt: skip
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    return JSONResponse({"bundle": bundle, "decisions": decisions}, headers=NO_STORE)
