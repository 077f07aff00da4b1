"""Data Integrity ``eddsa-jcs-2022``: Ed25519 over JSON Canonicalization Scheme (RFC 8785) bytes.

Used for **holder presentations** signed in a browser (the phone wallet), where a full RDFC-1.0
canonicalizer would have to be shipped in JavaScript (ADR 0011). Credentials stay
``eddsa-rdfc-2022``. The signed bytes are SHA-256(JCS(proof configuration)) ||
SHA-256(JCS(document)), as the W3C vc-di-eddsa test vectors show.

JCS signs the JSON, not the RDF graph, so JSON-LD would not notice a term no context defines:
the same data-loss rule as for RDFC holds here by expanding the document with only the bundled
contexts (:func:`verifier._canon.expand`) before any signature is checked. Numbers follow
I-JSON (RFC 7493): an integer beyond ±2**53 or a non-finite number is refused.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ._canon import expand
from ._contexts import ContextLoader
from ._ed25519 import ed25519_verify
from ._errors import DataLossError, InputError, ProofError, ReasonCode
from ._proof import PROOF_TYPE, ProofParts, Signer, new_proof_options, proof_value
from ._time import parse_datetime

__all__ = [
    "JCS_CRYPTOSUITE",
    "create_jcs_proof",
    "jcs",
    "jcs_hash_data",
    "verify_jcs_signature",
]

JCS_CRYPTOSUITE = "eddsa-jcs-2022"
_MAX_SAFE_INTEGER = 2**53 - 1
_MAX_DEPTH = 64


def _number(value: int | float) -> str:
    """ECMAScript ``Number.prototype.toString`` of an IEEE double (RFC 8785 §3.2.2.3)."""
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            raise DataLossError(f"the integer {value} is beyond I-JSON's exact range (2**53)")
        return str(value)
    if not math.isfinite(value):
        raise DataLossError("NaN and Infinity are not JSON numbers")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    parts = Decimal(repr(abs(value))).as_tuple()
    digits, exponent = list(parts.digits), int(parts.exponent)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exponent += 1
    text = "".join(map(str, digits))
    k, n = len(text), len(text) + exponent  # value = 0.text × 10**n
    if k <= n <= 21:
        out = text + "0" * (n - k)
    elif 0 < n <= 21:
        out = f"{text[:n]}.{text[n:]}"
    elif -6 < n <= 0:
        out = "0." + "0" * -n + text
    else:
        mantissa = text if k == 1 else f"{text[0]}.{text[1:]}"
        out = f"{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return sign + out


def _write(value: Any, out: list[str], depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise InputError("document nested too deeply")
    if value is None or value is True or value is False:
        out.append(json.dumps(value))
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, (int, float)):
        out.append(_number(value))
    elif isinstance(value, Mapping):
        out.append("{")
        for index, key in enumerate(sorted(value, key=lambda k: str(k).encode("utf-16-be"))):
            if not isinstance(key, str):
                raise InputError("JSON object keys are strings")
            out.append(("," if index else "") + json.dumps(key, ensure_ascii=False) + ":")
            _write(value[key], out, depth + 1)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out, depth + 1)
        out.append("]")
    else:
        raise InputError(f"not a JSON value: {type(value).__name__}")


def jcs(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value.

    Raises :class:`DataLossError` for text that is not Unicode (a lone surrogate) and numbers
    outside I-JSON, :class:`InputError` for what is not JSON at all.
    """
    out: list[str] = []
    _write(value, out, 0)
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError:
        raise DataLossError("the document holds text that is not valid Unicode") from None


def _proof_config(proof_options: Mapping[str, Any], document: Mapping[str, Any]) -> dict[str, Any]:
    """eddsa-jcs-2022 Proof Configuration: check the options, set the document's @context."""
    if proof_options.get("type") != PROOF_TYPE or proof_options.get("cryptosuite") != (
        JCS_CRYPTOSUITE
    ):
        raise ProofError(
            f"proof must be {PROOF_TYPE} with cryptosuite {JCS_CRYPTOSUITE}",
            code=ReasonCode.PROOF_MALFORMED,
        )
    for key in ("created", "expires"):
        if key in proof_options:
            try:
                parse_datetime(proof_options[key])
            except (TypeError, ValueError) as exc:
                raise ProofError(f"proof {key}: {exc}", code=ReasonCode.PROOF_MALFORMED) from exc
    config = {k: v for k, v in proof_options.items() if k not in ("@context", "proofValue")}
    if "@context" in document:
        config["@context"] = document["@context"]
    return config


def jcs_hash_data(
    unsecured_document: Mapping[str, Any],
    proof_options: Mapping[str, Any],
    loader: ContextLoader,
) -> bytes:
    """SHA-256(JCS(proof configuration)) || SHA-256(JCS(document)), after the data-loss check.

    The document must expand with ``loader``'s contexts alone and lose nothing
    (:class:`DataLossError`, :class:`~verifier.ContextError` otherwise), as an RDFC proof needs.
    """
    config = _proof_config(proof_options, unsecured_document)
    document_bytes = jcs(unsecured_document)  # refuses lone surrogates and inexact numbers
    expand(unsecured_document, loader)
    return hashlib.sha256(jcs(config)).digest() + hashlib.sha256(document_bytes).digest()


def create_jcs_proof(
    document: Mapping[str, Any],
    *,
    signer: Signer,
    verification_method: str,
    loader: ContextLoader,
    created: str | None = None,
    proof_purpose: str = "assertionMethod",
    extra_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a copy of ``document`` secured with a new eddsa-jcs-2022 proof."""
    options = new_proof_options(
        document, JCS_CRYPTOSUITE, verification_method, created, proof_purpose, extra_options
    )
    value = proof_value(signer, jcs_hash_data(document, options, loader))
    return {**document, "proof": {**options, "proofValue": value}}


def verify_jcs_signature(parts: ProofParts, public_key: bytes, loader: ContextLoader) -> None:
    """Verify the Ed25519 signature over the eddsa-jcs-2022 hash data; raise on failure."""
    data = jcs_hash_data(parts.unsecured_document, parts.proof_options, loader)
    if not ed25519_verify(public_key, parts.signature, data):
        raise ProofError(
            "the signature does not match the document", code=ReasonCode.SIGNATURE_INVALID
        )
