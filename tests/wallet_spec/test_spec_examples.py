"""The wallet specification cannot drift from the code.

- The example files are exactly what ``tools.wallet_examples`` produces from the code today.
- Each JSON example validates against its JSON Schema; negative variants are refused.
- The examples are true: the key proof verifies for the issuer, the credentials and the
  presentation verify with the example key, the card text decodes to the wallet credential.
- Every example quoted in the Markdown (a fence tagged ``example:<file>``) equals the file.
- The spec's version is one number everywhere, and every wallet error code is documented.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

import wallet_spec
from issuer.oid4vci.key_proof import KeyProofError, KeyProofPolicy, verify_key_proof
from schemas import health_coverage_json_schema
from tools.wallet_examples import (
    EXAMPLE_DOMAIN,
    EXAMPLE_NOW,
    EXAMPLES_DIR,
    FixedChallenges,
    build_examples,
    example_holder_key,
    example_issuer_trust,
)
from verifier import (
    InMemoryStatusLists,
    PresentationVerifier,
    Verifier,
    decode_card,
    parse_datetime,
)
from wallet_spec.holder import WALLET_ERROR_CODES, CredentialState, credential_state, parse_offer

SPEC_DIR = Path(wallet_spec.__file__).resolve().parent
SCHEMAS = SPEC_DIR / "schemas"
HEALTH_COVERAGE = "https://credencial.salud.gob.mx/schemas/health-coverage-credential/v1.json"
#: Which schema each JSON example must satisfy.
EXAMPLE_SCHEMAS = {
    "issuer-metadata.json": "issuer-metadata",
    "authorization-server-metadata.json": "authorization-server-metadata",
    "credential-offer.json": "credential-offer",
    "token-response.json": "token-response",
    "token-error.json": "oauth-error",
    "credential-error.json": "oauth-error",
    "nonce-response.json": "nonce-response",
    "key-proof-header.json": "key-proof-header",
    "key-proof-claims.json": "key-proof-claims",
    "credential-request.json": "credential-request",
    "credential-response.json": "credential-response",
    "card-credential.json": HEALTH_COVERAGE,
    "wallet-credential.json": "wallet-credential",
    "stored-credential.json": "stored-credential",
    "presentation-request.json": "presentation-request",
    "presentation-response.json": "presentation-response",
    "consent-request.json": "consent-request",
    "consent-request-list.json": "consent-request-list",
    "consent-approval.json": "consent-approval",
    "consent-approval-response.json": "consent-approval-response",
    "consent-denial.json": "consent-denial",
}
_FENCE = re.compile(r"^```(\w+) example:(\S+)\n(.*?)\n```$", re.DOTALL | re.MULTILINE)


@pytest.fixture(scope="module")
def built() -> dict[str, str]:
    return build_examples()


def _example(name: str) -> Any:
    return json.loads((EXAMPLES_DIR / name).read_text(encoding="utf-8"))


def _validator(schema: str) -> Draft202012Validator:
    resources = [(HEALTH_COVERAGE, Resource.from_contents(health_coverage_json_schema()))]
    for path in SCHEMAS.glob("*.schema.json"):
        document = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(document)
        resources.append((document["$id"], Resource.from_contents(document)))
    registry: Registry[Any] = Registry().with_resources(resources)
    uri = schema if schema.startswith("https://") else _schema_id(schema)
    return Draft202012Validator({"$ref": uri}, registry=registry)


def _schema_id(name: str) -> str:
    document = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    schema_id: str = document["$id"]
    return schema_id


def test_the_example_files_are_what_the_code_produces(built: dict[str, str]) -> None:
    on_disk = {p.name for p in EXAMPLES_DIR.iterdir() if p.suffix in {".json", ".txt", ".jwt"}}
    assert on_disk == set(built), "run: python -m tools.wallet_examples"
    stale = [n for n, text in built.items() if (EXAMPLES_DIR / n).read_text("utf-8") != text]
    assert not stale, f"stale examples {stale}: run python -m tools.wallet_examples"


def test_the_generator_command_checks_and_names_a_stale_file(tmp_path: Path) -> None:
    """``python -m tools.wallet_examples --check``: exit 0 on the tree, 1 naming a stale file."""
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "tools.wallet_examples", "--check"]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    assert (done.returncode, done.stderr) == (0, "")
    copy_root = tmp_path / "tree"
    shutil.copytree(root / "tools", copy_root / "tools")
    shutil.copytree(EXAMPLES_DIR, copy_root / "wallet_spec" / "examples")
    stale = copy_root / "wallet_spec" / "examples" / "nonce-response.json"
    stale.write_text("{}\n", encoding="utf-8")
    done = subprocess.run(command, cwd=copy_root, capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stderr == f"stale: {stale}\n"


def test_every_json_example_has_a_schema(built: dict[str, str]) -> None:
    json_examples = {n for n in built if n.endswith(".json") and not n.startswith("status-list")}
    assert json_examples == set(EXAMPLE_SCHEMAS)
    every_schema = {p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("*.schema.json")}
    assert every_schema == {s for s in EXAMPLE_SCHEMAS.values() if not s.startswith("https")}


@pytest.mark.parametrize(("name", "schema"), sorted(EXAMPLE_SCHEMAS.items()))
def test_each_example_validates_against_its_schema(name: str, schema: str) -> None:
    errors = list(_validator(schema).iter_errors(_example(name)))
    assert not errors, [e.message for e in errors]


def _set(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    changed = copy.deepcopy(document)
    target = changed
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


_DELETE = object()
_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
NEGATIVE = [
    ("credential-offer.json", ("credential_issuer",), "http://imss.gob.mx"),
    ("credential-offer.json", ("grants", _GRANT, "pre-authorized_code"), _DELETE),
    ("key-proof-header.json", ("typ",), "JWT"),
    ("key-proof-header.json", ("alg",), "none"),
    ("key-proof-header.json", ("kid",), "did:web:imss.gob.mx#key-1"),
    ("key-proof-claims.json", ("iss",), "wallet"),
    ("key-proof-claims.json", ("nonce",), _DELETE),
    ("credential-request.json", ("proofs", "jwt"), []),
    ("credential-request.json", ("credential_configuration_id",), "Diploma"),
    ("wallet-credential.json", ("credentialSubject", "id"), "did:web:evil.example"),
    ("wallet-credential.json", ("credentialSubject", "id"), _DELETE),
    ("wallet-credential.json", ("credentialSubject", "fingerprint"), "AAAA"),  # no biometrics
    ("stored-credential.json", ("card",), "https://evil.example"),
    ("presentation-request.json", ("challenge",), _DELETE),
    ("presentation-response.json", ("verifiablePresentation", "proof", "proofPurpose"),
     "assertionMethod"),
    ("presentation-response.json", ("verifiablePresentation", "proof", "domain"), _DELETE),
    ("presentation-response.json", ("verifiablePresentation", "biometrics"), {"face": "..."}),
    ("token-error.json", ("error",), "server_error"),
    ("consent-request.json", ("state",), "maybe"),
    ("consent-request.json", ("dataClasses",), ["genome"]),
    ("consent-request.json", ("biometrics",), {"face": "..."}),
    ("consent-approval.json", ("grant", "locations"), ["MX", "US"]),
    ("consent-approval.json", ("grant", "purposes"), ["HMARKT"]),
    ("consent-approval.json", ("grant", "grantees"), []),
    ("consent-approval.json", ("presentation", "id"), _DELETE),
    ("consent-approval-response.json", ("receipt", "proof"), _DELETE),
    ("consent-denial.json", ("presentation", "proof", "challenge"), _DELETE),
]  # fmt: skip


@pytest.mark.parametrize(("name", "path", "value"), NEGATIVE)
def test_schemas_refuse_a_corrupted_example(name: str, path: tuple[Any, ...], value: Any) -> None:
    schema = EXAMPLE_SCHEMAS[name]
    assert not _validator(schema).is_valid(_set(_example(name), path, value))


def test_the_examples_are_true() -> None:
    # The offer URI is the offer; the token request is the form a wallet sends.
    offer = parse_offer((EXAMPLES_DIR / "credential-offer-uri.txt").read_text("utf-8").strip())
    assert (
        offer.pre_authorized_code
        == _example("credential-offer.json")["grants"][_GRANT]["pre-authorized_code"]
    )
    form = parse_qs((EXAMPLES_DIR / "token-request.txt").read_text("utf-8").strip())
    assert form["pre-authorized_code"] == [offer.pre_authorized_code]
    # The key proof verifies for the issuer with its c_nonce, at its own time.
    proof = (EXAMPLES_DIR / "key-proof.jwt").read_text("utf-8").strip()
    claims = _example("key-proof-claims.json")
    assert _example("credential-request.json")["proofs"]["jwt"] == [proof]
    nonce = _example("nonce-response.json")["c_nonce"]
    issued = parse_datetime("2026-01-15T16:30:00Z")
    holder = example_holder_key()
    audience = claims["aud"]
    store = FixedChallenges((nonce, audience))
    assert verify_key_proof(proof, audience=audience, nonces=store, now=issued) == holder.did
    with pytest.raises(KeyProofError) as excinfo:  # single use
        verify_key_proof(proof, audience=audience, nonces=store, now=issued)
    assert excinfo.value.error == "invalid_nonce"
    with pytest.raises(KeyProofError, match="stale"):
        verify_key_proof(
            proof, audience=audience, nonces=FixedChallenges((nonce, audience)),
            now=issued + timedelta(hours=1), policy=KeyProofPolicy(),
        )  # fmt: skip
    # Credentials and presentation verify with the example key and status lists.
    lists = InMemoryStatusLists(
        [_example("status-list-revocation.json"), _example("status-list-suspension.json")]
    )
    verifier = Verifier(example_issuer_trust(), status_lists=lists)
    wallet_credential = _example("wallet-credential.json")
    assert _example("credential-response.json")["credentials"][0]["credential"] == (
        wallet_credential
    )
    for name in ("card-credential.json", "wallet-credential.json"):
        assert verifier.check(_example(name), now=EXAMPLE_NOW).is_valid, name
    assert wallet_credential["credentialSubject"]["id"] == holder.did
    assert (
        wallet_credential["credentialStatus"]
        == _example("card-credential.json")["credentialStatus"]
    )
    card = (EXAMPLES_DIR / "wallet-credential-card.txt").read_text("utf-8").strip()
    assert decode_card(card) == wallet_credential
    assert _example("stored-credential.json")["card"] == card
    presentation = _example("presentation-response.json")["verifiablePresentation"]
    request = _example("presentation-request.json")
    checker = PresentationVerifier(
        verifier, FixedChallenges((request["challenge"], EXAMPLE_DOMAIN))
    )
    result = checker.check(presentation, domain=request["domain"], now=EXAMPLE_NOW)
    assert result.is_valid, result.to_json("en")
    assert result.holder == holder.did
    # The state a wallet shows: VALID with fresh lists, UNVERIFIABLE once they are stale.
    assert credential_state(verifier.check(wallet_credential, now=EXAMPLE_NOW)) is (
        CredentialState.VALID
    )
    stale = verifier.check(wallet_credential, now=EXAMPLE_NOW + timedelta(days=3))
    assert credential_state(stale) is CredentialState.UNVERIFIABLE


def test_the_markdown_quotes_the_examples_exactly() -> None:
    quoted = 0
    for document in SPEC_DIR.glob("*.md"):
        for language, name, body in _FENCE.findall(document.read_text(encoding="utf-8")):
            path = EXAMPLES_DIR / name
            assert path.exists(), f"{document.name} quotes a missing example {name}"
            expected = path.read_text(encoding="utf-8")
            if language == "json":
                assert json.loads(body) == json.loads(expected), (document.name, name)
            else:
                assert body == expected.rstrip("\n"), (document.name, name)
            quoted += 1
    assert quoted >= 10


def test_one_version_everywhere_and_every_error_code_documented() -> None:
    version = wallet_spec.SPEC_VERSION
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    readme = (SPEC_DIR / "README.md").read_text(encoding="utf-8")
    assert f"Version {version}" in readme
    changelog = (SPEC_DIR / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(r"^## (\S+)", changelog, re.MULTILINE).group(1) == version  # type: ignore[union-attr]
    for path in SCHEMAS.glob("*.schema.json"):
        assert "/wallet/1.0/" in json.loads(path.read_text("utf-8"))["$id"], path.name
    errors = (SPEC_DIR / "errors.md").read_text(encoding="utf-8")
    for code in WALLET_ERROR_CODES:
        assert f"`{code}`" in errors, code
    links = set(re.findall(r"\]\(([\w.-]+\.md)\)", readme))
    assert {p.name for p in SPEC_DIR.glob("*.md")} - {"README.md"} <= links


def test_the_consent_examples_are_true() -> None:
    """The approval signs exactly its statement, for the custodian's domain, with the holder's
    credential; it is the request narrowed, never wider; the receipt is the issuer's signature."""
    from verifier import consent_grant_from_json, consent_statement_id

    request = _example("consent-request.json")
    approval = _example("consent-approval.json")
    grant, presentation = approval["grant"], approval["presentation"]
    statement = {"action": "consent.grant", "institution": "IMSS", "grant": grant,
                 "request": request["id"]}  # fmt: skip
    assert presentation["id"] == consent_statement_id(statement)
    trust = example_issuer_trust()
    lists = InMemoryStatusLists(
        [_example(f"status-list-{purpose}.json") for purpose in ("revocation", "suspension")]
    )
    challenge = presentation["proof"]["challenge"]
    checker = PresentationVerifier(
        Verifier(trust, status_lists=lists), FixedChallenges((challenge, "imss.gob.mx"))
    )
    at = parse_datetime(presentation["proof"]["created"])
    result = checker.check(presentation, domain="imss.gob.mx", now=at)
    assert result.is_valid, result.reasons
    parsed = consent_grant_from_json(grant, grant_id="x", grantor=result.holder or "")
    assert parsed.data_classes < set(request["dataClasses"])
    assert parsed.valid_until < parse_datetime(request["accessUntil"])
    denial = _example("consent-denial.json")["presentation"]
    deny = {"action": "consent.deny", "institution": "IMSS", "request": request["id"]}
    assert denial["id"] == consent_statement_id(deny)
    answer = _example("consent-approval-response.json")
    receipt = answer["receipt"]
    assert receipt["credentialSubject"]["consentGrant"] == {"id": answer["grantId"], **grant}
    checked = Verifier(trust).check(receipt, now=at)
    # No receipt status list among the examples: the status is unknown, the proof is good.
    assert checked.verdict.value == "INDETERMINATE", checked.reasons
    assert [r.code.value for r in checked.reasons] == ["STATUS_UNAVAILABLE"]
