"""Schemathesis against the issuer's OpenAPI: no generated request gets a 500.

Every operation of the published schema gets requests generated from it, both ones that fit it
(positive) and ones that break it (negative: wrong types, missing fields, bad JSON), sent in
process (ASGI) to a demo-style service on a temporary SQLite database, with an API key of every
scope, with none, or with a malformed one. Each request counts as one input of the "API request
bodies" parser in the fuzz summary; a 5xx is a crash.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from issuer.app import create_app
from issuer.credentials.service import IssuerService
from issuer.institutions import INSTITUTIONS
from issuer.principal import SCOPES
from tests.fuzzing import examples, fuzz_call
from tests.issuer._workers import make_settings

_PARSER = "API request bodies"
#: The API's share of the per-parser budget: each request crosses the whole ASGI stack and the
#: database (about 10 ms of CPU), so ``make fuzz`` sends fewer requests than other parsers get.
API_SHARE = float(os.environ.get("CREDENCIAL_FUZZ_API_SHARE", "0.5"))


class ServerError(Exception):
    """A 5xx answer to a generated request."""


@dataclass(frozen=True)
class _Api:
    schema: Any
    keys: list[str]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Api]:
    """The app over a bootstrapped service on a temporary SQLite file, its schema, and an API key
    with every scope for each institution."""
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    service = IssuerService(make_settings(f"sqlite:///{tmp / 'issuer.db'}", tmp / "keys"))
    try:
        service.bootstrap()
        keys = [service.create_client(code, "fuzz", SCOPES) for code in INSTITUTIONS]
        app = create_app(service.settings, service)
        yield _Api(schemathesis.openapi.from_asgi("/openapi.json", app), keys)
    finally:
        service.db.dispose()


def _operations() -> list[str]:
    """``METHOD /path`` of every operation the app publishes (read from a throwaway app over an
    unused in-memory database: parametrize needs them at collection, before any fixture)."""
    settings = make_settings("sqlite://", Path("/nonexistent-keys"))
    paths = create_app(settings, IssuerService(settings)).openapi()["paths"]
    return sorted(f"{method.upper()} {path}" for path, item in paths.items() for method in item)


_OPERATIONS = _operations()


def test_schemathesis_sees_every_operation(api: _Api) -> None:
    listed = sorted(
        f"{op.method.upper()} {op.path}"
        for result in api.schema.get_all_operations()
        for op in [result.ok()]
    )
    assert len(_OPERATIONS) > 30
    assert listed == _OPERATIONS


@pytest.mark.parametrize("operation", _OPERATIONS)
def test_no_generated_request_gets_a_server_error(api: _Api, operation: str) -> None:
    """Requests that fit the operation's schema and requests that break it (an operation
    without parameters or body has no negative cases: Hypothesis rejects those draws)."""
    method, path = operation.split(" ", 1)
    api_operation = api.schema[path][method]
    requests = st.one_of(
        api_operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        api_operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    authorizations = st.sampled_from(
        [*(f"Bearer {key}" for key in api.keys), None, "Bearer x.y", "Bearer " + "A" * 300]
    )
    share = API_SHARE / len(_OPERATIONS)

    @settings(
        max_examples=examples(share, minimum=5),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=requests, authorization=authorizations)
    def run(case: Any, authorization: str | None) -> None:
        headers = dict(case.headers or {})
        if authorization is not None:
            headers["Authorization"] = authorization

        def call() -> Any:
            response = case.call(headers=headers)
            if response.status_code >= 500:
                raise ServerError(f"{response.status_code} for {case.as_curl_command()}")
            return response

        fuzz_call(_PARSER, call)

    run()
