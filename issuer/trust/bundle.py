"""The signed trust bundle (ADR 0004): build it from the issuer database, sign it with anchor keys.

``credencial-issuer trust-bundle build`` writes ``BUNDLE.json`` and, next to it, the current signed
status lists under ``status/`` (each file's SHA-256 is in the bundle, so a verifier can sync the
folder). ``trust-bundle sign`` adds one anchor signature; ``anchor keygen`` makes anchor keys.
Exit status: 0 done, 1 failed (database, no signing key), 64 usage or input error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from issuer.keys.files import Ed25519KeyPair
from issuer.storage.files import atomic_write
from verifier import CredencialError, decode_multibase, format_datetime, parse_json
from verifier._bundle import AnchorSet, bundle_signing_bytes, encode_bundle_signature
from verifier._status import status_list_file_bytes
from verifier._status_delta import make_bundle_delta, status_delta_file_bytes

if TYPE_CHECKING:
    from issuer.credentials.service import IssuerService

__all__ = [
    "BUNDLE_TYPE",
    "anchor_keygen",
    "build_bundle",
    "sign_bundle",
]

BUNDLE_TYPE = "CredencialTrustBundle"
SPEC_VERSION = 1
#: Folder, next to the bundle, that holds the status list files it names.
STATUS_DIR = "status"


class TrustBundleError(ValueError):
    """A usage or input problem (exit status 64)."""


def _write(path: Path, document: Mapping[str, Any]) -> bytes:
    data = (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    atomic_write(path, data)
    return data


def _read_object(path: Path, what: str) -> dict[str, Any]:
    try:
        document = parse_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TrustBundleError(f"cannot read {what} {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise TrustBundleError(f"{what} {path} is not a JSON object")
    return document


def load_anchors(path: Path) -> dict[str, Any]:
    """``ANCHORS.json`` (``{"threshold": k, "keys": [{"id", "publicKeyMultibase"}]}``), checked."""
    anchors = _read_object(path, "anchor set")
    try:
        AnchorSet.from_json(anchors)
    except CredencialError as exc:
        raise TrustBundleError(f"{path}: {exc}") from exc
    return {
        "threshold": anchors["threshold"],
        "keys": [
            {"id": key["id"], "publicKeyMultibase": key["publicKeyMultibase"]}
            for key in anchors["keys"]
        ],
    }


def previous_version(path: Path) -> int | None:
    """The version of the bundle already at ``path``, if there is one."""
    if not path.exists():
        return None
    version = _read_object(path, "bundle").get("signed", {}).get("version")
    if type(version) is not int:
        raise TrustBundleError(f"{path} exists but has no integer signed.version")
    return version


def _status_entry(credential: Mapping[str, Any], status_dir: Path, name: str) -> dict[str, Any]:
    """Write one status list file; its bundle entry."""
    data = status_list_file_bytes(credential)
    status_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(status_dir / name, data)
    return {
        "url": credential["id"],
        "purpose": credential["credentialSubject"]["statusPurpose"],
        "validFrom": credential["validFrom"],
        "validUntil": credential["validUntil"],
        "path": f"{STATUS_DIR}/{name}",
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def _previous_lists(previous: Path, out: Path) -> tuple[int, dict[str, bytes]] | None:
    """The version of the bundle in folder ``previous`` and its status list files (URL →
    bytes, each checked against the bundle's hash); ``None`` if there is no bundle there."""
    candidates = [
        previous / out.name,
        previous / "trust-bundle.json",
        *sorted(previous.glob("*.json")),
    ]
    for path in dict.fromkeys(candidates):
        try:
            document = parse_json(path.read_bytes())
        except (OSError, ValueError):
            continue
        signed = document.get("signed") if isinstance(document, dict) else None
        if not isinstance(signed, dict) or signed.get("type") != BUNDLE_TYPE:
            continue
        version = signed.get("version")
        if type(version) is not int:
            continue
        files: dict[str, bytes] = {}
        for institution in signed.get("institutions", []):
            for entry in (
                institution.get("statusLists", []) if isinstance(institution, dict) else []
            ):
                try:
                    data = (previous / str(entry["path"])).read_bytes()
                except (OSError, KeyError, TypeError):
                    continue
                if hashlib.sha256(data).hexdigest() == entry.get("sha256"):
                    files[str(entry["url"])] = data
        return version, files
    return None


def _write_delta(
    signed: dict[str, Any], out_dir: Path, previous: tuple[int, dict[str, bytes]]
) -> None:
    """Write the one delta from the previous bundle's status lists; name it in ``signed``."""
    from_version, old = previous
    new: dict[str, bytes] = {}
    for institution in signed["institutions"]:
        for entry in institution["statusLists"]:
            new[entry["url"]] = (out_dir / entry["path"]).read_bytes()
    delta = make_bundle_delta(old, new, from_version=from_version)
    if not delta["lists"]:
        return
    data = status_delta_file_bytes(delta)
    name = f"{STATUS_DIR}/delta-from-v{from_version}.json"
    atomic_write(out_dir / name, data)
    signed["statusDelta"] = {
        "path": name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "fromVersion": from_version,
    }


def _institutions(service: IssuerService, out_dir: Path) -> list[dict[str, Any]]:
    """Every institution with its keys and its current signed status lists (written to files)."""
    from sqlalchemy import select

    from issuer.credentials.signing import STATUS_PURPOSES
    from issuer.storage.database import utc
    from issuer.storage.tables import Institution, SigningKey

    with service.db.read() as session:
        institutions = session.scalars(select(Institution).order_by(Institution.code)).all()
        keys = session.scalars(select(SigningKey).order_by(SigningKey.id)).all()
    lists = service.status_list_numbers()
    status_dir = out_dir / STATUS_DIR
    result = []
    for institution in institutions:
        entries = []
        for key in keys:
            if key.institution_code != institution.code:
                continue
            entry: dict[str, Any] = {
                "id": f"{institution.did}#{key.key_id}",
                "publicKeyMultibase": key.public_key_multibase,
                "validFrom": format_datetime(utc(key.valid_from)),
                "state": "active",
            }
            if key.retired_at is not None:
                entry["validUntil"] = format_datetime(utc(key.retired_at))
                entry["state"] = "retired"
            if key.compromised_at is not None:  # proofs created from then on are refused
                entry["state"] = "compromised"
                entry["compromisedAt"] = format_datetime(utc(key.compromised_at))
            entries.append(entry)
        status_lists = []
        for code, number in lists:
            if code != institution.code:
                continue
            for purpose in STATUS_PURPOSES:
                credential = service.status_list_credential(code, purpose, number)
                name = f"{code.lower()}-{purpose}-{number}.json"
                status_lists.append(_status_entry(credential, status_dir, name))
        result.append(
            {
                "code": institution.code,
                "name": institution.name,
                "did": institution.did,
                "keys": entries,
                "statusLists": status_lists,
            }
        )
    return result


def _fragment_institutions(fragment: Path, out_dir: Path) -> list[dict[str, Any]]:
    """Institutions of a bundle built elsewhere (e.g. by each institution on its own service),
    with their status-list files checked against the fragment's hashes and copied here."""
    document = _read_object(fragment, "bundle fragment")
    signed = document.get("signed")
    institutions = signed.get("institutions") if isinstance(signed, Mapping) else None
    if not isinstance(institutions, list):
        raise TrustBundleError(f"{fragment}: not a trust bundle (no signed.institutions)")
    result = []
    for institution in institutions:
        if not isinstance(institution, Mapping) or not isinstance(institution.get("code"), str):
            raise TrustBundleError(f"{fragment}: an institution without a code")
        entries = []
        for entry in institution.get("statusLists", []):
            source = (fragment.parent / str(entry.get("path", ""))).resolve()
            if fragment.parent.resolve() not in source.parents:
                raise TrustBundleError(f"{fragment}: status list path outside its folder")
            try:
                data = source.read_bytes()
            except OSError as exc:
                raise TrustBundleError(f"{fragment}: cannot read {source}: {exc}") from exc
            if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
                raise TrustBundleError(f"{source}: does not match its hash in {fragment}")
            credential = parse_json(data)  # hashed bytes of our own JSON files: parseable
            copied = _status_entry(credential, out_dir / STATUS_DIR, source.name)
            if copied["sha256"] != entry["sha256"]:
                raise TrustBundleError(f"{source}: is not in the canonical status-list form")
            entries.append(copied)
        result.append({**institution, "statusLists": entries})
    return result


def build_bundle(
    service: IssuerService | None,
    out: Path,
    anchors: Mapping[str, Any],
    *,
    version: int | None = None,
    expires_in: timedelta = timedelta(days=30),
    now: datetime | None = None,
    previous_dir: Path | None = None,
    fragments: tuple[Path, ...] = (),
) -> dict[str, Any]:
    """Write an unsigned bundle at ``out`` (status lists under ``out``'s folder); return it.

    Institutions come from ``service``'s database and from ``fragments``: bundles built by
    ``trust-bundle build`` on other issuer services (one per institution, say), merged here.

    With ``previous_dir`` (the folder of an earlier bundle, possibly ``out``'s own), one delta
    file rebuilds every changed status list from that bundle's (``signed.statusDelta``; read
    before anything is written, so the folder may be rebuilt in place).

    ``version`` defaults to the version of the bundle already at ``out`` plus one (else 1); a
    version not above the existing one is refused (verifiers would refuse it as a rollback).
    """
    previous = previous_version(out)
    if version is None:
        version = (previous or 0) + 1
    elif previous is not None and version <= previous:
        raise TrustBundleError(f"version {version} is not above the existing bundle's {previous}")
    issued = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    before = None if previous_dir is None else _previous_lists(previous_dir, out)
    if before is not None and before[0] >= version:
        raise TrustBundleError(f"--previous holds version {before[0]}, not below {version}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if service is not None and before is not None:
        # The previous bundle's lists whose bits did not change are kept while fresh (within
        # the hour): the delta then carries only the lists that changed.
        adoptable = []
        for data in before[1].values():
            with contextlib.suppress(ValueError):  # unreadable: simply not adopted
                adoptable.append(parse_json(data))
        service.adopt_status_lists(adoptable)
    signed = {
        "type": BUNDLE_TYPE,
        "specVersion": SPEC_VERSION,
        "version": version,
        "issued": format_datetime(issued),
        "expires": format_datetime(issued + expires_in),
        "anchor": dict(anchors),
        "institutions": _merged_institutions(service, out.parent, fragments),
    }
    if before is not None:
        _write_delta(signed, out.parent, before)
    bundle = {"signed": signed, "signatures": []}
    _write(out, bundle)
    return bundle


def _merged_institutions(
    service: IssuerService | None, out_dir: Path, fragments: tuple[Path, ...]
) -> list[dict[str, Any]]:
    institutions = [] if service is None else _institutions(service, out_dir)
    for fragment in fragments:
        institutions.extend(_fragment_institutions(fragment, out_dir))
    codes = [institution["code"] for institution in institutions]
    duplicated = sorted({code for code in codes if codes.count(code) > 1})
    if duplicated:
        raise TrustBundleError(f"institution {duplicated[0]} comes from more than one source")
    return sorted(institutions, key=lambda institution: str(institution["code"]))


def _verifies(public_key: bytes, sig: object, message: bytes) -> bool:
    if not isinstance(sig, str):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(decode_multibase(sig), message)
    except (ValueError, InvalidSignature):
        return False
    return True


def sign_bundle(path: Path, key: Ed25519KeyPair, key_id: str) -> tuple[dict[str, Any], bool]:
    """Add ``key``'s signature under ``key_id`` to the bundle at ``path``, replacing its own entry.

    Returns the bundle and whether ``key_id`` is in the bundle's own anchor set (if not, it is a
    previous anchor key signing a rotation). A key id the bundle lists with another public key is
    refused: anchor key ids are never reused for a different key.
    """
    bundle = _read_object(path, "bundle")
    signed, signatures = bundle.get("signed"), bundle.get("signatures", [])
    if not isinstance(signed, dict) or not isinstance(signatures, list):
        raise TrustBundleError(f"{path} is not a trust bundle (no signed object / signatures)")
    if signed.get("type") != BUNDLE_TYPE:
        raise TrustBundleError(f"{path} is not a {BUNDLE_TYPE}")
    try:
        anchors = AnchorSet.from_json(signed.get("anchor", {}))
    except CredencialError as exc:
        raise TrustBundleError(f"{path}: {exc}") from exc
    listed = {anchor.id: anchor.public_key for anchor in anchors.keys}
    in_set = key_id in listed
    if in_set and listed[key_id] != key.public_key:
        raise TrustBundleError(
            f"the key file is not anchor key {key_id!r} of this bundle (its public key differs)"
        )
    entry = encode_bundle_signature(key_id, key.sign(bundle_signing_bytes(signed)))
    kept = [s for s in signatures if not (isinstance(s, Mapping) and s.get("keyid") == key_id)]
    bundle["signatures"] = [*kept, entry]
    _write(path, bundle)
    return bundle, in_set


def anchor_keygen(out: Path, count: int, threshold: int | None = None) -> dict[str, Any]:
    """Write ``anchor-1.json`` ... ``anchor-N.json`` and ``ANCHORS.json`` into ``out``.

    The threshold defaults to a majority (``count // 2 + 1``). Existing key files are never
    overwritten.
    """
    threshold = count // 2 + 1 if threshold is None else threshold
    if not 1 <= threshold <= count:
        raise TrustBundleError(f"the threshold must be between 1 and {count}")
    out.mkdir(parents=True, exist_ok=True)
    anchors_path = out / "ANCHORS.json"
    paths = [out / f"anchor-{number}.json" for number in range(1, count + 1)]
    existing = [str(p) for p in (*paths, anchors_path) if p.exists()]
    if existing:
        raise TrustBundleError(f"refusing to overwrite {', '.join(existing)}")
    keys = []
    for number, key_path in enumerate(paths, start=1):
        pair = Ed25519KeyPair.generate()
        pair.save(key_path)
        keys.append({"id": f"anchor-{number}", "publicKeyMultibase": pair.public_key_multibase})
    anchors = {"threshold": threshold, "keys": keys}
    _write(anchors_path, anchors)
    return anchors
