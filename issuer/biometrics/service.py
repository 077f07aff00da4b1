"""Biometric templates captured at enrolment: stored, and never handed out again.

Purpose limitation: a template serves only the enrolment desk's own identity check. It is written
by ``POST /enrolments/biometrics`` (scope ``issue``) and by :func:`store_template`; nothing in the
service reads it back: no endpoint, credential, audit detail, log line or export contains it (a
test run scans every API response and log record for it, see ``tests/conftest.py``). The
response and the audit entry say only which modality was stored, for which CURP.
"""

from __future__ import annotations

from datetime import UTC, datetime

from issuer.credentials.service import IssuerService
from issuer.principal import Principal
from issuer.storage.audit import append_audit
from issuer.storage.tables import BiometricTemplate

__all__ = ["BIOMETRIC_FIELDS", "MAX_TEMPLATE_BYTES", "store_template"]

#: Request fields that carry biometric data: they appear in no response, log or export.
BIOMETRIC_FIELDS = ("biometricTemplate",)
#: Largest template accepted (ISO/IEC 19794 minutiae and face templates are a few kB).
MAX_TEMPLATE_BYTES = 64 * 1024


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
