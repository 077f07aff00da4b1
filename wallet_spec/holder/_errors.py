"""The holder library's one error type, with the stable codes of ``wallet_spec/errors.md``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["WALLET_ERROR_CODES", "WalletError"]

#: Every code a :class:`WalletError` carries, with what it means (the spec's table).
WALLET_ERROR_CODES: dict[str, str] = {
    "OFFER_MALFORMED": "the credential offer (URI or JSON) cannot be read",
    "ISSUER_NOT_TRUSTED": "the offer names a Credential Issuer outside the wallet's list",
    "METADATA_INVALID": "the issuer's metadata is missing, malformed or does not match the offer",
    "TX_CODE_REQUIRED": "the offer needs the transaction code (PIN) given at the desk",
    "TOKEN_REFUSED": "the Token Endpoint refused the code or the PIN (error in detail)",
    "CREDENTIAL_REFUSED": "the Credential Endpoint refused the request (error in detail)",
    "CREDENTIAL_INVALID": "what the issuer returned is not a credential bound to this holder",
    "NETWORK": "the issuer could not be reached",
    "REQUEST_MALFORMED": "the presentation request cannot be read",
    "NO_MATCHING_CREDENTIAL": "no stored credential answers the presentation request",
    "NO_KEY": "the wallet has no holder key yet",
    "KEY_EXISTS": "the wallet already has a holder key",
    "NOT_FOUND": "no stored credential with that id",
    "STORE_CORRUPT": "a wallet file cannot be read",
    "ISSUER_URL_REFUSED": "an issuer URL mapping is malformed, or plain http to another machine",
    "ISSUER_REFUSED": "the issuer refused a call of the person's routes (its problem code in "
    "problem)",
    "NARROWING_INVALID": "an approval would give more than the request asked",
}


class WalletError(Exception):
    """Something the wallet refused or could not do; ``code`` is one of WALLET_ERROR_CODES."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        problem: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        if code not in WALLET_ERROR_CODES:
            raise ValueError(f"unknown wallet error code {code!r}")
        super().__init__(f"{code}: {problem + ': ' if problem else ''}{message}")
        self.code = code
        self.message = message
        #: The issuer's problem code (``ISSUER_REFUSED``), e.g. ``REQUEST_EXPIRED``.
        self.problem = problem
        #: What a front end needs to say it in the person's words (e.g. the classes not asked).
        self.details: dict[str, Any] = dict(details or {})
