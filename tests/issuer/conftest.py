"""Issuer fixtures: a throwaway PostgreSQL server, a fresh database per test, a ready service.

``database_url`` runs each test that asks for it twice: on an SQLite file in ``tmp_path`` and on a
new database of the session's throwaway PostgreSQL server (``tests/postgres.py``). Without the
PostgreSQL binaries the ``postgresql`` cases skip with the reason, unless
``CREDENCIAL_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) turns that into a failure.
``pytest -m "not postgresql"`` runs the SQLite cases only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from issuer.credentials.service import IssuerService
from issuer.settings import IssuerSettings
from tests.issuer._workers import make_settings
from tests.postgres import (
    REQUIRE_POSTGRES_ENV,
    PostgresServer,
    PostgresUnavailableError,
    postgres_required,
)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session (Unix socket only, in a temp dir)."""
    try:
        server = PostgresServer()
        server.start()
    except PostgresUnavailableError as exc:
        if postgres_required():
            pytest.fail(
                f"PostgreSQL is required ({REQUIRE_POSTGRES_ENV}=1) but unavailable: {exc}",
                pytrace=False,
            )
        pytest.skip(f"PostgreSQL tests skipped: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty database: an SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'issuer.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create_database()
    try:
        yield server.url(name)
    finally:
        server.drop_database(name)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> IssuerSettings:
    """Settings of the test service (database from ``database_url``, keys in ``tmp_path``)."""
    return make_settings(database_url, tmp_path / "keys")


@pytest.fixture
def service(settings: IssuerSettings) -> Iterator[IssuerService]:
    """A bootstrapped service: schema migrated, the three institutions with a key each."""
    service = IssuerService(settings)
    try:
        service.bootstrap()
        yield service
    finally:
        service.db.dispose()
