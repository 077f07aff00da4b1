"""The route that stores a biometric template (the rules: :mod:`issuer.biometrics.service`)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from issuer.biometrics.service import MAX_TEMPLATE_BYTES, store_template
from issuer.credentials.dependencies import ServiceDep
from issuer.http.auth import require
from issuer.http.errors import ApiError, problems
from issuer.http.params import CURP_PATTERN, NO_STORE
from issuer.principal import Principal

__all__ = ["router"]

router = APIRouter()
EnrolCaller = Annotated[Principal, Depends(require("issue"))]
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
