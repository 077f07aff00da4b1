"""The trust store: which verification methods are trusted, for which issuer, and when."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import KeyFormatError, ReasonCode, UntrustedKeyError
from ._multibase import decode_multikey
from ._time import format_datetime, parse_datetime

if TYPE_CHECKING:
    from ._bundle import TrustBundle

__all__ = ["TrustStore", "TrustedKey"]


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


class TrustStore:
    """Verification-method id → :class:`TrustedKey`; built from a file, a bundle, or in memory.

    A store built from a trust bundle also carries the bundle's ``expires`` and the latest
    trusted time (``trusted_since``): a verification after ``expires`` is INDETERMINATE
    (``TRUST_BUNDLE_EXPIRED``), one with a reference time before ``trusted_since`` is
    INDETERMINATE (``CLOCK_BEHIND``).
    """

    def __init__(
        self,
        keys: Iterable[TrustedKey] = (),
        *,
        expires: datetime | None = None,
        trusted_since: datetime | None = None,
    ) -> None:
        self.expires = expires
        self.trusted_since = trusted_since
        self._keys: dict[str, TrustedKey] = {}
        for key in keys:
            if key.id in self._keys:
                raise KeyFormatError(f"verification method {key.id} listed twice")
            self._keys[key.id] = key

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> TrustStore:
        """Build from ``{"keys": [...]}``."""
        keys = document.get("keys") if isinstance(document, Mapping) else None
        if not isinstance(keys, list):
            raise KeyFormatError("a trust file is an object with a 'keys' list")
        return cls(TrustedKey.from_json(entry) for entry in keys)

    @classmethod
    def from_bundle(
        cls, bundle: TrustBundle, *, latest_trusted_time: datetime | None = None
    ) -> TrustStore:
        """The keys of a verified :class:`TrustBundle`, with its expiry and trusted time.

        ``latest_trusted_time`` (from :class:`TrustState`) raises ``trusted_since`` above the
        bundle's own ``issued`` time when a later time has been trusted already.
        """
        since = bundle.issued
        if latest_trusted_time is not None and latest_trusted_time > since:
            since = latest_trusted_time
        return cls(bundle.keys(), expires=bundle.expires, trusted_since=since)

    @classmethod
    def from_file(cls, path: str | Path) -> TrustStore:
        """Load a trust file (JSON)."""
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KeyFormatError(f"cannot read trust file {path}: {exc}") from exc
        return cls.from_json(document)

    def to_json(self) -> dict[str, Any]:
        """The trust-file form of this store."""
        return {"keys": [key.to_json() for key in self._keys.values()]}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, verification_method: object) -> bool:
        return verification_method in self._keys

    def resolve(self, verification_method: str, *, issuer: str, at: datetime) -> TrustedKey:
        """The trusted key for ``verification_method``, if ``issuer`` controls it at ``at``."""
        key = self._keys.get(verification_method)
        if key is None:
            raise UntrustedKeyError(
                f"verification method {verification_method} is not in the trust store",
                code=ReasonCode.KEY_UNKNOWN,
            )
        if key.controller != issuer:
            raise UntrustedKeyError(
                f"key {verification_method} belongs to {key.controller}, not to issuer {issuer}",
                code=ReasonCode.KEY_ISSUER_MISMATCH,
            )
        if key.compromised_at is not None and at >= key.compromised_at:
            raise UntrustedKeyError(
                f"key {verification_method} was compromised at "
                f"{format_datetime(key.compromised_at)}; the proof was created at "
                f"{format_datetime(at)}",
                code=ReasonCode.KEY_COMPROMISED,
            )
        if not key.is_valid_at(at):
            raise UntrustedKeyError(
                f"key {verification_method} was not valid at {at.isoformat()}",
                code=ReasonCode.KEY_NOT_VALID_AT_CREATION,
            )
        return key
