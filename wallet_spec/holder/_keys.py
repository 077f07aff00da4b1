"""The holder's key: Ed25519, identified by its did:key."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS

from verifier import (
    ED25519_PRIV_PREFIX,
    KeyFormatError,
    decode_multikey,
    did_key_from_public_key,
    did_key_verification_method,
    encode_multikey,
)

__all__ = ["HolderKey"]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class HolderKey:
    """An Ed25519 key pair that signs key proofs and presentations; ``did`` names the holder."""

    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> HolderKey:
        """A new random key."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> HolderKey:
        """The key whose 32-byte private seed is ``seed`` (fixed keys for examples and tests)."""
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte public key."""
        return self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def did(self) -> str:
        """``did:key:z6Mk…``: the holder, and the wallet credential's ``credentialSubject.id``."""
        return did_key_from_public_key(self.public_key)

    @property
    def verification_method(self) -> str:
        """``did:key:z6Mk…#z6Mk…``: the ``kid`` of key proofs and presentation proofs."""
        return did_key_verification_method(self.did)

    def sign(self, data: bytes) -> bytes:
        """The Ed25519 signature of ``data`` (a :class:`verifier.Signer`)."""
        return self.private_key.sign(data)

    def sign_jwt(self, header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
        """A compact JWS (EdDSA) of ``claims`` with the protected ``header`` (``alg`` is set)."""
        private = JWK(
            kty="OKP",
            crv="Ed25519",
            x=_b64url(self.public_key),
            d=_b64url(self.private_key.private_bytes_raw()),
        )
        token = JWS(json.dumps(dict(claims), separators=(",", ":")).encode())
        token.add_signature(
            private,
            alg="EdDSA",
            protected=json.dumps({**header, "alg": "EdDSA"}, separators=(",", ":")),
        )
        compact: str = token.serialize(compact=True)
        return compact

    def to_json(self) -> dict[str, str]:
        """The key file (holds the private key): ``{"id", "publicKeyMultibase",
        "privateKeyMultibase"}``."""
        return {
            "id": self.did,
            "publicKeyMultibase": encode_multikey(self.public_key),
            "privateKeyMultibase": encode_multikey(
                self.private_key.private_bytes_raw(), ED25519_PRIV_PREFIX
            ),
        }

    @classmethod
    def from_json(cls, document: Any) -> HolderKey:
        """Read a key file; the public key, if given, must match the private one."""
        if not isinstance(document, Mapping) or not isinstance(
            document.get("privateKeyMultibase"), str
        ):
            raise KeyFormatError("a holder key file has a privateKeyMultibase")
        key = cls.from_seed(decode_multikey(document["privateKeyMultibase"], ED25519_PRIV_PREFIX))
        public = document.get("publicKeyMultibase")
        if public is not None and public != encode_multikey(key.public_key):
            raise KeyFormatError("publicKeyMultibase does not match privateKeyMultibase")
        return key
