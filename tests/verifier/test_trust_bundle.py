"""Trust bundles (ADR 0004), as tables in the style of python-tuf's key-rotation tests.

Each row is a scenario: a name, the setup (who signs, which keys and lists the bundle holds, the
clock), and the expected outcome (a verdict and reason code, or the bundle error).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from issuer.credentials.signing import sign_document
from issuer.keys.files import Ed25519KeyPair
from tests.conftest import NOW, SIGNED_AT, Issuers
from tests.strategies import example_credential
from tests.verifier._bundles import (
    EXPIRES,
    IMSS,
    ISSUED,
    STATUS_VM,
    BundleSpec,
    anchor_json,
    key_entry,
    list_entry,
    sign_bundle,
    status_file,
)
from verifier import (
    AnchorSet,
    BundleStatusLists,
    KeyFormatError,
    ReasonCode,
    TrustBundle,
    TrustBundleError,
    TrustedKey,
    TrustState,
    TrustStore,
    Verdict,
    Verifier,
    VerifierConfig,
    load_trust_bundle,
)

KEY1 = IMSS.verification_method("key-1")
KEY2 = IMSS.verification_method("key-2")
ROTATED_AT = "2026-03-01T00:00:00Z"
REVOKED_INDEX = 94567  # the example credential's revocation index


@dataclass(frozen=True)
class Keys:
    """Anchor sets A (current) and B (after a rotation), an outsider, and IMSS keys."""

    a: dict[str, Ed25519KeyPair]
    b: dict[str, Ed25519KeyPair]
    outsider: Ed25519KeyPair
    key1: Ed25519KeyPair
    key2: Ed25519KeyPair
    status: Ed25519KeyPair

    @property
    def anchors_a(self) -> AnchorSet:
        return AnchorSet.from_json(anchor_json(self.a, 2))

    def signers(self, names: list[str]) -> list[tuple[str, Ed25519KeyPair]]:
        """``"a1"`` is anchor-1 of set A, ``"b2"`` anchor-2 of set B, ``"x"`` an outsider."""
        result = []
        for name in names:
            if name == "x":
                result.append(("anchor-9", self.outsider))
            elif name == "x-as-a2":  # a listed key id, signed by a key that is not its own
                result.append(("anchor-2", self.outsider))
            else:
                group = self.a if name[0] == "a" else self.b
                prefix = "anchor-" if name[0] == "a" else "new-anchor-"
                result.append((f"{prefix}{name[1]}", group[f"{prefix}{name[1]}"]))
        return result


@pytest.fixture(scope="module")
def keys(issuers: Issuers) -> Keys:
    gen = Ed25519KeyPair.generate
    return Keys(
        a={f"anchor-{n}": gen() for n in (1, 2, 3)},
        b={f"new-anchor-{n}": gen() for n in (1, 2, 3)},
        outsider=gen(),
        key1=issuers.keys["IMSS"],
        key2=gen(),
        status=gen(),
    )


def _spec(ks: Keys, **kwargs: Any) -> BundleSpec:
    spec = BundleSpec(anchor=anchor_json(ks.a, 2), **kwargs)
    if not spec.keys:
        spec.keys = [key_entry(KEY1, ks.key1), key_entry(STATUS_VM, ks.status)]
    return spec


def _lists(keys: Keys, revoked: frozenset[int] = frozenset()) -> dict[str, bytes]:
    return {
        IMSS.status_list_url("revocation", 1): status_file(
            keys.status, "revocation", set_indices=revoked
        ),
        IMSS.status_list_url("suspension", 1): status_file(keys.status, "suspension"),
    }


def _world(
    ks: Keys, files: dict[str, bytes], *, listed: dict[str, bytes] | None = None, **spec: Any
) -> tuple[TrustBundle, BundleStatusLists]:
    """A bundle signed by a1+a2 naming ``listed`` (default: ``files``), and the held ``files``."""
    named = files if listed is None else listed
    bundle_spec = _spec(ks, **spec)
    bundle_spec.lists = [list_entry(data) for data in named.values()]
    document = sign_bundle(bundle_spec.signed(), ks.signers(["a1", "a2"]))
    bundle = load_trust_bundle(document, trusted_anchors=ks.anchors_a)
    return bundle, BundleStatusLists(bundle, files)


def _codes(result: Any) -> list[ReasonCode]:
    return [reason.code for reason in result.reasons]


# -- threshold: k of n distinct anchor keys --------------------------------------------------------

THRESHOLD_CASES = {
    # name: (signers, accepted)
    "threshold met, 2 of 3": (["a1", "a2"], True),
    "all three sign": (["a1", "a2", "a3"], True),
    "threshold not met, 1 of 3": (["a1"], False),
    "no signatures": ([], False),
    "duplicate signature counts once": (["a1", "a1"], False),
    "duplicate beside a second key": (["a1", "a1", "a3"], True),
    "unknown signer ignored, not enough": (["a1", "x"], False),
    "unknown signer ignored, enough": (["x", "a2", "a3"], True),
    "listed key id, wrong key": (["a1", "x-as-a2"], False),
    "the new set cannot sign for the old": (["b1", "b2", "b3"], False),
}


@pytest.mark.parametrize("name", THRESHOLD_CASES)
def test_threshold(keys: Keys, name: str) -> None:
    signers, accepted = THRESHOLD_CASES[name]
    document = sign_bundle(_spec(keys).signed(), keys.signers(signers))
    if accepted:
        assert load_trust_bundle(document, trusted_anchors=keys.anchors_a).version == 1
    else:
        with pytest.raises(TrustBundleError) as caught:
            load_trust_bundle(document, trusted_anchors=keys.anchors_a)
        assert caught.value.code is ReasonCode.TRUST_BUNDLE_INVALID


def test_a_tampered_bundle_is_refused(keys: Keys) -> None:
    document = sign_bundle(_spec(keys).signed(), keys.signers(["a1", "a2", "a3"]))
    document["signed"]["institutions"][0]["keys"][0]["validUntil"] = "2099-01-01T00:00:00Z"
    with pytest.raises(TrustBundleError, match="0 valid signature"):
        load_trust_bundle(document, trusted_anchors=keys.anchors_a)


def test_the_same_key_under_two_ids_counts_once(keys: Keys) -> None:
    pair = keys.a["anchor-1"]
    doubled = {"anchor-1": pair, "anchor-1-again": pair, "anchor-2": keys.a["anchor-2"]}
    with pytest.raises(KeyFormatError):  # two distinct keys cannot meet a threshold of 3 ...
        AnchorSet.from_json(anchor_json(doubled, 3))
    anchors = AnchorSet.from_json(anchor_json(doubled, 2))
    document = sign_bundle(_spec(keys).signed(), [("anchor-1", pair), ("anchor-1-again", pair)])
    with pytest.raises(TrustBundleError):  # ... and one key signing under two ids is still one
        load_trust_bundle(document, trusted_anchors=anchors)


# -- anchor rotation: the old threshold and the new ------------------------------------------------

ROTATION_CASES = {
    # name: (signers of the bundle that moves from set A to set B, accepted)
    "old and new thresholds met": (["a1", "a2", "b1", "b2"], True),
    "only the old threshold": (["a1", "a2", "a3"], False),
    "only the new threshold": (["b1", "b2", "b3"], False),
    "old threshold, one new key": (["a1", "a2", "b1"], False),
    "one old key, new threshold": (["a1", "b1", "b2"], False),
}


@pytest.mark.parametrize("name", ROTATION_CASES)
def test_anchor_rotation(keys: Keys, name: str) -> None:
    signers, accepted = ROTATION_CASES[name]
    rotated = _spec(keys, version=2)
    rotated.anchor = anchor_json(keys.b, 2)
    document = sign_bundle(rotated.signed(), keys.signers(signers))
    if not accepted:
        with pytest.raises(TrustBundleError, match="required"):
            load_trust_bundle(document, trusted_anchors=keys.anchors_a)
        return
    bundle = load_trust_bundle(document, trusted_anchors=keys.anchors_a)
    state = TrustState().accept(bundle)
    assert state.anchor is not None
    # after the rotation the new set alone signs the next bundle; the old set no longer can
    following = _spec(keys, version=3)
    following.anchor = anchor_json(keys.b, 2)
    next_doc = sign_bundle(following.signed(), keys.signers(["b1", "b3"]))
    assert load_trust_bundle(next_doc, trusted_anchors=state.anchor).version == 3
    old_only = sign_bundle(following.signed(), keys.signers(["a1", "a2", "a3"]))
    with pytest.raises(TrustBundleError):
        load_trust_bundle(old_only, trusted_anchors=state.anchor)


# -- institution keys: rotation, retirement, compromise --------------------------------------------

KeyCase = tuple[list[tuple[str, dict[str, str]]], str, str, bool, Verdict, ReasonCode | None]
KEY_CASES: dict[str, KeyCase] = {
    # name: (IMSS key entries, signing key, created, reject all compromised, verdict, code)
    "rotation: the new key signs": (
        [("key-1", {"valid_until": ROTATED_AT, "state": "retired"}), ("key-2", {})],
        "key-2",
        "2026-04-01T00:00:00Z",
        False,
        Verdict.VALID,
        None,
    ),
    "rotation: the old key stays valid for what it signed": (
        [("key-1", {"valid_until": ROTATED_AT, "state": "retired"}), ("key-2", {})],
        "key-1",
        SIGNED_AT,
        False,
        Verdict.VALID,
        None,
    ),
    "retirement: the old key signing after it": (
        [("key-1", {"valid_until": ROTATED_AT, "state": "retired"}), ("key-2", {})],
        "key-1",
        "2026-04-01T00:00:00Z",
        False,
        Verdict.INVALID,
        ReasonCode.KEY_NOT_VALID_AT_CREATION,
    ),
    "a key dropped from the bundle": (
        [("key-2", {})],
        "key-1",
        SIGNED_AT,
        False,
        Verdict.INVALID,
        ReasonCode.KEY_UNKNOWN,
    ),
    "compromise: signed before compromisedAt": (
        [("key-1", {"state": "compromised", "compromised_at": ROTATED_AT})],
        "key-1",
        SIGNED_AT,
        False,
        Verdict.VALID,
        None,
    ),
    "compromise: signed at compromisedAt": (
        [("key-1", {"state": "compromised", "compromised_at": ROTATED_AT})],
        "key-1",
        ROTATED_AT,
        False,
        Verdict.INVALID,
        ReasonCode.KEY_COMPROMISED,
    ),
    "compromise: signed after compromisedAt": (
        [("key-1", {"state": "compromised", "compromised_at": ROTATED_AT})],
        "key-1",
        "2026-05-01T00:00:00Z",
        False,
        Verdict.INVALID,
        ReasonCode.KEY_COMPROMISED,
    ),
    "compromise: reject-all policy, signed before": (
        [("key-1", {"state": "compromised", "compromised_at": ROTATED_AT})],
        "key-1",
        SIGNED_AT,
        True,
        Verdict.INVALID,
        ReasonCode.KEY_COMPROMISED,
    ),
    "reject-all policy leaves a healthy key alone": (
        [("key-1", {})],
        "key-1",
        SIGNED_AT,
        True,
        Verdict.VALID,
        None,
    ),
}


@pytest.mark.parametrize("name", KEY_CASES)
def test_institution_keys(keys: Keys, name: str) -> None:
    entries, signer, created, reject_all, verdict, code = KEY_CASES[name]
    pairs = {"key-1": keys.key1, "key-2": keys.key2}
    key_entries = [
        key_entry(IMSS.verification_method(kid), pairs[kid], **options) for kid, options in entries
    ]
    files = _lists(keys)
    bundle, lists = _world(keys, files, keys=[*key_entries, key_entry(STATUS_VM, keys.status)])
    credential = sign_document(
        example_credential(), pairs[signer], IMSS.verification_method(signer), created=created
    )
    config = VerifierConfig(reject_all_from_compromised_keys=reject_all)
    result = Verifier(TrustStore.from_bundle(bundle), config, lists).check(credential, now=NOW)
    assert (result.verdict, _codes(result)) == (verdict, [code] if code else [])


def test_compromise_is_read_from_a_trust_file_too(keys: Keys) -> None:
    entry = {
        "id": KEY1,
        "controller": IMSS.did,
        "publicKeyMultibase": keys.key1.public_key_multibase,
        "state": "compromised",
        "compromisedAt": ROTATED_AT,
    }
    key = TrustedKey.from_json(entry)
    assert key.compromised_at == datetime.fromisoformat(ROTATED_AT)
    assert TrustStore.from_json(TrustStore([key]).to_json()).resolve(
        KEY1, issuer=IMSS.did, at=NOW - timedelta(days=200)
    )


# -- rollback: the high-water mark, persisted ------------------------------------------------------

ROLLBACK_CASES = {
    # name: (versions accepted in order, each by a fresh TrustState loaded from disk; refused)
    "newer versions": ([1, 2, 5], None),
    "the same version again": ([3, 3], None),
    "an older version after a newer": ([1, 4, 3], 3),
    "version 1 after version 2": ([2, 1], 1),
}


@pytest.mark.parametrize("name", ROLLBACK_CASES)
def test_rollback(keys: Keys, tmp_path: Path, name: str) -> None:
    versions, refused = ROLLBACK_CASES[name]
    path = tmp_path / "state.json"
    for version in versions:
        document = sign_bundle(_spec(keys, version=version).signed(), keys.signers(["a1", "a3"]))
        bundle = load_trust_bundle(document, trusted_anchors=keys.anchors_a)
        state = TrustState.load(path)  # a new verifier process each time
        if version == refused:
            with pytest.raises(TrustBundleError) as caught:
                state.accept(bundle)
            assert caught.value.code is ReasonCode.TRUST_BUNDLE_ROLLBACK
            assert TrustState.load(path).highest_version == max(versions[:-1])
            return
        state.accept(bundle).save(path)
    assert refused is None
    assert json.loads(path.read_text())["highestVersion"] == max(versions)


def test_a_different_bundle_under_a_trusted_version_is_refused(keys: Keys, tmp_path: Path) -> None:
    """Equivocation: two validly signed bundles must never share a version number."""
    path = tmp_path / "state.json"
    first = sign_bundle(_spec(keys, version=3).signed(), keys.signers(["a1", "a3"]))
    TrustState().accept(load_trust_bundle(first, trusted_anchors=keys.anchors_a)).save(path)
    other_spec = _spec(keys, version=3, expires=EXPIRES + timedelta(days=1))
    other = sign_bundle(other_spec.signed(), keys.signers(["a1", "a3"]))
    bundle = load_trust_bundle(other, trusted_anchors=keys.anchors_a)
    with pytest.raises(TrustBundleError, match="never share a version") as caught:
        TrustState.load(path).accept(bundle)
    assert caught.value.code is ReasonCode.TRUST_BUNDLE_ROLLBACK


def test_the_state_file_round_trips(keys: Keys, tmp_path: Path) -> None:
    document = sign_bundle(_spec(keys, version=4).signed(), keys.signers(["a1", "a2"]))
    state = TrustState().accept(load_trust_bundle(document, trusted_anchors=keys.anchors_a))
    state.save(tmp_path / "s.json")
    assert TrustState.load(tmp_path / "s.json") == state
    assert state.latest_trusted_time == ISSUED
    assert TrustState.load(tmp_path / "missing.json") == TrustState()


# -- freeze and the clock --------------------------------------------------------------------------

CLOCK_CASES = {
    # name: (reference time, latest trusted time in the state, verdict, code that must be given)
    "fresh bundle, right clock": (NOW, None, Verdict.VALID, None),
    "freeze: fixed clock after expiry": (
        EXPIRES + timedelta(days=1),
        None,
        Verdict.INDETERMINATE,
        ReasonCode.TRUST_BUNDLE_EXPIRED,
    ),
    "clock set back before the bundle was issued": (
        ISSUED - timedelta(days=2),
        None,
        Verdict.INDETERMINATE,
        ReasonCode.CLOCK_BEHIND,
    ),
    "clock behind the latest trusted time": (
        NOW,
        NOW + timedelta(days=2),
        Verdict.INDETERMINATE,
        ReasonCode.CLOCK_BEHIND,
    ),
    "behind by less than the clock skew": (NOW, NOW + timedelta(minutes=1), Verdict.VALID, None),
}


@pytest.mark.parametrize("name", CLOCK_CASES)
def test_clock_and_expiry(keys: Keys, credential: dict[str, Any], name: str) -> None:
    now, latest, verdict, code = CLOCK_CASES[name]
    bundle, lists = _world(keys, _lists(keys))
    trust = TrustStore.from_bundle(bundle, latest_trusted_time=latest)
    result = Verifier(trust, None, lists).check(credential, now=now)
    assert result.verdict is verdict
    if code is None:
        assert result.reasons == ()
    else:
        assert result.reasons[0].code is code  # the trust problem is named first


# -- mix-and-match: a held status list is used only if the bundle names its hash -------------------

MIX_CASES = {
    # name: (held lists: "current" / "old" / None, bundle names: "current" / "old" / None, outcome)
    "current list, named by the bundle": (
        "current",
        "current",
        Verdict.INVALID,
        ReasonCode.REVOKED,
    ),
    "old but validly signed list, not named": (
        "old",
        "current",
        Verdict.INDETERMINATE,
        ReasonCode.STATUS_LIST_NOT_IN_BUNDLE,
    ),
    "old list named by an old bundle": ("old", "old", Verdict.VALID, None),
    "list the bundle does not name at all": (
        "current",
        None,
        Verdict.INDETERMINATE,
        ReasonCode.STATUS_LIST_NOT_IN_BUNDLE,
    ),
    "named but not held": (None, "current", Verdict.INDETERMINATE, ReasonCode.STATUS_UNAVAILABLE),
}


@pytest.mark.parametrize("name", MIX_CASES)
def test_mix_and_match(keys: Keys, credential: dict[str, Any], name: str) -> None:
    held, named, verdict, code = MIX_CASES[name]
    revocation = IMSS.status_list_url("revocation", 1)
    versions = {
        "old": status_file(keys.status, "revocation", valid_from=NOW - timedelta(hours=3)),
        "current": status_file(keys.status, "revocation", set_indices=frozenset({REVOKED_INDEX})),
    }
    suspension = {IMSS.status_list_url("suspension", 1): status_file(keys.status, "suspension")}
    files = {**suspension, **({revocation: versions[held]} if held else {})}
    listed = {**suspension, **({revocation: versions[named]} if named else {})}
    bundle, lists = _world(keys, files, listed=listed)
    result = Verifier(TrustStore.from_bundle(bundle), None, lists).check(credential, now=NOW)
    assert (result.verdict, _codes(result)) == (verdict, [code] if code else [])


def test_a_named_list_still_goes_stale(keys: Keys, credential: dict[str, Any]) -> None:
    old = {
        IMSS.status_list_url(p, 1): status_file(keys.status, p, valid_from=NOW - timedelta(days=10))
        for p in ("revocation", "suspension")
    }
    bundle, lists = _world(keys, old)
    config = VerifierConfig(max_status_age=timedelta(days=30))
    result = Verifier(TrustStore.from_bundle(bundle), config, lists).check(credential, now=NOW)
    assert (result.verdict, set(_codes(result))) == (
        Verdict.INDETERMINATE,
        {ReasonCode.STATUS_STALE},  # its own validUntil (ttl 24 h) has passed
    )


# -- malformed bundles -----------------------------------------------------------------------------

MALFORMED_CASES = {
    "wrong type": lambda s: s.update(type="Other"),
    "version zero": lambda s: s.update(version=0),
    "expires before issued": lambda s: s.update(expires="2020-01-01T00:00:00Z"),
    "key of another institution": lambda s: s["institutions"][0]["keys"][0].update(
        id="did:web:issste.gob.mx#key-1"
    ),
    "compromised without a time": lambda s: s["institutions"][0]["keys"][0].update(
        state="compromised"
    ),
    "unknown key state": lambda s: s["institutions"][0]["keys"][0].update(state="lost"),
    # found by the fuzzer (tests/fuzz): an unhashable state was a TypeError, not a refusal
    "key state a list": lambda s: s["institutions"][0]["keys"][0].update(state=["active"]),
    "key state an object": lambda s: s["institutions"][0]["keys"][0].update(state={}),
    "status list path escapes the folder": lambda s: s["institutions"][0]["statusLists"].append(
        {"url": "https://x.mx/1", "sha256": "0" * 64, "path": "../etc/passwd"}
    ),
    "bad sha256": lambda s: s["institutions"][0]["statusLists"].append(
        {"url": "https://x.mx/1", "sha256": "abc"}
    ),
}


@pytest.mark.parametrize("name", MALFORMED_CASES)
def test_malformed_bundles_are_refused(keys: Keys, name: str) -> None:
    signed = _spec(keys).signed()
    MALFORMED_CASES[name](signed)
    document = sign_bundle(signed, keys.signers(["a1", "a2"]))  # validly signed, still refused
    with pytest.raises(TrustBundleError) as caught:
        load_trust_bundle(document, trusted_anchors=keys.anchors_a)
    assert caught.value.code is ReasonCode.TRUST_BUNDLE_INVALID


@pytest.mark.parametrize("keyid", [["a1"], {"id": "a1"}, 1, None])
def test_a_signature_with_a_malformed_keyid_counts_for_nothing(keys: Keys, keyid: Any) -> None:
    """Found by the fuzzer (tests/fuzz): an unhashable keyid was a TypeError, not a refusal."""
    document = sign_bundle(_spec(keys).signed(), keys.signers(["a1", "a2"]))
    document["signatures"][0]["keyid"] = keyid
    with pytest.raises(TrustBundleError, match="1 valid signature"):
        load_trust_bundle(document, trusted_anchors=keys.anchors_a)


def test_a_lone_surrogate_is_refused(keys: Keys) -> None:
    """JSON "\\ud800" is not Unicode text: a TrustBundleError, not a UnicodeEncodeError (found by
    the bundle fuzzer), whether the bundle comes as text or already parsed."""
    signed = _spec(keys).signed()
    signed["institutions"][0]["name"] += "\ud800"
    document = {"signed": signed, "signatures": []}
    for form in (document, json.dumps(document), json.dumps(document).encode()):
        with pytest.raises(TrustBundleError, match="not valid Unicode"):
            load_trust_bundle(form, trusted_anchors=keys.anchors_a)


def test_not_json_is_refused(keys: Keys) -> None:
    with pytest.raises(TrustBundleError):
        load_trust_bundle(b"{not json", trusted_anchors=keys.anchors_a)
