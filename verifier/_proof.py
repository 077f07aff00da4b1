"""Data Integrity ``DataIntegrityProof`` with the ``eddsa-rdfc-2022`` cryptosuite.

The issuer and the verifier build the signed bytes with the same functions here; the issuer only
adds the private-key signature through a :class:`Signer`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ._canon import canonicalize
from ._contexts import ContextLoader
from ._ed25519 import ed25519_verify
from ._errors import DataLossError, ProofError, ReasonCode
from ._multibase import b58encode, decode_multibase
from ._time import parse_datetime

__all__ = [
    "CRYPTOSUITE",
    "PROOF_TYPE",
    "ProofParts",
    "Signer",
    "create_proof",
    "hash_data",
    "split_proof",
    "verify_signature",
]

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-rdfc-2022"
_PROOF_OPTION_KEYS = frozenset(
    {
        "id",
        "type",
        "cryptosuite",
        "created",
        "expires",
        "verificationMethod",
        "proofPurpose",
        "challenge",
        "domain",
        "nonce",
        "previousProof",
        "@context",
    }
)


class Signer(Protocol):
    """Anything that signs bytes with an Ed25519 private key (a key file, an HSM)."""

    def sign(self, data: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``data``."""
        ...


@dataclass(frozen=True, slots=True)
class ProofParts:
    """A secured document split for verification: what was signed and the signature."""

    unsecured_document: dict[str, Any]
    proof_options: dict[str, Any]
    signature: bytes


def _proof_config(proof_options: Mapping[str, Any], document_context: Any) -> dict[str, Any]:
    """eddsa-rdfc-2022 Proof Configuration: check the options, set the document's @context."""
    if proof_options.get("type") != PROOF_TYPE or proof_options.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError(
            f"proof must be {PROOF_TYPE} with cryptosuite {CRYPTOSUITE}",
            code=ReasonCode.PROOF_MALFORMED,
        )
    for key in ("created", "expires"):
        if key in proof_options:
            try:
                parse_datetime(proof_options[key])
            except ValueError as exc:
                raise ProofError(f"proof {key}: {exc}", code=ReasonCode.PROOF_MALFORMED) from exc
    config = {k: v for k, v in proof_options.items() if k != "@context"}
    config["@context"] = document_context
    return config


def hash_data(
    unsecured_document: Mapping[str, Any],
    proof_options: Mapping[str, Any],
    loader: ContextLoader,
    *,
    canonical: tuple[str, str] | None = None,
) -> bytes:
    """The 64 bytes that are signed: SHA-256(canonical proof config) || SHA-256(canonical doc).

    ``canonical``: the canonical N-Quads of the proof configuration and of the document when
    already known (the card reader computes them for cards in the issuer's layout).
    """
    try:
        if canonical is None:  # pyld's full algorithm hashes quads as it goes: inside the try
            config = _proof_config(proof_options, unsecured_document.get("@context"))
            canonical = canonicalize(config, loader), canonicalize(unsecured_document, loader)
        proof_nquads, document_nquads = canonical
        proof_hash = hashlib.sha256(proof_nquads.encode("utf-8")).digest()
        document_hash = hashlib.sha256(document_nquads.encode("utf-8")).digest()
    except UnicodeEncodeError:  # a lone surrogate from JSON "\ud800": not Unicode text
        raise DataLossError("the document holds text that is not valid Unicode") from None
    return proof_hash + document_hash


def create_proof(
    document: Mapping[str, Any],
    *,
    signer: Signer,
    verification_method: str,
    loader: ContextLoader,
    created: str | None = None,
    proof_purpose: str = "assertionMethod",
    extra_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a copy of ``document`` secured with a new eddsa-rdfc-2022 proof.

    ``extra_options`` adds proof options such as ``challenge`` and ``domain`` for presentations.
    """
    options = new_proof_options(
        document, CRYPTOSUITE, verification_method, created, proof_purpose, extra_options
    )
    proof = {k: v for k, v in options.items() if k != "@context"}
    proof["proofValue"] = proof_value(signer, hash_data(document, options, loader))
    return {**document, "proof": proof}


def new_proof_options(
    document: Mapping[str, Any],
    cryptosuite: str,
    verification_method: str,
    created: str | None,
    proof_purpose: str,
    extra_options: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The options of a new proof on ``document`` (which must not have one yet), any suite."""
    if "proof" in document:
        raise ProofError("document already has a proof", code=ReasonCode.PROOF_MALFORMED)
    options: dict[str, Any] = {"type": PROOF_TYPE, "cryptosuite": cryptosuite}
    if created is not None:
        options["created"] = created
    options.update(verificationMethod=verification_method, proofPurpose=proof_purpose)
    options.update(extra_options or {})
    return options


def proof_value(signer: Signer, data: bytes) -> str:
    """``proofValue``: the multibase (base58btc) Ed25519 signature of the hash data."""
    signature = signer.sign(data)
    if len(signature) != 64:
        raise ProofError("the signer did not return a 64-byte Ed25519 signature")
    return "z" + b58encode(signature)


def split_proof(secured_document: Mapping[str, Any]) -> ProofParts:
    """Split a secured document into unsecured document, proof options and signature.

    Applies the eddsa-rdfc-2022 verification preconditions: a single proof object, a
    base58btc ``proofValue`` of 64 bytes, and a proof ``@context`` (if any) that the document's
    ``@context`` starts with.
    """
    proof = secured_document.get("proof")
    if proof is None:
        raise ProofError("the credential has no proof", code=ReasonCode.PROOF_MISSING)
    if isinstance(proof, list):
        if len(proof) != 1:
            raise ProofError(
                "proof sets are not accepted: one proof expected", code=ReasonCode.PROOF_MALFORMED
            )
        proof = proof[0]
    if not isinstance(proof, Mapping):
        raise ProofError("proof must be an object", code=ReasonCode.PROOF_MALFORMED)
    unknown = set(proof) - _PROOF_OPTION_KEYS - {"proofValue"}
    if unknown:
        raise ProofError(
            f"unknown proof properties: {sorted(unknown)}", code=ReasonCode.PROOF_MALFORMED
        )
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        raise ProofError(
            "proofValue must be a base58btc multibase string", code=ReasonCode.PROOF_MALFORMED
        )
    try:
        signature = decode_multibase(value)
    except ValueError as exc:
        raise ProofError(f"proofValue: {exc}", code=ReasonCode.PROOF_MALFORMED) from exc
    if len(signature) != 64:
        raise ProofError(
            "proofValue is not a 64-byte Ed25519 signature", code=ReasonCode.PROOF_MALFORMED
        )
    for key in ("verificationMethod", "proofPurpose"):
        if not isinstance(proof.get(key), str):
            raise ProofError(f"proof {key} must be a string", code=ReasonCode.PROOF_MALFORMED)
    unsecured = {k: v for k, v in secured_document.items() if k != "proof"}
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    if "@context" in options:
        document_context = unsecured.get("@context")
        proof_context = options["@context"]
        doc_list = document_context if isinstance(document_context, list) else [document_context]
        proof_list = proof_context if isinstance(proof_context, list) else [proof_context]
        if doc_list[: len(proof_list)] != proof_list:
            raise ProofError(
                "the document @context does not start with the proof @context",
                code=ReasonCode.PROOF_MALFORMED,
            )
        unsecured["@context"] = proof_context
    return ProofParts(unsecured, options, signature)


def verify_signature(
    parts: ProofParts,
    public_key: bytes,
    loader: ContextLoader,
    *,
    canonical: tuple[str, str] | None = None,
) -> None:
    """Verify the Ed25519 signature over the eddsa-rdfc-2022 hash data; raise on failure."""
    data = hash_data(parts.unsecured_document, parts.proof_options, loader, canonical=canonical)
    if not ed25519_verify(public_key, parts.signature, data):
        raise ProofError(
            "the signature does not match the credential", code=ReasonCode.SIGNATURE_INVALID
        )
