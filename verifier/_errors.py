"""One exception tree for everything the verifier can refuse, and the stable reason codes.

::

    CredencialError                     base of every error raised by this library
    ├── InputError                      the input could not be read at all (not JSON, too large)
    │   └── CardFormatError             card text that is not a well-formed card
    ├── CardEncodingError               a credential the card dictionary cannot express
    ├── KeyFormatError                  a key or trust file is malformed
    ├── TrustBundleError                a trust bundle refused: bad signatures, rollback, expired
    ├── InvalidCredentialError          the data is bad: the verdict is INVALID
    │   ├── DataModelError              a W3C VC Data Model 2.0 rule is broken
    │   ├── SchemaError                 the credential does not match its JSON Schema / model
    │   ├── ContextError                an @context that is not bundled and allowed
    │   ├── DataLossError               JSON-LD processing would drop a term or an IRI
    │   ├── ProofError                  missing or malformed proof, or a signature that fails
    │   ├── UntrustedKeyError           signing key unknown, another issuer's, or out of its window
    │   ├── ValidityPeriodError         expired or not yet valid
    │   ├── CredentialRevokedError      its revocation bit is set
    │   ├── CredentialSuspendedError    its suspension bit is set
    │   └── PolicyError                 a verifier policy refused it
    └── IndeterminateError              the data could not be judged: the verdict is INDETERMINATE
                                        (status list missing, stale or unverifiable; a card of a
                                        newer format version)

"The data is bad" (``InvalidCredentialError``) is kept apart from "the data could not be had"
(``IndeterminateError``): a revoked credential is INVALID, an unknown status is INDETERMINATE.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "CardEncodingError",
    "CardFormatError",
    "ContextError",
    "CredencialError",
    "CredentialRevokedError",
    "CredentialSuspendedError",
    "DataLossError",
    "DataModelError",
    "IndeterminateError",
    "InputError",
    "InvalidCredentialError",
    "KeyFormatError",
    "PolicyError",
    "ProofError",
    "ReasonCode",
    "SchemaError",
    "TrustBundleError",
    "UntrustedKeyError",
    "ValidityPeriodError",
]

_VCDM = "https://www.w3.org/TR/vc-data-model#"
_DI = "https://w3id.org/security#"
_BSL = "https://www.w3.org/ns/credentials/status-list#"
#: Reasons without a W3C problem type (revoked, suspended, policy...) use our own namespace.
_OURS = "https://credencial.salud.gob.mx/problems#"


class ReasonCode(StrEnum):
    """Stable machine-readable reason codes. Never renamed: wallets and desks key on them."""

    MALFORMED_INPUT = "MALFORMED_INPUT"
    CARD_MALFORMED = "CARD_MALFORMED"
    CARD_VERSION_UNSUPPORTED = "CARD_VERSION_UNSUPPORTED"
    CARD_NOT_EXPRESSIBLE = "CARD_NOT_EXPRESSIBLE"
    CONTEXT_INVALID = "CONTEXT_INVALID"
    CONTEXT_NOT_ALLOWED = "CONTEXT_NOT_ALLOWED"
    TYPE_INVALID = "TYPE_INVALID"
    ID_INVALID = "ID_INVALID"
    ISSUER_INVALID = "ISSUER_INVALID"
    DATETIME_INVALID = "DATETIME_INVALID"
    VALIDITY_RANGE_INVALID = "VALIDITY_RANGE_INVALID"
    ENTRY_TYPE_MISSING = "ENTRY_TYPE_MISSING"
    SUBJECT_INVALID = "SUBJECT_INVALID"
    SCHEMA_INVALID = "SCHEMA_INVALID"
    DATA_LOSS = "DATA_LOSS"
    PROOF_MISSING = "PROOF_MISSING"
    PROOF_MALFORMED = "PROOF_MALFORMED"
    PROOF_PURPOSE_MISMATCH = "PROOF_PURPOSE_MISMATCH"
    PROOF_EXPIRED = "PROOF_EXPIRED"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    KEY_UNKNOWN = "KEY_UNKNOWN"
    KEY_ISSUER_MISMATCH = "KEY_ISSUER_MISMATCH"
    KEY_NOT_VALID_AT_CREATION = "KEY_NOT_VALID_AT_CREATION"
    CREDENTIAL_EXPIRED = "CREDENTIAL_EXPIRED"
    CREDENTIAL_NOT_YET_VALID = "CREDENTIAL_NOT_YET_VALID"
    REVOKED = "REVOKED"
    SUSPENDED = "SUSPENDED"
    STATUS_UNAVAILABLE = "STATUS_UNAVAILABLE"
    STATUS_STALE = "STATUS_STALE"
    STATUS_LIST_INVALID = "STATUS_LIST_INVALID"
    POLICY_REJECTED = "POLICY_REJECTED"
    KEY_COMPROMISED = "KEY_COMPROMISED"
    TRUST_BUNDLE_INVALID = "TRUST_BUNDLE_INVALID"
    TRUST_BUNDLE_ROLLBACK = "TRUST_BUNDLE_ROLLBACK"
    TRUST_BUNDLE_EXPIRED = "TRUST_BUNDLE_EXPIRED"
    CLOCK_BEHIND = "CLOCK_BEHIND"
    STATUS_LIST_NOT_IN_BUNDLE = "STATUS_LIST_NOT_IN_BUNDLE"
    PRESENTATION_MALFORMED = "PRESENTATION_MALFORMED"
    HOLDER_MISMATCH = "HOLDER_MISMATCH"
    HOLDER_BINDING_MISSING = "HOLDER_BINDING_MISSING"
    CHALLENGE_UNKNOWN = "CHALLENGE_UNKNOWN"
    CHALLENGE_EXPIRED = "CHALLENGE_EXPIRED"
    CHALLENGE_REUSED = "CHALLENGE_REUSED"
    DOMAIN_MISMATCH = "DOMAIN_MISMATCH"

    @property
    def unreadable(self) -> bool:
        """Whether the input could not be read at all (not a complete, well-formed card or
        credential: truncated, a character outside the card alphabet, Base45, CBOR or JSON that
        does not parse). Nothing was judged: a front end asks to scan again (ADR 0003)."""
        return self in _UNREADABLE_CODES

    @property
    def problem_type(self) -> str:
        """The W3C problem-detail type URL for this reason (VC DM 2.0, Data Integrity, BSL)."""
        return _PROBLEM_TYPES.get(self, _OURS + self.value)


_UNREADABLE_CODES = frozenset({ReasonCode.MALFORMED_INPUT, ReasonCode.CARD_MALFORMED})
_MALFORMED_VALUE_CODES = (
    ReasonCode.CONTEXT_INVALID,
    ReasonCode.TYPE_INVALID,
    ReasonCode.ID_INVALID,
    ReasonCode.ISSUER_INVALID,
    ReasonCode.DATETIME_INVALID,
    ReasonCode.ENTRY_TYPE_MISSING,
    ReasonCode.SUBJECT_INVALID,
    ReasonCode.SCHEMA_INVALID,
)
_PROBLEM_TYPES: dict[ReasonCode, str] = {
    **dict.fromkeys(_MALFORMED_VALUE_CODES, _VCDM + "MALFORMED_VALUE_ERROR"),
    ReasonCode.VALIDITY_RANGE_INVALID: _VCDM + "RANGE_ERROR",
    ReasonCode.MALFORMED_INPUT: _VCDM + "PARSING_ERROR",
    ReasonCode.CONTEXT_NOT_ALLOWED: _VCDM + "PARSING_ERROR",
    ReasonCode.CARD_MALFORMED: _VCDM + "PARSING_ERROR",
    ReasonCode.CARD_VERSION_UNSUPPORTED: _VCDM + "PARSING_ERROR",
    ReasonCode.DATA_LOSS: _DI + "PROOF_TRANSFORMATION_ERROR",
    ReasonCode.PROOF_MISSING: _DI + "PROOF_VERIFICATION_ERROR",
    ReasonCode.PROOF_MALFORMED: _DI + "MALFORMED_PROOF_ERROR",
    ReasonCode.PROOF_PURPOSE_MISMATCH: _DI + "MISMATCHED_PROOF_PURPOSE_ERROR",
    ReasonCode.PROOF_EXPIRED: _DI + "PROOF_VERIFICATION_ERROR",
    ReasonCode.SIGNATURE_INVALID: _DI + "PROOF_VERIFICATION_ERROR",
    ReasonCode.KEY_UNKNOWN: _VCDM + "CRYPTOGRAPHIC_SECURITY_ERROR",
    ReasonCode.KEY_ISSUER_MISMATCH: _VCDM + "CRYPTOGRAPHIC_SECURITY_ERROR",
    ReasonCode.KEY_NOT_VALID_AT_CREATION: _VCDM + "CRYPTOGRAPHIC_SECURITY_ERROR",
    ReasonCode.CREDENTIAL_EXPIRED: _VCDM + "RANGE_ERROR",
    ReasonCode.CREDENTIAL_NOT_YET_VALID: _VCDM + "RANGE_ERROR",
    ReasonCode.STATUS_UNAVAILABLE: _BSL + "STATUS_RETRIEVAL_ERROR",
    ReasonCode.STATUS_STALE: _BSL + "STATUS_RETRIEVAL_ERROR",
    ReasonCode.STATUS_LIST_INVALID: _BSL + "STATUS_VERIFICATION_ERROR",
    ReasonCode.STATUS_LIST_NOT_IN_BUNDLE: _BSL + "STATUS_VERIFICATION_ERROR",
    ReasonCode.KEY_COMPROMISED: _VCDM + "CRYPTOGRAPHIC_SECURITY_ERROR",
    ReasonCode.PRESENTATION_MALFORMED: _VCDM + "MALFORMED_VALUE_ERROR",
    ReasonCode.DOMAIN_MISMATCH: _DI + "INVALID_DOMAIN_ERROR",
    ReasonCode.CHALLENGE_UNKNOWN: _DI + "INVALID_CHALLENGE_ERROR",
    ReasonCode.CHALLENGE_EXPIRED: _DI + "INVALID_CHALLENGE_ERROR",
    ReasonCode.CHALLENGE_REUSED: _DI + "INVALID_CHALLENGE_ERROR",
}


class CredencialError(Exception):
    """Base of every error raised by ``verifier``; carries a stable :class:`ReasonCode`."""

    default_code: ReasonCode = ReasonCode.MALFORMED_INPUT

    def __init__(self, message: str, *, code: ReasonCode | None = None) -> None:
        super().__init__(message)
        self.code: ReasonCode = code or self.default_code
        self.message = message


class InputError(CredencialError):
    """The input could not be read at all: not JSON, not an object, too large."""


class CardFormatError(InputError):
    """Card text that is not a well-formed card of a known version."""

    default_code = ReasonCode.CARD_MALFORMED


class CardEncodingError(CredencialError):
    """A credential the card dictionary cannot express (the message names the term)."""

    default_code = ReasonCode.CARD_NOT_EXPRESSIBLE


class KeyFormatError(CredencialError):
    """A key, key file or trust file is malformed."""


class TrustBundleError(CredencialError):
    """A trust bundle that must not be used: malformed, below the anchor threshold, a rollback.

    Raised when a bundle is loaded or synced, never by a verification: a bundle refused at sync
    leaves the verifier on the bundle it had.
    """

    default_code = ReasonCode.TRUST_BUNDLE_INVALID


class InvalidCredentialError(CredencialError):
    """The credential is bad: the verdict is INVALID."""


class DataModelError(InvalidCredentialError):
    """A rule of the W3C Verifiable Credentials Data Model 2.0 is broken."""


class SchemaError(InvalidCredentialError):
    """The credential does not match the schema of its declared type."""

    default_code = ReasonCode.SCHEMA_INVALID


class ContextError(InvalidCredentialError):
    """An ``@context`` value that is not one of the bundled, allowed contexts."""

    default_code = ReasonCode.CONTEXT_NOT_ALLOWED


class DataLossError(InvalidCredentialError):
    """JSON-LD processing would silently drop a term, a type or an IRI."""

    default_code = ReasonCode.DATA_LOSS


class ProofError(InvalidCredentialError):
    """The proof is missing, malformed, or its signature does not verify."""

    default_code = ReasonCode.SIGNATURE_INVALID


class UntrustedKeyError(InvalidCredentialError):
    """The signing key is unknown, another issuer's, outside its validity window, or compromised."""

    default_code = ReasonCode.KEY_UNKNOWN


class ValidityPeriodError(InvalidCredentialError):
    """The credential is expired or not yet valid at the reference time."""


class CredentialRevokedError(InvalidCredentialError):
    """The credential's revocation bit is set (final)."""

    default_code = ReasonCode.REVOKED


class CredentialSuspendedError(InvalidCredentialError):
    """The credential's suspension bit is set (reversible)."""

    default_code = ReasonCode.SUSPENDED


class PolicyError(InvalidCredentialError):
    """A verifier policy refused an otherwise authentic credential."""

    default_code = ReasonCode.POLICY_REJECTED


class PresentationError(InvalidCredentialError):
    """A presentation's own checks failed: holder proof, challenge, domain or holder binding."""

    default_code = ReasonCode.PRESENTATION_MALFORMED


class IndeterminateError(CredencialError):
    """The credential could not be judged: status missing, stale or unverifiable."""

    default_code = ReasonCode.STATUS_UNAVAILABLE
