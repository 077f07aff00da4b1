"""A synced trust folder, cards and a running front-desk server for the desk tests."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from issuer.cards.render import card_png
from issuer.keys.files import Ed25519KeyPair
from tests.conftest import NOW, Issuers
from tests.verifier._bundles import anchor_json
from tests.verifier.test_sync import Publisher
from verifier import AnchorSet, encode_card
from verifier.desk import DeskConfig, DeskServer, DeskService, make_server
from verifier.sync import sync

#: The index of the revoked credential in the IMSS revocation list (the example's is 94567).
REVOKED_INDEX = 4242


@dataclass(frozen=True)
class DeskWorld:
    """A trust folder synced at NOW, and the cards a desk is shown."""

    trust_dir: Path
    publisher: Publisher
    anchors: AnchorSet
    valid: dict[str, Any]
    revoked: dict[str, Any]
    valid_card: str
    revoked_card: str
    valid_png: Path


def revoked_credential(issuers: Issuers) -> dict[str, Any]:
    """Another holder's credential whose index is set in the revocation list."""
    from tests.strategies import example_credential

    credential = example_credential()
    credential["id"] = "urn:uuid:6a0c7d1e-55b2-4f0e-8d3a-2b9e4c1f7a60"
    subject = credential["credentialSubject"]
    subject.update(curp="GOCJ900101HDFNRN01", givenName="JUAN", familyName="GONZÁLEZ")
    subject.pop("secondFamilyName", None)
    for entry in credential["credentialStatus"]:
        entry["statusListIndex"] = str(REVOKED_INDEX)
    return issuers.sign(credential)


@pytest.fixture(scope="session")
def desk_world(
    tmp_path_factory: pytest.TempPathFactory, issuers: Issuers, signed_example: dict[str, Any]
) -> DeskWorld:
    root = tmp_path_factory.mktemp("desk")
    anchors = {f"anchor-{n}": Ed25519KeyPair.generate() for n in (1, 2, 3)}
    publisher = Publisher(root, anchors, issuers.keys["IMSS"])
    folder = publisher.publish(1, revoked=frozenset({REVOKED_INDEX}))
    trust_dir = root / "trust"
    anchor_set = AnchorSet.from_json(anchor_json(anchors, 2))
    sync(str(folder), trust_dir, anchors=anchor_set, now=NOW)
    valid = copy.deepcopy(signed_example)
    revoked = revoked_credential(issuers)
    png = root / "card.png"
    png.write_bytes(card_png(valid))
    return DeskWorld(
        trust_dir,
        publisher,
        anchor_set,
        valid,
        revoked,
        encode_card(valid),
        encode_card(revoked),
        png,
    )


StartDesk = Callable[..., DeskServer]


@pytest.fixture
def start_desk(tmp_path: Path, desk_world: DeskWorld) -> Iterator[StartDesk]:
    """Start a desk server on a free loopback port, in a thread; stopped after the test."""
    servers: list[tuple[DeskServer, threading.Thread]] = []

    def start(*, now: datetime = NOW, **options: Any) -> DeskServer:
        options.setdefault("trust_dir", desk_world.trust_dir)
        options.setdefault("counts_file", tmp_path / f"counts-{len(servers)}.json")
        config = DeskConfig(clock=lambda: now, **options)
        server = make_server(DeskService(config), "127.0.0.1", 0, quiet=True)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        servers.append((server, thread))
        return server

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
