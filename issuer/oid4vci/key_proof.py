"""OpenID4VCI key proofs of type ``jwt``: the wallet proves it holds the key it wants bound.

OpenID for Verifiable Credential Issuance 1.0, §8.2 (Credential Request) and Appendix F.1
(``jwt`` proof type), F.4 (verifying a proof). We accept exactly one shape:

- JOSE header: ``typ`` = ``openid4vci-proof+jwt`` (explicit typing, RFC 8725 §3.11), ``alg`` =
  ``EdDSA`` (the only algorithm allowed; never ``none`` nor a MAC), and exactly one of ``kid`` (a
  did:key DID URL, ``did:key:z6Mk…#z6Mk…``) or ``jwk`` (an Ed25519 ``OKP`` public key, never a
  private one). ``x5c``, ``key_attestation``, ``trust_chain`` and ``crit`` are refused.
- Claims: ``aud`` = the Credential Issuer Identifier, ``iat`` within ``max_age`` of now (and not
  ahead by more than ``clock_skew``), ``nonce`` = a ``c_nonce`` from our Nonce Endpoint, used up
  here, and no ``iss`` (our token endpoint grants anonymous access, and §F.1 then forbids it).

The signature is checked before the nonce is consumed, so a forged proof cannot burn a nonce.
The holder's did:key (the credential's ``credentialSubject.id``) is what the check returns.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from jwcrypto.common import JWException
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS

from verifier import (
    ChallengeStore,
    KeyFormatError,
    PresentationError,
    did_key_from_public_key,
    did_key_verification_method,
    parse_json,
    public_key_from_did_key,
)

__all__ = [
    "KEY_PROOF_ALGORITHMS",
    "KEY_PROOF_TYP",
    "KeyProofError",
    "KeyProofPolicy",
    "verify_key_proof",
]

#: The JOSE ``typ`` of a key proof (OpenID4VCI 1.0, Appendix F.1).
KEY_PROOF_TYP = "openid4vci-proof+jwt"
#: The only JWS algorithm accepted (Ed25519, like every other key in credencial).
KEY_PROOF_ALGORITHMS = ("EdDSA",)
_REFUSED_HEADERS = ("x5c", "key_attestation", "trust_chain", "crit", "jku", "x5u")


class KeyProofError(Exception):
    """A key proof refused: ``error`` is the OpenID4VCI error code to answer with."""

    def __init__(self, error: Literal["invalid_proof", "invalid_nonce"], description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True, slots=True)
class KeyProofPolicy:
    """How fresh a proof must be, and how large it may be."""

    max_age: timedelta = timedelta(minutes=5)
    clock_skew: timedelta = timedelta(seconds=60)
    max_length: int = 4096


def _invalid(description: str) -> KeyProofError:
    return KeyProofError("invalid_proof", description)


def _b64url(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not value or len(value) > 4096:
        raise _invalid(f"{what} is not base64url")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise _invalid(f"{what} is not base64url") from None


def _holder_key(header: dict[str, Any]) -> tuple[str, bytes]:
    """The holder's did:key and raw Ed25519 public key, from ``kid`` or ``jwk``."""
    has_kid, has_jwk = "kid" in header, "jwk" in header
    if has_kid == has_jwk:
        raise _invalid("the proof header needs exactly one of kid and jwk")
    if has_kid:
        kid = header["kid"]
        if not isinstance(kid, str) or "#" not in kid or len(kid) > 200:
            raise _invalid("kid must be a did:key DID URL (did:key:z6Mk…#z6Mk…)")
        try:
            public_key = public_key_from_did_key(kid)
        except KeyFormatError as exc:
            raise _invalid(f"kid is not an Ed25519 did:key: {exc}") from None
        did = did_key_from_public_key(public_key)
        if kid != did_key_verification_method(did):
            raise _invalid("kid must be the did:key's own verification method")
        return did, public_key
    jwk = header["jwk"]
    if not isinstance(jwk, dict):
        raise _invalid("jwk must be a JSON object")
    if "d" in jwk:
        raise _invalid("jwk contains a private key")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise _invalid("jwk must be an Ed25519 OKP key")
    public_key = _b64url(jwk.get("x"), "jwk.x")
    if len(public_key) != 32:
        raise _invalid("jwk.x must be a 32-byte Ed25519 public key")
    return did_key_from_public_key(public_key), public_key


def _claims(payload: bytes) -> dict[str, Any]:
    try:
        claims = parse_json(payload)
    except (ValueError, UnicodeDecodeError):
        raise _invalid("the proof payload is not JSON") from None
    if not isinstance(claims, dict):
        raise _invalid("the proof payload is not a JSON object")
    return claims


def _check_claims(
    claims: dict[str, Any], audience: str, now: datetime, policy: KeyProofPolicy
) -> str:
    """Check ``aud``, ``iat`` and ``iss``; return the ``nonce``."""
    if claims.get("aud") != audience:
        raise _invalid(f"aud must be the Credential Issuer Identifier {audience}")
    if "iss" in claims:
        raise _invalid("iss must be absent: the access token was granted anonymously")
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise _invalid("iat must be a number (seconds since the epoch)")
    age = now.timestamp() - float(iat)
    if age > policy.max_age.total_seconds():
        raise _invalid(f"the proof is stale: iat is {int(age)} s old")
    if -age > policy.clock_skew.total_seconds():
        raise _invalid("iat is in the future")
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise _invalid("nonce (a c_nonce from the Nonce Endpoint) is required")
    return nonce


def verify_key_proof(
    token: Any,
    *,
    audience: str,
    nonces: ChallengeStore,
    now: datetime,
    policy: KeyProofPolicy | None = None,
) -> str:
    """Verify one ``jwt`` key proof for ``audience``; return the holder's did:key.

    Raises :class:`KeyProofError` (``invalid_proof``, or ``invalid_nonce`` when only the
    ``c_nonce`` is unknown, used or expired: the wallet should fetch a new one).
    """
    policy = policy or KeyProofPolicy()
    if not isinstance(token, str) or not 0 < len(token) <= policy.max_length:
        raise _invalid(f"a proof is a compact JWS of at most {policy.max_length} characters")
    if token.count(".") != 2:
        raise _invalid("a proof is a compact JWS (three base64url parts)")
    try:
        header = parse_json(_b64url(token.split(".", 1)[0], "the JOSE header"))
    except (ValueError, UnicodeDecodeError):
        raise _invalid("the JOSE header is not JSON") from None
    if not isinstance(header, dict):
        raise _invalid("the JOSE header is not a JSON object")
    if header.get("typ") != KEY_PROOF_TYP:
        raise _invalid(f"typ must be {KEY_PROOF_TYP}")
    if header.get("alg") not in KEY_PROOF_ALGORITHMS:
        raise _invalid(f"alg must be one of {', '.join(KEY_PROOF_ALGORITHMS)}")
    refused = [name for name in _REFUSED_HEADERS if name in header]
    if refused:
        raise _invalid(f"unsupported header parameters: {', '.join(refused)}")
    holder, public_key = _holder_key(header)
    key = JWK(
        kty="OKP", crv="Ed25519", x=base64.urlsafe_b64encode(public_key).rstrip(b"=").decode()
    )
    jws = JWS()
    try:
        jws.deserialize(token)
        jws.verify(key, alg=header["alg"])
    except JWException:
        raise _invalid("the proof's signature does not verify with its key") from None
    nonce = _check_claims(_claims(jws.payload), audience, now, policy)
    try:
        nonces.consume(nonce, audience, now)
    except PresentationError as exc:
        raise KeyProofError("invalid_nonce", f"{exc.code.value}: {exc.message}") from None
    return holder
