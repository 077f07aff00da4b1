"""Hostile scans and images at the desk service: an answer or "not read", never a crash or VALID."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import NOW
from tests.desk.conftest import DeskWorld
from verifier.desk import DeskConfig, DeskService, UnreadableScanError

_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def service(desk_world: DeskWorld, tmp_path_factory: pytest.TempPathFactory) -> DeskService:
    counts = tmp_path_factory.mktemp("fuzz") / "counts.json"
    return DeskService(DeskConfig(desk_world.trust_dir, counts_file=counts, clock=lambda: NOW))


def _card_mutations(card: str) -> st.SearchStrategy[str]:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
    position = st.integers(min_value=0, max_value=len(card) - 1)
    replaced = st.tuples(position, st.sampled_from(alphabet)).map(
        lambda p: card[: p[0]] + p[1] + card[p[0] + 1 :]
    )
    cut = position.map(lambda n: card[:n])
    return replaced | cut


@_SETTINGS
@given(data=st.data())
def test_hostile_scans_are_never_valid(
    service: DeskService, desk_world: DeskWorld, data: st.DataObject
) -> None:
    text = data.draw(st.text(max_size=300) | _card_mutations(desk_world.revoked_card), label="scan")
    try:
        result = service.verify_text(text)
    except UnreadableScanError:
        return  # not read: no verdict, nothing counted
    assert result["verdict"] in {"INVALID", "INDETERMINATE"}
    assert result["reasons"]
    if result["verdict"] == "INVALID":
        assert result["holder"] is None


@_SETTINGS
@given(
    data=st.binary(max_size=2048),
    magic=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"]),
)
def test_hostile_images_are_not_read(service: DeskService, data: bytes, magic: bytes) -> None:
    with pytest.raises(UnreadableScanError):
        service.verify_image(magic + data)


def test_a_truncated_card_photo_is_not_read(service: DeskService, desk_world: DeskWorld) -> None:
    png = Path(desk_world.valid_png).read_bytes()
    with pytest.raises(UnreadableScanError) as caught:
        service.verify_image(png[: len(png) // 2])
    assert caught.value.kind == "image"
