"""``credencial-verify sync``: fetch or copy a trust bundle and the status lists it names.

The only part of the verifier that may use the network (``urllib.request``, https only, with a
timeout and a size limit). Nothing is replaced until the new bundle has been checked against the
trusted anchors and the high-water mark: files are written to a new snapshot folder, then the
``current`` link is switched to it in one rename. A refused bundle changes nothing.

Layout of the trust folder::

    DIR/current -> snapshots/v7-xxxx      (symlink, switched atomically)
    DIR/snapshots/v7-xxxx/trust-bundle.json
    DIR/snapshots/v7-xxxx/state.json      (the high-water mark after accepting v7)
    DIR/snapshots/v7-xxxx/status/...      (status list files, as the bundle names them)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .._bundle import AnchorSet, BundleStatusList, TrustBundle, load_trust_bundle
from .._errors import ReasonCode, TrustBundleError
from .._status_delta import StatusDeltaError, apply_status_delta
from .._time import format_datetime
from .._trust_state import BUNDLE_FILE, CURRENT, STATE_FILE, TrustState, current_dir

__all__ = ["CURRENT", "SyncResult", "current_dir", "sync"]

SNAPSHOTS = "snapshots"
MAX_BUNDLE_FETCH = 8 * 1024 * 1024
MAX_STATUS_FETCH = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What a sync installed."""

    bundle: TrustBundle
    state: TrustState
    folder: Path
    missing: tuple[str, ...]  # status list URLs named by the bundle but not obtained
    by_delta: int = 0  # status lists rebuilt from the installed ones and a delta file
    by_full: int = 0  # status lists copied or fetched whole
    transferred: int = 0  # bytes read from the source: bundle, deltas and full files


class _Source:
    """Reads files relative to a bundle: from a folder, or over https."""

    def __init__(self, location: str, timeout: float) -> None:
        self.timeout = timeout
        self.remote = location.startswith(("https://", "http://"))
        if self.remote:
            if not location.startswith("https://"):
                raise TrustBundleError(f"refusing to sync over plain http: {location}")
            self.bundle_url = (
                location if location.endswith(".json") else location.rstrip("/") + "/" + BUNDLE_FILE
            )
        else:
            path = Path(location)
            self.bundle_path = path if path.is_file() else path / BUNDLE_FILE

    def bundle(self) -> bytes:
        if self.remote:
            return self._fetch(self.bundle_url, MAX_BUNDLE_FETCH)
        return self._read(self.bundle_path, MAX_BUNDLE_FETCH)

    def status_list(self, entry: BundleStatusList) -> bytes:
        if self.remote:
            url = urllib.parse.urljoin(self.bundle_url, entry.path) if entry.path else entry.url
            return self._fetch(url, MAX_STATUS_FETCH)
        return self._read(self.bundle_path.parent / entry.file_name, MAX_STATUS_FETCH)

    def relative(self, path: str) -> bytes:
        """A file the bundle names by its path beside the bundle (a delta file)."""
        if self.remote:
            return self._fetch(urllib.parse.urljoin(self.bundle_url, path), MAX_STATUS_FETCH)
        return self._read(self.bundle_path.parent / path, MAX_STATUS_FETCH)

    @staticmethod
    def _read(path: Path, limit: int) -> bytes:
        try:
            with path.open("rb") as handle:
                data = handle.read(limit + 1)
        except OSError as exc:
            raise OSError(f"cannot read {path}: {exc}") from exc
        if len(data) > limit:
            raise OSError(f"{path} is larger than {limit} bytes")
        return data

    def _fetch(self, url: str, limit: int) -> bytes:
        if not url.startswith("https://"):
            raise OSError(f"refusing to fetch {url}: https only")
        request = urllib.request.Request(  # noqa: S310 (https checked just above)
            url, headers={"User-Agent": "credencial-verify-sync"}
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            data: bytes = response.read(limit + 1)
        if len(data) > limit:
            raise OSError(f"{url} is larger than {limit} bytes")
        return data


def sync(
    source: str,
    trust_dir: str | Path,
    *,
    anchors: AnchorSet | None = None,
    now: datetime | None = None,
    timeout: float = 30.0,
) -> SyncResult:
    """Install the bundle at ``source`` (folder, bundle file, or https URL) into ``trust_dir``.

    Checked before anything is replaced: the anchor threshold (against the pinned ``anchors``,
    else the anchor set of the installed state), rollback (version below the high-water mark),
    and expiry. Status lists whose bytes do not hash to the bundle's entry are not installed
    (reported in ``missing``; the verifier then answers INDETERMINATE for them). A status list
    with a ``delta`` whose base is installed is rebuilt from it and the (smaller) delta file,
    and used only if it hashes to the bundle's entry; else the full file is read.
    Raises :class:`TrustBundleError` (bundle refused) or ``OSError`` (cannot read or fetch).
    """
    root = Path(trust_dir)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    installed = current_dir(root)
    state = TrustState.load(installed / STATE_FILE)
    trusted = anchors or state.anchor  # pinned anchors are authoritative (issue 18)
    if trusted is None:
        raise TrustBundleError("no anchor set: pin one with --anchors for the first sync")
    reader = _Source(source, timeout)
    data = reader.bundle()
    bundle = load_trust_bundle(data, trusted_anchors=trusted)
    new_state = state.accept(bundle)
    if moment > bundle.expires:
        raise TrustBundleError(
            f"trust bundle version {bundle.version} expired at {format_datetime(bundle.expires)}",
            code=ReasonCode.TRUST_BUNDLE_EXPIRED,
        )
    files: dict[str, bytes] = {}
    missing: list[str] = []
    by_delta = by_full = 0
    transferred = len(data)
    for entry in bundle.status_lists():
        rebuilt, read = _by_delta(reader, entry, installed)
        transferred += read
        if rebuilt is not None:
            files[entry.file_name] = rebuilt
            by_delta += 1
            continue
        try:
            content = reader.status_list(entry)
        except OSError:
            missing.append(entry.url)
            continue
        transferred += len(content)
        if hashlib.sha256(content).hexdigest() != entry.sha256:
            missing.append(entry.url)
            continue
        files[entry.file_name] = content
        by_full += 1
    snapshots = root / SNAPSHOTS
    snapshots.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"v{bundle.version}-", dir=snapshots))
    try:
        (folder / BUNDLE_FILE).write_bytes(data)
        for name, content in files.items():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        new_state.save(folder / STATE_FILE)
        _switch(root, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    for old in snapshots.iterdir():
        if old != folder and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return SyncResult(bundle, new_state, folder, tuple(missing), by_delta, by_full, transferred)


def _held(installed: Path, entry: BundleStatusList, sha256: str) -> bytes | None:
    """The installed status list file with hash ``sha256`` (where this entry's file would be)."""
    for name in dict.fromkeys((entry.file_name, f"status/{sha256}.json")):
        try:
            content = (installed / name).read_bytes()
        except OSError:
            continue
        if hashlib.sha256(content).hexdigest() == sha256:
            return content
    return None


def _by_delta(
    reader: _Source, entry: BundleStatusList, installed: Path
) -> tuple[bytes | None, int]:
    """The entry's file rebuilt from the installed one and its delta, and the bytes read.

    ``None`` when there is no delta, no installed base, or the delta is unusable: the full file
    is then read instead. The result always hashes to ``entry.sha256``.
    """
    delta = entry.delta
    if delta is None:
        return None, 0
    base = _held(installed, entry, delta.from_sha256)
    if base is None:
        return None, 0
    try:
        content = reader.relative(delta.path)
    except OSError:
        return None, 0
    if hashlib.sha256(content).hexdigest() != delta.sha256:
        return None, len(content)
    try:
        rebuilt = apply_status_delta(base, content, url=entry.url, to_sha256=entry.sha256)
    except StatusDeltaError:
        return None, len(content)
    return rebuilt, len(content)


def _switch(root: Path, folder: Path) -> None:
    """Point ``root/current`` at ``folder`` with one rename (atomic on POSIX)."""
    link = root / CURRENT
    temp = root / f".{CURRENT}.{os.getpid()}"
    temp.unlink(missing_ok=True)
    temp.symlink_to(folder.relative_to(root), target_is_directory=True)
    os.replace(temp, link)
