"""``credencial-issuer demo``: an offline demo: keys for the three institutions, issue, verify."""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from issuer.credentials.signing import (
    STATUS_PURPOSES,
    new_coverage_credential,
    new_status_list_credential,
    random_status_index,
    sign_document,
)
from issuer.demo import DEMO_PEOPLE
from issuer.institutions import INSTITUTIONS, Institution
from issuer.keys.files import Ed25519KeyPair
from verifier import InMemoryStatusLists, TrustedKey, TrustStore, Verdict, Verifier

__all__ = ["DEMO_KEY_ID", "run_demo"]

DEMO_KEY_ID = "key-1"


def _institution_key(keys_dir: Path, institution: Institution) -> Ed25519KeyPair:
    path = keys_dir / f"{institution.code.lower()}.json"
    if path.exists():
        return Ed25519KeyPair.from_file(path)
    key = Ed25519KeyPair.generate()
    key.save(path)
    return key


def _write(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def run_demo(out: Path) -> int:
    """Create (or reuse) demo keys, issue two IMSS credentials (one revoked), verify, explain."""
    keys_dir, status_dir = out / "keys", out / "status"
    keys_dir.mkdir(parents=True, exist_ok=True)
    status_dir.mkdir(exist_ok=True)
    now = datetime.now(UTC).replace(microsecond=0)

    keys = {code: _institution_key(keys_dir, inst) for code, inst in INSTITUTIONS.items()}
    trust = TrustStore(
        TrustedKey.from_json(
            {
                "id": inst.verification_method(DEMO_KEY_ID),
                "controller": inst.did,
                "publicKeyMultibase": keys[code].public_key_multibase,
                "validFrom": "2025-01-01T00:00:00Z",
            }
        )
        for code, inst in INSTITUTIONS.items()
    )
    _write(out / "trust.json", trust.to_json())

    imss, imss_key = INSTITUTIONS["IMSS"], keys["IMSS"]
    vm = imss.verification_method(DEMO_KEY_ID)
    issued: dict[str, tuple[dict[str, Any], int]] = {}
    used: set[int] = set()
    for name, subject in DEMO_PEOPLE.items():
        index = random_status_index()
        while index in used:
            index = random_status_index()
        used.add(index)
        unsigned = new_coverage_credential(
            imss,
            subject,
            status_list=1,
            status_index=index,
            valid_from=now - timedelta(days=1),
            valid_until=now + timedelta(days=5 * 365),
        )
        issued[name] = (sign_document(unsigned, imss_key, vm), index)

    revoked = frozenset({issued["credential-revoked"][1]})
    status_files = []
    for purpose in STATUS_PURPOSES:
        url = imss.status_list_url(purpose, 1)
        status_list = new_status_list_credential(
            imss,
            url,
            purpose=purpose,
            valid_from=now,
            set_indices=revoked if purpose == "revocation" else frozenset(),
        )
        path = status_dir / f"imss-{purpose}-1.json"
        _write(path, sign_document(status_list, imss_key, vm))
        status_files.append(path)

    verifier = Verifier(trust, status_lists=InMemoryStatusLists.from_files(status_files))
    print(f"Demo folder: {out}/  (keys for IMSS, ISSSTE and IMSS-BIENESTAR, trust.json, status/)")
    ok = True
    for name, (credential, _index) in issued.items():
        path = out / f"{name}.json"
        _write(path, credential)
        result = verifier.check(credential)
        codes = ", ".join(r.code.value for r in result.reasons) or "-"
        print(f"  {path}: {result.verdict.value} ({codes})")
        expected = Verdict.VALID if name == "credential" else Verdict.INVALID
        ok = ok and result.verdict is expected

    verify = (
        f".venv/bin/credencial-verify --trust {shlex.quote(str(out / 'trust.json'))} "
        + " ".join(f"--status-list {shlex.quote(str(p))}" for p in status_files)
    )
    print(
        "\nTry next:\n"
        f"  {verify} {out}/credential.json\n"
        f"  {verify} --lang en --json {out}/credential-revoked.json\n"
        f"  .venv/bin/credencial-verify --trust {out}/trust.json {out}/credential.json"
        "   # no status lists: INDETERMINATE\n"
        f"  .venv/bin/credencial-issuer keygen --out mykey.json\n"
        f"  .venv/bin/credencial-issuer sign --key {out}/keys/imss.json "
        f"--verification-method {vm} UNSIGNED.json\n"
        "  make test   # lint, type check and the test suite"
    )
    return 0 if ok else 1
