"""``IssuerService.sign_checked``: the one public way to sign receipts, receipt status lists and
unit feeds (and the wallet credential), verified before they leave."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from issuer.consent.service import AccessControl
from issuer.credentials.service import IssuerService
from issuer.errors import IssuanceCheckError
from issuer.units.models import MedicalUnit
from issuer.units.service import publish_feed
from verifier import decode_multikey, split_proof
from verifier._proof import verify_signature

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


class _WrongSigner:
    """A signer (a faulty HSM, a swapped key file) whose signatures do not match its key."""

    def sign(self, data: bytes) -> bytes:
        return bytes(64)


def _unit() -> MedicalUnit:
    return MedicalUnit.model_validate({
        "clues": "DFIMS000014", "name": "UMF 14", "location": {"lat": 19.43, "lon": -99.13},
        "services": ["urgencias"], "available": 2, "updatedAt": "2026-05-01T11:00:00Z",
    })  # fmt: skip


def test_a_unit_feed_is_signed_by_the_active_key(service: IssuerService) -> None:
    feed = publish_feed(service, "IMSS", [_unit()], now=NOW)
    key = service.active_key("IMSS")
    assert feed["proof"]["verificationMethod"] == key.verification_method
    assert feed["proof"]["created"] == "2026-05-01T12:00:00Z"
    verify_signature(split_proof(feed), decode_multikey(key.public_key_multibase), service._loader)


def test_a_wrong_signature_never_leaves(
    service: IssuerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = service.active_key("IMSS")
    broken = dataclasses.replace(real, signer=_WrongSigner())
    monkeypatch.setattr(service, "active_key", lambda institution: broken)
    with pytest.raises(IssuanceCheckError, match="does not verify"):
        publish_feed(service, "IMSS", [_unit()], now=NOW)
    with pytest.raises(IssuanceCheckError):
        AccessControl(service).receipt_status_list("IMSS", 1)
