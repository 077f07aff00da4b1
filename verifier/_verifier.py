"""The verifier: one reference time, every check in order, and an honest verdict."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from ._card import card_text_bytes, decode_card_bytes, is_card_text
from ._cardfast import IssuerCard, read_issuer_card
from ._contexts import ContextLoader
from ._datamodel import check_credential, issuer_id, validity_period
from ._errors import (
    CredencialError,
    CredentialRevokedError,
    CredentialSuspendedError,
    DataModelError,
    IndeterminateError,
    InputError,
    InvalidCredentialError,
    ProofError,
    ReasonCode,
    SchemaError,
    UntrustedKeyError,
    ValidityPeriodError,
)
from ._json import parse_json
from ._messages import Language, reason_summary
from ._modelcheck import conforms_to_model
from ._policy import Policy
from ._proof import split_proof, verify_signature
from ._status import StatusListSource, decode_status_bits, status_bit
from ._time import format_datetime, parse_datetime
from ._trust import TrustStore

__all__ = ["Reason", "Verdict", "VerificationResult", "Verifier", "VerifierConfig"]

_HEALTH_COVERAGE_TYPE = "HealthCoverageCredential"
_STATUS_LIST_TYPE = "BitstringStatusListCredential"


class Verdict(StrEnum):
    """The one-word answer a front desk acts on."""

    VALID = "VALID"
    INVALID = "INVALID"
    INDETERMINATE = "INDETERMINATE"


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a credential is not VALID: a stable code and a technical detail."""

    code: ReasonCode
    detail: str

    @property
    def unreadable(self) -> bool:
        """The input could not be read (see :attr:`ReasonCode.unreadable`)."""
        return self.code.unreadable

    def summary(self, lang: Language = "es") -> str:
        """A plain sentence for the person at the desk."""
        return reason_summary(self.code, lang)

    def to_json(self, lang: Language = "es") -> dict[str, str]:
        """``{"code", "message", "detail", "type"}`` (``type``: the W3C problem-detail URL)."""
        return {
            "code": self.code.value,
            "message": self.summary(lang),
            "detail": self.detail,
            "type": self.code.problem_type,
        }


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """The outcome of :meth:`Verifier.check`."""

    verdict: Verdict
    reasons: tuple[Reason, ...]
    credential: dict[str, Any] | None
    checked_at: datetime

    @property
    def is_valid(self) -> bool:
        """True only for the VALID verdict."""
        return self.verdict is Verdict.VALID

    @property
    def unreadable(self) -> bool:
        """Nothing could be read: no credential, every reason of the unreadable class.

        Not a judgement of any credential (its verdict is never VALID): a front end shows "scan
        again", never INVALID. A readable credential that fails a check is not unreadable.
        """
        return (
            self.credential is None
            and bool(self.reasons)
            and all(reason.unreadable for reason in self.reasons)
        )

    def to_json(self, lang: Language = "es") -> dict[str, Any]:
        """``{"verdict", "reasons": [{"code", "message", ...}], "credential", "checkedAt"}``."""
        return {
            "verdict": self.verdict.value,
            "reasons": [reason.to_json(lang) for reason in self.reasons],
            "credential": self.credential,
            "checkedAt": self.checked_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


@dataclass(frozen=True, slots=True)
class VerifierConfig:
    """Limits and tolerances of a verifier, in one place."""

    #: Largest input accepted (bytes of JSON); larger input is refused before parsing.
    max_input_bytes: int = 64 * 1024
    #: A status list older than this (since its ``validFrom``) is stale: INDETERMINATE.
    max_status_age: timedelta = timedelta(days=7)
    #: Tolerated clock difference for "not yet valid" checks.
    clock_skew: timedelta = timedelta(minutes=5)
    #: The proof purpose a credential's proof must state.
    expected_proof_purpose: str = "assertionMethod"
    #: Extra JSON-LD contexts allowed besides the bundled ones (URL → context document).
    extra_contexts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Refuse every proof by a key marked compromised, not only those created after the
    #: compromise (a thief can backdate ``created``).
    reject_all_from_compromised_keys: bool = False


@dataclass(frozen=True, slots=True)
class _StatusSnapshot:
    source: Mapping[str, Any]
    bits: bytes
    purposes: frozenset[str]
    issuer: str
    valid_from: datetime | None
    valid_until: datetime | None
    #: The list's ``ttl``: how long after ``validFrom`` it may be relied on (None: not given).
    ttl: timedelta | None = None


class Verifier:
    """Verifies credentials offline against a :class:`TrustStore` and held status lists.

    ``verify()`` returns the credential or raises a :class:`CredencialError`; ``check()`` returns
    a :class:`VerificationResult`. Neither opens a socket or fetches a context.
    """

    def __init__(
        self,
        trust: TrustStore,
        config: VerifierConfig | None = None,
        status_lists: StatusListSource | None = None,
    ) -> None:
        self.trust = trust
        self.config = config or VerifierConfig()
        self.status_lists = status_lists
        self.loader = ContextLoader(self.config.extra_contexts)
        self._status_cache: dict[str, _StatusSnapshot] = {}

    # -- public API ---------------------------------------------------------------------------

    def check(
        self,
        data: str | bytes | Mapping[str, Any],
        *,
        policy: Policy | None = None,
        now: datetime | None = None,
    ) -> VerificationResult:
        """Verify ``data`` (JSON text or a parsed credential); return the verdict and reasons."""
        moment = _reference_time(now)
        credential, problems = self._evaluate(data, policy, moment)
        if any(not isinstance(p, IndeterminateError) for p in problems):
            verdict = Verdict.INVALID
        elif problems:
            verdict = Verdict.INDETERMINATE
        else:
            verdict = Verdict.VALID
        reasons = tuple(Reason(p.code, p.message) for p in problems)
        return VerificationResult(verdict, reasons, credential, moment)

    def verify(
        self,
        data: str | bytes | Mapping[str, Any],
        *,
        policy: Policy | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Return the verified credential, or raise the most serious problem found."""
        credential, problems = self._evaluate(data, policy, _reference_time(now))
        if problems:
            invalid = [p for p in problems if not isinstance(p, IndeterminateError)]
            raise (invalid or problems)[0]
        assert credential is not None
        return credential

    # -- pipeline -----------------------------------------------------------------------------

    def _evaluate(
        self, data: str | bytes | Mapping[str, Any], policy: Policy | None, now: datetime
    ) -> tuple[dict[str, Any] | None, list[CredencialError]]:
        try:
            credential, card = self._parse(data)
        except CredencialError as exc:
            return None, [exc]
        problems: list[CredencialError] = []

        def attempt(check: Callable[..., None], *args: Any) -> None:
            try:
                check(*args)
            except CredencialError as exc:
                problems.append(exc)

        attempt(self._check_trust_freshness, now)
        try:
            self._authenticate(credential, now, card)
        except CredencialError as exc:
            return credential, [*problems, exc]
        attempt(self._check_validity_period, credential, now)
        entries = credential.get("credentialStatus", [])
        issuer = issuer_id(credential)
        for entry in entries if isinstance(entries, list) else [entries]:
            attempt(self._check_status_entry, entry, issuer, now)
        if policy is not None:
            attempt(policy.check, credential)
        return credential, problems

    def _parse(
        self, data: str | bytes | Mapping[str, Any]
    ) -> tuple[dict[str, Any], IssuerCard | None]:
        """A credential from a mapping, JSON text, or card text (``SUS1:...``), and for a card
        in the issuer's layout what :func:`read_issuer_card` already computed."""
        if isinstance(data, Mapping):
            return dict(data), None
        size = len(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
        if size > self.config.max_input_bytes:
            raise InputError(
                f"input of {size} bytes exceeds the {self.config.max_input_bytes} limit"
            )
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"input is not UTF-8: {exc}") from None
        if is_card_text(data):
            card_bytes = card_text_bytes(data)
            card = read_issuer_card(card_bytes)
            if card is not None:
                return card.credential, card
            return decode_card_bytes(card_bytes), None
        parsed = parse_json(data)  # I-JSON only: no repeated key, lone surrogate, 1e400...
        if not isinstance(parsed, dict):
            raise InputError("a credential is a JSON object")
        return parsed, None

    def _authenticate(
        self, credential: Mapping[str, Any], now: datetime, card: IssuerCard | None = None
    ) -> None:
        """Data model, contexts, schema, proof, key: everything that makes it authentic.

        ``card``: what the card reader computed for ``credential`` (the same as the checks and
        the split below would give; the model checks are skipped only when it vouches).
        """
        if card is None or not card.vouched:
            check_credential(credential)
        contexts = credential["@context"]
        for url in contexts if isinstance(contexts, list) else [contexts]:
            self.loader.check_allowed(url)
        if (card is None or not card.vouched) and _HEALTH_COVERAGE_TYPE in _types(credential):
            # The proof is judged by the proof checks below, with their own codes.
            _check_schema({k: v for k, v in credential.items() if k != "proof"})
        parts = split_proof(credential) if card is None else card.parts
        options = parts.proof_options
        if options["proofPurpose"] != self.config.expected_proof_purpose:
            raise ProofError(
                f"proofPurpose is {options['proofPurpose']!r}, "
                f"expected {self.config.expected_proof_purpose!r}",
                code=ReasonCode.PROOF_PURPOSE_MISMATCH,
            )
        try:
            created = parse_datetime(options["created"]) if "created" in options else now
            expires = parse_datetime(options["expires"]) if "expires" in options else None
        except ValueError as exc:
            raise ProofError(f"proof date: {exc}", code=ReasonCode.PROOF_MALFORMED) from exc
        if expires is not None and now > expires:
            raise ProofError("the proof has expired", code=ReasonCode.PROOF_EXPIRED)
        try:
            key = self.trust.resolve(
                options["verificationMethod"], issuer=issuer_id(credential), at=created
            )
        except UntrustedKeyError as exc:
            if len(self.trust):
                raise
            # No trust material at all: this verifier cannot judge any issuer's key.
            raise IndeterminateError(
                f"this verifier holds no trusted keys (no trust file or bundle): {exc.message}",
                code=ReasonCode.KEY_UNKNOWN,
            ) from None
        if key.compromised_at is not None and self.config.reject_all_from_compromised_keys:
            raise UntrustedKeyError(
                f"key {key.id} was compromised at {format_datetime(key.compromised_at)}; this "
                "verifier refuses every proof by a compromised key",
                code=ReasonCode.KEY_COMPROMISED,
            )
        verify_signature(
            parts,
            key.public_key,
            self.loader,
            canonical=None if card is None else card.canonical,
        )

    def _check_trust_freshness(self, now: datetime) -> None:
        """A clock behind the latest trusted time, or an expired trust bundle: INDETERMINATE."""
        since, expires = self.trust.trusted_since, self.trust.expires
        if since is not None and now + self.config.clock_skew < since:
            raise IndeterminateError(
                f"the reference time {format_datetime(now)} is before the latest trusted time "
                f"{format_datetime(since)}: the clock is behind",
                code=ReasonCode.CLOCK_BEHIND,
            )
        if expires is not None and now > expires:
            raise IndeterminateError(
                f"the trust bundle expired at {format_datetime(expires)}",
                code=ReasonCode.TRUST_BUNDLE_EXPIRED,
            )

    def _check_validity_period(self, credential: Mapping[str, Any], now: datetime) -> None:
        valid_from, valid_until = validity_period(credential)
        if valid_from is not None and now + self.config.clock_skew < valid_from:
            # A genuine credential not yet in force, or this verifier's clock behind: which,
            # the verifier cannot know, so it is not INVALID (ADR 0003).
            raise IndeterminateError(
                f"valid from {credential['validFrom']}; the reference time is "
                f"{format_datetime(now)}",
                code=ReasonCode.CREDENTIAL_NOT_YET_VALID,
            )
        if valid_until is not None and now > valid_until:
            raise ValidityPeriodError(
                f"expired at {credential['validUntil']}", code=ReasonCode.CREDENTIAL_EXPIRED
            )

    def _check_status_entry(self, entry: Mapping[str, Any], issuer: str, now: datetime) -> None:
        """A status entry: revoked or suspended is INVALID, unknown INDETERMINATE."""
        if entry.get("type") != "BitstringStatusListEntry":
            raise IndeterminateError(f"status mechanism {entry.get('type')!r} is not supported")
        purpose, url, index = (
            entry.get("statusPurpose"),
            entry.get("statusListCredential"),
            entry.get("statusListIndex"),
        )
        if not (
            isinstance(purpose, str)
            and isinstance(url, str)
            and isinstance(index, str)
            and index.isdecimal()
            and index.isascii()
        ):
            raise DataModelError(
                "a BitstringStatusListEntry needs statusPurpose, statusListCredential and a "
                "decimal statusListIndex string",
                code=ReasonCode.ENTRY_TYPE_MISSING,
            )
        snapshot = self._status_snapshot(url, issuer, now)
        if purpose not in snapshot.purposes:
            raise IndeterminateError(
                f"status list {url} is not for purpose {purpose!r}",
                code=ReasonCode.STATUS_LIST_INVALID,
            )
        if status_bit(snapshot.bits, int(index)):
            if purpose == "revocation":
                raise CredentialRevokedError(f"revoked in {url} at index {index}")
            if purpose == "suspension":
                raise CredentialSuspendedError(f"suspended in {url} at index {index}")

    def _status_snapshot(self, url: str, issuer: str, now: datetime) -> _StatusSnapshot:
        held = self.status_lists.get(url) if self.status_lists is not None else None
        if held is None:
            raise IndeterminateError(f"status list {url} is not held by this verifier")
        snapshot = self._status_cache.get(url)
        if snapshot is None or not (snapshot.source is held or snapshot.source == held):
            snapshot = self._load_status_list(url, held, now)
            self._status_cache[url] = snapshot
        if snapshot.issuer != issuer:
            raise IndeterminateError(
                f"status list {url} is issued by {snapshot.issuer}, not {issuer}",
                code=ReasonCode.STATUS_LIST_INVALID,
            )
        if snapshot.valid_from is not None and now + self.config.clock_skew < snapshot.valid_from:
            raise IndeterminateError(
                f"status list {url} is not valid yet", code=ReasonCode.STATUS_LIST_INVALID
            )
        if snapshot.valid_until is not None and now > snapshot.valid_until:
            raise IndeterminateError(f"status list {url} expired", code=ReasonCode.STATUS_STALE)
        if (
            snapshot.ttl is not None
            and snapshot.valid_from is not None
            and now > snapshot.valid_from + snapshot.ttl
        ):
            raise IndeterminateError(
                f"status list {url} is past its ttl ({snapshot.ttl} after validFrom)",
                code=ReasonCode.STATUS_STALE,
            )
        if (
            snapshot.valid_from is not None
            and now - snapshot.valid_from > self.config.max_status_age
        ):
            raise IndeterminateError(
                f"status list {url} is older than {self.config.max_status_age}",
                code=ReasonCode.STATUS_STALE,
            )
        return snapshot

    def _load_status_list(
        self, url: str, held: Mapping[str, Any], now: datetime
    ) -> _StatusSnapshot:
        """Authenticate a held status list credential and decode its bits."""
        invalid = ReasonCode.STATUS_LIST_INVALID
        try:
            self._authenticate(held, now)
        except InvalidCredentialError as exc:
            raise IndeterminateError(f"status list {url}: {exc.message}", code=invalid) from exc
        subject = held.get("credentialSubject")
        if (
            held.get("id") != url
            or _STATUS_LIST_TYPE not in _types(held)
            or not isinstance(subject, Mapping)
            or subject.get("type") != "BitstringStatusList"
            or subject.get("statusSize", 1) != 1
        ):
            raise IndeterminateError(
                f"{url} is not a BitstringStatusListCredential for single-bit entries", code=invalid
            )
        purposes = subject.get("statusPurpose")
        # Only strings count (a {"@value": ...} spelling is refused: never a crash, never a guess).
        listed = purposes if isinstance(purposes, list) else [purposes]
        purpose_set = frozenset(p for p in listed if isinstance(p, str))
        valid_from, valid_until = validity_period(held)
        ttl = subject.get("ttl")
        if ttl is not None and (type(ttl) is not int or ttl <= 0):
            raise IndeterminateError(f"{url}: ttl must be a positive number of ms", code=invalid)
        return _StatusSnapshot(
            source=held,
            bits=decode_status_bits(subject.get("encodedList")),
            purposes=purpose_set,
            issuer=issuer_id(held),
            valid_from=valid_from,
            valid_until=valid_until,
            ttl=None if ttl is None else timedelta(milliseconds=ttl),
        )


def _check_schema(unsecured: dict[str, Any]) -> None:
    """The typed model's checks; pydantic runs (and is imported) only when the quick check
    cannot vouch for the credential, and its answer is the one that counts."""
    if conforms_to_model(unsecured):
        return
    from pydantic import ValidationError

    from ._model import parse_health_coverage_credential

    try:
        parse_health_coverage_credential(unsecured)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "credential"
        raise SchemaError(f"{where}: {first['msg']}") from None


def _types(credential: Mapping[str, Any]) -> list[Any]:
    types = credential.get("type")
    return types if isinstance(types, list) else [types]


def _reference_time(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("the reference time must be timezone-aware")
    return now.astimezone(UTC)
