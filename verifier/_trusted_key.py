"""A trusted key: one Ed25519 verification method, the issuer that controls it, and when.

What both the trust store (:mod:`verifier._trust`: a trust file, or keys in memory) and a signed
trust bundle (:mod:`verifier._bundle`) hold. A module of its own so that the bundle need not
import the store, which is built from a bundle by ``TrustStore.from_bundle``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._errors import KeyFormatError
from ._multibase import decode_multikey
from ._time import format_datetime, parse_datetime

__all__ = ["KEY_STATES", "TrustedKey"]


#: The states a key may have in a trust bundle or trust file.
KEY_STATES = frozenset({"active", "retired", "compromised"})


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """One trusted Ed25519 verification method and the issuer that controls it.

    ``compromised_at`` is set for a key in state ``compromised``: proofs it created at or after
    that time are refused (``KEY_COMPROMISED``), and, under
    ``VerifierConfig.reject_all_from_compromised_keys``, all of them.
    """

    id: str
    controller: str
    public_key: bytes
    public_key_multibase: str
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    state: str = "active"
    compromised_at: datetime | None = None

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> TrustedKey:
        """Build from a trust-file entry (``id``, ``controller``, ``publicKeyMultibase``...)."""
        if not isinstance(entry, Mapping):
            raise KeyFormatError("a trust entry must be an object")
        vm_id, controller, multibase = (
            entry.get("id"),
            entry.get("controller"),
            entry.get("publicKeyMultibase"),
        )
        if not isinstance(vm_id, str) or not isinstance(controller, str) or not vm_id:
            raise KeyFormatError("a trust entry needs string 'id' and 'controller'")
        if not isinstance(multibase, str):
            raise KeyFormatError(f"trust entry {vm_id}: 'publicKeyMultibase' missing")
        raw = decode_multikey(multibase)
        if vm_id.startswith("did:key:"):
            embedded = vm_id.removeprefix("did:key:").split("#", 1)[0]
            if embedded != multibase:
                raise KeyFormatError(f"trust entry {vm_id}: did:key does not match its public key")
        bounds: dict[str, datetime | None] = {}
        for key in ("validFrom", "validUntil", "compromisedAt"):
            value = entry.get(key)
            try:
                bounds[key] = None if value is None else parse_datetime(value)
            except ValueError as exc:
                raise KeyFormatError(f"trust entry {vm_id}: {key}: {exc}") from exc
        state = entry.get("state", "active")
        if not isinstance(state, str) or state not in KEY_STATES:
            raise KeyFormatError(
                f"trust entry {vm_id}: state {state!r} is not one of {sorted(KEY_STATES)}"
            )
        if (state == "compromised") != (bounds["compromisedAt"] is not None):
            raise KeyFormatError(
                f"trust entry {vm_id}: 'compromisedAt' is given exactly for a compromised key"
            )
        if state == "retired" and bounds["validUntil"] is None:
            raise KeyFormatError(f"trust entry {vm_id}: a retired key needs 'validUntil'")
        return cls(
            vm_id,
            controller,
            raw,
            multibase,
            bounds["validFrom"],
            bounds["validUntil"],
            state,
            bounds["compromisedAt"],
        )

    def to_json(self) -> dict[str, Any]:
        """The trust-file entry for this key."""
        entry: dict[str, Any] = {
            "id": self.id,
            "controller": self.controller,
            "publicKeyMultibase": self.public_key_multibase,
        }
        for key, value in (("validFrom", self.valid_from), ("validUntil", self.valid_until)):
            if value is not None:
                entry[key] = format_datetime(value)
        if self.state != "active":
            entry["state"] = self.state
        if self.compromised_at is not None:
            entry["compromisedAt"] = format_datetime(self.compromised_at)
        return entry

    def is_valid_at(self, moment: datetime) -> bool:
        """Whether ``moment`` lies within the key's validity window (bounds inclusive)."""
        if self.valid_from is not None and moment < self.valid_from:
            return False
        return self.valid_until is None or moment <= self.valid_until
