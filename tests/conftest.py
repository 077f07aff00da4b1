"""Shared fixtures: institution keys, a trust store, signed credentials and status lists."""

from __future__ import annotations

import copy
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from issuer.credentials.signing import new_status_list_credential, sign_document
from issuer.institutions import INSTITUTIONS, Institution
from issuer.keys.files import Ed25519KeyPair
from tests._biometric_guard import BiometricLeakGuard
from tests.strategies import example_credential
from verifier import InMemoryStatusLists, TrustedKey, TrustStore, Verifier, VerifierConfig

#: The W3C vectors and contexts live beside the checkout; tests that need them skip without them.
SHARED_W3C = Path(__file__).resolve().parents[2] / "shared" / "w3c"

#: The reference time of every verification in the tests (inside the example's validity).
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SIGNED_AT = "2026-01-01T00:00:00Z"
KEY_ID = "key-1"
#: Inputs per fuzz test: a short profile in `make test`, a long one with CREDENCIAL_FUZZ_EXAMPLES.
FUZZ_EXAMPLES = int(os.environ.get("CREDENCIAL_FUZZ_EXAMPLES", "300"))


@pytest.fixture(scope="session", autouse=True)
def biometric_guard() -> Iterator[BiometricLeakGuard]:
    """Every API response and log record of the run is scanned for biometric data (issue 7)."""
    guard = BiometricLeakGuard()
    with guard.installed():
        yield guard
    assert not guard.leaks, f"biometric data left the enrolment boundary: {guard.leaks[:5]}"


@pytest.fixture(scope="session")
def shared_w3c() -> Path:
    """The folder of official W3C test vectors; skip where it is absent."""
    if not SHARED_W3C.is_dir():
        pytest.skip(
            f"W3C vectors not found at {SHARED_W3C} (../shared/w3c is not in this checkout)"
        )
    return SHARED_W3C


@dataclass(frozen=True)
class Issuers:
    """Keys of the three institutions, their trust store, and helpers to sign with them."""

    keys: dict[str, Ed25519KeyPair]
    trust: TrustStore

    def vm(self, code: str) -> str:
        """The verification method of institution ``code``."""
        return INSTITUTIONS[code].verification_method(KEY_ID)

    def sign(
        self, document: dict[str, Any], code: str = "IMSS", created: str = SIGNED_AT
    ) -> dict[str, Any]:
        """Sign ``document`` as institution ``code``."""
        return sign_document(document, self.keys[code], self.vm(code), created=created)

    def status_list(
        self,
        purpose: str,
        *,
        set_indices: frozenset[int] = frozenset(),
        code: str = "IMSS",
        valid_from: datetime = NOW - timedelta(hours=1),
        list_number: int = 1,
    ) -> dict[str, Any]:
        """A signed status list of institution ``code``."""
        institution: Institution = INSTITUTIONS[code]
        unsigned = new_status_list_credential(
            institution,
            institution.status_list_url(purpose, list_number),
            purpose=purpose,
            set_indices=set_indices,
            valid_from=valid_from,
        )
        return self.sign(unsigned, code, created=SIGNED_AT)


def make_issuers(keys: dict[str, Ed25519KeyPair]) -> Issuers:
    """The three institutions with ``keys``, all trusted from 2025 to 2030."""
    trust = TrustStore(
        TrustedKey.from_json(
            {
                "id": inst.verification_method(KEY_ID),
                "controller": inst.did,
                "publicKeyMultibase": keys[code].public_key_multibase,
                "validFrom": "2025-01-01T00:00:00Z",
                "validUntil": "2030-01-01T00:00:00Z",
            }
        )
        for code, inst in INSTITUTIONS.items()
    )
    return Issuers(keys, trust)


@pytest.fixture(scope="session")
def issuers() -> Issuers:
    """Fresh keys for IMSS, ISSSTE and IMSS-BIENESTAR."""
    return make_issuers({code: Ed25519KeyPair.generate() for code in INSTITUTIONS})


@pytest.fixture(scope="session")
def signed_example(issuers: Issuers) -> dict[str, Any]:
    """The example credential signed by IMSS (session-wide; tests get copies)."""
    return issuers.sign(example_credential())


@pytest.fixture
def credential(signed_example: dict[str, Any]) -> dict[str, Any]:
    """A fresh deep copy of the signed example credential, free to mutate."""
    return copy.deepcopy(signed_example)


@pytest.fixture(scope="session")
def status_lists(issuers: Issuers) -> InMemoryStatusLists:
    """IMSS revocation and suspension lists 1, nothing set."""
    return InMemoryStatusLists(
        [issuers.status_list("revocation"), issuers.status_list("suspension")]
    )


@pytest.fixture
def make_verifier(issuers: Issuers, status_lists: InMemoryStatusLists) -> Callable[..., Verifier]:
    """Build a verifier over the test trust store; defaults to the clean status lists."""

    def build(
        status: InMemoryStatusLists | None = status_lists,
        config: VerifierConfig | None = None,
        trust: TrustStore | None = None,
    ) -> Verifier:
        return Verifier(issuers.trust if trust is None else trust, config, status)

    return build


@pytest.fixture
def verifier(make_verifier: Callable[..., Verifier]) -> Verifier:
    """A verifier with the test trust store and clean status lists."""
    return make_verifier()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every socket operation fail loudly; yields the list of attempts made."""
    attempts: list[str] = []

    def refuse(name: str) -> Callable[..., Any]:
        def blocked(*args: Any, **kwargs: Any) -> Any:
            attempts.append(name)
            raise OSError(f"network access attempted in an offline test: socket.{name}")

        return blocked

    for name in ("socket", "create_connection", "getaddrinfo", "gethostbyname", "socketpair"):
        monkeypatch.setattr(socket, name, refuse(name))
    return attempts


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fuzz and tamper-sweep counts of this run (``tests/fuzzing.py``), when there are any."""
    from tests.fuzzing import summary_lines

    lines = summary_lines()
    if lines:
        terminalreporter.section("fuzzing: inputs per parser and tamper sweeps")
        for line in lines:
            terminalreporter.write_line(line)
