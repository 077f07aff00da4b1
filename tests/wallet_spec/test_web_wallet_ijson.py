"""The phone wallet reads I-JSON only (RFC 7493; wallet_spec/storage.md), as ``parse_json`` does.

``WalletCore.parseIJson`` in a real page over a table of texts, each judged by the Python reader
too: both accept the same texts, and refuse the others for the same reason. Then the institution's
answers, tampered on the way with Playwright's routing, are refused in words and nothing is
stored. The issuer, the browser and the phone are those of ``test_web_wallet`` (fresh for this
module: a new phone profile, no credential yet).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from tests.wallet_spec import test_web_wallet as web
from tests.wallet_spec.test_web_wallet import Json, Offer, Phone, Served
from verifier import IJsonError, parse_json

if TYPE_CHECKING:
    from playwright.sync_api import Route

#: test_web_wallet's module-scoped fixtures, here for this module: a fresh issuer and phone.
context, offer, phone, received, served = (web.context, web.offer, web.phone, web.received,
                                           web.served)  # fmt: skip

REFUSED_IN_WORDS = "La institución envió datos dañados o ambiguos; no se usaron."

#: Texts (or UTF-8 bytes) and why they are not I-JSON (None: they are).
TABLE: list[tuple[str | bytes, str | None]] = [
    ('{"a": {"b": [1, -2, 2.5, true, false, null, "x"]}, "c": {}}', None),
    ("[]", None),
    (' \t\n\r"text" \n', None),
    ('{"escapes": "\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\u0000"}', None),
    ('{"pair": "\\ud83d\\ude00", "PAIR": "\\uD83D\\uDE00", "raw": "😀 ñ"}', None),
    ('{"a": 1, "A": 2, "a ": 3}', None),  # different names
    ('[{"a": 1}, {"a": 2}]', None),  # the same name in two objects
    ('{"__proto__": {"admin": true}}', None),
    ("[9007199254740991, -9007199254740991, 0, -0]", None),
    ("[0.1, 1.50, 1e21, 1E+2, 2.5e-7, 5e-324, 1.7976931348623157e308]", None),
    ("[9007199254740992.0, 0.30000000000000004, 0e999]", None),
    ("[" * 64 + "]" * 64, None),
    (b'{"name": "Mar\xc3\xada"}', None),
    ('{"a": 1, "a": 2}', "duplicate-key"),
    ('{"givenName": "Mallory", "familyName": "X", "givenName": "Ana"}', "duplicate-key"),
    ('{"subject": {"curp": "A", "curp": "B"}}', "duplicate-key"),
    ('[{"x": [{"a": 1, "a": 1}]}]', "duplicate-key"),
    ('{"a": 1, "\\u0061": 2}', "duplicate-key"),
    ('{"\\u00e9": 1, "é": 2}', "duplicate-key"),
    ('"\\ud800"', "surrogate"),
    ('"\\udc00"', "surrogate"),
    ('"\\ude00\\ud83d"', "surrogate"),
    ('{"\\ud83d": 1}', "surrogate"),
    ('"\\ud83d\\u0041"', "surrogate"),
    ("1e400", "number"),
    ("-1e400", "number"),
    ("1e-400", "number"),
    ("9007199254740992", "number"),
    ("9007199254740993", "number"),
    ("-9007199254740993", "number"),
    ("[3.141592653589793238462643]", "number"),
    ("0.1000000000000000055511151231257827", "number"),
    ("NaN", "number"),
    ("[Infinity]", "number"),
    ("-Infinity", "number"),
    ("[1] x", "syntax"),
    ('{"a": 1}{}', "syntax"),
    ("", "syntax"),
    ("   ", "syntax"),
    ("[1, ]", "syntax"),
    ('{"a": 1,}', "syntax"),
    ("{a: 1}", "syntax"),
    ("['a']", "syntax"),
    ("[01]", "syntax"),
    ("[1.]", "syntax"),
    ("[.5]", "syntax"),
    ("[+1]", "syntax"),
    ('"\\x41"', "syntax"),
    ('"\\u12"', "syntax"),
    ('"tab\there"', "syntax"),
    ('"never closed', "syntax"),
    ("[true, nul]", "syntax"),
    ("[" * 65 + "]" * 65, "depth"),
    (b'"\xff"', "encoding"),
    (b'"\xed\xa0\x80"', "encoding"),  # a surrogate encoded in UTF-8
    ("\ufeff{}", "encoding"),
]

#: Judge every text of TABLE in the page: the parser's value (and JSON.parse's), or its error.
JUDGE = """(table) => table.map(([text, bytes]) => {
  const input = bytes ? new Uint8Array(bytes) : text;
  try {
    const value = WalletCore.parseIJson(input);
    const plain = bytes ? JSON.parse(new TextDecoder().decode(input)) : JSON.parse(text);
    return {json: JSON.stringify(value), same: JSON.stringify(value) === JSON.stringify(plain)
                         && Object.getPrototypeOf(value) === Object.getPrototypeOf(plain)};
  } catch (error) {
    return {error: error instanceof WalletCore.WalletError ? error.code : String(error),
            kind: error.extra && error.extra.kind, message: error.message};
  }
})"""


def _python_kind(text: str | bytes) -> str | None:
    try:
        parse_json(text)
    except IJsonError as error:
        return error.kind
    return None


def test_the_table_is_judged_as_the_python_reader_judges_it() -> None:
    """The table's expectations are the verifier's own (no browser needed)."""
    assert [(text, _python_kind(text)) for text, _ in TABLE] == TABLE


def test_the_wallet_parser_accepts_and_refuses_what_the_python_reader_does(phone: Phone) -> None:
    phone.goto("#/")
    table = [(None, list(text)) if isinstance(text, bytes) else (text, None) for text, _ in TABLE]
    judged: list[Json] = phone.page.evaluate(JUDGE, table)
    for (text, kind), result in zip(TABLE, judged, strict=True):
        if kind is None:
            assert "error" not in result, (text, result)
            assert result["same"], text  # the value JSON.parse gives
            assert json.loads(result["json"]) == parse_json(text), text  # and the Python reader
        else:
            assert result.get("error") == "NOT_IJSON", (text, result)
            assert result["kind"] == kind, (text, result)
    shown = {r["message"] for r in judged if "error" in r}
    assert 'not I-JSON: the member name "a" appears twice in one object' in shown
    # Raw lone surrogates cannot cross to Python; JavaScript strings can hold them.
    raw: list[str] = phone.page.evaluate(
        """() => [String.fromCharCode(0xd800), String.fromCharCode(0xdc00, 0x41),
                  String.fromCharCode(0xd83d, 0xde00)].map((inside) => {
             try { return WalletCore.parseIJson('["' + inside + '"]')[0].length + ' ok'; }
             catch (error) { return error.extra.kind; }
           })"""
    )
    assert raw == ["surrogate", "surrogate", "2 ok"]


def test_a_status_list_sized_text_is_read_quickly(phone: Phone) -> None:
    """A 2 MB encodedList (far beyond a real list's 16 kB) is read, and a repeat still refused."""
    outcome: Json = phone.page.evaluate(
        """() => {
             const list = 'u' + 'H4sIAAAAAAAA_-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbS'
               .repeat(35000);
             const text = JSON.stringify({credentialSubject: {encodedList: list, ttl: 86400000}});
             const value = WalletCore.parseIJson(text);
             let repeated;
             const twice = text.replace('{"encodedList"', '{"encodedList":"u","encodedList"');
             try {
               WalletCore.parseIJson(twice);
             } catch (error) { repeated = error.extra.kind; }
             return {length: text.length, same: value.credentialSubject.encodedList === list,
                     repeated};
           }"""
    )
    assert outcome["length"] > 2_000_000
    assert outcome["same"] is True
    assert outcome["repeated"] == "duplicate-key"


def _tampered(change: Callable[[str], str]) -> Callable[[Route], None]:
    """A route handler: the institution's real answer, its JSON text changed on the way."""

    def handle(route: Route) -> None:
        response = route.fetch()
        text = response.text()
        changed = change(text)
        assert changed != text, "the answer was not tampered with"
        headers = {
            name: value
            for name, value in response.headers.items()
            if name.lower() not in ("content-length", "content-encoding")
        }
        route.fulfill(status=response.status, headers=headers, body=changed)

    return handle


def _repeat_member(name: str, value: str) -> Callable[[str], str]:
    """Insert ``"name": value`` before the first member of each object holding ``name``."""
    pattern = re.compile(r'\{(?=[^{}]*"' + re.escape(name) + '")')

    def change(text: str) -> str:
        return pattern.sub(lambda _: '{"' + name + '": ' + value + ", ", text)

    return change


def _stored(phone: Phone) -> list[Json]:
    stored: list[Json] = phone.page.evaluate(
        "WalletCore.credentials().then((all) => JSON.parse(JSON.stringify(all)))"
    )
    return stored


def test_a_credential_with_a_repeated_name_is_refused_and_not_stored(
    phone: Phone, served: Served, offer: Offer
) -> None:
    """{"givenName": "MALLORY", …, "givenName": <the real one>}: JSON.parse would read the real
    name and keep the text, whose other readers may see Mallory; the wallet keeps nothing."""
    from playwright.sync_api import expect

    status, body = served.call(
        "POST", "/oid4vci/offers", {"credentialId": offer.credential["id"], "txCode": True}
    )
    assert status == 201, body
    page = phone.page
    page.route("**/oid4vci/credential", _tampered(_repeat_member("givenName", '"MALLORY"')))
    try:
        page.goto(f"{served.url}/wallet/?{body['credentialOfferUri'].split('?', 1)[1]}")
        page.get_by_label("PIN de 6 dígitos").fill(body["txCode"])
        page.get_by_role("button", name="Recibir la credencial").click()
        expect(page.get_by_role("alert")).to_contain_text(REFUSED_IN_WORDS)
    finally:
        page.unroute("**/oid4vci/credential")
    assert "I-JSON" not in page.get_by_role("alert").inner_text()  # words, not internals
    assert _stored(phone) == []
    phone.goto("#/")
    expect(page.get_by_role("link", name="Recibir una credencial")).to_be_visible()


def test_institution_metadata_with_a_repeated_name_is_refused_in_english_too(
    phone: Phone, served: Served, offer: Offer
) -> None:
    from playwright.sync_api import expect

    status, body = served.call(
        "POST", "/oid4vci/offers", {"credentialId": offer.credential["id"], "txCode": True}
    )
    assert status == 201, body
    page = phone.page
    metadata = "**/.well-known/openid-credential-issuer"
    page.route(metadata, _tampered(_repeat_member("credential_endpoint", '"https://x"')))
    try:
        phone.goto("#/")
        page.get_by_role("button", name="English").click()
        page.goto(f"{served.url}/wallet/?{body['credentialOfferUri'].split('?', 1)[1]}")
        page.get_by_label("6-digit PIN").fill(body["txCode"])
        page.get_by_role("button", name="Receive the credential").click()
        expect(page.get_by_role("alert")).to_have_text(
            "The institution sent damaged or ambiguous data; it was not used. Try again later; "
            "if it happens again, tell your institution."
        )
    finally:
        page.unroute(metadata)
        page.get_by_role("button", name="Español").click()
    assert _stored(phone) == []


def test_consent_requests_with_a_repeated_name_are_not_shown(
    phone: Phone, served: Served, offer: Offer, received: Json
) -> None:
    """ISSSTE asks; the list reaches the phone with a second "requester" in each request."""
    from datetime import UTC, datetime, timedelta

    from playwright.sync_api import expect

    from verifier import format_datetime

    curp = offer.credential["credentialSubject"]["curp"]
    until = format_datetime(datetime.now(UTC) + timedelta(days=3))
    status, asked = served.call("POST", "/consent-requests", {
        "subject": curp, "custodian": "IMSS", "purpose": "TREAT", "dataClasses": ["ece.summary"],
        "accessUntil": until,
    }, as_="ISSSTE")  # fmt: skip
    assert status == 201, asked
    before = _stored(phone)
    page = phone.page
    listed = re.compile(r".*/me/consent-requests\?.*")
    page.route(listed, _tampered(_repeat_member("requester", '"IMSS"')))
    try:
        phone.goto("#/solicitudes")
        expect(page.get_by_role("alert")).to_have_text(
            REFUSED_IN_WORDS + " Inténtelo más tarde; si se repite, avise a su institución."
        )
        expect(page.locator("li[data-request]")).to_have_count(0)
    finally:
        page.unroute(listed)
    assert _stored(phone) == before
    page.get_by_role("button", name="Ver solicitudes").click()  # the true answer: shown
    expect(page.locator(f"li[data-request='{asked['id']}']")).to_contain_text(
        "ISSSTE pide ver el resumen de su expediente"
    )


def test_a_status_list_with_a_repeated_name_leaves_the_last_known_state(
    phone: Phone, received: Json
) -> None:
    from playwright.sync_api import expect

    before = _stored(phone)
    assert before[0]["status"] is not None
    page = phone.page
    lists = "**/credencial/status/**"
    page.route(lists, _tampered(_repeat_member("encodedList", '"uH4sIAAAAAAAA_wMAAAAAAAAAAAA"')))
    try:
        phone.goto("#/")
        page.get_by_role("button", name="Actualizar estado").click()
        expect(page.locator("article")).to_contain_text(REFUSED_IN_WORDS)
    finally:
        page.unroute(lists)
    assert _stored(phone) == before  # the last known state, untouched
    expect(page.get_by_test_id("state")).to_have_text("Vigente")


@pytest.mark.parametrize(
    "text",
    [
        '{"credential_issuer": "https://imss.gob.mx", "credential_issuer": "https://x.example"}',
        '{"credential_issuer": "\\ud800"}',
    ],
)
def test_an_offer_that_is_not_i_json_is_no_offer(phone: Phone, text: str) -> None:
    outcome: Any = phone.page.evaluate(
        """(text) => {
             try { WalletCore.parseOffer('openid-credential-offer://?credential_offer='
                                         + encodeURIComponent(text)); }
             catch (error) { return [error.code, error.message]; }
           }""",
        text,
    )
    assert outcome[0] == "OFFER_MALFORMED"
    assert outcome[1].startswith("the offer is not I-JSON: ")
