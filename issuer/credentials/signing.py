"""Signing documents: the verifier builds the bytes, the key only adds the signature."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import schemas
from issuer.institutions import Institution
from issuer.keys.files import Ed25519KeyPair
from issuer.settings import STATUS_LIST_SIZE, STATUS_LIST_TTL
from verifier import (
    CREDENTIALS_V2_URL,
    ContextLoader,
    ProofError,
    ReasonCode,
    Signer,
    create_proof,
    encode_status_bits,
    format_datetime,
    parse_health_coverage_credential,
    split_proof,
)
from verifier._modelcheck import conforms_to_model
from verifier._proof import verify_signature

__all__ = [
    "STATUS_LIST_SIZE",
    "STATUS_PURPOSES",
    "new_coverage_credential",
    "new_status_list_credential",
    "random_status_index",
    "sign_document",
]

#: The purposes every coverage credential carries a status entry for.
STATUS_PURPOSES = ("revocation", "suspension")


def sign_document(
    document: Mapping[str, Any],
    key: Ed25519KeyPair,
    verification_method: str,
    *,
    loader: ContextLoader | None = None,
    created: str | None = None,
) -> dict[str, Any]:
    """Secure ``document`` with an eddsa-rdfc-2022 proof and check the signature before returning.

    ``created`` defaults to now (whole seconds, UTC).
    """
    loader = loader or ContextLoader()
    signer: Signer = key
    signed = create_proof(
        document,
        signer=signer,
        verification_method=verification_method,
        loader=loader,
        created=created or format_datetime(datetime.now(UTC)),
    )
    try:
        verify_signature(split_proof(signed), key.public_key, loader)
    except ProofError as exc:  # a signer that returns a wrong signature must not go unnoticed
        raise ProofError(
            f"self-check of the new proof failed: {exc.message}", code=ReasonCode.SIGNATURE_INVALID
        ) from exc
    return signed


def random_status_index(size: int = STATUS_LIST_SIZE) -> int:
    """A random status-list index (random allocation hides issuance order)."""
    return secrets.randbelow(size)


def new_coverage_credential(
    institution: Institution,
    subject: Mapping[str, Any],
    *,
    status_list: int,
    status_index: int,
    valid_from: datetime,
    valid_until: datetime,
    credential_id: str | None = None,
) -> dict[str, Any]:
    """An unsigned HealthCoverageCredential, checked against the model before it is returned.

    The credential holds the same ``status_index`` in its institution's revocation list and
    suspension list number ``status_list`` (one list per purpose, so bits never mean two things).
    """
    credential: dict[str, Any] = {
        "@context": [CREDENTIALS_V2_URL, schemas.CREDENCIAL_CONTEXT_URL],
        "id": credential_id or f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", "HealthCoverageCredential"],
        "issuer": institution.did,
        "validFrom": format_datetime(valid_from),
        "validUntil": format_datetime(valid_until),
        "credentialSubject": dict(subject),
        "credentialStatus": [
            {
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose,
                "statusListIndex": str(status_index),
                "statusListCredential": institution.status_list_url(purpose, status_list),
            }
            for purpose in STATUS_PURPOSES
        ],
        "credentialSchema": {"id": schemas.HEALTH_COVERAGE_SCHEMA_URL, "type": "JsonSchema"},
    }
    if not conforms_to_model(credential):  # True only when the model surely accepts it
        parse_health_coverage_credential(credential)  # the model's verdict and message
    return credential


def new_status_list_credential(
    institution: Institution,
    url: str,
    *,
    purpose: str,
    set_indices: frozenset[int] = frozenset(),
    valid_from: datetime,
    ttl: timedelta = STATUS_LIST_TTL,
    size: int = STATUS_LIST_SIZE,
) -> dict[str, Any]:
    """An unsigned BitstringStatusListCredential for ``purpose``, bits at ``set_indices`` set."""
    bits = bytearray(size // 8)
    for index in set_indices:
        bits[index >> 3] |= 0x80 >> (index & 7)
    return {
        "@context": [CREDENTIALS_V2_URL],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": institution.did,
        "validFrom": format_datetime(valid_from),
        "validUntil": format_datetime(valid_from + ttl),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": encode_status_bits(bytes(bits)),
            "ttl": int(ttl.total_seconds() * 1000),
        },
    }
