"""``credencial-verify sync``: fetch or copy a trust bundle and the status lists it names.

The only part of the verifier that may use the network (``urllib.request``, https only, with a
timeout and a size limit; gzip transfer encoding accepted, for a thin link). Nothing is replaced
until the new bundle has been checked against the trusted anchors and the high-water mark: files
are written to a new snapshot folder, then the ``current`` link is switched to it in one rename.
A refused bundle changes nothing.

What a sync reads: the bundle; no status list that is already installed with the bundle's hash;
the changed lists rebuilt from the installed ones and the bundle's one delta file
(``signed.statusDelta``) when it starts from the installed version; the rest whole. A download
that breaks off (connection lost, timeout, a short body) stops the sync with
:class:`SyncInterruptedError` and installs nothing; the files already downloaded and checked
against their hash wait in ``DIR/downloads/``, so the next sync resumes where it stopped. The
server's certificate is checked against the system's CAs (``SSL_CERT_FILE`` names another bundle).

Layout of the trust folder::

    DIR/current -> snapshots/v7-xxxx      (symlink, switched atomically)
    DIR/snapshots/v7-xxxx/trust-bundle.json
    DIR/snapshots/v7-xxxx/state.json      (the high-water mark after accepting v7)
    DIR/snapshots/v7-xxxx/status/...      (status list files, as the bundle names them)
    DIR/downloads/<sha256>                (checked downloads of an interrupted sync, for resuming)
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import ssl
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from .._bundle import AnchorSet, BundleStatusList, TrustBundle, load_trust_bundle
from .._errors import CredencialError, ReasonCode, TrustBundleError
from .._status_delta import StatusDeltaError, apply_bundle_delta, apply_status_delta
from .._time import format_datetime
from .._trust_state import BUNDLE_FILE, CURRENT, STATE_FILE, TrustState, current_dir

__all__ = ["CURRENT", "DOWNLOADS", "SyncInterruptedError", "SyncResult", "current_dir", "sync"]

SNAPSHOTS = "snapshots"
DOWNLOADS = "downloads"
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
    transferred: int = 0  # bytes read from the source (as sent): bundle, deltas and full files
    unchanged: int = 0  # status lists already installed with the bundle's hash: nothing read
    resumed: int = 0  # files taken from an interrupted sync's checked downloads


class SyncInterruptedError(OSError):
    """A download broke off: nothing was installed; run the sync again to resume it."""


class _Source:
    """Reads files relative to a bundle: from a folder, or over https."""

    def __init__(self, location: str, timeout: float) -> None:
        self.timeout = timeout
        self.transferred = 0
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

    def _read(self, path: Path, limit: int) -> bytes:
        try:
            with path.open("rb") as handle:
                data = handle.read(limit + 1)
        except OSError as exc:
            raise OSError(f"cannot read {path}: {exc}") from exc
        self.transferred += len(data)
        if len(data) > limit:
            raise OSError(f"{path} is larger than {limit} bytes")
        return data

    def _fetch(self, url: str, limit: int) -> bytes:
        if not url.startswith("https://"):
            raise OSError(f"refusing to fetch {url}: https only")
        request = urllib.request.Request(  # noqa: S310 (https checked just above)
            url, headers={"User-Agent": "credencial-verify-sync", "Accept-Encoding": "gzip"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                data: bytes = response.read(limit + 1)
                length = response.headers.get("Content-Length", "")
                encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        except urllib.error.HTTPError as exc:  # the server answered: not published there
            raise OSError(f"{url}: HTTP {exc.code} {exc.reason}") from None
        except (OSError, http.client.HTTPException) as exc:  # lost, refused, timed out
            if isinstance(getattr(exc, "reason", exc), ssl.SSLCertVerificationError):
                raise OSError(f"{url}: the server's certificate is not trusted: {exc}") from None
            raise SyncInterruptedError(f"the download of {url} broke off: {exc}") from None
        self.transferred += len(data)
        if length.isdecimal() and len(data) < int(length):
            raise SyncInterruptedError(
                f"the download of {url} broke off after {len(data)} of {length} bytes"
            )
        if len(data) > limit:
            raise OSError(f"{url} is larger than {limit} bytes")
        if encoding == "gzip":
            return _gunzip(data, limit, url)
        if encoding != "identity":
            raise OSError(f"{url}: unsupported Content-Encoding {encoding!r}")
        return data


def _gunzip(data: bytes, limit: int, url: str) -> bytes:
    """A gzip body, at most ``limit`` bytes once inflated."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        content = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise SyncInterruptedError(f"the gzip body of {url} is damaged: {exc}") from None
    if len(content) > limit or inflater.unconsumed_tail:
        raise OSError(f"{url} is larger than {limit} bytes")
    if not inflater.eof:
        raise SyncInterruptedError(f"the gzip body of {url} is cut short")
    return content


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
    and expiry. Status lists whose bytes do not hash to the bundle's entry, or that the source
    does not have, are not installed (reported in ``missing``; the verifier then answers
    INDETERMINATE for them). A list already installed with the entry's hash is kept; lists the
    bundle's delta (or an entry's own ``delta``) rebuilds from the installed ones are used only
    if they hash to the bundle's entry; the rest are read whole.
    Raises :class:`TrustBundleError` (bundle refused), :class:`SyncInterruptedError` (a download
    broke off: nothing installed, the next sync resumes) or ``OSError`` (cannot read or fetch).
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
    downloads = _Downloads(root / DOWNLOADS)
    files: dict[str, bytes] = {}
    missing: list[str] = []
    by_delta = by_full = unchanged = 0
    to_fetch = []
    for entry in bundle.status_lists():
        kept = _held(installed, entry, entry.sha256)
        if kept is not None:
            files[entry.file_name] = kept
            unchanged += 1
        else:
            to_fetch.append(entry)
    rebuilt = _by_bundle_delta(reader, bundle, state, installed, to_fetch, downloads)
    for entry in to_fetch:
        content = rebuilt.get(entry.url) or _by_delta(reader, entry, installed, downloads)
        if content is not None:
            files[entry.file_name] = content
            by_delta += 1
            continue
        content = downloads.obtain(entry.sha256, partial(reader.status_list, entry))
        if content is None:
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
    downloads.clear()
    return SyncResult(
        bundle, new_state, folder, tuple(missing), by_delta, by_full, reader.transferred,
        unchanged, downloads.resumed,
    )  # fmt: skip


class _Downloads:
    """Files fetched and checked against their SHA-256, kept until a sync installs them: an
    interrupted sync leaves them for the next one, which resumes instead of starting over."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.resumed = 0

    def obtain(self, sha256: str, fetch: Callable[[], bytes]) -> bytes | None:
        """The file with ``sha256``: kept from before, else fetched (``None``: not there, or
        not those bytes). A broken-off download raises :class:`SyncInterruptedError`."""
        path = self.folder / sha256
        try:
            kept = path.read_bytes()
        except OSError:
            kept = None
        if kept is not None and hashlib.sha256(kept).hexdigest() == sha256:
            self.resumed += 1
            return kept
        try:
            content = fetch()
        except SyncInterruptedError:
            raise
        except OSError:
            return None
        if hashlib.sha256(content).hexdigest() != sha256:
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{sha256}.{os.getpid()}")
        temp.write_bytes(content)
        os.replace(temp, path)
        return content

    def clear(self) -> None:
        """Drop the kept files (once installed)."""
        shutil.rmtree(self.folder, ignore_errors=True)


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


def _by_bundle_delta(
    reader: _Source,
    bundle: TrustBundle,
    state: TrustState,
    installed: Path,
    wanted: list[BundleStatusList],
    downloads: _Downloads,
) -> dict[str, bytes]:
    """URL → the status list files the bundle's delta rebuilds from the installed bundle's.

    Empty when the bundle has no delta, the delta starts from another version than the
    installed one, or cannot be read. Every file returned hashes to its entry in ``bundle``.
    """
    delta = bundle.status_delta
    if delta is None or not wanted or state.anchor is None:
        return {}
    if state.highest_version != delta.from_version:
        return {}
    try:
        previous = load_trust_bundle(
            (installed / BUNDLE_FILE).read_bytes(), trusted_anchors=state.anchor
        )
    except (OSError, CredencialError):
        return {}
    if previous.version != delta.from_version:
        return {}
    held: dict[str, bytes] = {}
    for entry in previous.status_lists():
        content = _held(installed, entry, entry.sha256)
        if content is not None:
            held[entry.url] = content
    content = downloads.obtain(delta.sha256, lambda: reader.relative(delta.path))
    if content is None:
        return {}
    expected = {entry.url: entry.sha256 for entry in wanted}
    try:
        return apply_bundle_delta(content, held, from_version=delta.from_version, expected=expected)
    except StatusDeltaError:
        return {}


def _by_delta(
    reader: _Source, entry: BundleStatusList, installed: Path, downloads: _Downloads
) -> bytes | None:
    """The entry's file rebuilt from the installed one and its own delta (an entry's ``delta``).

    ``None`` when there is no delta, no installed base, or the delta is unusable: the full file
    is then read instead. The result always hashes to ``entry.sha256``.
    """
    delta = entry.delta
    if delta is None:
        return None
    base = _held(installed, entry, delta.from_sha256)
    if base is None:
        return None
    content = downloads.obtain(delta.sha256, lambda: reader.relative(delta.path))
    if content is None:
        return None
    try:
        return apply_status_delta(base, content, url=entry.url, to_sha256=entry.sha256)
    except StatusDeltaError:
        return None


def _switch(root: Path, folder: Path) -> None:
    """Point ``root/current`` at ``folder`` with one rename (atomic on POSIX)."""
    link = root / CURRENT
    temp = root / f".{CURRENT}.{os.getpid()}"
    temp.unlink(missing_ok=True)
    temp.symlink_to(folder.relative_to(root), target_is_directory=True)
    os.replace(temp, link)
