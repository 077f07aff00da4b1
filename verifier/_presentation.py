"""Holder presentations: a wallet proves it holds its credentials, for this verifier, now.

A presentation is a W3C VC 2.0 ``VerifiablePresentation`` signed by the holder's ``did:key`` with
a Data Integrity ``eddsa-rdfc-2022`` proof (or ``eddsa-jcs-2022`` from the browser wallet, ADR
0011) of purpose ``authentication`` that carries the verifier's ``challenge`` (single use,
short-lived) and ``domain``. :class:`PresentationVerifier` checks the holder's proof, the
domain, the challenge, every embedded credential (with the :class:`~verifier.Verifier`)
and that the holder is the subject of each one.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ._contexts import CREDENTIALS_V2_URL, ContextLoader
from ._didkey import did_key_verification_method, public_key_from_did_key
from ._errors import (
    CredencialError,
    IndeterminateError,
    InputError,
    KeyFormatError,
    PresentationError,
    ProofError,
    ReasonCode,
)
from ._jcs import JCS_CRYPTOSUITE, create_jcs_proof, verify_jcs_signature
from ._json import parse_json
from ._messages import Language
from ._policy import Policy
from ._proof import CRYPTOSUITE, Signer, create_proof, split_proof, verify_signature
from ._time import format_datetime, parse_datetime
from ._verifier import Reason, Verdict, VerificationResult, Verifier, _reference_time

__all__ = [
    "PRESENTATION_TYPE",
    "ChallengeStore",
    "InMemoryChallengeStore",
    "PresentationResult",
    "PresentationVerifier",
    "create_presentation",
]

PRESENTATION_TYPE = "VerifiablePresentation"
_AUTHENTICATION = "authentication"
#: Top-level members a presentation may carry (VC DM 2.0 §4.13 and the proof).
_PRESENTATION_KEYS = frozenset(
    {"@context", "id", "type", "holder", "verifiableCredential", "proof"}
)
#: Most credentials one presentation may carry (a wallet holds a handful).
MAX_CREDENTIALS = 16


def create_presentation(
    credentials: Sequence[Mapping[str, Any]],
    *,
    holder: str,
    signer: Signer,
    challenge: str,
    domain: str,
    loader: ContextLoader | None = None,
    created: str | None = None,
    presentation_id: str | None = None,
    cryptosuite: str = CRYPTOSUITE,
) -> dict[str, Any]:
    """A ``VerifiablePresentation`` of ``credentials`` signed by ``holder`` (an Ed25519 did:key).

    ``credentials`` may be empty: the presentation then only authenticates the holder (e.g. to
    read their access log or withdraw a consent). ``created`` defaults to now: verifiers refuse a
    presentation without it. ``cryptosuite``: ``eddsa-rdfc-2022`` (default) or ``eddsa-jcs-2022``
    (what the browser wallet signs, ADR 0011).
    """
    if not challenge or not domain:
        raise PresentationError("a presentation needs the verifier's challenge and domain")
    presentation: dict[str, Any] = {"@context": [CREDENTIALS_V2_URL]}
    if presentation_id is not None:
        presentation["id"] = presentation_id
    presentation["type"] = [PRESENTATION_TYPE]
    presentation["holder"] = holder
    if credentials:
        presentation["verifiableCredential"] = [dict(c) for c in credentials]
    if cryptosuite not in (CRYPTOSUITE, JCS_CRYPTOSUITE):
        raise PresentationError(f"unknown cryptosuite {cryptosuite!r}")
    secure = create_jcs_proof if cryptosuite == JCS_CRYPTOSUITE else create_proof
    return secure(
        presentation,
        signer=signer,
        verification_method=did_key_verification_method(holder),
        loader=loader or ContextLoader(),
        created=created or format_datetime(datetime.now(UTC)),
        proof_purpose=_AUTHENTICATION,
        extra_options={"challenge": challenge, "domain": domain},
    )


class ChallengeStore(Protocol):
    """Issues single-use challenges and consumes them (a DB in a multi-process service)."""

    def issue(self, domain: str, now: datetime) -> str:
        """A fresh random challenge for ``domain``."""
        ...

    def consume(self, challenge: str, domain: str, now: datetime) -> None:
        """Use ``challenge`` up, or raise :class:`PresentationError`.

        Codes: ``CHALLENGE_UNKNOWN``, ``CHALLENGE_EXPIRED``, ``CHALLENGE_REUSED``,
        ``DOMAIN_MISMATCH`` (issued for another domain).
        """
        ...


@dataclass(slots=True)
class _Challenge:
    domain: str
    expires: datetime
    used: bool = False


class InMemoryChallengeStore:
    """A thread-safe, bounded :class:`ChallengeStore` for one process.

    Used challenges are remembered until they expire, so a replay is told apart from an unknown
    challenge; the oldest entries are dropped beyond ``max_outstanding``.
    """

    def __init__(
        self, lifetime: timedelta = timedelta(minutes=5), max_outstanding: int = 100_000
    ) -> None:
        if lifetime <= timedelta(0) or max_outstanding < 1:
            raise ValueError("lifetime and max_outstanding must be positive")
        self.lifetime = lifetime
        self.max_outstanding = max_outstanding
        self._entries: OrderedDict[str, _Challenge] = OrderedDict()
        self._lock = threading.Lock()

    def issue(self, domain: str, now: datetime) -> str:
        """A fresh 128-bit random challenge for ``domain``, valid for ``lifetime``."""
        challenge = secrets.token_urlsafe(16)
        with self._lock:
            self._expire(now)
            self._entries[challenge] = _Challenge(domain, now + self.lifetime)
            while len(self._entries) > self.max_outstanding:
                self._entries.popitem(last=False)
        return challenge

    def consume(self, challenge: str, domain: str, now: datetime) -> None:
        """Mark ``challenge`` used; raise :class:`PresentationError` if it can't be."""
        with self._lock:
            entry = self._entries.get(challenge)
            if entry is None:
                raise PresentationError(
                    "the challenge was not issued here (or is long expired)",
                    code=ReasonCode.CHALLENGE_UNKNOWN,
                )
            if entry.used:
                raise PresentationError(
                    "the challenge was already used", code=ReasonCode.CHALLENGE_REUSED
                )
            if now > entry.expires:
                raise PresentationError(
                    f"the challenge expired at {format_datetime(entry.expires)}",
                    code=ReasonCode.CHALLENGE_EXPIRED,
                )
            if entry.domain != domain:
                raise PresentationError(
                    "the challenge was issued for another domain",
                    code=ReasonCode.DOMAIN_MISMATCH,
                )
            entry.used = True

    def _expire(self, now: datetime) -> None:
        for key in [k for k, v in self._entries.items() if now > v.expires]:
            del self._entries[key]


@dataclass(frozen=True, slots=True)
class PresentationResult:
    """The outcome of :meth:`PresentationVerifier.check`."""

    #: The worst of the presentation's own checks and its credentials' verdicts.
    verdict: Verdict
    #: The presentation's own reasons (holder proof, challenge, domain, binding).
    reasons: tuple[Reason, ...]
    #: The holder's DID, once the holder's signature verified.
    holder: str | None
    #: One result per embedded credential, in order.
    credentials: tuple[VerificationResult, ...]
    presentation: dict[str, Any] | None
    checked_at: datetime

    @property
    def is_valid(self) -> bool:
        """True only for the VALID verdict."""
        return self.verdict is Verdict.VALID

    def to_json(self, lang: Language = "es") -> dict[str, Any]:
        """``{"verdict", "holder", "reasons", "credentials": [...], "checkedAt"}``."""
        return {
            "verdict": self.verdict.value,
            "holder": self.holder,
            "reasons": [reason.to_json(lang) for reason in self.reasons],
            "credentials": [result.to_json(lang) for result in self.credentials],
            "checkedAt": self.checked_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


class PresentationVerifier:
    """Verifies holder presentations with a :class:`Verifier` and a :class:`ChallengeStore`."""

    def __init__(
        self,
        verifier: Verifier,
        challenges: ChallengeStore,
        *,
        max_age: timedelta = timedelta(minutes=5),
    ) -> None:
        self.verifier = verifier
        self.challenges = challenges
        self.max_age = max_age

    def check(
        self,
        data: str | bytes | Mapping[str, Any],
        *,
        domain: str,
        now: datetime | None = None,
        policy: Policy | None = None,
        require_credentials: bool = True,
    ) -> PresentationResult:
        """Verify a presentation made for ``domain``; return the verdict and reasons."""
        moment = _reference_time(now)
        signed_by: list[str] = []  # the holder, once the holder's signature verified
        try:
            presentation, holder = self._authenticate(
                data, domain, moment, require_credentials, signed_by
            )
        except CredencialError as exc:
            verdict = (
                Verdict.INDETERMINATE if isinstance(exc, IndeterminateError) else Verdict.INVALID
            )
            return PresentationResult(
                verdict, (Reason(exc.code, exc.message),), next(iter(signed_by), None), (), None,
                moment,
            )  # fmt: skip
        results: list[VerificationResult] = []
        problems: list[Reason] = []
        for position, credential in enumerate(_credentials(presentation)):
            result = self.verifier.check(credential, policy=policy, now=moment)
            results.append(result)
            binding = _binding_problem(credential, holder, position)
            if binding is not None:
                problems.append(binding)
        verdicts = {r.verdict for r in results}
        if problems or Verdict.INVALID in verdicts:
            verdict = Verdict.INVALID
        elif Verdict.INDETERMINATE in verdicts:
            verdict = Verdict.INDETERMINATE
        else:
            verdict = Verdict.VALID
        return PresentationResult(
            verdict, tuple(problems), holder, tuple(results), presentation, moment
        )

    def verify(
        self,
        data: str | bytes | Mapping[str, Any],
        *,
        domain: str,
        now: datetime | None = None,
        policy: Policy | None = None,
        require_credentials: bool = True,
    ) -> PresentationResult:
        """Return the VALID result, or raise the most serious problem found."""
        result = self.check(
            data, domain=domain, now=now, policy=policy, require_credentials=require_credentials
        )
        if result.is_valid:
            return result
        if result.reasons:
            first = result.reasons[0]
            raise PresentationError(first.detail, code=first.code)
        failing = [r for r in result.credentials if not r.is_valid]
        worst = next((r for r in failing if r.verdict is Verdict.INVALID), failing[0])
        reason = worst.reasons[0]
        if worst.verdict is Verdict.INDETERMINATE:
            raise IndeterminateError(reason.detail, code=reason.code)
        raise PresentationError(f"a presented credential: {reason.detail}", code=reason.code)

    # -- the presentation's own checks ----------------------------------------------------------

    def _authenticate(
        self,
        data: str | bytes | Mapping[str, Any],
        domain: str,
        now: datetime,
        require_credentials: bool,
        signed_by: list[str],
    ) -> tuple[dict[str, Any], str]:
        presentation = self._parse(data)
        holder = _check_shape(presentation, require_credentials)
        parts = split_proof(presentation)
        options = parts.proof_options
        if options["proofPurpose"] != _AUTHENTICATION:
            raise ProofError(
                f"a presentation's proofPurpose must be {_AUTHENTICATION!r}",
                code=ReasonCode.PROOF_PURPOSE_MISMATCH,
            )
        try:
            key = public_key_from_did_key(options["verificationMethod"])
        except KeyFormatError as exc:
            raise PresentationError(f"verificationMethod: {exc.message}") from None
        if options["verificationMethod"].partition("#")[0] != holder:
            raise PresentationError(
                "the presentation is signed by a key that is not the holder's",
                code=ReasonCode.HOLDER_MISMATCH,
            )
        challenge, proof_domain = options.get("challenge"), options.get("domain")
        if not isinstance(challenge, str) or not challenge:
            raise PresentationError(
                "the proof carries no challenge", code=ReasonCode.CHALLENGE_UNKNOWN
            )
        if not isinstance(proof_domain, str):
            raise PresentationError(
                "the proof carries no single domain", code=ReasonCode.DOMAIN_MISMATCH
            )
        created = options.get("created")
        if not isinstance(created, str):
            raise ProofError(
                "a presentation proof must state when it was created",
                code=ReasonCode.PROOF_MALFORMED,
            )
        if options.get("cryptosuite") == JCS_CRYPTOSUITE:  # the browser wallet's (ADR 0011)
            verify_jcs_signature(parts, key, self.verifier.loader)
        else:
            verify_signature(parts, key, self.verifier.loader)
        signed_by.append(holder)  # a refusal from here on still names who signed
        # Only a proof by the holder may use a challenge up: a forgery cannot burn one.
        if proof_domain != domain:
            raise PresentationError(
                f"made for domain {proof_domain!r:.80}, not {domain!r}",
                code=ReasonCode.DOMAIN_MISMATCH,
            )
        moment = parse_datetime(created)  # checked by split_proof's proof configuration
        skew = self.verifier.config.clock_skew
        if moment > now + skew:  # its clock is ahead, or ours behind: which, we cannot know
            raise IndeterminateError(
                f"the presentation was created at {created}, after this verifier's time "
                f"{format_datetime(now)}: a clock is wrong",
                code=ReasonCode.CLOCK_BEHIND,
            )
        if now - moment > self.max_age + skew:
            raise PresentationError(
                f"the presentation was created at {created}, too long ago",
                code=ReasonCode.CHALLENGE_EXPIRED,
            )
        self.challenges.consume(challenge, domain, now)
        return presentation, holder

    def _parse(self, data: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
        if isinstance(data, Mapping):
            return dict(data)
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        limit = self.verifier.config.max_input_bytes * (MAX_CREDENTIALS + 1)
        if len(raw) > limit:
            raise InputError(f"presentation of {len(raw)} bytes exceeds the {limit} limit")
        parsed = parse_json(raw)  # I-JSON only (see verifier._json)
        if not isinstance(parsed, dict):
            raise InputError("a presentation is a JSON object")
        return parsed


def _check_shape(presentation: Mapping[str, Any], require_credentials: bool) -> str:
    """VC DM 2.0 presentation rules that apply before the proof; return the holder DID."""
    contexts = presentation.get("@context")
    if not isinstance(contexts, list) or not contexts or contexts[0] != CREDENTIALS_V2_URL:
        raise PresentationError(
            f"@context must be a list starting with {CREDENTIALS_V2_URL}",
            code=ReasonCode.CONTEXT_INVALID,
        )
    kinds = presentation.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if PRESENTATION_TYPE not in kinds:
        raise PresentationError(
            f"type must include {PRESENTATION_TYPE}", code=ReasonCode.TYPE_INVALID
        )
    unknown = set(presentation) - _PRESENTATION_KEYS
    if unknown:
        raise PresentationError(f"unknown presentation members: {sorted(unknown)[:5]}")
    holder = presentation.get("holder")
    if not isinstance(holder, str) or "#" in holder:
        raise PresentationError("holder must be the holder's did:key")
    try:
        public_key_from_did_key(holder)
    except KeyFormatError as exc:
        raise PresentationError(f"holder: {exc.message}") from None
    credentials = presentation.get("verifiableCredential", [])
    if not isinstance(credentials, list) or not all(isinstance(c, dict) for c in credentials):
        raise PresentationError("verifiableCredential must be a list of credential objects")
    if len(credentials) > MAX_CREDENTIALS:
        raise PresentationError(f"more than {MAX_CREDENTIALS} credentials in one presentation")
    if require_credentials and not credentials:
        raise PresentationError("the presentation carries no credential")
    return holder


def _credentials(presentation: Mapping[str, Any]) -> list[dict[str, Any]]:
    credentials: list[dict[str, Any]] = presentation.get("verifiableCredential", [])
    return credentials


def _binding_problem(credential: Mapping[str, Any], holder: str, position: int) -> Reason | None:
    """A reason when the holder is not the subject of ``credential`` (None when bound)."""
    subjects = credential.get("credentialSubject")
    subjects = subjects if isinstance(subjects, list) else [subjects]
    ids = {s.get("id") for s in subjects if isinstance(s, Mapping)}
    if ids == {holder}:
        return None
    if ids <= {None}:
        return Reason(
            ReasonCode.HOLDER_BINDING_MISSING,
            f"credential {position}: its subject has no id; it is not bound to a holder",
        )
    return Reason(
        ReasonCode.HOLDER_MISMATCH,
        f"credential {position}: its subject is not the presentation's holder",
    )
