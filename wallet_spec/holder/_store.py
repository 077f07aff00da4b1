"""The wallet's local store: one folder, the holder key and one file per credential.

Every file is written atomically (a temporary file in the same folder, flushed and synced, then
renamed over the target) with mode 0600, so a crash leaves the old file or the new one, never a
torn one, and no other user can read it. Layout (``wallet_spec/storage.md``)::

    <wallet>/holder-key.json            the Ed25519 key (private): HolderKey.to_json()
    <wallet>/credentials/<hash>.json    one stored credential (schemas/stored-credential)
    <wallet>/receipts/<hash>.json       a consent receipt credential the wallet received
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from verifier import CardEncodingError, KeyFormatError, encode_card, format_datetime

from ._errors import WalletError
from ._keys import HolderKey

__all__ = ["STORE_VERSION", "WalletStore", "write_private_file"]

#: Version of the stored-credential file format (``storeVersion``).
STORE_VERSION = 1


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, readable and writable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _dumps(document: Any) -> bytes:
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


class WalletStore:
    """A wallet folder: the holder key and the credentials it holds."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def key_path(self) -> Path:
        """Where the holder key lives."""
        return self.root / "holder-key.json"

    def _credential_path(self, credential_id: str) -> Path:
        name = hashlib.sha256(credential_id.encode("utf-8")).hexdigest()[:32]
        return self.root / "credentials" / f"{name}.json"

    # -- the key --------------------------------------------------------------------------------

    def create_key(self) -> HolderKey:
        """Generate and store the holder key; refuses to replace an existing one."""
        if self.key_path.exists():
            raise WalletError("KEY_EXISTS", f"{self.key_path} already holds a key")
        key = HolderKey.generate()
        write_private_file(self.key_path, _dumps(key.to_json()))
        return key

    def load_key(self) -> HolderKey:
        """The stored holder key."""
        try:
            document = json.loads(self.key_path.read_text(encoding="utf-8"))
            return HolderKey.from_json(document)
        except FileNotFoundError:
            raise WalletError(
                "NO_KEY", f"no holder key in {self.root} (run: credencial-wallet keygen)"
            ) from None
        except (OSError, ValueError, KeyFormatError) as exc:
            raise WalletError("STORE_CORRUPT", f"cannot read {self.key_path}: {exc}") from None

    # -- credentials ----------------------------------------------------------------------------

    def add(
        self, credential: Mapping[str, Any], *, received_at: datetime, source: str
    ) -> dict[str, Any]:
        """Store ``credential`` (JSON form, and its card form when the card can express it)."""
        credential_id = credential.get("id")
        if not isinstance(credential_id, str) or not credential_id:
            raise WalletError("CREDENTIAL_INVALID", "the credential has no id")
        try:
            card: str | None = encode_card(credential)
        except CardEncodingError:
            card = None
        entry = {
            "storeVersion": STORE_VERSION,
            "id": credential_id,
            "format": "ldp_vc",
            "receivedAt": format_datetime(received_at),
            "source": source,
            "credential": dict(credential),
            "card": card,
        }
        write_private_file(self._credential_path(credential_id), _dumps(entry))
        return entry

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every stored entry, oldest first (unreadable files are reported, not skipped)."""
        folder = self.root / "credentials"
        if not folder.is_dir():
            return
        loaded = []
        for path in sorted(folder.glob("*.json")):
            try:
                entry = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise WalletError("STORE_CORRUPT", f"cannot read {path}: {exc}") from None
            if not isinstance(entry, dict) or not isinstance(entry.get("credential"), dict):
                raise WalletError("STORE_CORRUPT", f"{path} is not a stored credential")
            loaded.append(entry)
        yield from sorted(loaded, key=lambda e: (str(e.get("receivedAt")), str(e.get("id"))))

    def get(self, credential_id: str) -> dict[str, Any]:
        """One stored entry by the credential's id."""
        for entry in self.entries():
            if entry["id"] == credential_id:
                return entry
        raise WalletError("NOT_FOUND", f"no credential {credential_id} in {self.root}")

    def add_receipt(self, receipt: Mapping[str, Any]) -> Path:
        """Keep a consent receipt credential (proof of the grant, usable offline)."""
        receipt_id = receipt.get("id")
        if not isinstance(receipt_id, str) or not receipt_id:
            raise WalletError("CREDENTIAL_INVALID", "the receipt has no id")
        name = hashlib.sha256(receipt_id.encode("utf-8")).hexdigest()[:32]
        path = self.root / "receipts" / f"{name}.json"
        write_private_file(path, _dumps(dict(receipt)))
        return path

    def receipts(self) -> list[dict[str, Any]]:
        """The consent receipts kept, in file-name order."""
        folder = self.root / "receipts"
        found = []
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                found.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError) as exc:
                raise WalletError("STORE_CORRUPT", f"cannot read {path}: {exc}") from None
        return found

    def remove(self, credential_id: str) -> None:
        """Delete a stored credential."""
        path = self._credential_path(credential_id)
        if not path.exists():
            raise WalletError("NOT_FOUND", f"no credential {credential_id} in {self.root}")
        path.unlink()
