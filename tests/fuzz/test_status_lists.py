"""Fuzz the status list path: ``encodedList`` decoding, held status list credentials (tampered
signed lists, arbitrary objects), and status list files served through a trust bundle."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import NOW, Issuers
from tests.fuzzing import (
    examples,
    fuzz_call,
    hostile_json,
    mutated_json_text,
    parses_to,
    swapped_node,
)
from verifier import (
    MIN_STATUS_LIST_BITS,
    AnchorSet,
    BundleInstitution,
    BundleStatusList,
    BundleStatusLists,
    IndeterminateError,
    ReasonCode,
    TrustBundle,
    Verdict,
    Verifier,
    decode_status_bits,
    encode_status_bits,
)
from verifier._status import status_list_file_bytes

_PARSER = "status list"
_REVOCATION = "https://imss.gob.mx/credencial/status/revocation/1"
_SUSPENSION = "https://imss.gob.mx/credencial/status/suspension/1"
_MAX_BITS_BYTES = 64 * 1024 * 1024


def _settings(share: float) -> settings:
    return settings(
        max_examples=examples(share),
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


def _u(data: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1, mtime=0)


_VALID_LIST = encode_status_bits(bytes(MIN_STATUS_LIST_BITS // 8))

_encoded_lists = st.one_of(
    st.text(max_size=64),
    st.builds(lambda s: "u" + s, st.text("ABCDEFabcdef0123456789-_=+/", max_size=200)),
    st.binary(max_size=300).map(_u),
    st.binary(max_size=300).map(lambda raw: _u(_gzip(raw))),
    st.integers(0, 40_000).map(lambda size: _u(_gzip(bytes(size)))),
    st.integers(1, len(_VALID_LIST) - 1).map(lambda cut: _VALID_LIST[:cut]),
    st.binary(min_size=1, max_size=8).map(lambda tail: _u(_gzip(bytes(16_384)) + tail)),
    hostile_json,
)


@_settings(0.62)
@given(encoded=_encoded_lists)
def test_fuzz_encoded_list(encoded: Any) -> None:
    """Any ``encodedList``: the bits, or an IndeterminateError (never a crash or a bomb)."""
    result = fuzz_call(_PARSER, lambda: decode_status_bits(encoded))
    if isinstance(result, bytes):
        assert MIN_STATUS_LIST_BITS <= len(result) * 8 <= _MAX_BITS_BYTES * 8
    else:
        assert isinstance(result, IndeterminateError)
        assert result.code is ReasonCode.STATUS_LIST_INVALID


def test_gzip_bombs_stop_at_the_cap() -> None:
    """64 MiB of zeros (512 Mi entries) decode; one byte more is refused, without inflating it."""
    exactly = fuzz_call(_PARSER, lambda: decode_status_bits(_u(_gzip(bytes(_MAX_BITS_BYTES)))))
    assert isinstance(exactly, bytes)
    assert len(exactly) == _MAX_BITS_BYTES
    del exactly
    over = fuzz_call(_PARSER, lambda: decode_status_bits(_u(_gzip(bytes(_MAX_BITS_BYTES + 1)))))
    assert isinstance(over, IndeterminateError)
    assert "too large" in over.message


class _Held:
    """A status list source that holds ``documents`` by URL, whatever their ``id`` says."""

    def __init__(self, documents: Mapping[str, Any]) -> None:
        self.documents = documents

    def get(self, url: str) -> Mapping[str, Any] | None:
        return self.documents.get(url)


@pytest.fixture(scope="module")
def signed_lists(issuers: Issuers) -> dict[str, dict[str, Any]]:
    return {
        _REVOCATION: issuers.status_list("revocation"),
        _SUSPENSION: issuers.status_list("suspension"),
    }


def _check(issuers: Issuers, credential: dict[str, Any], held: Mapping[str, Any]) -> Any:
    verifier = Verifier(issuers.trust, status_lists=_Held(held))  # a fresh status cache
    return verifier.check(credential, now=NOW)


def test_the_untampered_lists_give_valid(
    issuers: Issuers, credential: dict[str, Any], signed_lists: dict[str, dict[str, Any]]
) -> None:
    assert _check(issuers, credential, signed_lists).verdict is Verdict.VALID


@_settings(0.3)
@given(data=st.data())
def test_tampered_signed_status_list_is_never_trusted(
    issuers: Issuers,
    credential: dict[str, Any],
    signed_lists: dict[str, dict[str, Any]],
    data: st.DataObject,
) -> None:
    """One node of a held signed list replaced by hostile JSON, or the list's JSON text edited:
    the verdict is never VALID (the list no longer authenticates)."""
    url = data.draw(st.sampled_from([_REVOCATION, _SUSPENSION]), label="list")
    original = signed_lists[url]
    if data.draw(st.booleans(), label="edit the text"):
        text = data.draw(mutated_json_text(json.dumps(original)), label="text")
        try:
            tampered = json.loads(text)
        except (ValueError, RecursionError):
            return  # not JSON: never reaches a verifier (InMemoryStatusLists.from_files refuses)
        if not isinstance(tampered, dict):
            return
        changed = not parses_to(text, original)
    else:
        tampered = data.draw(swapped_node(original, same_meaning=False), label="tampered")
        changed = True
    held = {**signed_lists, url: tampered}
    fuzz_call(_PARSER, lambda: _check(issuers, credential, held), mutated=changed)


@_settings(0.1)
@given(data=st.data())
def test_respelled_signed_status_list_is_read_as_signed_or_refused(
    issuers: Issuers,
    credential: dict[str, Any],
    signed_lists: dict[str, dict[str, Any]],
    data: st.DataObject,
) -> None:
    """A node respelled with the same RDF (a one-element list, ``{"@value": ...}``, ...): the
    proof still holds, so the list is either read as signed (VALID: same bits, same purpose) or
    refused (INDETERMINATE); never a crash, never INVALID."""
    url = data.draw(st.sampled_from([_REVOCATION, _SUSPENSION]), label="list")
    respelled = data.draw(swapped_node(signed_lists[url], hostile=False), label="respelled")
    held = {**signed_lists, url: respelled}
    result = fuzz_call(_PARSER, lambda: _check(issuers, credential, held))
    assert getattr(result, "verdict", None) in {Verdict.VALID, Verdict.INDETERMINATE}


@_settings(0.08)
@given(
    document=st.dictionaries(
        st.sampled_from(["@context", "id", "type", "issuer", "validFrom", "credentialSubject"])
        | st.text(max_size=8),
        hostile_json,
        max_size=5,
    ),
)
def test_arbitrary_held_status_list_is_never_trusted(
    issuers: Issuers,
    credential: dict[str, Any],
    signed_lists: dict[str, dict[str, Any]],
    document: dict[str, Any],
) -> None:
    held = {**signed_lists, _REVOCATION: document}
    fuzz_call(_PARSER, lambda: _check(issuers, credential, held), mutated=True)


def _bundle_serving(url: str, data: bytes) -> TrustBundle:
    entry = BundleStatusList(url=url, sha256=hashlib.sha256(data).hexdigest())
    institution = BundleInstitution("IMSS", "IMSS", "did:web:imss.gob.mx", (), (entry,))
    issued = datetime(2026, 1, 1, tzinfo=UTC)
    return TrustBundle(
        1, issued, datetime(2027, 1, 1, tzinfo=UTC), AnchorSet((), 1), (institution,)
    )


@_settings(0.1)
@given(data=st.data())
def test_status_list_file_bytes_through_a_bundle(
    issuers: Issuers,
    credential: dict[str, Any],
    signed_lists: dict[str, dict[str, Any]],
    data: st.DataObject,
) -> None:
    """Bytes of a status list file that the bundle vouches for (so its hash matches): not JSON,
    not an object, or an edited signed list: a typed INDETERMINATE, never VALID."""
    genuine = status_list_file_bytes(signed_lists[_REVOCATION])
    raw = data.draw(
        st.one_of(
            st.binary(max_size=200),
            hostile_json.map(lambda value: json.dumps(value).encode()),
            mutated_json_text(genuine.decode()).map(lambda t: t.encode("utf-8", "surrogatepass")),
        ),
        label="file",
    )
    served = BundleStatusLists(_bundle_serving(_REVOCATION, raw), {_REVOCATION: raw})
    held = {**signed_lists}

    class _Through:
        def get(self, url: str) -> Mapping[str, Any] | None:
            return served.get(url) if url == _REVOCATION else held.get(url)

    def check() -> Any:
        return Verifier(issuers.trust, status_lists=_Through()).check(credential, now=NOW)

    fuzz_call(_PARSER, check, mutated=not parses_to(raw, signed_lists[_REVOCATION]))
