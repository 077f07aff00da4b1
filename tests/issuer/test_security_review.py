"""Issue 18 against the issuer's HTTP API: I-JSON bodies, strings that are not card text.

Every JSON request body is read by :func:`verifier.parse_json` first (``IJsonBody``): a repeated
member name, a lone surrogate or a number beyond a double is a 400 ``MALFORMED_JSON``, before
FastAPI's own ``json.loads`` (which keeps the last of two equal names) sees it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from issuer.credentials.service import IssuerService
from tests.issuer.test_api import World, assert_problem, make_world
from tests.verifier.test_ijson import repeated_key
from verifier import encode_card

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def world(service: IssuerService) -> World:
    return make_world(service)


def _post_text(world: World, path: str, text: str, key: str | None = None) -> Any:
    headers = {"content-type": "application/json"}
    if key is not None:
        headers = world.headers(key, **headers)
    return world.client.post(path, content=text.encode("utf-8", "surrogatepass"), headers=headers)


def test_a_credential_with_a_repeated_key_is_refused_by_verify(world: World) -> None:
    """The finding through the API: ``{"verifiableCredential": {... "givenName": "Mallory",
    "givenName": <the real name> ...}}`` was 200 VALID."""
    credential = world.issued()
    assert world.verify(credential).status_code == 200
    for key, first in (("givenName", "Mallory"), ("statusListIndex", "1"), ("issuer", "x")):
        doubled = '{"verifiableCredential": ' + repeated_key(credential, key, first) + "}"
        assert json.loads(doubled) == {"verifiableCredential": credential}  # the lenient reading
        body = assert_problem(
            _post_text(world, "/credentials/verify", doubled), 400, "MALFORMED_JSON"
        )
        assert "appears twice" in body["detail"]
        assert "RFC 7493" in body["detail"]


@pytest.mark.parametrize(
    "text",
    [
        '{"credential": {"credentialSubject": {}}, "credential": {"credentialSubject": {}}}',
        '{"credential": {"credentialSubject": {"givenName": "\\ud800"}}}',
        '{"credential": {"credentialSubject": {"n": 1e400}}}',
        '{"credential": {"credentialSubject": {"n": 18014398509481985}}}',
        '{"credential": {"credentialSubject": {"n": NaN}}}',
    ],
)
def test_every_json_body_must_be_ijson(world: World, text: str) -> None:
    response = _post_text(world, "/credentials/issue", text, key="IMSS")
    body = assert_problem(response, 400, "MALFORMED_JSON")
    assert "I-JSON" in body["detail"]


def test_the_check_does_not_change_good_bodies_or_syntax_errors(world: World) -> None:
    credential = world.issued()  # a JSON body through the middleware, unchanged
    assert world.verify(credential).json()["verdict"] == "VALID"
    body = assert_problem(_post_text(world, "/credentials/verify", "{"), 400, "MALFORMED_JSON")
    assert "not valid JSON" in body["detail"]


def test_a_json_credential_sent_as_a_string_is_refused(world: World) -> None:
    """Finding 4: a string is card text only; a JSON credential as a string was 200 VALID."""
    credential = world.issued()
    response = world.verify(json.dumps(credential))
    body = assert_problem(response, 422, "VALIDATION_FAILED")
    (error,) = body["errors"]
    assert error["pointer"] == "#/verifiableCredential"
    assert "send a JSON credential as an object" in error["detail"]
    # Card text is still a string, and is still verified.
    assert world.verify(encode_card(credential)).json()["verdict"] == "VALID"


def test_a_refused_credential_is_titled_as_a_credential(world: World) -> None:
    credential = world.issued()
    credential["credentialSubject"]["givenName"] = "MALLORY"
    body = assert_problem(world.verify(credential), 400, "VERIFICATION_FAILED")
    assert body["title"] == "The credential did not verify"
