"""ADR 0003's table of verdicts, one case per row (issue 18, finding 6).

The test reads the table from the ADR: a row without a case, or a case without a row, fails;
each case produces its condition and must give the row's code and the row's verdict. Rows that
need a trust folder run the command line over one (``tests/verifier/test_sync.py``'s world).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from issuer.institutions import INSTITUTIONS
from tests.conftest import NOW, Issuers
from tests.strategies import example_credential
from tests.verifier.test_sync import Publisher, _sync, make_world
from verifier import (
    InMemoryStatusLists,
    RequireIssuer,
    TrustedKey,
    TrustStore,
    Verdict,
    Verifier,
    b45encode,
    format_datetime,
)
from verifier.cli import run

ADR = Path(__file__).parents[2] / "docs" / "adr" / "0003-verification-order-and-verdicts.md"
_ROW = re.compile(r"^\| (?P<condition>[^|]+) \| `(?P<code>[A-Z_]+)` \| (?P<verdict>[A-Z]+) \|$")


@pytest.fixture
def world(tmp_path: Path, issuers: Issuers, signed_example: dict[str, Any]) -> dict[str, Any]:
    """A trust folder to sync into, as in ``tests/verifier/test_sync.py``."""
    return make_world(tmp_path, issuers, signed_example)


def table() -> list[tuple[str, str, str]]:
    """``(condition, code, verdict)`` of every row of the ADR's table."""
    rows = []
    for line in ADR.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match:
            rows.append((match["condition"].strip(), match["code"], match["verdict"]))
    return rows


class Kit:
    """What the cases build their conditions from."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.request = request
        self.issuers: Issuers = request.getfixturevalue("issuers")
        self.credential: dict[str, Any] = request.getfixturevalue("credential")
        self.make_verifier: Callable[..., Verifier] = request.getfixturevalue("make_verifier")
        self.lists: InMemoryStatusLists = request.getfixturevalue("status_lists")

    def check(self, data: Any = None, *, verifier: Verifier | None = None, **options: Any) -> Any:
        checker = verifier or self.make_verifier()
        result = checker.check(self.credential if data is None else data, **{"now": NOW, **options})
        return result.verdict.value, [r.code.value for r in result.reasons]

    def trust(self, *, only: tuple[str, ...] = tuple(INSTITUTIONS), **times: Any) -> TrustStore:
        keys = [TrustedKey.from_json(k) for k in self.issuers.trust.to_json()["keys"]]
        return TrustStore(
            [k for k in keys if any(INSTITUTIONS[c].did == k.controller for c in only)], **times
        )

    def with_list(self, purpose: str, index: int) -> Verifier:
        lists = InMemoryStatusLists(
            [
                self.issuers.status_list(purpose, set_indices=frozenset({index})),
                self.issuers.status_list("suspension" if purpose == "revocation" else "revocation"),
            ]
        )
        return self.make_verifier(status=lists)

    def index(self, purpose: str) -> int:
        (entry,) = [e for e in self.credential["credentialStatus"] if e["statusPurpose"] == purpose]
        return int(entry["statusListIndex"])

    def folder_cli(self, spoil: Callable[[Path, Publisher], None]) -> tuple[str, list[str]]:
        """Sync a good bundle into a trust folder, ``spoil`` it, and verify with ``--json``."""
        folder: dict[str, Any] = self.request.getfixturevalue("world")
        publisher: Publisher = folder["publisher"]
        assert _sync(folder, publisher.publish(2)) == 0
        spoil(folder["state"], publisher)
        capsys: pytest.CaptureFixture[str] = self.request.getfixturevalue("capsys")
        capsys.readouterr()
        argv = ["--trust-dir", str(folder["state"]), "--json", "--now", format_datetime(NOW)]
        status = run([*argv, "--anchors", str(folder["anchors"]), str(folder["card"])])
        document = json.loads(capsys.readouterr().out)
        assert status == {"VALID": 0, "INVALID": 1, "INDETERMINATE": 2}[document["verdict"]]
        return document["verdict"], [r["code"] for r in document["reasons"]]


def _edited(kit: Kit, edit: Callable[[dict[str, Any]], None]) -> Any:
    edit(kit.credential)
    return kit.check()


def _resigned(kit: Kit, **sign: Any) -> Any:
    return kit.check(kit.issuers.sign(example_credential(), **sign))


def _plain(kit: Kit, **extra: str) -> dict[str, Any]:
    """A signed credential of no declared schema, with ``extra`` subject claims added after."""
    signed = kit.issuers.sign(
        {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential"],
            "issuer": "did:web:imss.gob.mx",
            "validFrom": "2026-01-01T00:00:00Z",
            "credentialSubject": {"id": "did:example:123", "name": "Ejemplo"},
        }
    )
    signed["credentialSubject"].update(extra)
    return signed


def _spoil_bundle(state: Path, _publisher: Publisher) -> None:
    bundle = state / "current" / "trust-bundle.json"
    bundle.write_text(bundle.read_text().replace('"version": 2', '"version": 7'))


def _roll_back(state: Path, publisher: Publisher) -> None:
    older = publisher.publish(1)
    current = state / "current"
    shutil.copy(older / "trust-bundle.json", current / "trust-bundle.json")
    shutil.copytree(older / "status", current / "status", dirs_exist_ok=True)


def _swap_list(state: Path, _publisher: Publisher) -> None:
    installed = state / "current" / "status" / "imss-revocation-1.json"
    installed.write_bytes(installed.read_bytes().replace(b'"id"', b'"id" ', 1))


def _ttl_days(kit: Kit) -> Any:
    return kit.check(now=NOW + timedelta(days=8))


CASES: dict[tuple[str, str], Callable[[Kit], Any]] = {
    ("MALFORMED_INPUT", "INVALID"): lambda kit: kit.check('{"id": "a", "id": "b"}'),
    ("CARD_MALFORMED", "INVALID"): lambda kit: kit.check("SUS1:%%%"),
    ("ISSUER_INVALID", "INVALID"): lambda kit: _edited(kit, lambda c: c.pop("issuer")),
    ("SCHEMA_INVALID", "INVALID"): lambda kit: _edited(
        kit, lambda c: c["credentialSubject"]["coverage"].update(regime="no-such-regime")
    ),
    ("CONTEXT_NOT_ALLOWED", "INVALID"): lambda kit: _edited(
        kit, lambda c: c["@context"].append("https://attacker.example/context")
    ),
    ("DATA_LOSS", "INVALID"): lambda kit: kit.check(_plain(kit, undefinedTerm="x")),
    ("PROOF_MISSING", "INVALID"): lambda kit: _edited(kit, lambda c: c.pop("proof")),
    ("SIGNATURE_INVALID", "INVALID"): lambda kit: _edited(
        kit, lambda c: c["credentialSubject"].update(givenName="MALLORY")
    ),
    ("PROOF_PURPOSE_MISMATCH", "INVALID"): lambda kit: _edited(
        kit, lambda c: c["proof"].update(proofPurpose="authentication")
    ),
    ("KEY_UNKNOWN", "INVALID"): lambda kit: kit.check(
        verifier=kit.make_verifier(trust=kit.trust(only=("ISSSTE",)))
    ),
    ("KEY_ISSUER_MISMATCH", "INVALID"): lambda kit: _edited(
        kit, lambda c: c["proof"].update(verificationMethod=kit.issuers.vm("ISSSTE"))
    ),
    ("KEY_NOT_VALID_AT_CREATION", "INVALID"): lambda kit: _resigned(
        kit, created="2024-06-01T00:00:00Z"
    ),
    ("CREDENTIAL_EXPIRED", "INVALID"): lambda kit: kit.check(now=NOW.replace(year=2031, month=2)),
    ("REVOKED", "INVALID"): lambda kit: kit.check(
        verifier=kit.with_list("revocation", kit.index("revocation"))
    ),
    ("SUSPENDED", "INVALID"): lambda kit: kit.check(
        verifier=kit.with_list("suspension", kit.index("suspension"))
    ),
    ("POLICY_REJECTED", "INVALID"): lambda kit: kit.check(
        policy=RequireIssuer(INSTITUTIONS["ISSSTE"].did)
    ),
    ("CREDENTIAL_NOT_YET_VALID", "INDETERMINATE"): lambda kit: kit.check(
        now=NOW.replace(year=2025, month=12)
    ),
    ("CLOCK_BEHIND", "INDETERMINATE"): lambda kit: kit.check(
        verifier=kit.make_verifier(trust=kit.trust(trusted_since=NOW + timedelta(days=1)))
    ),
    ("TRUST_BUNDLE_EXPIRED", "INDETERMINATE"): lambda kit: kit.check(
        verifier=kit.make_verifier(trust=kit.trust(expires=NOW - timedelta(hours=1)))
    ),
    ("TRUST_BUNDLE_INVALID", "INDETERMINATE"): lambda kit: kit.folder_cli(_spoil_bundle),
    ("TRUST_BUNDLE_ROLLBACK", "INDETERMINATE"): lambda kit: kit.folder_cli(_roll_back),
    ("KEY_UNKNOWN", "INDETERMINATE"): lambda kit: kit.check(
        verifier=kit.make_verifier(trust=TrustStore())
    ),
    ("STATUS_UNAVAILABLE", "INDETERMINATE"): lambda kit: kit.check(
        verifier=kit.make_verifier(status=InMemoryStatusLists())
    ),
    ("STATUS_STALE", "INDETERMINATE"): _ttl_days,
    ("STATUS_LIST_INVALID", "INDETERMINATE"): lambda kit: kit.check(
        verifier=kit.make_verifier(
            status=InMemoryStatusLists(
                [
                    {**copy.deepcopy(dict(held)), "validUntil": "2099-01-01T00:00:00Z"}
                    for held in (
                        kit.lists.get(e["statusListCredential"])
                        for e in kit.credential["credentialStatus"]
                    )
                    if held is not None
                ]
            )
        )
    ),
    ("STATUS_LIST_NOT_IN_BUNDLE", "INDETERMINATE"): lambda kit: kit.folder_cli(_swap_list),
    ("CARD_VERSION_UNSUPPORTED", "INDETERMINATE"): lambda kit: kit.check(
        "SUS99:" + b45encode(b"\xa0")
    ),
}


def test_every_row_has_a_case_and_every_case_a_row() -> None:
    rows = {(code, verdict) for _, code, verdict in table()}
    assert len(rows) == len(table()), "a (code, verdict) pair is listed twice"
    assert rows == set(CASES)


@pytest.mark.parametrize(("condition", "code", "verdict"), table(), ids=lambda v: str(v)[:40])
def test_row(request: pytest.FixtureRequest, condition: str, code: str, verdict: str) -> None:
    got_verdict, codes = CASES[(code, verdict)](Kit(request))
    assert code in codes, (condition, codes)
    assert got_verdict == verdict, (condition, codes)


def test_a_clock_a_day_behind_never_makes_a_genuine_card_invalid(
    issuers: Issuers, status_lists: InMemoryStatusLists
) -> None:
    """The finding: a card issued this morning, a desk whose clock is a day behind (the trust
    bundle it synced says so): CLOCK_BEHIND *and* CREDENTIAL_NOT_YET_VALID, and INVALID
    outranked INDETERMINATE. Now both are INDETERMINATE."""
    unsigned = example_credential()
    unsigned["validFrom"] = format_datetime(NOW - timedelta(hours=2))
    card = issuers.sign(unsigned, created=format_datetime(NOW - timedelta(hours=2)))
    keys = [TrustedKey.from_json(k) for k in issuers.trust.to_json()["keys"]]
    verifier = Verifier(
        TrustStore(keys, trusted_since=NOW - timedelta(hours=1)), None, status_lists
    )
    assert verifier.check(card, now=NOW).verdict is Verdict.VALID
    result = verifier.check(card, now=NOW - timedelta(days=1))
    codes = {r.code.value for r in result.reasons}
    assert {"CLOCK_BEHIND", "CREDENTIAL_NOT_YET_VALID"} <= codes
    assert result.verdict is Verdict.INDETERMINATE
