"""Helpers to build and sign trust bundles in tests (ADR 0004)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from issuer.credentials.signing import new_status_list_credential, sign_document
from issuer.institutions import INSTITUTIONS
from issuer.keys.files import Ed25519KeyPair
from tests.conftest import NOW, SIGNED_AT
from verifier import bundle_signing_bytes, encode_bundle_signature, format_datetime
from verifier._status import status_list_file_bytes

ISSUED = NOW - timedelta(days=1)
EXPIRES = NOW + timedelta(days=30)
IMSS = INSTITUTIONS["IMSS"]
#: The IMSS key that signs status lists in these tests (always active).
STATUS_VM = IMSS.verification_method("status-key")


def anchor_json(pairs: dict[str, Ed25519KeyPair], threshold: int) -> dict[str, Any]:
    """An ``anchor`` object for ``pairs`` (key id → key pair)."""
    return {
        "threshold": threshold,
        "keys": [{"id": i, "publicKeyMultibase": p.public_key_multibase} for i, p in pairs.items()],
    }


def key_entry(
    vm: str,
    pair: Ed25519KeyPair,
    *,
    valid_from: str = "2025-01-01T00:00:00Z",
    valid_until: str | None = None,
    state: str = "active",
    compromised_at: str | None = None,
) -> dict[str, Any]:
    """One key of an institution, as the bundle lists it."""
    entry: dict[str, Any] = {
        "id": vm,
        "publicKeyMultibase": pair.public_key_multibase,
        "validFrom": valid_from,
        "state": state,
    }
    if valid_until is not None:
        entry["validUntil"] = valid_until
    if compromised_at is not None:
        entry["compromisedAt"] = compromised_at
    return entry


def status_file(
    pair: Ed25519KeyPair,
    purpose: str,
    *,
    set_indices: frozenset[int] = frozenset(),
    valid_from: datetime = NOW - timedelta(hours=1),
    vm: str = STATUS_VM,
) -> bytes:
    """The bytes of a signed IMSS status list file (list number 1)."""
    unsigned = new_status_list_credential(
        IMSS,
        IMSS.status_list_url(purpose, 1),
        purpose=purpose,
        set_indices=set_indices,
        valid_from=valid_from,
    )
    signed = sign_document(unsigned, pair, vm, created=SIGNED_AT)
    return status_list_file_bytes(signed)


def list_entry(data: bytes, *, path: str | None = None) -> dict[str, Any]:
    """The bundle's ``statusLists`` entry for a status list file."""
    credential = json.loads(data)
    entry = {
        "url": credential["id"],
        "purpose": credential["credentialSubject"]["statusPurpose"],
        "validFrom": credential["validFrom"],
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    if path is not None:
        entry["path"] = path
    return entry


@dataclass
class BundleSpec:
    """The ``signed`` part of a bundle, built field by field."""

    anchor: dict[str, Any]
    version: int = 1
    issued: datetime = ISSUED
    expires: datetime = EXPIRES
    keys: list[dict[str, Any]] = field(default_factory=list)
    lists: list[dict[str, Any]] = field(default_factory=list)

    def signed(self) -> dict[str, Any]:
        return {
            "type": "CredencialTrustBundle",
            "specVersion": 1,
            "version": self.version,
            "issued": format_datetime(self.issued),
            "expires": format_datetime(self.expires),
            "anchor": self.anchor,
            "institutions": [
                {
                    "code": IMSS.code,
                    "name": IMSS.name,
                    "did": IMSS.did,
                    "keys": self.keys,
                    "statusLists": self.lists,
                }
            ],
        }


def sign_bundle(
    signed: dict[str, Any], signers: Iterable[tuple[str, Ed25519KeyPair]]
) -> dict[str, Any]:
    """A bundle document with one signature per ``(keyid, key pair)``."""
    message = bundle_signing_bytes(signed)
    return {
        "signed": signed,
        "signatures": [encode_bundle_signature(i, p.sign(message)) for i, p in signers],
    }
