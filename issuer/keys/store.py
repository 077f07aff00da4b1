"""Institution signing keys: the key store interface, and file keys encrypted at rest.

The private key never leaves the key store: callers get a :class:`verifier.Signer`. Two stores
implement :class:`KeyStore`: :class:`FileKeyStore` (the default) and
:class:`issuer.keys.hsm.Pkcs11KeyStore` (keys generated in an HSM token); :func:`open_keystore`
picks the one the settings name (``CREDENCIAL_KEY_BACKEND``).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    load_pem_private_key,
)

from issuer.keys.files import Ed25519KeyPair
from verifier import KeyFormatError, Signer

if TYPE_CHECKING:
    from issuer.settings import IssuerSettings

__all__ = ["FileKeyStore", "KeyHandle", "KeyStore", "StoredKey", "open_keystore"]


class StoredKey(Protocol):
    """An institution key as a store hands it out: its public key, and a way to sign."""

    @property
    def public_key_multibase(self) -> str:
        """The public key as a Multikey value (``z6Mk...``)."""
        ...

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``data``."""
        ...


class KeyStore(Protocol):
    """Where institution keys are created and used; ``backend`` is recorded with each key."""

    @property
    def backend(self) -> str:
        """``file`` or ``pkcs11`` (the ``signing_keys.backend`` column)."""
        ...

    def create(self, institution: str, key_id: str) -> StoredKey:
        """Generate and store a new key; never overwrites an existing one."""
        ...

    def load(self, institution: str, key_id: str) -> StoredKey:
        """A stored key, ready to sign (:class:`verifier.KeyFormatError` if there is none)."""
        ...


@dataclass(frozen=True)
class KeyHandle:
    """A usable signing key: its verification method and a signer."""

    verification_method: str
    public_key_multibase: str
    signer: Signer


class FileKeyStore:
    """Ed25519 keys as passphrase-encrypted PKCS#8 PEM files, one per institution key.

    Decrypted keys are cached in memory for the life of the process (decryption is slow on
    purpose: the passphrase is stretched).
    """

    backend = "file"

    def __init__(self, directory: Path, passphrase: str) -> None:
        if not passphrase:
            raise KeyFormatError("a key passphrase is required (CREDENCIAL_KEY_PASSPHRASE)")
        self.directory = directory
        self._passphrase = passphrase.encode("utf-8")
        self._cache: dict[tuple[str, str], Ed25519KeyPair] = {}

    def _path(self, institution: str, key_id: str) -> Path:
        return self.directory / institution.lower() / f"{key_id}.pem"

    def create(self, institution: str, key_id: str) -> Ed25519KeyPair:
        """Generate and store a new key; never overwrites an existing one."""
        pair = Ed25519KeyPair.generate()
        path = self._path(institution, key_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = pair.private_key.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(self._passphrase)
        )
        # Written beside it, then linked into place: the key file appears whole or not at all
        # (a process killed mid-write leaves only a hidden temporary), and never replaces one.
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(pem)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(temporary, path)  # FileExistsError if the key exists
        finally:
            os.unlink(temporary)
        self._cache[(institution, key_id)] = pair
        return pair

    def load(self, institution: str, key_id: str) -> Ed25519KeyPair:
        """The key pair, decrypted (cached after the first load)."""
        cached = self._cache.get((institution, key_id))
        if cached is not None:
            return cached
        path = self._path(institution, key_id)
        try:
            private = load_pem_private_key(path.read_bytes(), password=self._passphrase)
        except FileNotFoundError:
            raise KeyFormatError(f"no key file {path}") from None
        except (ValueError, TypeError) as exc:
            raise KeyFormatError(f"cannot decrypt {path}: wrong passphrase or bad file") from exc
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyFormatError(f"{path} is not an Ed25519 key")
        pair = Ed25519KeyPair(private)
        self._cache[(institution, key_id)] = pair
        return pair


def open_keystore(settings: IssuerSettings) -> KeyStore:
    """The key store ``settings.key_backend`` names (PKCS#11 needs the ``hsm`` extra)."""
    if settings.key_backend == "pkcs11":
        from issuer.keys.hsm import (
            Pkcs11KeyStore,  # python-pkcs11 is loaded only when an HSM is used
        )

        return Pkcs11KeyStore.from_settings(settings)
    return FileKeyStore(settings.key_dir, settings.key_passphrase.get_secret_value())
