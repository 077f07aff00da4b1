"""What a wallet shows about a credential it holds (``wallet_spec/state.md``).

The wallet checks its credentials with the verifier library, offline, against the status lists
it last fetched, and shows one of these states. It never shows "vigente" (VALID) when it cannot
know: a missing or stale status list (past its ``validUntil``/``ttl``) is ``UNVERIFIABLE``.
"""

from __future__ import annotations

from enum import StrEnum

from verifier import ReasonCode, Verdict, VerificationResult

__all__ = ["STATE_LABELS", "CredentialState", "credential_state"]


class CredentialState(StrEnum):
    """The state a wallet displays; stable values."""

    VALID = "VALID"
    SUSPENDED = "SUSPENDED"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    UNVERIFIABLE = "UNVERIFIABLE"
    INVALID = "INVALID"


#: Spanish and English labels a wallet shows.
STATE_LABELS: dict[CredentialState, dict[str, str]] = {
    CredentialState.VALID: {"es": "Vigente", "en": "Valid"},
    CredentialState.SUSPENDED: {"es": "Suspendida", "en": "Suspended"},
    CredentialState.REVOKED: {"es": "Revocada", "en": "Revoked"},
    CredentialState.EXPIRED: {"es": "Vencida", "en": "Expired"},
    CredentialState.NOT_YET_VALID: {"es": "Aún no vigente", "en": "Not yet valid"},
    CredentialState.UNVERIFIABLE: {
        "es": "No se puede confirmar ahora (actualice el estado en línea)",
        "en": "Cannot be confirmed now (update its status online)",
    },
    CredentialState.INVALID: {"es": "No válida", "en": "Not valid"},
}

_BY_REASON = {
    ReasonCode.REVOKED: CredentialState.REVOKED,
    ReasonCode.SUSPENDED: CredentialState.SUSPENDED,
    ReasonCode.CREDENTIAL_EXPIRED: CredentialState.EXPIRED,
    ReasonCode.CREDENTIAL_NOT_YET_VALID: CredentialState.NOT_YET_VALID,
}


def credential_state(result: VerificationResult) -> CredentialState:
    """The display state of a verification result (revocation wins over suspension)."""
    if result.verdict is Verdict.VALID:
        return CredentialState.VALID
    codes = [reason.code for reason in result.reasons]
    for code in (
        ReasonCode.REVOKED,
        ReasonCode.SUSPENDED,
        ReasonCode.CREDENTIAL_EXPIRED,
        ReasonCode.CREDENTIAL_NOT_YET_VALID,
    ):
        if code in codes:
            return _BY_REASON[code]
    if result.verdict is Verdict.INDETERMINATE:
        return CredentialState.UNVERIFIABLE
    return CredentialState.INVALID
