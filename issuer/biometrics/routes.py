"""Biometric templates captured at enrolment: stored, and never handed out again.

Purpose limitation: a template serves only the enrolment desk's own identity check. It is written
by ``POST /enrolments/biometrics`` (scope ``issue``) and by :func:`store_template`; nothing in the
service reads it back: no endpoint, credential, audit detail, log line or export contains it (a
test run scans every API response and log record for it, see ``tests/conftest.py``). The
response and the audit entry say only which modality was stored, for which CURP.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from issuer.credentials.dependencies import ServiceDep
from issuer.credentials.service import IssuerService
from issuer.http.auth import require
from issuer.http.errors import ApiError, problems
from issuer.http.params import CURP_PATTERN, NO_STORE
from issuer.principal import Principal
from issuer.storage.audit import append_audit
from issuer.storage.tables import BiometricTemplate

__all__ = ["BIOMETRIC_FIELDS", "MAX_TEMPLATE_BYTES", "router", "store_template"]

router = APIRouter()
EnrolCaller = Annotated[Principal, Depends(require("issue"))]
#: Request fields that carry biometric data: they appear in no response, log or export.
BIOMETRIC_FIELDS = ("biometricTemplate",)
#: Largest template accepted (ISO/IEC 19794 minutiae and face templates are a few kB).
MAX_TEMPLATE_BYTES = 64 * 1024
Modality = Literal["fingerprint", "face", "iris"]


class BiometricEnrolment(BaseModel):
    """One biometric template of a person being enrolled."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, hide_input_in_errors=True)

    curp: str = Field(pattern=CURP_PATTERN)
    modality: Modality
    biometric_template: str = Field(
        alias="biometricTemplate",
        min_length=4,
        max_length=MAX_TEMPLATE_BYTES * 4 // 3 + 4,
        description="The template, base64. Stored; never returned.",
        json_schema_extra={"writeOnly": True},
    )


def store_template(
    service: IssuerService, principal: Principal, curp: str, modality: str, template: bytes
) -> None:
    """Store (or replace) ``curp``'s ``modality`` template at the caller's institution."""
    now = datetime.now(UTC)
    with service.db.transaction() as session:
        row = (
            session.query(BiometricTemplate)
            .filter_by(institution_code=principal.institution, subject_curp=curp, modality=modality)
            .one_or_none()
        )
        if row is None:
            session.add(
                BiometricTemplate(
                    institution_code=principal.institution, subject_curp=curp,
                    modality=modality, template=template, created_at=now,
                )
            )  # fmt: skip
        else:
            row.template, row.created_at = template, now
        append_audit(
            session, institution=principal.institution, actor=principal.client_id,
            action="biometric.store", subject=curp, details={"modality": modality},
        )  # fmt: skip


@router.post(
    "/enrolments/biometrics",
    tags=["issuing"],
    summary="Store a biometric template captured at enrolment (never returned)",
    status_code=201,
    responses=problems(400, 401, 403, 413, 422),
)
def enrol_biometric(body: BiometricEnrolment, principal: EnrolCaller, service: ServiceDep) -> Any:
    """Scope `issue`. The answer confirms the modality only; the template never leaves."""
    try:
        template = base64.b64decode(body.biometric_template, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, "biometricTemplate is not base64", code="NOT_BASE64") from None
    if len(template) > MAX_TEMPLATE_BYTES:
        raise ApiError(413, "the template is too large", code="BODY_TOO_LARGE")
    store_template(service, principal, body.curp, body.modality, template)
    return JSONResponse(
        {"curp": body.curp, "modality": body.modality, "stored": True},
        status_code=201,
        headers=NO_STORE,
    )
