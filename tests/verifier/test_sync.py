"""``credencial-verify sync`` from a folder, then verification with the network disabled."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from issuer.keys.files import Ed25519KeyPair
from tests.conftest import NOW, Issuers
from tests.verifier._bundles import (
    IMSS,
    BundleSpec,
    anchor_json,
    key_entry,
    list_entry,
    sign_bundle,
    status_file,
)
from verifier import TrustDir, format_datetime
from verifier.cli import run

KEY1 = IMSS.verification_method("key-1")
REVOKED_INDEX = 94567


@dataclass
class Publisher:
    """Writes bundle folders as ``credencial-issuer trust-bundle build`` + ``sign`` would."""

    root: Path
    anchors: dict[str, Ed25519KeyPair]
    key1: Ed25519KeyPair

    def publish(
        self,
        version: int,
        *,
        revoked: frozenset[int] = frozenset(),
        signers: tuple[str, ...] = ("anchor-1", "anchor-2"),
        alter_list: bool = False,
    ) -> Path:
        folder = self.root / f"published-v{version}"
        spec = BundleSpec(anchor=anchor_json(self.anchors, 2), version=version)
        spec.keys = [key_entry(KEY1, self.key1)]
        for purpose in ("revocation", "suspension"):
            data = status_file(
                self.key1,
                purpose,
                set_indices=revoked if purpose == "revocation" else frozenset(),
                vm=KEY1,
            )
            path = f"status/imss-{purpose}-1.json"
            spec.lists.append(list_entry(data, path=path))
            (folder / "status").mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(data + (b" " if alter_list else b""))
        bundle = sign_bundle(spec.signed(), [(i, self.anchors[i]) for i in signers])
        (folder / "trust-bundle.json").write_text(json.dumps(bundle, indent=2))
        return folder


@pytest.fixture
def world(tmp_path: Path, issuers: Issuers, signed_example: dict[str, Any]) -> dict[str, Any]:
    return make_world(tmp_path, issuers, signed_example)


def make_world(tmp_path: Path, issuers: Issuers, signed_example: dict[str, Any]) -> dict[str, Any]:
    """A publisher with three anchor keys (threshold 2), ANCHORS.json, a card, a trust folder."""
    anchors = {f"anchor-{n}": Ed25519KeyPair.generate() for n in (1, 2, 3)}
    (tmp_path / "ANCHORS.json").write_text(json.dumps(anchor_json(anchors, 2)))
    (tmp_path / "card.json").write_text(json.dumps(signed_example))
    return {
        "publisher": Publisher(tmp_path, anchors, issuers.keys["IMSS"]),
        "state": tmp_path / "trust",
        "anchors": tmp_path / "ANCHORS.json",
        "card": tmp_path / "card.json",
    }


def _sync(world: dict[str, Any], source: Path, *, pinned: bool = True) -> int:
    argv = ["sync", str(source), "--state", str(world["state"]), "--now", format_datetime(NOW)]
    return run(argv + (["--anchors", str(world["anchors"])] if pinned else []))


def _verify(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str], now: Any = NOW
) -> tuple[int, list[str]]:
    capsys.readouterr()
    status = run(
        [
            "--trust-dir",
            str(world["state"]),
            "--json",
            "--now",
            format_datetime(now),
            str(world["card"]),
        ]
    )
    out = capsys.readouterr().out
    return status, [r["code"] for r in json.loads(out)["reasons"]] if out else []


def test_sync_then_verify_offline(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str], no_network: list[str]
) -> None:
    publisher: Publisher = world["publisher"]
    assert _sync(world, publisher.publish(1)) == 0
    assert _verify(world, capsys) == (0, [])

    # a revocation, a new bundle, a new sync: INVALID
    assert _sync(world, publisher.publish(2, revoked=frozenset({REVOKED_INDEX})), pinned=False) == 0
    assert _verify(world, capsys) == (1, ["REVOKED"])

    # the snapshot grows old: its status lists are past their ttl
    assert _verify(world, capsys, now=NOW + timedelta(hours=96)) == (2, ["STATUS_STALE"] * 2)
    # the bundle itself expires: never VALID
    status, codes = _verify(world, capsys, now=NOW + timedelta(days=40))
    assert status == 2
    assert codes[0] == "TRUST_BUNDLE_EXPIRED"
    # a clock set back before the bundle was issued
    status, codes = _verify(world, capsys, now=NOW - timedelta(days=30))
    assert (status, codes[0]) == (2, "CLOCK_BEHIND")
    assert no_network == []


REFUSED_CASES: dict[str, tuple[dict[str, Any], str]] = {
    # name: (bundle to sync after version 2 is installed, expected error code in stderr)
    "rollback to version 1": ({"version": 1}, "TRUST_BUNDLE_ROLLBACK"),
    "threshold not met": ({"version": 3, "signers": ("anchor-1",)}, "TRUST_BUNDLE_INVALID"),
    "duplicate signature": (
        {"version": 3, "signers": ("anchor-1", "anchor-1")},
        "TRUST_BUNDLE_INVALID",
    ),
}


@pytest.mark.parametrize("name", REFUSED_CASES)
def test_a_refused_bundle_changes_nothing(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str], name: str
) -> None:
    options, code = REFUSED_CASES[name]
    publisher: Publisher = world["publisher"]
    assert _sync(world, publisher.publish(2, revoked=frozenset({REVOKED_INDEX}))) == 0
    before = sorted(p.relative_to(world["state"]) for p in world["state"].rglob("*"))
    capsys.readouterr()
    assert _sync(world, publisher.publish(**options)) == 1
    assert code in capsys.readouterr().err
    assert sorted(p.relative_to(world["state"]) for p in world["state"].rglob("*")) == before
    assert TrustDir.load(world["state"]).state.highest_version == 2
    assert _verify(world, capsys) == (1, ["REVOKED"])


def test_first_sync_needs_pinned_anchors(world: dict[str, Any]) -> None:
    assert _sync(world, world["publisher"].publish(1), pinned=False) == 1


def test_an_altered_status_list_is_not_installed(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _sync(world, world["publisher"].publish(1, alter_list=True)) == 0
    assert "missing or altered" in capsys.readouterr().err
    assert _verify(world, capsys) == (2, ["STATUS_UNAVAILABLE"] * 2)


def test_a_status_list_swapped_after_sync_is_not_used(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _sync(world, world["publisher"].publish(1)) == 0
    installed = world["state"] / "current" / "status" / "imss-revocation-1.json"
    old = installed.read_bytes()
    installed.write_bytes(old.replace(b'"id"', b'"id" ', 1))  # same content, other bytes
    assert _verify(world, capsys) == (2, ["STATUS_LIST_NOT_IN_BUNDLE"])
