"""The signed trust bundle: canonical signed bytes and k-of-n anchor signature checks.

See ``docs/adr/0004-trust-bundle.md`` for the format.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from ._ed25519 import ed25519_verify
from ._errors import IndeterminateError, InputError, KeyFormatError, ReasonCode, TrustBundleError
from ._json import parse_json
from ._multibase import b58encode, decode_multibase, decode_multikey, encode_multikey
from ._time import parse_datetime
from ._trusted_key import TrustedKey

__all__ = [
    "BUNDLE_SIGNING_PREFIX",
    "BUNDLE_TYPE",
    "MAX_BUNDLE_BYTES",
    "AnchorKey",
    "AnchorSet",
    "BundleDelta",
    "BundleInstitution",
    "BundleStatusDelta",
    "BundleStatusList",
    "BundleStatusLists",
    "TrustBundle",
    "bundle_signing_bytes",
    "encode_bundle_signature",
    "load_trust_bundle",
    "valid_signers",
]

BUNDLE_TYPE = "CredencialTrustBundle"
SPEC_VERSION = 1
#: Largest bundle file accepted (a few hundred institutions with keys and list hashes).
MAX_BUNDLE_BYTES = 8 * 1024 * 1024

#: Domain separation: a bundle signature is never valid for any other message.
BUNDLE_SIGNING_PREFIX = b"credencial-trust-bundle-v1\n"


def bundle_signing_bytes(signed: Mapping[str, Any]) -> bytes:
    """The bytes anchor keys sign: the prefix, then the canonical JSON of ``signed``."""
    body = json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return BUNDLE_SIGNING_PREFIX + body.encode("utf-8")


def encode_bundle_signature(keyid: str, signature: bytes) -> dict[str, str]:
    """A ``signatures`` entry."""
    return {"keyid": keyid, "sig": "z" + b58encode(signature)}


@dataclass(frozen=True, slots=True)
class AnchorKey:
    """One national trust-anchor key."""

    id: str
    public_key: bytes


@dataclass(frozen=True, slots=True)
class AnchorSet:
    """The anchor keys and how many of them must sign."""

    keys: tuple[AnchorKey, ...]
    threshold: int

    @classmethod
    def from_json(cls, anchor: Mapping[str, Any]) -> AnchorSet:
        """From a bundle's ``anchor`` object."""
        if not isinstance(anchor, Mapping):
            raise KeyFormatError("anchor must be an object")
        threshold, keys = anchor.get("threshold"), anchor.get("keys")
        if type(threshold) is not int or threshold < 1 or not isinstance(keys, list):
            raise KeyFormatError("anchor needs a positive integer threshold and a keys list")
        parsed = []
        for entry in keys:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
                raise KeyFormatError("each anchor key needs an id")
            parsed.append(
                AnchorKey(entry["id"], decode_multikey(entry.get("publicKeyMultibase", "")))
            )
        if len({key.id for key in parsed}) != len(parsed):
            raise KeyFormatError("an anchor key id is listed twice")
        if threshold > len({key.public_key for key in parsed}):
            raise KeyFormatError("the threshold is larger than the number of distinct anchor keys")
        return cls(tuple(parsed), threshold)

    def to_json(self) -> dict[str, Any]:
        """The ``anchor`` object of a bundle (or an ``ANCHORS.json`` file)."""
        return {
            "threshold": self.threshold,
            "keys": [
                {"id": key.id, "publicKeyMultibase": encode_multikey(key.public_key)}
                for key in self.keys
            ],
        }

    @classmethod
    def from_file(cls, path: str | Path) -> AnchorSet:
        """Load pinned anchors (``ANCHORS.json``)."""
        try:
            document = parse_json(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KeyFormatError(f"cannot read anchor file {path}: {exc}") from exc
        return cls.from_json(document)

    def same_keys(self, other: AnchorSet) -> bool:
        """Whether ``other`` has the same threshold and the same set of public keys."""
        return self.threshold == other.threshold and {k.public_key for k in self.keys} == {
            k.public_key for k in other.keys
        }


def valid_signers(
    signed: Mapping[str, Any], signatures: Iterable[Any], anchors: AnchorSet
) -> frozenset[bytes]:
    """The distinct anchor *public keys* with a valid signature over ``signed``.

    Counting public keys, not entries or key ids, makes a duplicated signature, or one key listed
    under two ids, count once.
    """
    message = bundle_signing_bytes(signed)
    by_id = {key.id: key for key in anchors.keys}
    good: set[bytes] = set()
    for entry in signatures:
        if not isinstance(entry, Mapping):
            continue
        keyid, sig = entry.get("keyid"), entry.get("sig")
        key = by_id.get(keyid) if isinstance(keyid, str) else None
        if key is None or not isinstance(sig, str):
            continue
        try:
            raw = decode_multibase(sig)
        except ValueError:
            continue
        if ed25519_verify(key.public_key, raw, message):
            good.add(key.public_key)
    return frozenset(good)


def _sha256_hex(value: object, where: str) -> str:
    if (
        not isinstance(value, str)
        or len(value) != 64
        or any(c not in "0123456789abcdefABCDEF" for c in value)
    ):
        raise TrustBundleError(f"{where}: sha256 must be 64 hex digits")
    return value.lower()


def _safe_relative_path(value: object, where: str) -> str | None:
    """A relative POSIX path inside the bundle folder (no ``..``, not absolute), or None."""
    if value is None:
        return None
    path = PurePosixPath(value) if isinstance(value, str) else None
    if path is None or path.is_absolute() or ".." in path.parts or "\\" in str(value) or not value:
        raise TrustBundleError(f"{where}: path must be relative, inside the bundle folder")
    return str(path)


def _optional_time(entry: Mapping[str, Any], key: str, where: str) -> datetime | None:
    value = entry.get(key)
    try:
        return None if value is None else parse_datetime(value)
    except ValueError as exc:
        raise TrustBundleError(f"{where}: {key}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class BundleStatusDelta:
    """A delta file beside the bundle that rebuilds a status list from the one held before."""

    path: str
    sha256: str  # of the delta file's bytes
    from_sha256: str  # of the status list file it applies to

    @classmethod
    def from_json(cls, entry: object, where: str) -> BundleStatusDelta:
        """From a status list entry's optional ``delta`` object."""
        if not isinstance(entry, Mapping):
            raise TrustBundleError(f"{where}: delta must be an object")
        path = _safe_relative_path(entry.get("path"), f"{where} delta")
        if path is None:
            raise TrustBundleError(f"{where}: delta needs a 'path'")
        return cls(
            path=path,
            sha256=_sha256_hex(entry.get("sha256"), f"{where} delta"),
            from_sha256=_sha256_hex(entry.get("fromSha256"), f"{where} delta fromSha256"),
        )


@dataclass(frozen=True, slots=True)
class BundleDelta:
    """One delta file for every status list that changed since bundle ``from_version``
    (``signed.statusDelta``; :func:`verifier._status_delta.apply_bundle_delta`)."""

    path: str
    sha256: str  # of the delta file's bytes
    from_version: int

    @classmethod
    def from_json(cls, entry: object) -> BundleDelta:
        """From ``signed.statusDelta``."""
        if not isinstance(entry, Mapping):
            raise TrustBundleError("signed.statusDelta must be an object")
        path = _safe_relative_path(entry.get("path"), "signed.statusDelta")
        version = entry.get("fromVersion")
        if path is None or type(version) is not int or version < 1:
            raise TrustBundleError("signed.statusDelta needs a 'path' and a 'fromVersion'")
        return cls(path, _sha256_hex(entry.get("sha256"), "signed.statusDelta"), version)


@dataclass(frozen=True, slots=True)
class BundleStatusList:
    """A status list credential named by a bundle: where it is published and its file's hash."""

    url: str
    sha256: str
    purpose: str | None = None
    path: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    delta: BundleStatusDelta | None = None

    @property
    def file_name(self) -> str:
        """Where the file lives beside the bundle: its ``path``, else ``status/<sha256>.json``."""
        return self.path or f"status/{self.sha256}.json"

    @classmethod
    def from_json(cls, entry: Mapping[str, Any], where: str) -> BundleStatusList:
        """From one ``statusLists`` entry."""
        if not isinstance(entry, Mapping) or not isinstance(entry.get("url"), str):
            raise TrustBundleError(f"{where}: a status list entry needs a 'url'")
        where = f"{where} {entry['url']}"
        purpose = entry.get("purpose")
        if purpose is not None and not isinstance(purpose, str):
            raise TrustBundleError(f"{where}: purpose must be a string")
        return cls(
            url=entry["url"],
            sha256=_sha256_hex(entry.get("sha256"), where),
            purpose=purpose,
            path=_safe_relative_path(entry.get("path"), where),
            valid_from=_optional_time(entry, "validFrom", where),
            valid_until=_optional_time(entry, "validUntil", where),
            delta=(
                None
                if entry.get("delta") is None
                else BundleStatusDelta.from_json(entry["delta"], where)
            ),
        )


@dataclass(frozen=True, slots=True)
class BundleInstitution:
    """A trusted institution: its identifiers, its keys, and the status lists it publishes."""

    code: str
    name: str
    did: str
    keys: tuple[TrustedKey, ...]
    status_lists: tuple[BundleStatusList, ...]

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> BundleInstitution:
        """From one ``institutions`` entry; every key is controlled by the institution's DID."""
        if not isinstance(entry, Mapping):
            raise TrustBundleError("an institution entry must be an object")
        code, name, did = (str(entry.get(k, "")) for k in ("code", "name", "did"))
        keys, lists = entry.get("keys", []), entry.get("statusLists", [])
        if not all(isinstance(entry.get(k), str) and entry[k] for k in ("code", "name", "did")):
            raise TrustBundleError("an institution needs string 'code', 'name' and 'did'")
        if not isinstance(keys, list) or not isinstance(lists, list):
            raise TrustBundleError(f"institution {code}: 'keys' and 'statusLists' are lists")
        parsed_keys = []
        for key in keys:
            if not isinstance(key, Mapping) or not str(key.get("id", "")).startswith(did + "#"):
                raise TrustBundleError(f"institution {code}: a key id must start with {did}#")
            try:
                parsed_keys.append(TrustedKey.from_json({**key, "controller": did}))
            except KeyFormatError as exc:
                raise TrustBundleError(f"institution {code}: {exc.message}") from exc
        parsed_lists = tuple(BundleStatusList.from_json(e, f"institution {code}") for e in lists)
        return cls(code, name, did, tuple(parsed_keys), parsed_lists)


@dataclass(frozen=True, slots=True)
class TrustBundle:
    """A parsed trust bundle whose anchor signatures were checked by :func:`load_trust_bundle`."""

    version: int
    issued: datetime
    expires: datetime
    anchor: AnchorSet
    institutions: tuple[BundleInstitution, ...]
    #: SHA-256 (hex) of the signed bytes: two bundles with one version must not differ.
    digest: str = ""
    #: The delta from an earlier bundle's status lists, if the bundle names one.
    status_delta: BundleDelta | None = None

    def keys(self) -> tuple[TrustedKey, ...]:
        """Every institution key in the bundle."""
        return tuple(key for institution in self.institutions for key in institution.keys)

    def status_lists(self) -> tuple[BundleStatusList, ...]:
        """Every status list the bundle names."""
        return tuple(entry for inst in self.institutions for entry in inst.status_lists)

    def status_list(self, url: str) -> BundleStatusList | None:
        """The bundle's entry for the status list at ``url``."""
        return next((entry for entry in self.status_lists() if entry.url == url), None)


def _parse_signed(signed: Mapping[str, Any]) -> TrustBundle:
    if signed.get("type") != BUNDLE_TYPE or signed.get("specVersion") != SPEC_VERSION:
        raise TrustBundleError(f"not a {BUNDLE_TYPE} of specVersion {SPEC_VERSION}")
    version = signed.get("version")
    if type(version) is not int or version < 1:
        raise TrustBundleError("signed.version must be a positive integer")
    issued = _optional_time(signed, "issued", "signed")
    expires = _optional_time(signed, "expires", "signed")
    if issued is None or expires is None or expires <= issued:
        raise TrustBundleError("signed needs 'issued' and a later 'expires'")
    try:
        anchor = AnchorSet.from_json(signed.get("anchor"))  # type: ignore[arg-type]
    except KeyFormatError as exc:
        raise TrustBundleError(f"signed.anchor: {exc.message}") from exc
    institutions = signed.get("institutions")
    if not isinstance(institutions, list):
        raise TrustBundleError("signed.institutions must be a list")
    parsed = tuple(BundleInstitution.from_json(entry) for entry in institutions)
    key_ids = [key.id for inst in parsed for key in inst.keys]
    urls = [entry.url for inst in parsed for entry in inst.status_lists]
    if len(set(key_ids)) != len(key_ids) or len(set(urls)) != len(urls):
        raise TrustBundleError("a key id or a status list URL is listed twice")
    digest = hashlib.sha256(bundle_signing_bytes(signed)).hexdigest()
    raw_delta = signed.get("statusDelta")
    delta = None if raw_delta is None else BundleDelta.from_json(raw_delta)
    if delta is not None and delta.from_version >= version:
        raise TrustBundleError("signed.statusDelta must start from an earlier version")
    return TrustBundle(version, issued, expires, anchor, parsed, digest, delta)


def load_trust_bundle(
    document: str | bytes | Mapping[str, Any], *, trusted_anchors: AnchorSet
) -> TrustBundle:
    """Parse a bundle and check its anchor signatures; raise :class:`TrustBundleError` if refused.

    At least ``trusted_anchors.threshold`` distinct keys of ``trusted_anchors`` must sign it. A
    bundle whose own anchor set differs (an anchor rotation) must also meet its own threshold.
    Rollback and expiry are judged elsewhere (:class:`TrustState`, the verifier).
    """
    if not isinstance(document, Mapping):
        if len(document) > MAX_BUNDLE_BYTES:
            raise TrustBundleError(f"a trust bundle is at most {MAX_BUNDLE_BYTES} bytes")
        try:
            document = parse_json(document)
        except (ValueError, RecursionError) as exc:
            raise TrustBundleError(f"a trust bundle is JSON: {exc}") from exc
    if not isinstance(document, Mapping):
        raise TrustBundleError("a trust bundle is a JSON object")
    signed, signatures = document.get("signed"), document.get("signatures")
    if not isinstance(signed, Mapping) or not isinstance(signatures, list):
        raise TrustBundleError("a trust bundle has a 'signed' object and a 'signatures' list")
    try:
        bundle = _parse_signed(signed)
    except UnicodeEncodeError:  # JSON "\ud800": a lone surrogate, not Unicode text
        raise TrustBundleError("the bundle holds text that is not valid Unicode") from None
    sets = [("trusted", trusted_anchors)]
    if not bundle.anchor.same_keys(trusted_anchors):
        sets.append(("the bundle's own (rotated)", bundle.anchor))
    for label, anchors in sets:
        count = len(valid_signers(signed, signatures, anchors))
        if count < anchors.threshold:
            raise TrustBundleError(
                f"trust bundle version {bundle.version}: {count} valid signature(s) of "
                f"{label} anchor keys, {anchors.threshold} required"
            )
    return bundle


class BundleStatusLists:
    """Status list files a bundle names, served only if their SHA-256 is the bundle's.

    ``files`` maps a status list URL to the bytes of the file held for it. ``get`` returns the
    parsed credential when the file's hash matches the bundle's entry; it raises an
    :class:`IndeterminateError` (``STATUS_LIST_NOT_IN_BUNDLE``) for a list the bundle does not
    name or whose held file differs (no mixing an old, validly signed list into a new bundle),
    and returns ``None`` when nothing is held for a named list.
    """

    def __init__(self, bundle: TrustBundle, files: Mapping[str, bytes]) -> None:
        self.bundle = bundle
        self._files = dict(files)
        self._parsed: dict[str, Mapping[str, Any]] = {}
        # URL → entry, first entry first (as TrustBundle.status_list): a national bundle names
        # ~2,000 lists and every verification looks up two of them.
        self._entries: dict[str, BundleStatusList] = {}
        for entry in bundle.status_lists():
            self._entries.setdefault(entry.url, entry)

    @classmethod
    def from_dir(cls, bundle: TrustBundle, folder: str | Path) -> BundleStatusLists:
        """The files the bundle names, read from beside it (missing files are simply not held)."""
        files: dict[str, bytes] = {}
        for entry in bundle.status_lists():
            path = Path(folder) / entry.file_name
            try:
                files[entry.url] = path.read_bytes()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise InputError(f"cannot read status list {path}: {exc}") from exc
        return cls(bundle, files)

    def get(self, url: str) -> Mapping[str, Any] | None:
        """The held status list credential for ``url``, if the bundle vouches for its bytes."""
        entry = self._entries.get(url)
        if entry is None:
            raise IndeterminateError(
                f"status list {url} is not named in trust bundle version {self.bundle.version}",
                code=ReasonCode.STATUS_LIST_NOT_IN_BUNDLE,
            )
        data = self._files.get(url)
        if data is None:
            return None
        if url not in self._parsed:
            if hashlib.sha256(data).hexdigest() != entry.sha256:
                raise IndeterminateError(
                    f"the held status list {url} is not the one in trust bundle version "
                    f"{self.bundle.version} (SHA-256 differs)",
                    code=ReasonCode.STATUS_LIST_NOT_IN_BUNDLE,
                )
            try:
                parsed = parse_json(data)
            except ValueError as exc:
                raise IndeterminateError(
                    f"status list {url}: not JSON: {exc}", code=ReasonCode.STATUS_LIST_INVALID
                ) from exc
            if not isinstance(parsed, Mapping):
                raise IndeterminateError(
                    f"status list {url} is not a JSON object", code=ReasonCode.STATUS_LIST_INVALID
                )
            self._parsed[url] = parsed
        return self._parsed[url]
