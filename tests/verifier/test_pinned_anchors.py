"""Issue 18, findings 3 and 5: pinned anchors are authoritative over a desk's trust folder, and a
folder that fails its check still gives a verdict object with ``--json``.

Whoever can write the desk folder can rewrite its state, bundle and lists under anchors of their
own; with the real anchors pinned (``--anchors``), that folder must never make a revoked card
VALID.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from issuer.keys.files import Ed25519KeyPair
from tests.conftest import NOW, Issuers
from tests.verifier._bundles import anchor_json
from tests.verifier.test_sync import REVOKED_INDEX, Publisher, _sync, make_world
from verifier import format_datetime
from verifier.cli import run


@pytest.fixture
def world(tmp_path: Path, issuers: Issuers, signed_example: dict[str, Any]) -> dict[str, Any]:
    """A trust folder to sync into, as in ``tests/verifier/test_sync.py``."""
    return make_world(tmp_path, issuers, signed_example)


def _verify(
    capsys: pytest.CaptureFixture[str], folder: dict[str, Any], *extra: str
) -> tuple[int, dict[str, Any] | None]:
    capsys.readouterr()
    argv = ["--trust-dir", str(folder["state"]), "--json", "--now", format_datetime(NOW)]
    status = run([*argv, *extra, str(folder["card"])])
    out = capsys.readouterr().out
    return status, json.loads(out) if out else None


def _attacker_folder(tmp_path: Path, folder: dict[str, Any]) -> Path:
    """A trust folder synced from a bundle the attacker signed with their own anchors, listing a
    (genuine, older) status list in which the card is not revoked."""
    anchors = {f"anchor-{n}": Ed25519KeyPair.generate() for n in (1, 2, 3)}
    root = tmp_path / "attacker"
    root.mkdir()
    (root / "ANCHORS.json").write_text(json.dumps(anchor_json(anchors, 2)))
    publisher = Publisher(root, anchors, folder["publisher"].key1)
    attacker = {**folder, "publisher": publisher, "state": root / "trust"}
    attacker["anchors"] = root / "ANCHORS.json"
    assert _sync(attacker, publisher.publish(9)) == 0  # a higher version, no revocation
    return root / "trust"


def test_a_rewritten_desk_folder_cannot_unrevoke_a_card_when_anchors_are_pinned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], world: dict[str, Any]
) -> None:
    pinned = ("--anchors", str(world["anchors"]))
    assert _sync(world, world["publisher"].publish(2, revoked=frozenset({REVOKED_INDEX}))) == 0
    status, document = _verify(capsys, world, *pinned)
    assert (status, document and document["verdict"]) == (1, "INVALID")

    # The attacker replaces the whole folder (state, bundle, lists) with one of their own.
    forged = _attacker_folder(tmp_path, world)
    shutil.rmtree(world["state"])
    shutil.copytree(forged, world["state"], symlinks=True)
    # Unpinned, the folder is all the verifier has (the documented default): it trusts it.
    assert _verify(capsys, world)[0] == 0
    # Pinned, the real anchors decide: the forged bundle is not theirs. Never VALID.
    status, document = _verify(capsys, world, *pinned)
    assert document is not None
    assert (status, document["verdict"]) == (2, "INDETERMINATE")
    assert [r["code"] for r in document["reasons"]] == ["TRUST_BUNDLE_INVALID"]
    assert (
        "pinned" in document["reasons"][0]["detail"] or "anchor" in document["reasons"][0]["detail"]
    )


def test_a_state_file_written_under_other_anchors_is_not_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], world: dict[str, Any]
) -> None:
    """The real bundle with a state that names the attacker's anchors: refused when pinned."""
    pinned = ("--anchors", str(world["anchors"]))
    assert _sync(world, world["publisher"].publish(2)) == 0
    forged = _attacker_folder(tmp_path, world)
    state_file = (world["state"] / "current" / "state.json").resolve()
    forged_state = json.loads((forged / "current" / "state.json").read_text())
    real_state = json.loads(state_file.read_text())
    state_file.write_text(json.dumps({**real_state, "anchor": forged_state["anchor"]}))
    status, document = _verify(capsys, world, *pinned)
    assert document is not None
    assert (status, document["verdict"]) == (2, "INDETERMINATE")
    assert "not written under them" in document["reasons"][0]["detail"]


def test_a_folder_that_fails_its_check_prints_an_indeterminate_verdict_with_json(
    capsys: pytest.CaptureFixture[str], world: dict[str, Any]
) -> None:
    """Finding 5: exit 64 and nothing on stdout; now INDETERMINATE (exit 2), in JSON and text."""
    assert _sync(world, world["publisher"].publish(2)) == 0
    bundle = world["state"] / "current" / "trust-bundle.json"
    bundle.write_text(bundle.read_text().replace('"version": 2', '"version": 3'))
    for extra in ((), ("--anchors", str(world["anchors"]))):
        status, document = _verify(capsys, world, *extra)
        assert document is not None
        assert (status, document["verdict"]) == (2, "INDETERMINATE")
        assert document["credential"] is None
        assert [r["code"] for r in document["reasons"]] == ["TRUST_BUNDLE_INVALID"]
    capsys.readouterr()
    assert run(["--trust-dir", str(world["state"]), str(world["card"])]) == 2
    assert capsys.readouterr().out.startswith("? ")


def test_unreadable_input_still_prints_a_verdict_object_with_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], world: dict[str, Any]
) -> None:
    assert _sync(world, world["publisher"].publish(2)) == 0
    world["card"] = tmp_path / "garbage.txt"
    world["card"].write_text("not a credential")
    status, document = _verify(capsys, world)
    assert status == 64
    assert document is not None
    assert document["verdict"] in {"INVALID", "INDETERMINATE"}
    assert [r["code"] for r in document["reasons"]] == ["MALFORMED_INPUT"]


def test_help_says_what_anchors_does(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "the bundle must be signed by them" in text
    assert "INDETERMINATE" in text


def test_the_desk_page_obeys_pinned_anchors_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], world: dict[str, Any]
) -> None:
    """``credencial-verify serve --anchors``: the same rule, through the page's service."""
    from verifier import AnchorSet
    from verifier.desk import DeskConfig, DeskService

    assert _sync(world, world["publisher"].publish(2, revoked=frozenset({REVOKED_INDEX}))) == 0
    forged = _attacker_folder(tmp_path, world)
    shutil.rmtree(world["state"])
    shutil.copytree(forged, world["state"], symlinks=True)
    card = world["card"].read_text(encoding="utf-8")
    pinned = AnchorSet.from_file(world["anchors"])
    desk = DeskService(
        DeskConfig(
            world["state"], anchors=pinned, counts_file=tmp_path / "c.json", clock=lambda: NOW
        )
    )
    answer = desk.verify_text(card)
    assert answer["verdict"] == "INDETERMINATE"
    assert [r["code"] for r in answer["reasons"]] == ["TRUST_BUNDLE_INVALID"]
    assert answer["holder"] is None
    unpinned = DeskService(
        DeskConfig(world["state"], counts_file=tmp_path / "d.json", clock=lambda: NOW)
    )
    assert unpinned.verify_text(card)["verdict"] == "VALID"  # the documented unpinned default


def test_json_prints_a_verdict_object_when_a_file_cannot_be_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], world: dict[str, Any]
) -> None:
    for argv in (
        ["--json", str(tmp_path / "no-such-card.json")],
        ["--json", "--trust", str(tmp_path / "no-such-trust.json"), str(world["card"])],
        ["--json", "--trust-dir", str(world["state"]), "--anchors", str(tmp_path / "none.json"),
         str(world["card"])],
    ):  # fmt: skip
        capsys.readouterr()
        assert run(argv) == 64
        captured = capsys.readouterr()
        document = json.loads(captured.out)
        assert document["verdict"] == "INDETERMINATE"
        assert document["credential"] is None
        assert document["reasons"][0]["detail"] in captured.err
