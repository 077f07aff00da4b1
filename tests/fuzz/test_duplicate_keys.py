"""Duplicate member names for every JSON parser of the project (issue 18, finding 2).

Each parser gets its own genuine input (a signed credential, a signed presentation, a signed
trust bundle, a held status list file, a status delta, the trust state, ANCHORS.json, a trust
file, a context file, an enrolment JSONL row, a wallet's stored credential, an OpenID4VCI key
proof signed *after* the edit, API request bodies), and Hypothesis writes its JSON text with one
member repeated somewhere: the same value, another value of the document, or hostile JSON,
before or after the original. ``json.loads`` keeps the last one, so the "before" form reads as
the genuine input: every one of them must be refused (never VALID, never accepted). ``make fuzz``
prints the count per parser (``dup-key: ...``) with ``VALID-on-mutated`` 0.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from issuer.app import create_app
from issuer.credentials.service import IssuerService
from issuer.enrolment.rows import RowError, read_records
from issuer.keys.files import Ed25519KeyPair
from issuer.oid4vci.key_proof import KeyProofError, verify_key_proof
from tests.conftest import NOW, Issuers
from tests.fuzzing import examples, fuzz_call, hostile_json, json_paths
from tests.issuer._enrolment_data import person as enrolment_person
from tests.issuer._workers import make_settings
from tests.strategies import example_credential
from tests.verifier._bundles import BundleSpec, anchor_json, key_entry, sign_bundle, status_file
from verifier import (
    AnchorSet,
    BundleInstitution,
    BundleStatusList,
    BundleStatusLists,
    CredencialError,
    InMemoryStatusLists,
    PresentationVerifier,
    TrustState,
    TrustStore,
    Verifier,
    create_presentation,
    did_key_from_public_key,
    format_datetime,
    load_context_file,
    load_trust_bundle,
)
from verifier._status_delta import StatusDeltaError, apply_status_delta, make_status_delta
from wallet_spec.holder import HolderKey, WalletError, WalletStore
from wallet_spec.holder._oid4vci import key_proof

_DOMAIN = "https://hospital.example.gob.mx"


# -- writing JSON with one member repeated --------------------------------------------------------


def _dumps(node: Any, target: tuple[Any, ...], key: str, extra: Any, before: bool,
           path: tuple[Any, ...] = ()) -> str:  # fmt: skip
    """JSON text of ``node`` in which the object at ``target`` has ``key`` twice (``extra``
    first when ``before``)."""
    if isinstance(node, dict):
        members = []
        for name, value in node.items():
            member = (
                json.dumps(name) + ": " + _dumps(value, target, key, extra, before, (*path, name))
            )
            if path == target and name == key:
                repeated = json.dumps(name) + ": " + json.dumps(extra)
                members += [repeated, member] if before else [member, repeated]
            else:
                members.append(member)
        return "{" + ", ".join(members) + "}"
    if isinstance(node, list):
        return "[" + ", ".join(
            _dumps(value, target, key, extra, before, (*path, i)) for i, value in enumerate(node)
        ) + "]"  # fmt: skip
    return json.dumps(node)


def _node(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


@st.composite
def repeated_member(draw: st.DrawFn, document: Any) -> str:
    """``document`` as JSON text with one member name repeated in one of its objects."""
    objects = [p for p in json_paths(document) if isinstance(_node(document, p), dict)]
    objects = [p for p in objects if _node(document, p)]
    target = draw(st.sampled_from(objects), label="object")
    key = draw(st.sampled_from(sorted(_node(document, target))), label="key")
    original = _node(document, target)[key]
    values = [_node(document, p) for p in json_paths(document)[1:]]
    extra = draw(st.one_of(st.just(original), st.sampled_from(values), hostile_json), label="value")
    text = _dumps(document, target, key, extra, draw(st.booleans(), label="before"))
    assert text.count(json.dumps(key) + ": ") >= 2
    return text


# -- the parsers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parser:
    """A parser under test: its genuine document and how to feed it JSON text."""

    name: str
    document: Any
    call: Callable[[str], Any]
    typed: tuple[type[BaseException], ...] = (CredencialError,)
    #: Whether a result means the input was taken (default: any return counts).
    accepted: Callable[[Any], bool] = lambda _result: True


def _valid(result: Any) -> bool:
    return getattr(getattr(result, "verdict", None), "value", None) == "VALID"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _AnyNonce:
    """A nonce store that knows every nonce (only the parsing is under test here)."""

    def issue(self, domain: str, now: datetime) -> str:
        return "n"

    def consume(self, challenge: str, domain: str, now: datetime) -> None:
        return None


def _parsers(issuers: Issuers, lists: InMemoryStatusLists, folder: Path) -> list[Parser]:
    verifier = Verifier(issuers.trust, status_lists=lists)
    credential = issuers.sign(example_credential())
    found = [Parser("credential", credential, lambda text: verifier.check(text, now=NOW),
                    accepted=_valid)]  # fmt: skip

    holder = Ed25519KeyPair.generate()
    unsigned = example_credential()
    unsigned["credentialSubject"] = {
        "id": did_key_from_public_key(holder.public_key),
        **unsigned["credentialSubject"],
    }
    presentation = create_presentation(
        [issuers.sign(unsigned)], holder=did_key_from_public_key(holder.public_key),
        signer=holder, challenge="c-1", domain=_DOMAIN, created=format_datetime(NOW),
    )  # fmt: skip
    checker = PresentationVerifier(verifier, _AnyNonce())
    found.append(Parser("presentation", presentation,
                        lambda text: checker.check(text, domain=_DOMAIN, now=NOW),
                        accepted=_valid))  # fmt: skip

    anchors = {"a-1": Ed25519KeyPair.generate(), "a-2": Ed25519KeyPair.generate()}
    anchor_set = AnchorSet.from_json(anchor_json(anchors, 2))
    spec = BundleSpec(anchor=anchor_json(anchors, 2))
    spec.keys = [key_entry("did:web:imss.gob.mx#key-1", issuers.keys["IMSS"])]
    bundle = sign_bundle(spec.signed(), anchors.items())
    assert load_trust_bundle(json.dumps(bundle), trusted_anchors=anchor_set)
    found.append(
        Parser("trust bundle", bundle, lambda t: load_trust_bundle(t, trusted_anchors=anchor_set))
    )

    old = status_file(issuers.keys["IMSS"], "revocation")
    new = status_file(issuers.keys["IMSS"], "revocation", set_indices=frozenset({7}))
    listed = json.loads(new)
    url = listed["id"]

    def served(text: str) -> Any:
        data = text.encode("utf-8")
        entry = BundleStatusList(url=url, sha256=hashlib.sha256(data).hexdigest())
        institution = BundleInstitution("IMSS", "IMSS", "did:web:imss.gob.mx", (), (entry,))
        held = TrustBundleFor(institution)
        return BundleStatusLists(held, {url: data}).get(url)

    found.append(Parser("status list file", listed, served))
    delta = make_status_delta(old, new)
    to = hashlib.sha256(new).hexdigest()
    found.append(Parser("status delta", delta, lambda text: apply_status_delta(
        old, text.encode("utf-8"), url=url, to_sha256=to), typed=(StatusDeltaError,)))  # fmt: skip

    def from_file(name: str, load: Callable[[Path], Any]) -> Callable[[str], Any]:
        def call(text: str) -> Any:
            path = folder / name
            path.write_text(text, encoding="utf-8")
            return load(path)

        return call

    state = TrustState(3, NOW, anchor_set, "ab" * 32).to_json()
    found.append(Parser("trust state", state, from_file("state.json", TrustState.load)))
    found.append(Parser("anchors file", anchor_set.to_json(),
                        from_file("ANCHORS.json", AnchorSet.from_file)))  # fmt: skip
    found.append(Parser("trust file", issuers.trust.to_json(),
                        from_file("trust.json", TrustStore.from_file)))  # fmt: skip
    context = {"@context": {"@version": 1.1, "name": "https://schema.org/name"}}
    found.append(Parser("context file", context, from_file("ctx.json", load_context_file)))

    def enrolment(path: Path) -> Any:
        results = list(read_records(path, today=NOW.date()))
        if any(isinstance(r, RowError) for r in results):
            raise ValueError(str(next(r for r in results if isinstance(r, RowError))))
        return results

    row = enrolment_person(1)
    found.append(Parser("enrolment JSONL", row, from_file("rows.jsonl", enrolment),
                        typed=(ValueError,)))  # fmt: skip

    store = WalletStore(folder / "wallet")
    store.add(credential, received_at=NOW, source="file")
    (stored_path,) = (folder / "wallet" / "credentials").glob("*.json")
    stored = json.loads(stored_path.read_text(encoding="utf-8"))

    def wallet(text: str) -> Any:
        stored_path.write_text(text, encoding="utf-8")
        return list(store.entries())

    found.append(Parser("wallet file", stored, wallet, typed=(WalletError,)))

    key = HolderKey.generate()
    audience = "https://imss.gob.mx"
    token = key_proof(key, audience=audience, nonce="n", issued_at=int(NOW.timestamp()))
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))

    def proof(part: int) -> Callable[[str], Any]:
        def call(text: str) -> Any:
            texts = [json.dumps(header), json.dumps(claims)]
            texts[part] = text
            signing_input = f"{_b64(texts[0].encode())}.{_b64(texts[1].encode())}"
            signed = f"{signing_input}.{_b64(key.sign(signing_input.encode()))}"
            return verify_key_proof(signed, audience=audience, nonces=_AnyNonce(), now=NOW)

        return call

    assert proof(0)(json.dumps(header)) == key.did  # the genuine proof is accepted
    found.append(Parser("key proof header", header, proof(0), typed=(KeyProofError,)))
    found.append(Parser("key proof claims", claims, proof(1), typed=(KeyProofError,)))
    return found


def TrustBundleFor(institution: BundleInstitution) -> Any:  # noqa: N802 (reads as a type)
    """A parsed bundle listing ``institution`` (its status lists are what is under test)."""
    from verifier import TrustBundle

    issued = datetime(2026, 1, 1, tzinfo=UTC)
    return TrustBundle(1, issued, datetime(2027, 1, 1, tzinfo=UTC), AnchorSet((), 1),
                       (institution,))  # fmt: skip


@pytest.fixture(scope="module")
def parsers(
    issuers: Issuers, status_lists: InMemoryStatusLists, tmp_path_factory: pytest.TempPathFactory
) -> list[Parser]:
    return _parsers(issuers, status_lists, tmp_path_factory.mktemp("dup-keys"))


_NAMES = [
    "credential", "presentation", "trust bundle", "status list file", "status delta",
    "trust state", "anchors file", "trust file", "context file", "enrolment JSONL",
    "wallet file", "key proof header", "key proof claims",
]  # fmt: skip


def test_every_parser_takes_its_genuine_input(parsers: list[Parser]) -> None:
    """The harness is sound: each genuine document, written once, is accepted."""
    assert [p.name for p in parsers] == _NAMES
    for parser in parsers:
        result = parser.call(json.dumps(parser.document))
        assert parser.accepted(result), parser.name


@pytest.mark.parametrize("name", _NAMES)
def test_a_repeated_member_is_refused(parsers: list[Parser], name: str) -> None:
    (parser,) = [p for p in parsers if p.name == name]

    @settings(max_examples=examples(0.05), deadline=None, suppress_health_check=list(HealthCheck))
    @given(text=repeated_member(parser.document))
    def run(text: str) -> None:
        fuzz_call(f"dup-key: {name}", lambda: parser.call(text), mutated=True,
                  typed=parser.typed, accepted=parser.accepted)  # fmt: skip

    run()


# -- the API ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str, dict[str, Any]]]:
    from fastapi.testclient import TestClient

    tmp = tmp_path_factory.mktemp("dup-api")
    service = IssuerService(make_settings(f"sqlite:///{tmp / 'issuer.db'}", tmp / "keys"))
    try:
        service.bootstrap()
        key = service.create_client("IMSS", "fuzz", ["issue"])
        client = TestClient(create_app(service.settings, service), raise_server_exceptions=False)
        issued = client.post(
            "/credentials/issue",
            json={"credential": {"credentialSubject": example_credential()["credentialSubject"]}},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert issued.status_code == 201, issued.text
        yield client, key, issued.json()["verifiableCredential"]
    finally:
        service.db.dispose()


@settings(max_examples=examples(0.05), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_api_bodies_with_a_repeated_member_are_refused(
    api: tuple[Any, str, dict[str, Any]], data: st.DataObject
) -> None:
    client, _key, credential = api
    body = {"verifiableCredential": credential}
    assert client.post("/credentials/verify", json=body).status_code == 200
    text = data.draw(repeated_member(body), label="body")

    def call() -> Any:
        response = client.post(
            "/credentials/verify",
            content=text.encode(),
            headers={"content-type": "application/json"},
        )
        assert response.status_code < 500, response.text
        return response

    fuzz_call("dup-key: API body", call, mutated=True,
              accepted=lambda response: response.status_code == 200)  # fmt: skip
