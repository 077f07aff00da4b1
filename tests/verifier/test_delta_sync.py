"""Delta sync: a status list rebuilt from the installed one and a small delta file (ADR 0004)."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from issuer.cli import operator as operator_cli
from issuer.cli import run as issuer_run
from issuer.credentials.service import StatusAction
from issuer.demo import DEMO_PEOPLE
from issuer.keys.files import Ed25519KeyPair
from issuer.principal import cli_principal
from tests.conftest import NOW, Issuers
from tests.issuer._enrolment_data import operator_env
from tests.verifier._bundles import (
    IMSS,
    BundleSpec,
    anchor_json,
    key_entry,
    list_entry,
    sign_bundle,
    status_file,
)
from verifier import AnchorSet, decode_status_bits, format_datetime, status_bit
from verifier._status_delta import (
    StatusDeltaError,
    apply_status_delta,
    decode_flipped,
    encode_flipped,
    make_status_delta,
    status_delta_file_bytes,
)
from verifier.cli import run
from verifier.sync import sync

KEY1 = IMSS.verification_method("key-1")
REVOKED_INDEX = 94567  # the example card's revocation index
LIST_BITS = 131_072
#: A dense list (3% set at random) so the full file is large next to a delta.
BASE_REVOKED = frozenset(random.Random(5).sample(range(LIST_BITS), LIST_BITS * 3 // 100)) - {
    REVOKED_INDEX
}
PURPOSES = ("revocation", "suspension")


@dataclass
class Publisher:
    """Bundle folders with full status list files and, from ``previous``, delta files."""

    root: Path
    anchors: dict[str, Ed25519KeyPair]
    key1: Ed25519KeyPair
    shift: timedelta = timedelta(0)  # moves every list's validFrom (other bytes, same bits)

    def publish(
        self,
        version: int,
        revoked: frozenset[int],
        *,
        previous: Path | None = None,
        corrupt_delta: bool = False,
    ) -> Path:
        folder = self.root / f"published-v{version}"
        (folder / "status").mkdir(parents=True, exist_ok=True)
        spec = BundleSpec(anchor=anchor_json(self.anchors, 2), version=version)
        spec.keys = [key_entry(KEY1, self.key1)]
        for purpose in PURPOSES:
            data = status_file(
                self.key1,
                purpose,
                set_indices=revoked if purpose == "revocation" else BASE_REVOKED,
                vm=KEY1,
                valid_from=NOW - timedelta(minutes=10 * version) - self.shift,
            )
            path = f"status/imss-{purpose}-1.json"
            (folder / path).write_bytes(data)
            entry = list_entry(data, path=path)
            if previous is not None:
                delta = make_status_delta((previous / path).read_bytes(), data)
                if corrupt_delta and purpose == "revocation":
                    flipped = delta["flipped"]
                    middle = len(flipped) // 2
                    swapped = "A" if flipped[middle] != "A" else "B"
                    delta["flipped"] = flipped[:middle] + swapped + flipped[middle + 1 :]
                delta_bytes = status_delta_file_bytes(delta)
                delta_path = f"status/imss-{purpose}-1.delta.json"
                (folder / delta_path).write_bytes(delta_bytes)
                entry["delta"] = {
                    "path": delta_path,
                    "sha256": hashlib.sha256(delta_bytes).hexdigest(),
                    "fromSha256": delta["fromSha256"],
                }
            spec.lists.append(entry)
        bundle = sign_bundle(
            spec.signed(), [(i, self.anchors[i]) for i in ("anchor-1", "anchor-2")]
        )
        (folder / "trust-bundle.json").write_text(json.dumps(bundle, indent=2))
        return folder


@pytest.fixture
def world(tmp_path: Path, issuers: Issuers, signed_example: dict[str, Any]) -> dict[str, Any]:
    anchors = {f"anchor-{n}": Ed25519KeyPair.generate() for n in (1, 2, 3)}
    (tmp_path / "ANCHORS.json").write_text(json.dumps(anchor_json(anchors, 2)))
    (tmp_path / "card.json").write_text(json.dumps(signed_example))
    publisher = Publisher(tmp_path, anchors, issuers.keys["IMSS"])
    return {
        "publisher": publisher,
        "state": tmp_path / "trust",
        "anchors": AnchorSet.from_json(anchor_json(anchors, 2)),
        "card": tmp_path / "card.json",
        "v1": publisher.publish(1, BASE_REVOKED),
    }


def _installed(world: dict[str, Any], purpose: str) -> bytes:
    folder: Path = world["state"] / "current" / "status"
    return (folder / f"imss-{purpose}-1.json").read_bytes()


def _full(folder: Path, purpose: str) -> bytes:
    return (folder / "status" / f"imss-{purpose}-1.json").read_bytes()


def _verify(world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    argv = ["--trust-dir", str(world["state"]), "--json", "--now", format_datetime(NOW)]
    run([*argv, str(world["card"])])
    return [r["code"] for r in json.loads(capsys.readouterr().out)["reasons"]]


def test_delta_sync_installs_the_full_files_bytes(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str], no_network: list[str]
) -> None:
    first = sync(str(world["v1"]), world["state"], anchors=world["anchors"], now=NOW)
    assert (first.by_delta, first.by_full, first.missing) == (0, 2, ())
    assert _verify(world, capsys) == []

    revoked = BASE_REVOKED | {REVOKED_INDEX, 7, 131_071}
    v2 = world["publisher"].publish(2, revoked, previous=world["v1"])
    second = sync(str(v2), world["state"], now=NOW)
    assert (second.by_delta, second.by_full, second.missing) == (2, 0, ())
    for purpose in PURPOSES:
        assert _installed(world, purpose) == _full(v2, purpose)
    full_bytes = sum(len(_full(v2, purpose)) for purpose in PURPOSES)
    bundle_bytes = len((v2 / "trust-bundle.json").read_bytes())
    delta_bytes = second.transferred - bundle_bytes
    assert delta_bytes == sum(
        len((v2 / "status" / f"imss-{p}-1.delta.json").read_bytes()) for p in PURPOSES
    )
    assert delta_bytes * 5 < full_bytes
    assert first.transferred - len((world["v1"] / "trust-bundle.json").read_bytes()) == (
        sum(len(_full(world["v1"], purpose)) for purpose in PURPOSES)
    )
    # the verifier sees the revocation made between the two bundles
    assert _verify(world, capsys) == ["REVOKED"]
    assert no_network == []


def test_a_corrupted_delta_falls_back_to_the_full_file(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    sync(str(world["v1"]), world["state"], anchors=world["anchors"], now=NOW)
    revoked = BASE_REVOKED | {REVOKED_INDEX}
    v2 = world["publisher"].publish(2, revoked, previous=world["v1"], corrupt_delta=True)
    result = sync(str(v2), world["state"], now=NOW)
    # the revocation delta (one byte of "flipped" changed) is refused; suspension's is used
    assert (result.by_delta, result.by_full, result.missing) == (1, 1, ())
    for purpose in PURPOSES:
        assert _installed(world, purpose) == _full(v2, purpose)
    assert _verify(world, capsys) == ["REVOKED"]


def test_a_delta_whose_base_is_not_installed_is_not_used(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # version 2 is based on a version 1 this verifier never installed: it installs v0 first
    publisher: Publisher = world["publisher"]
    other = Publisher(
        publisher.root / "other", publisher.anchors, publisher.key1, timedelta(minutes=1)
    )
    v0 = other.publish(1, frozenset({1, 2, 3}))
    sync(str(v0), world["state"], anchors=world["anchors"], now=NOW)
    v2 = publisher.publish(2, BASE_REVOKED | {REVOKED_INDEX}, previous=world["v1"])
    result = sync(str(v2), world["state"], now=NOW)
    assert (result.by_delta, result.by_full) == (0, 2)
    for purpose in PURPOSES:
        assert _installed(world, purpose) == _full(v2, purpose)
    assert _verify(world, capsys) == ["REVOKED"]


def test_the_sync_command_reports_deltas(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    sync(str(world["v1"]), world["state"], anchors=world["anchors"], now=NOW)
    v2 = world["publisher"].publish(2, BASE_REVOKED | {REVOKED_INDEX}, previous=world["v1"])
    capsys.readouterr()
    assert (
        run(["sync", str(v2), "--state", str(world["state"]), "--now", format_datetime(NOW)]) == 0
    )
    assert "2 status lists: 2 by delta, 0 full" in capsys.readouterr().err


# -- the delta encoding ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "indices", [[], [0], [LIST_BITS - 1], [0, 1, 2, 127, 128, 16_384, 131_000], list(range(300))]
)
def test_flipped_round_trips(indices: list[int]) -> None:
    assert decode_flipped(encode_flipped(indices), LIST_BITS) == sorted(indices)


BAD_FLIPPED: dict[str, tuple[object, int]] = {
    "not a string": (17, LIST_BITS),
    "not base64url multibase": ("z111", LIST_BITS),
    "not gzip": ("uAAAA", LIST_BITS),
    "index outside the list": (encode_flipped([LIST_BITS]), LIST_BITS),
    "too many entries for a small list": (encode_flipped(range(20)), 16),
}


@pytest.mark.parametrize("name", BAD_FLIPPED)
def test_bad_flipped_is_refused(name: str) -> None:
    flipped, size = BAD_FLIPPED[name]
    with pytest.raises(StatusDeltaError):
        decode_flipped(flipped, size)


def test_apply_refuses_a_lone_surrogate_in_the_envelope(issuers: Issuers) -> None:
    """JSON "\\ud800" is not Unicode text: a StatusDeltaError, not a UnicodeEncodeError (found
    by the delta fuzzer)."""
    key = issuers.keys["IMSS"]
    a = status_file(key, "revocation", set_indices=frozenset({1}), vm=KEY1)
    b = status_file(key, "revocation", set_indices=frozenset({1, 2}), vm=KEY1)
    delta = make_status_delta(a, b)
    delta["envelope"]["issuer"] = "did:web:imss.gob.mx\ud800"
    url, to = delta["url"], delta["toSha256"]
    escaped = json.dumps(delta).encode()  # "\\ud800" as a JSON escape
    raw = json.dumps(delta, ensure_ascii=False).encode("utf-8", "surrogatepass")  # as bytes
    for form in (escaped, raw):
        with pytest.raises(StatusDeltaError, match="not valid Unicode"):
            apply_status_delta(a, form, url=url, to_sha256=to)


def test_apply_refuses_a_delta_for_another_base(issuers: Issuers) -> None:
    key = issuers.keys["IMSS"]
    a = status_file(key, "revocation", set_indices=frozenset({1}), vm=KEY1)
    b = status_file(key, "revocation", set_indices=frozenset({1, 2}), vm=KEY1)
    c = status_file(key, "revocation", set_indices=frozenset({3}), vm=KEY1)
    delta = status_delta_file_bytes(make_status_delta(a, b))
    url = json.loads(b)["id"]
    to = hashlib.sha256(b).hexdigest()
    assert apply_status_delta(a, delta, url=url, to_sha256=to) == b
    with pytest.raises(StatusDeltaError):
        apply_status_delta(c, delta, url=url, to_sha256=to)
    with pytest.raises(StatusDeltaError):
        apply_status_delta(a, delta, url=url, to_sha256="0" * 64)


# -- built by credencial-issuer trust-bundle build --previous --------------------------------------


def _issuer(capsys: pytest.CaptureFixture[str], *argv: str) -> None:
    status = issuer_run(list(argv))
    assert status == 0, capsys.readouterr().err


def test_issuer_build_with_previous_writes_usable_deltas(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_network: list[str],
) -> None:
    db = operator_env(monkeypatch, tmp_path)
    service = operator_cli.build_service(str(db))
    try:
        issued = service.issue(
            cli_principal("IMSS"), {"credentialSubject": DEMO_PEOPLE["credential"]}
        )
    finally:
        service.db.dispose()
    (tmp_path / "card.json").write_text(json.dumps(issued.document))
    anchors = tmp_path / "anchors"
    _issuer(capsys, "anchor", "keygen", "--out", str(anchors), "--count", "3")

    def build(folder: Path, *extra: str) -> dict[str, Any]:
        out = folder / "trust-bundle.json"
        _issuer(capsys, "trust-bundle", "build", "--out", str(out), "--db", str(db),
                "--anchors", str(anchors / "ANCHORS.json"), *extra)  # fmt: skip
        for number in (1, 2):
            _issuer(capsys, "trust-bundle", "sign", str(out),
                    "--key", str(anchors / f"anchor-{number}.json"),
                    "--key-id", f"anchor-{number}")  # fmt: skip
        document: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return document

    state = tmp_path / "trust"
    v1 = build(tmp_path / "v1")
    assert all("delta" not in e for i in v1["signed"]["institutions"] for e in i["statusLists"])
    pinned = AnchorSet.from_file(anchors / "ANCHORS.json")
    assert sync(str(tmp_path / "v1"), state, anchors=pinned).by_full == 2

    service = operator_cli.build_service(str(db), bootstrap=False)
    try:
        service.change_status(cli_principal("IMSS"), issued.document["id"], StatusAction.REVOKE)
    finally:
        service.db.dispose()
    v2 = build(tmp_path / "v2", "--previous", str(tmp_path / "v1"), "--version", "2")
    imss = next(i for i in v2["signed"]["institutions"] if i["code"] == "IMSS")
    named = v2["signed"]["statusDelta"]
    assert named["fromVersion"] == 1
    delta_file = tmp_path / "v2" / named["path"]
    assert hashlib.sha256(delta_file.read_bytes()).hexdigest() == named["sha256"]
    delta = json.loads(delta_file.read_bytes())
    assert delta["type"] == "StatusBundleDelta"
    revocation = next(e["url"] for e in imss["statusLists"] if e["purpose"] == "revocation")
    assert [item["url"] for item in delta["lists"]] == [revocation]  # suspension: unchanged
    result = sync(str(tmp_path / "v2"), state)
    assert (result.by_delta, result.by_full, result.unchanged, result.missing) == (1, 0, 1, ())
    for entry in imss["statusLists"]:
        installed = (state / "current" / entry["path"]).read_bytes()
        assert installed == (tmp_path / "v2" / entry["path"]).read_bytes()
        if entry["purpose"] == "revocation":
            bits = decode_status_bits(json.loads(installed)["credentialSubject"]["encodedList"])
            index = int(issued.document["credentialStatus"][0]["statusListIndex"])
            assert status_bit(bits, index) == 1

    capsys.readouterr()
    run(["--trust-dir", str(state), "--json", str(tmp_path / "card.json")])
    reasons = [r["code"] for r in json.loads(capsys.readouterr().out)["reasons"]]
    assert reasons == ["REVOKED"]
    assert no_network == []
