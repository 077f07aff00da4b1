"""Fuzz the trust bundle loader and status list deltas: typed errors only, and no tampered signed
bundle is ever loaded, no tampered delta ever rebuilds other bytes than the bundle names."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from issuer.keys.files import Ed25519KeyPair
from tests.fuzzing import (
    examples,
    fuzz_call,
    hostile_json,
    mutated_json_text,
    parses_to,
    swapped_node,
)
from tests.verifier._bundles import (
    STATUS_VM,
    BundleSpec,
    anchor_json,
    key_entry,
    list_entry,
    sign_bundle,
    status_file,
)
from verifier import AnchorSet, TrustBundle, load_trust_bundle
from verifier._status_delta import (
    StatusDeltaError,
    apply_bundle_delta,
    apply_status_delta,
    decode_flipped,
    decode_flipped_lists,
    encode_flipped,
    encode_flipped_lists,
    make_bundle_delta,
    make_status_delta,
    status_delta_file_bytes,
)

_BUNDLE = "trust bundle"
_DELTA = "status delta"


def _settings(share: float) -> settings:
    return settings(
        max_examples=examples(share),
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


@pytest.fixture(scope="module")
def anchors() -> dict[str, Ed25519KeyPair]:
    return {f"anchor-{n}": Ed25519KeyPair.generate() for n in (1, 2, 3)}


@pytest.fixture(scope="module")
def trusted(anchors: dict[str, Ed25519KeyPair]) -> AnchorSet:
    return AnchorSet.from_json(anchor_json(anchors, 2))


@pytest.fixture(scope="module")
def bundle(anchors: dict[str, Ed25519KeyPair]) -> dict[str, Any]:
    """A signed bundle: IMSS with a key and two status lists, 2 of the 3 anchors signing (so a
    change to either signature leaves too few)."""
    status_key = Ed25519KeyPair.generate()
    spec = BundleSpec(
        anchor_json(anchors, 2),
        keys=[key_entry(STATUS_VM, status_key, valid_until="2030-01-01T00:00:00Z")],
        lists=[
            list_entry(status_file(status_key, "revocation"), path="status/r.json"),
            list_entry(status_file(status_key, "suspension")),
        ],
    )
    return sign_bundle(spec.signed(), [(k, anchors[k]) for k in ("anchor-1", "anchor-2")])


def _load(document: Any, trusted: AnchorSet) -> Any:
    return lambda: load_trust_bundle(document, trusted_anchors=trusted)


def _loaded(result: Any) -> bool:
    return isinstance(result, TrustBundle)


def test_the_untampered_bundle_loads(bundle: dict[str, Any], trusted: AnchorSet) -> None:
    assert isinstance(fuzz_call(_BUNDLE, _load(json.dumps(bundle), trusted)), TrustBundle)


@_settings(0.25)
@given(document=st.one_of(hostile_json.map(json.dumps), st.binary(max_size=200)))
def test_fuzz_arbitrary_bundle_documents(trusted: AnchorSet, document: str | bytes) -> None:
    fuzz_call(_BUNDLE, _load(document, trusted), mutated=True, accepted=_loaded)


@_settings(0.35)
@given(data=st.data())
def test_tampered_bundle_is_never_loaded(
    bundle: dict[str, Any], trusted: AnchorSet, data: st.DataObject
) -> None:
    """Any node replaced (``signed`` or a signature; hostile JSON or a same-meaning rewrite):
    refused, as only 2 of the 3 anchors sign and the threshold is 2."""
    tampered = data.draw(swapped_node(bundle), label="tampered")
    fuzz_call(_BUNDLE, _load(tampered, trusted), mutated=True, accepted=_loaded)


@_settings(0.4)
@given(data=st.data())
def test_edited_bundle_text_is_never_loaded_changed(
    bundle: dict[str, Any], trusted: AnchorSet, data: st.DataObject
) -> None:
    """Character edits of the bundle file: loaded only if ``signed`` is still the same."""
    text = data.draw(mutated_json_text(json.dumps(bundle)), label="text")
    raw = text.encode("utf-8", "surrogatepass")
    try:
        same = json.loads(raw)["signed"] == bundle["signed"]
    except (ValueError, RecursionError, TypeError, KeyError):
        same = False
    fuzz_call(_BUNDLE, _load(raw, trusted), mutated=not same, accepted=_loaded)


# -- status list deltas ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def delta_case() -> dict[str, Any]:
    """A held list, the next one (three indices changed), and the delta between them."""
    key = Ed25519KeyPair.generate()
    old = status_file(key, "revocation", set_indices=frozenset({5, 70_000}))
    new = status_file(key, "revocation", set_indices=frozenset({5, 9, 131_071, 4}))
    delta = make_status_delta(old, new)
    return {"old": old, "new": new, "delta": delta, "url": delta["url"], "to": delta["toSha256"]}


def _apply(case: dict[str, Any], delta_bytes: bytes) -> Any:
    return lambda: apply_status_delta(
        case["old"], delta_bytes, url=case["url"], to_sha256=case["to"]
    )


def test_the_untampered_delta_rebuilds_the_new_file(delta_case: dict[str, Any]) -> None:
    rebuilt = fuzz_call(_DELTA, _apply(delta_case, status_delta_file_bytes(delta_case["delta"])))
    assert rebuilt == delta_case["new"]


@_settings(0.35)
@given(data=st.data())
def test_tampered_delta_never_rebuilds_other_bytes(
    delta_case: dict[str, Any], data: st.DataObject
) -> None:
    """A node of the delta replaced, or its text edited: a StatusDeltaError, or exactly the new
    file (an edit that changes nothing that counts); never other bytes."""
    if data.draw(st.booleans(), label="edit the text"):
        text = data.draw(
            mutated_json_text(status_delta_file_bytes(delta_case["delta"]).decode()), label="text"
        )
        raw = text.encode("utf-8", "surrogatepass")
        changed = not parses_to(raw, delta_case["delta"])
    else:
        tampered = data.draw(swapped_node(delta_case["delta"]), label="tampered")
        raw, changed = json.dumps(tampered).encode(), True
    fuzz_call(
        _DELTA,
        _apply(delta_case, raw),
        mutated=changed,
        typed=(StatusDeltaError,),
        accepted=lambda rebuilt: rebuilt != delta_case["new"],
    )


@_settings(0.35)
@given(
    delta=st.one_of(hostile_json, st.dictionaries(st.text(max_size=10), hostile_json, max_size=4)),
)
def test_fuzz_arbitrary_delta_documents(delta_case: dict[str, Any], delta: Any) -> None:
    fuzz_call(
        _DELTA,
        _apply(delta_case, json.dumps(delta).encode()),
        mutated=True,
        typed=(StatusDeltaError,),
        accepted=lambda rebuilt: rebuilt != delta_case["new"],
    )


@_settings(0.3)
@given(
    flipped=st.one_of(
        st.binary(max_size=120).map(lambda raw: "u" + raw.hex()),
        st.text(max_size=60),
        st.binary(max_size=120).map(
            lambda raw: "u" + base64.urlsafe_b64encode(raw).decode().rstrip("=")
        ),
        st.lists(st.integers(0, 2**36), max_size=20).map(encode_flipped),
    ),
    size=st.integers(0, 2**20),
)
def test_fuzz_flipped_indices(flipped: str, size: int) -> None:
    """``flipped`` decodes to indices below ``size``, or raises StatusDeltaError."""
    result = fuzz_call(_DELTA, lambda: decode_flipped(flipped, size), typed=(StatusDeltaError,))
    if isinstance(result, list):
        assert all(0 <= index < size for index in result)
        assert result == sorted(set(result))


# -- one delta per bundle (issue 20) -----------------------------------------------------------

_BUNDLE_DELTA = "bundle delta"


@pytest.fixture(scope="module")
def bundle_delta_case() -> dict[str, Any]:
    """Two held lists (revocation, suspension), their next versions, the bundle delta."""
    key = Ed25519KeyPair.generate()
    old = {
        purpose: status_file(key, purpose, set_indices=frozenset({5, 70_000}))
        for purpose in ("revocation", "suspension")
    }
    new = {
        purpose: status_file(key, purpose, set_indices=frozenset({5, 9, 131_071}))
        for purpose in ("revocation", "suspension")
    }
    urls = {purpose: json.loads(data)["id"] for purpose, data in old.items()}
    held = {urls[p]: old[p] for p in old}
    wanted = {urls[p]: new[p] for p in new}
    delta = make_bundle_delta(held, wanted, from_version=3)
    expected = {url: hashlib.sha256(data).hexdigest() for url, data in wanted.items()}
    return {"held": held, "new": wanted, "delta": delta, "expected": expected}


def _apply_bundle(case: dict[str, Any], raw: bytes) -> Any:
    return lambda: apply_bundle_delta(raw, case["held"], from_version=3, expected=case["expected"])


def _other_bytes(case: dict[str, Any]) -> Callable[[Any], bool]:
    """A rebuilt file that is not the new file of its URL (never allowed)."""
    return lambda rebuilt: any(data != case["new"][url] for url, data in rebuilt.items())


def test_the_untampered_bundle_delta_rebuilds_both_lists(
    bundle_delta_case: dict[str, Any],
) -> None:
    raw = status_delta_file_bytes(bundle_delta_case["delta"])
    assert (
        fuzz_call(_BUNDLE_DELTA, _apply_bundle(bundle_delta_case, raw)) == bundle_delta_case["new"]
    )


@_settings(0.35)
@given(data=st.data())
def test_tampered_bundle_delta_never_rebuilds_other_bytes(
    bundle_delta_case: dict[str, Any], data: st.DataObject
) -> None:
    """A node replaced or the text edited: StatusDeltaError, or only lists that are exactly the
    new files (a list the tampering breaks is left out: downloaded whole)."""
    delta = bundle_delta_case["delta"]
    if data.draw(st.booleans(), label="edit the text"):
        text = data.draw(mutated_json_text(status_delta_file_bytes(delta).decode()), label="text")
        raw = text.encode("utf-8", "surrogatepass")
        changed = not parses_to(raw, delta)
    else:
        raw, changed = json.dumps(data.draw(swapped_node(delta), label="tampered")).encode(), True
    fuzz_call(
        _BUNDLE_DELTA,
        _apply_bundle(bundle_delta_case, raw),
        mutated=changed,
        typed=(StatusDeltaError,),
        accepted=_other_bytes(bundle_delta_case),
    )


@_settings(0.3)
@given(
    delta=st.one_of(hostile_json, st.dictionaries(st.text(max_size=10), hostile_json, max_size=4)),
)
def test_fuzz_arbitrary_bundle_delta_documents(
    bundle_delta_case: dict[str, Any], delta: Any
) -> None:
    fuzz_call(
        _BUNDLE_DELTA,
        _apply_bundle(bundle_delta_case, json.dumps(delta).encode()),
        mutated=True,
        typed=(StatusDeltaError,),
        accepted=_other_bytes(bundle_delta_case),
    )


@_settings(0.3)
@given(
    flipped=st.one_of(
        st.text(max_size=60),
        st.binary(max_size=120).map(
            lambda raw: "u" + base64.urlsafe_b64encode(raw).decode().rstrip("=")
        ),
        st.lists(st.lists(st.integers(0, 2**36), max_size=10), max_size=4).map(
            encode_flipped_lists
        ),
    ),
    sizes=st.lists(st.integers(0, 2**20), max_size=4),
)
def test_fuzz_flipped_lists(flipped: str, sizes: list[int]) -> None:
    """Each decoded list has indices below its size, or StatusDeltaError."""
    result = fuzz_call(
        _BUNDLE_DELTA,
        lambda: decode_flipped_lists(flipped, sizes),
        typed=(StatusDeltaError,),
        accepted=lambda _: False,
    )
    if not isinstance(result, BaseException):
        assert len(result) == len(sizes)
        for indices, size in zip(result, sizes, strict=True):
            assert all(0 <= index < size for index in indices)
            assert indices == sorted(set(indices))
