"""The verifier's persisted high-water mark: highest bundle version and latest trusted time.

A small JSON file (``{"highestVersion": 7, "latestTrustedTime": "...", "anchor": {...}}``) kept
beside the synced bundle. It stops rollback (an older, validly signed bundle is refused) and
lets the verifier notice a clock set back. ``anchor`` is the anchor set of the last accepted
bundle: after an anchor rotation, the next bundle is checked against the rotated set, unless
anchors are pinned (``--anchors``): pinned anchors are authoritative, and a state file that
records other anchors is not used (anyone who can write the folder can write this file).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ._bundle import AnchorSet, BundleStatusLists, TrustBundle, load_trust_bundle
from ._errors import KeyFormatError, ReasonCode, TrustBundleError
from ._json import parse_json
from ._time import format_datetime, parse_datetime
from ._trust import TrustStore

__all__ = [
    "BUNDLE_FILE",
    "CURRENT",
    "STATE_FILE",
    "TrustDir",
    "TrustState",
    "atomic_write_bytes",
    "current_dir",
]


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: all or nothing."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True, slots=True)
class TrustState:
    """What this verifier has trusted so far. The empty state trusts nothing yet."""

    highest_version: int = 0
    latest_trusted_time: datetime | None = None
    anchor: AnchorSet | None = None
    #: Digest of the bundle trusted at ``highest_version`` (see :attr:`TrustBundle.digest`).
    highest_digest: str | None = None

    @classmethod
    def from_json(cls, document: Any) -> TrustState:
        """From the state file's object."""
        if not isinstance(document, dict):
            raise TrustBundleError("the trust state is a JSON object")
        version, moment, anchor, digest = (
            document.get("highestVersion", 0),
            document.get("latestTrustedTime"),
            document.get("anchor"),
            document.get("highestDigest"),
        )
        if digest is not None and not isinstance(digest, str):
            raise TrustBundleError("trust state: highestDigest must be a string")
        if type(version) is not int or version < 0:
            raise TrustBundleError("trust state: highestVersion must be a whole number")
        try:
            return cls(
                version,
                None if moment is None else parse_datetime(moment),
                None if anchor is None else AnchorSet.from_json(anchor),
                digest,
            )
        except (ValueError, KeyFormatError) as exc:
            raise TrustBundleError(f"trust state: {exc}") from exc

    def to_json(self) -> dict[str, Any]:
        """The state file's object."""
        document: dict[str, Any] = {"highestVersion": self.highest_version}
        if self.latest_trusted_time is not None:
            document["latestTrustedTime"] = format_datetime(self.latest_trusted_time)
        if self.anchor is not None:
            document["anchor"] = self.anchor.to_json()
        if self.highest_digest is not None:
            document["highestDigest"] = self.highest_digest
        return document

    @classmethod
    def load(cls, path: str | Path) -> TrustState:
        """Read the state file; a missing file is the empty state."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls()
        except OSError as exc:
            raise TrustBundleError(f"cannot read trust state {path}: {exc}") from exc
        try:
            return cls.from_json(parse_json(text))
        except ValueError as exc:
            raise TrustBundleError(f"trust state {path} is not JSON: {exc}") from exc

    def save(self, path: str | Path) -> None:
        """Write the state file atomically."""
        text = json.dumps(self.to_json(), indent=2) + "\n"
        atomic_write_bytes(path, text.encode("utf-8"))

    def check(self, bundle: TrustBundle) -> None:
        """Refuse ``bundle`` if its version is below the highest already seen (rollback), or
        if it is a *different* bundle under the version already trusted (equivocation)."""
        if bundle.version < self.highest_version:
            raise TrustBundleError(
                f"trust bundle version {bundle.version} is older than version "
                f"{self.highest_version}, already trusted",
                code=ReasonCode.TRUST_BUNDLE_ROLLBACK,
            )
        if (
            bundle.version == self.highest_version
            and self.highest_digest is not None
            and bundle.digest != self.highest_digest
        ):
            raise TrustBundleError(
                f"a different trust bundle with version {bundle.version} was already trusted: "
                "two bundles must never share a version",
                code=ReasonCode.TRUST_BUNDLE_ROLLBACK,
            )

    def accept(self, bundle: TrustBundle) -> TrustState:
        """The state after trusting ``bundle`` (checked first: see :meth:`check`)."""
        self.check(bundle)
        latest = self.latest_trusted_time
        if latest is None or bundle.issued > latest:
            latest = bundle.issued
        return replace(
            self,
            highest_version=max(self.highest_version, bundle.version),
            latest_trusted_time=latest,
            anchor=bundle.anchor,
            highest_digest=bundle.digest,
        )


#: File names inside a synced trust folder.
BUNDLE_FILE = "trust-bundle.json"
STATE_FILE = "state.json"
#: In a folder written by ``credencial-verify sync``, the link to the installed snapshot.
CURRENT = "current"


def current_dir(trust_dir: str | Path) -> Path:
    """The folder holding the installed bundle: ``DIR/current`` if synced, else ``DIR`` itself."""
    root = Path(trust_dir)
    link = root / CURRENT
    return link.resolve() if link.exists() else root


@dataclass(frozen=True, slots=True)
class TrustDir:
    """A synced trust folder, loaded and checked: what a :class:`Verifier` needs."""

    bundle: TrustBundle
    state: TrustState
    trust: TrustStore
    status_lists: BundleStatusLists

    @classmethod
    def load(cls, folder: str | Path, *, anchors: AnchorSet | None = None) -> TrustDir:
        """Load ``trust-bundle.json``, ``state.json`` and the status lists from ``folder``.

        ``folder`` is a synced trust folder (its ``current`` snapshot is read) or a plain folder.

        Pinned ``anchors`` are authoritative: the bundle must be signed by them (a threshold of
        their keys), and the state file counts only if the anchor set it records is the pinned
        one or the bundle's own (a rotation signed by the pinned keys); whoever can write the
        folder cannot swap in their own anchors. Without ``anchors``, the bundle is checked
        against the anchor set recorded in the state (the last accepted one). A bundle below
        the state's version is refused. Reads files only: no network.
        """
        root = current_dir(folder)
        state = TrustState.load(root / STATE_FILE)
        trusted = anchors or state.anchor
        if trusted is None:
            raise TrustBundleError(f"{root}: no anchor set in the trust state and none pinned")
        try:
            data = (root / BUNDLE_FILE).read_bytes()
        except OSError as exc:
            raise TrustBundleError(f"cannot read {root / BUNDLE_FILE}: {exc}") from exc
        bundle = load_trust_bundle(data, trusted_anchors=trusted)
        if (
            anchors is not None
            and state.anchor is not None
            and not state.anchor.same_keys(anchors)
            and not state.anchor.same_keys(bundle.anchor)
        ):
            raise TrustBundleError(
                f"{root / STATE_FILE} records trust anchors other than the pinned ones: it was "
                "not written under them (sync again with the pinned --anchors)"
            )
        state.check(bundle)
        trust = TrustStore.from_bundle(bundle, latest_trusted_time=state.latest_trusted_time)
        return cls(bundle, state, trust, BundleStatusLists.from_dir(bundle, root))
