"""The trust store: which verification methods are trusted, for which issuer, and when.

Its entries are :class:`~verifier.TrustedKey` (:mod:`verifier._trusted_key`), read from a trust
file or taken from a verified trust bundle (:mod:`verifier._bundle`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ._bundle import TrustBundle
from ._errors import KeyFormatError, ReasonCode, UntrustedKeyError
from ._json import parse_json
from ._time import format_datetime
from ._trusted_key import TrustedKey

__all__ = ["TrustStore"]


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
            document = parse_json(Path(path).read_text(encoding="utf-8"))
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
