"""Institution signing keys in files: Multikey-style JSON, as the W3C test vectors use."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nacl.bindings import crypto_sign, crypto_sign_seed_keypair

from verifier import (
    ED25519_PRIV_PREFIX,
    KeyFormatError,
    decode_multikey,
    encode_multikey,
    parse_json,
)

__all__ = ["Ed25519KeyPair"]


@dataclass(frozen=True)
class Ed25519KeyPair:
    """An Ed25519 key pair; signs bytes for :func:`verifier.create_proof`."""

    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> Ed25519KeyPair:
        """A new random key pair."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Ed25519KeyPair:
        """From ``{"publicKeyMultibase": "z6Mk...", "privateKeyMultibase": "z3u2..."}``."""
        if not isinstance(document, Mapping):
            raise KeyFormatError("a key file is a JSON object")
        private = document.get("privateKeyMultibase")
        if not isinstance(private, str):
            raise KeyFormatError("the key file has no 'privateKeyMultibase'")
        pair = cls(
            Ed25519PrivateKey.from_private_bytes(decode_multikey(private, ED25519_PRIV_PREFIX))
        )
        public = document.get("publicKeyMultibase")
        if public is not None and public != pair.public_key_multibase:
            raise KeyFormatError("publicKeyMultibase does not match privateKeyMultibase")
        return pair

    @classmethod
    def from_file(cls, path: str | Path) -> Ed25519KeyPair:
        """Load a key file."""
        try:
            document = parse_json(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KeyFormatError(f"cannot read key file {path}: {exc}") from exc
        return cls.from_json(document)

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte public key."""
        return self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def public_key_multibase(self) -> str:
        """The public key as a Multikey value (``z6Mk...``)."""
        return encode_multikey(self.public_key)

    @property
    def did_key(self) -> str:
        """The ``did:key`` verification method of this key (``did:key:z6Mk...#z6Mk...``)."""
        multikey = self.public_key_multibase
        return f"did:key:{multikey}#{multikey}"

    def to_json(self) -> dict[str, str]:
        """The key file content (contains the private key)."""
        seed = self.private_key.private_bytes_raw()
        return {
            "publicKeyMultibase": self.public_key_multibase,
            "privateKeyMultibase": encode_multikey(seed, ED25519_PRIV_PREFIX),
        }

    def save(self, path: str | Path) -> None:
        """Write the key file, readable by its owner only; never overwrite an existing key."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        descriptor = os.open(path, flags, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(self.to_json(), handle, indent=2)
            handle.write("\n")

    def sign(self, data: bytes) -> bytes:
        """The Ed25519 signature of ``data`` (libsodium: the same bytes as OpenSSL's, RFC 8032
        signatures being deterministic, in about 60 % of the time; docs/perf.md)."""
        return crypto_sign(data, self._sodium_secret_key)[:64]

    @cached_property
    def _sodium_secret_key(self) -> bytes:
        """libsodium's 64-byte secret key (seed and public key) for this key pair."""
        _, secret = crypto_sign_seed_keypair(self.private_key.private_bytes_raw())
        return bytes(secret)
