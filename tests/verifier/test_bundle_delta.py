"""One delta per bundle (issue 20): every changed status list rebuilt from the installed ones and
one small file, each kept only if it hashes to the new bundle's entry."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from issuer.credentials.signing import new_status_list_credential, sign_document
from issuer.keys.files import Ed25519KeyPair
from tests.conftest import NOW, SIGNED_AT, Issuers
from tests.verifier._bundles import (
    IMSS,
    BundleSpec,
    anchor_json,
    key_entry,
    list_entry,
    sign_bundle,
)
from verifier import AnchorSet, format_datetime
from verifier._status import status_list_file_bytes
from verifier._status_delta import (
    BUNDLE_DELTA_TYPE,
    StatusDeltaError,
    apply_bundle_delta,
    decode_flipped_lists,
    encode_flipped_lists,
    make_bundle_delta,
    status_delta_file_bytes,
)
from verifier.cli import run
from verifier.sync import sync

KEY1 = IMSS.verification_method("key-1")
REVOKED_INDEX = 94567  # the example card's revocation index (list 1)
#: The lists a bundle names: (purpose, number).
LISTS = (("revocation", 1), ("revocation", 2), ("revocation", 3), ("suspension", 1))
Tamper = Callable[[dict[str, Any]], None]


@dataclass
class BundlePublisher:
    """Bundle folders with full status list files and, from the previous folder, one delta."""

    root: Path
    anchors: dict[str, Ed25519KeyPair]
    key: Ed25519KeyPair

    def list_file(self, purpose: str, number: int, version: int, bits: frozenset[int]) -> bytes:
        unsigned = new_status_list_credential(
            IMSS,
            IMSS.status_list_url(purpose, number),
            purpose=purpose,
            set_indices=bits,
            valid_from=NOW - timedelta(hours=2) + timedelta(minutes=10 * version),
        )
        return status_list_file_bytes(sign_document(unsigned, self.key, KEY1, created=SIGNED_AT))

    def publish(
        self,
        version: int,
        changed: dict[tuple[str, int], frozenset[int]],
        *,
        previous: Path | None = None,
        tamper: Tamper | None = None,
    ) -> Path:
        """Version ``version``: the lists in ``changed`` re-signed now with those bits set, the
        others as version 1 had them (the same bytes)."""
        folder = self.root / f"v{version}"
        (folder / "status").mkdir(parents=True, exist_ok=True)
        spec = BundleSpec(anchor=anchor_json(self.anchors, 2), version=version)
        spec.keys = [key_entry(KEY1, self.key)]
        files: dict[str, bytes] = {}
        for purpose, number in LISTS:
            if (purpose, number) in changed:
                data = self.list_file(purpose, number, version, changed[purpose, number])
            else:
                data = self.list_file(purpose, number, 1, frozenset())
            path = f"status/imss-{purpose}-{number}.json"
            (folder / path).write_bytes(data)
            spec.lists.append(list_entry(data, path=path))
            files[IMSS.status_list_url(purpose, number)] = data
        signed = spec.signed()
        if previous is not None:
            old = {
                IMSS.status_list_url(p, n): (previous / f"status/imss-{p}-{n}.json").read_bytes()
                for p, n in LISTS
            }
            from_version = json.loads((previous / "trust-bundle.json").read_text())["signed"]
            delta = make_bundle_delta(old, files, from_version=from_version["version"])
            if tamper is not None:
                tamper(delta)
            data = status_delta_file_bytes(delta)
            (folder / "status" / "delta.json").write_bytes(data)
            signed["statusDelta"] = {
                "path": "status/delta.json",
                "sha256": hashlib.sha256(data).hexdigest(),
                "fromVersion": from_version["version"],
            }
        bundle = sign_bundle(signed, [(i, self.anchors[i]) for i in ("anchor-1", "anchor-2")])
        (folder / "trust-bundle.json").write_text(json.dumps(bundle, indent=2))
        return folder


@pytest.fixture
def world(tmp_path: Path, issuers: Issuers, signed_example: dict[str, Any]) -> dict[str, Any]:
    anchors = {f"anchor-{n}": Ed25519KeyPair.generate() for n in (1, 2, 3)}
    (tmp_path / "card.json").write_text(json.dumps(signed_example))
    publisher = BundlePublisher(tmp_path, anchors, issuers.keys["IMSS"])
    state = tmp_path / "trust"
    v1 = publisher.publish(1, {})
    first = sync(str(v1), state, anchors=AnchorSet.from_json(anchor_json(anchors, 2)), now=NOW)
    assert (first.by_full, first.unchanged, first.by_delta) == (4, 0, 0)
    return {"publisher": publisher, "state": state, "card": tmp_path / "card.json", "v1": v1}


#: Version 2: the example card revoked in list 1, two others in list 2; lists 3 and the
#: suspension list unchanged.
CHANGES = {("revocation", 1): frozenset({REVOKED_INDEX}), ("revocation", 2): frozenset({5, 9})}


def _installed(world: dict[str, Any], number: int, purpose: str = "revocation") -> bytes:
    state: Path = world["state"]
    return (state / "current" / "status" / f"imss-{purpose}-{number}.json").read_bytes()


def _published(folder: Path, number: int, purpose: str = "revocation") -> bytes:
    return (folder / "status" / f"imss-{purpose}-{number}.json").read_bytes()


def _reasons(world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    argv = ["--trust-dir", str(world["state"]), "--json", "--now", format_datetime(NOW)]
    run([*argv, str(world["card"])])
    return [r["code"] for r in json.loads(capsys.readouterr().out)["reasons"]]


def test_one_delta_rebuilds_every_changed_list(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str], no_network: list[str]
) -> None:
    v2 = world["publisher"].publish(2, CHANGES, previous=world["v1"])
    delta = json.loads((v2 / "status" / "delta.json").read_bytes())
    assert delta["type"] == BUNDLE_DELTA_TYPE
    assert [item["url"] for item in delta["lists"]] == [
        IMSS.status_list_url("revocation", 1),
        IMSS.status_list_url("revocation", 2),
    ]
    # what every changed list shares is said once; each list carries only its own signature
    assert set(delta["common"]) == {"validFrom", "validUntil"}
    assert [set(item["patch"]) for item in delta["lists"]] == [{"proof"}, {"proof"}]
    assert [set(item["patch"]["proof"]) for item in delta["lists"]] == [{"proofValue"}] * 2

    result = sync(str(v2), world["state"], now=NOW)
    assert (result.by_delta, result.unchanged, result.by_full, result.missing) == (2, 2, 0, ())
    for number in (1, 2, 3):
        assert _installed(world, number) == _published(v2, number)
    assert result.transferred == len((v2 / "trust-bundle.json").read_bytes()) + len(
        (v2 / "status" / "delta.json").read_bytes()
    )
    assert _reasons(world, capsys) == ["REVOKED"]
    assert no_network == []


def test_a_delta_from_another_version_is_not_used(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    publisher: BundlePublisher = world["publisher"]
    v2 = publisher.publish(2, {("revocation", 2): frozenset({1})}, previous=world["v1"])
    v3 = publisher.publish(3, CHANGES, previous=v2)  # this desk never installed version 2
    result = sync(str(v3), world["state"], now=NOW)
    assert (result.by_delta, result.unchanged, result.by_full) == (0, 2, 2)
    assert _installed(world, 1) == _published(v3, 1)
    assert _reasons(world, capsys) == ["REVOKED"]


def _wrong_signature_for_list_2(delta: dict[str, Any]) -> None:
    patch = delta["lists"][1]["patch"]["proof"]
    patch["proofValue"] = patch["proofValue"][:-2] + "11"


def _flipped_for_nothing(delta: dict[str, Any]) -> None:
    delta["flipped"] = encode_flipped_lists([[], []])


@pytest.mark.parametrize(
    ("tamper", "by_delta"),
    [(_wrong_signature_for_list_2, 1), (_flipped_for_nothing, 0)],
    ids=["one list's signature altered", "no bit flipped"],
)
def test_a_rebuilt_list_that_is_not_the_bundles_is_fetched_whole(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str], tamper: Tamper, by_delta: int
) -> None:
    """Even a delta the anchors signed rebuilds nothing but the lists the bundle hashes."""
    v2 = world["publisher"].publish(2, CHANGES, previous=world["v1"], tamper=tamper)
    result = sync(str(v2), world["state"], now=NOW)
    assert (result.by_delta, result.by_full, result.missing) == (by_delta, 2 - by_delta, ())
    for number in (1, 2, 3):
        assert _installed(world, number) == _published(v2, number)
    assert _reasons(world, capsys) == ["REVOKED"]


def test_a_delta_file_altered_after_signing_is_not_used(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    v2 = world["publisher"].publish(2, CHANGES, previous=world["v1"])
    delta_file = v2 / "status" / "delta.json"
    delta_file.write_bytes(delta_file.read_bytes().replace(b'"lists"', b'"lists" '))
    result = sync(str(v2), world["state"], now=NOW)
    assert (result.by_delta, result.by_full) == (0, 2)
    assert _reasons(world, capsys) == ["REVOKED"]


# -- the encoding ------------------------------------------------------------------------------


def test_flipped_lists_round_trip() -> None:
    lists = [[0, 7, 131_071], [], [5], list(range(0, 1000, 3))]
    assert decode_flipped_lists(encode_flipped_lists(lists), [131_072] * 4) == lists


@pytest.mark.parametrize(
    ("lists", "sizes", "message"),
    [
        ([[8]], [8], "outside a list of 8"),
        ([[1, 2, 3]], [2], "3 changes in a list of 2"),
        ([[1], [2]], [8], "data after its last list"),
        ([[1]], [8, 8], "ends inside a list"),
    ],
)
def test_bad_flipped_lists_are_refused(
    lists: list[list[int]], sizes: list[int], message: str
) -> None:
    with pytest.raises(StatusDeltaError, match=message):
        decode_flipped_lists(encode_flipped_lists(lists), sizes)


def test_apply_refuses_a_delta_for_another_version(issuers: Issuers, tmp_path: Path) -> None:
    publisher = BundlePublisher(tmp_path, {}, issuers.keys["IMSS"])
    url = IMSS.status_list_url("revocation", 1)
    old = {url: publisher.list_file("revocation", 1, 1, frozenset())}
    new = {url: publisher.list_file("revocation", 1, 2, frozenset({3}))}
    delta = status_delta_file_bytes(make_bundle_delta(old, new, from_version=4))
    expected = {url: hashlib.sha256(new[url]).hexdigest()}
    assert apply_bundle_delta(delta, old, from_version=4, expected=expected) == new
    with pytest.raises(StatusDeltaError, match="not based on version 5"):
        apply_bundle_delta(delta, old, from_version=5, expected=expected)
    broken = copy.deepcopy(json.loads(delta))
    broken["lists"] = "all"
    with pytest.raises(StatusDeltaError, match="needs 'lists'"):
        apply_bundle_delta(json.dumps(broken).encode(), old, from_version=4, expected=expected)
