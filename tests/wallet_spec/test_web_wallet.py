"""The phone wallet (``wallet_spec/web/``, served by the issuer at ``/wallet/``) in a real browser.

Debian's Chromium, headless, emulating a 360 x 640 phone, driven by Playwright, against an issuer
served over HTTP on 127.0.0.1 (SQLite; the loopback Host stands for IMSS). Its webcam is
Chromium's fake capture device showing the enrolment desk's offer QR. One browser profile for the
module: the wallet's key and credentials persist from test to test as on a phone. Screens are
saved to ``artifacts/wallet/``; ``CREDENCIAL_UPDATE_SCREENSHOTS=1`` also refreshes
``docs/img/wallet-*.png`` (the README's). Without ``/usr/bin/chromium`` the tests skip, unless
``CREDENCIAL_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from issuer.app import create_app
from issuer.credentials.service import IssuerService
from issuer.principal import SCOPES
from tests.desk.test_desk_browser import CHROMIUM, CHROMIUM_ARGS, _unavailable, y4m_video
from tests.issuer._wallet_world import person
from tests.issuer._workers import make_settings
from verifier import format_datetime

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Geolocation, Page

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "wallet"
DOCS_IMG = ROOT / "docs" / "img"
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Mobile Safari/537.36"
)
CDMX: Geolocation = {"latitude": 19.4326, "longitude": -99.1332}
Json = dict[str, Any]


@dataclass
class Served:
    """An issuer served over HTTP on 127.0.0.1, with an API key per institution."""

    url: str
    service: IssuerService
    keys: dict[str, str]

    def call(
        self, method: str, path: str, body: Json | None = None, *, as_: str | None = "IMSS"
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if as_ is not None:
            headers["Authorization"] = f"Bearer {self.keys[as_]}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    import uvicorn

    root = tmp_path_factory.mktemp("issuer")
    settings = make_settings(f"sqlite:///{root / 'issuer.db'}", root / "keys").model_copy(
        update={"loopback_institution": "IMSS"}
    )
    service = IssuerService(settings)
    service.bootstrap()
    keys = {
        code: service.create_client(code, "wallet-test", sorted(SCOPES), actor="test")
        for code in ("IMSS", "ISSSTE")
    }
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, service), log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield Served(f"http://127.0.0.1:{port}", service, keys)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        service.db.dispose()


@dataclass
class Offer:
    credential: Json
    uri: str
    pin: str
    png: Path


@pytest.fixture(scope="module")
def offer(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Offer:
    """IMSS enrols the person and offers the credential to a wallet (QR + PIN)."""
    status, card = served.call("POST", "/enrolments", person())
    assert status == 201, card
    credential = card["verifiableCredential"]
    status, body = served.call(
        "POST", "/oid4vci/offers?render=true", {"credentialId": credential["id"], "txCode": True}
    )
    assert status == 201, body
    png = tmp_path_factory.mktemp("offer") / "offer.png"
    png.write_bytes(base64.b64decode(body["qrImage"]))
    return Offer(credential, body["credentialOfferUri"], body["txCode"], png)


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory, offer: Offer) -> Iterator[BrowserContext]:
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (the test extra)")
    video = y4m_video(offer.png, tmp_path_factory.mktemp("webcam") / "offer.y4m", (960, 720))
    fake_webcam = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    with sync_playwright() as playwright:
        browser_context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("phone-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS + fake_webcam,
            viewport={"width": 360, "height": 640},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            user_agent=PHONE_UA,
            locale="es-MX",
            timezone_id="America/Mexico_City",
            geolocation=CDMX,
            permissions=["geolocation"],
        )
        browser_context.set_default_timeout(15_000)
        yield browser_context
        browser_context.close()


@dataclass
class Phone:
    """The wallet open in a tab, with every URL the page (and its service worker) asked for."""

    page: Page
    served: Served
    requests: list[str] = field(default_factory=list)

    def goto(self, hash_: str = "#/") -> None:
        """Open (or reload: a real load, not a same-page jump) the wallet at ``hash_``."""
        target = f"{self.served.url}/wallet/{hash_}"
        if self.page.url == target:
            self.page.reload()
        else:
            self.page.goto(target)
        self.page.wait_for_selector("body[data-ready='1']")

    def screenshot(self, name: str, *, full_page: bool = False) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"wallet-{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        if os.environ.get("CREDENCIAL_UPDATE_SCREENSHOTS") == "1":  # small enough for git
            from PIL import Image

            DOCS_IMG.mkdir(parents=True, exist_ok=True)
            with Image.open(path) as image:
                small = image.convert("RGB").quantize(colors=48)
                small.save(DOCS_IMG / path.name, optimize=True)
        return path

    def assert_only_own_host(self) -> None:
        assert self.requests, "the page made no request at all"
        own = urlsplit(self.served.url).netloc
        elsewhere = [u for u in self.requests if urlsplit(u).scheme in ("http", "https")
                     and urlsplit(u).netloc != own]  # fmt: skip
        assert not elsewhere

    def assert_every_control_named(self) -> None:
        """Every visible button, link, field and image has an accessible name."""
        unnamed = self.page.evaluate(
            """() => [...document.querySelectorAll('button, a[href], input, select, textarea, '
                                                    + 'canvas[role=img], video, [role=dialog]')]
                .filter((n) => n.offsetParent !== null || n.getClientRects().length)
                .filter((n) => n.type !== 'hidden')
                .filter((n) => {
                  const label = n.getAttribute('aria-label') || n.getAttribute('aria-labelledby')
                    || (n.labels && n.labels.length) || (n.textContent || '').trim();
                  return !label;
                })
                .map((n) => n.outerHTML.slice(0, 120))"""
        )
        assert unnamed == []


@pytest.fixture(scope="module")
def phone(context: BrowserContext, served: Served) -> Iterator[Phone]:
    page = context.new_page()
    phone = Phone(page, served)
    context.on("request", lambda request: phone.requests.append(request.url))
    yield phone
    page.close()


@pytest.fixture(scope="module")
def received(phone: Phone, offer: Offer) -> Json:
    """The offer QR shown to the camera is read in the page; the PIN; the credential appears."""
    from playwright.sync_api import expect

    phone.goto("#/")
    expect(phone.page.get_by_role("link", name="Recibir una credencial")).to_be_visible()
    phone.screenshot("empty")
    phone.page.get_by_role("link", name="Recibir", exact=True).click()
    phone.page.get_by_role("button", name="Escanear el código con la cámara").click()
    pin = phone.page.get_by_label("PIN de 6 dígitos")
    expect(pin).to_be_visible(timeout=30_000)  # decoded from the fake webcam's frames
    expect(phone.page.get_by_role("heading", name="Oferta de imss.gob.mx")).to_be_visible()
    phone.assert_every_control_named()
    phone.screenshot("receive")
    pin.fill("000000" if offer.pin != "000000" else "111111")
    phone.page.get_by_role("button", name="Recibir la credencial").click()
    expect(phone.page.get_by_role("alert")).to_contain_text("Le quedan 2 intentos")
    pin.fill(offer.pin)
    phone.page.get_by_role("button", name="Recibir la credencial").click()
    expect(phone.page.get_by_test_id("state")).to_have_text("Vigente", timeout=30_000)
    stored: list[Json] = phone.page.evaluate(
        "WalletCore.credentials().then((all) => all.map((e) => JSON.parse(JSON.stringify("
        "{credential: e.credential, card: e.card, status: e.status}))))"
    )
    assert len(stored) == 1
    return stored[0]


def test_the_offer_scanned_by_the_camera_and_the_pin_give_the_credential(
    phone: Phone, received: Json, offer: Offer
) -> None:
    from playwright.sync_api import expect

    credential = received["credential"]
    did = phone.page.evaluate("WalletCore.holderKey().then((k) => k.did)")
    assert credential["credentialSubject"]["id"] == did
    assert did.startswith("did:key:z6Mk")
    assert credential["credentialStatus"] == offer.credential["credentialStatus"]
    assert received["card"].startswith("SUS1:")
    page = phone.page
    expect(
        page.get_by_role("heading", name="MARÍA GUADALUPE DEL SOCORRO HERNÁNDEZ DE LA O")
    ).to_be_visible()
    expect(page.locator("article")).to_contain_text("Régimen Obligatorio")
    expect(page.locator("article")).to_contain_text("IMSS (Instituto Mexicano del Seguro Social)")
    phone.assert_every_control_named()
    phone.screenshot("credentials")
    phone.assert_only_own_host()


def test_the_key_cannot_be_exported(phone: Phone, received: Json) -> None:
    outcome = phone.page.evaluate(
        """async () => {
             const key = await WalletCore.holderKey();
             const tries = [];
             for (const format of ['pkcs8', 'jwk', 'raw']) {
               try {
                 await crypto.subtle.exportKey(format, key.privateKey);
                 tries.push(format + ': exported');
               } catch (error) { tries.push(format + ': ' + error.name); }
             }
             return {extractable: key.privateKey.extractable, usages: key.privateKey.usages,
                     type: key.privateKey.type, tries};
           }"""
    )
    assert outcome["extractable"] is False
    assert outcome["type"] == "private"
    assert outcome["usages"] == ["sign"]
    assert all(not t.endswith("exported") for t in outcome["tries"]), outcome["tries"]
    assert all(t.endswith("InvalidAccessError") for t in outcome["tries"]), outcome["tries"]


def test_a_presentation_signed_on_the_phone_verifies_and_tampering_is_refused(
    phone: Phone, served: Served, received: Json
) -> None:
    """The phone's eddsa-jcs-2022 presentation, checked by the Python verifier (ADR 0011)."""
    import copy

    from verifier import InMemoryChallengeStore, PresentationVerifier, ReasonCode, Verdict

    domain = "https://urgencias.hospital.example.gob.mx"
    challenges = InMemoryChallengeStore()
    checker = PresentationVerifier(served.service.verifier(), challenges)

    def signed_on_the_phone() -> Json:
        challenge = challenges.issue(domain, datetime.now(UTC))
        presentation: Json = phone.page.evaluate(
            "([credential, challenge, domain]) => WalletCore.present([credential], challenge, "
            "domain)",
            [received["credential"], challenge, domain],
        )
        return presentation

    presentation = signed_on_the_phone()
    assert presentation["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    result = checker.check(presentation, domain=domain)
    assert result.verdict is Verdict.VALID, result.to_json("en")
    assert result.holder == received["credential"]["credentialSubject"]["id"]
    tampered = copy.deepcopy(signed_on_the_phone())
    tampered["verifiableCredential"][0]["credentialSubject"]["givenName"] = "OTRA PERSONA"
    refused = checker.check(tampered, domain=domain)
    assert [r.code for r in refused.reasons] == [ReasonCode.SIGNATURE_INVALID]


def _desk_files(served: Served, folder: Path) -> list[str]:
    """What a front desk holds: the institutions' keys and today's status lists."""
    trust = folder / "trust.json"
    trust.write_text(json.dumps(served.service.trust_store().to_json()), encoding="utf-8")
    argv = ["--trust", str(trust)]
    for purpose in ("revocation", "suspension"):
        status, document = served.call("GET", f"/credencial/status/{purpose}/1", as_=None)
        assert status == 200
        path = folder / f"{purpose}.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        argv += ["--status-list", str(path)]
    return argv


def test_the_card_qr_on_screen_verifies_valid_at_a_desk(
    phone: Phone, received: Json, tmp_path: Path
) -> None:
    import zxingcpp
    from PIL import Image
    from playwright.sync_api import expect

    page = phone.page
    phone.goto("#/")
    page.get_by_role("button", name="Mostrar tarjeta").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(
        page.get_by_role(
            "img",
            name="Código QR de la credencial de MARÍA GUADALUPE DEL SOCORRO HERNÁNDEZ DE LA O",
        )
    ).to_be_visible()
    expect(dialog).to_contain_text("HEOG 8503 14MD FRXD 08")  # the CURP, to read aloud
    expect(page.get_by_role("button", name="Cerrar")).to_be_focused()
    page.keyboard.press("Tab")  # a modal: the focus stays in the card screen
    expect(page.get_by_role("button", name="Cerrar")).to_be_focused()
    assert page.evaluate("document.getElementById('view').inert") is True
    phone.assert_every_control_named()
    shot = phone.screenshot("card")
    box = page.locator("#card-qr").bounding_box()
    assert box is not None
    assert box["width"] >= 320 * 0.95  # (nearly) the whole phone's width
    decoded = zxingcpp.read_barcodes(Image.open(shot))
    texts = [d.text for d in decoded if d.format == zxingcpp.BarcodeFormat.QRCode]
    assert texts == [received["card"]]
    result = subprocess.run(
        [str(Path(sys.executable).parent / "credencial-verify"), str(shot),
         *_desk_files(phone.served, tmp_path), "--json"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["verdict"] == "VALID"
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_offline_the_wallet_reloads_and_still_shows_the_card(
    phone: Phone, context: BrowserContext, received: Json
) -> None:
    from playwright.sync_api import expect

    page = phone.page
    phone.goto("#/")
    page.wait_for_function(
        "navigator.serviceWorker.ready.then(() => !!navigator.serviceWorker.controller)"
    )
    context.set_offline(True)
    try:
        phone.goto("#/")
        expect(page.locator("#net")).to_have_text("Sin conexión")
        expect(page.get_by_test_id("state")).to_have_text("Vigente")  # fresh for its ttl
        page.get_by_role("button", name="Actualizar estado").click()
        expect(page.locator("article")).to_contain_text("Sin conexión: no se pudo consultar")
        phone.screenshot("offline")
        page.get_by_role("button", name="Mostrar tarjeta").click()
        expect(page.locator("#card-qr")).to_be_visible()
        assert page.evaluate("document.getElementById('card-qr').dataset.card") == received["card"]
        page.get_by_role("button", name="Cerrar").click()
    finally:
        context.set_offline(False)


def test_stale_status_is_never_shown_as_valid(phone: Phone, received: Json) -> None:
    """Past the status list's ttl the wallet says since when it has not checked, not "Vigente"."""
    from playwright.sync_api import expect

    page = phone.page
    phone.goto("#/")
    page.evaluate(
        """async () => {
             const [entry] = await WalletCore.credentials();
             const old = new Date(Date.now() - 30 * 3600 * 1000);
             entry.status.checkedAt = old.toISOString();
             entry.status.freshUntil = new Date(old.getTime() + 24 * 3600 * 1000).toISOString();
             const db = await new Promise((ok) => {
               const r = indexedDB.open('credencial-wallet', 1);
               r.onsuccess = () => ok(r.result);
             });
             await new Promise((ok) => {
               const t = db.transaction('credentials', 'readwrite');
               t.objectStore('credentials').put(entry);
               t.oncomplete = ok;
             });
           }"""
    )  # as if the phone had been offline for 30 hours since its last check
    page.context.set_offline(True)
    try:
        phone.goto("#/")
        state = page.get_by_test_id("state")
        expect(state).to_contain_text("Sin verificar desde")
        expect(state).to_contain_text("hace 30 horas")
        assert "Vigente" not in state.inner_text()
        phone.screenshot("stale")
        page.get_by_role("button", name="English").click()
        expect(state).to_contain_text("Not checked since")
    finally:
        page.context.set_offline(False)
    page.get_by_role("button", name="Update status").click()
    expect(state).to_have_text("Valid")
    page.get_by_role("button", name="Español").click()
    expect(state).to_have_text("Vigente")


def test_suspension_at_the_institution_shows_suspended(
    phone: Phone, served: Served, offer: Offer
) -> None:
    from playwright.sync_api import expect

    card_id = offer.credential["id"]
    for action, shown in (("suspend", "Suspendida"), ("reinstate", "Vigente")):
        status, body = served.call(
            "POST", "/credentials/status", {"credentialId": card_id, "action": action}
        )
        assert status == 200, body
        phone.goto("#/")
        phone.page.get_by_role("button", name="Actualizar estado").click()
        expect(phone.page.get_by_test_id("state")).to_have_text(shown)
        if action == "suspend":
            phone.screenshot("suspended")


def test_the_access_log_lists_each_decision_in_words(
    phone: Phone, served: Served, offer: Offer
) -> None:
    from playwright.sync_api import expect

    curp = offer.credential["credentialSubject"]["curp"]
    status, body = served.call(
        "POST",
        "/records/requests",
        {"custodian": "IMSS", "subject": curp, "dataClasses": ["ece.summary"],
         "purpose": "TREAT", "recipientCountry": "MX"},
        as_="ISSSTE",
    )  # fmt: skip
    assert status == 403, body  # no consent: refused, and recorded
    page = phone.page
    phone.goto("#/accesos")
    page.get_by_role("button", name="Consultar el registro").click()
    refused = page.get_by_test_id("refused")
    expect(refused).to_contain_text(
        "ISSSTE pidió el resumen de su expediente para atención médica; se le negó"
    )
    phone.assert_every_control_named()


def _records_requested(served: Served, curp: str) -> tuple[int, Any]:
    return served.call(
        "POST",
        "/records/requests",
        {"custodian": "IMSS", "subject": curp, "dataClasses": ["ece.summary", "ece.full"],
         "purpose": "TREAT", "recipientCountry": "MX"},
        as_="ISSSTE",
    )  # fmt: skip


def test_a_request_approved_narrowed_then_withdrawn(
    phone: Phone, served: Served, offer: Offer
) -> None:
    """ISSSTE asks for two classes; the person approves one on the phone; ISSSTE receives only
    that one; the person withdraws it; ISSSTE is refused; the log shows each decision."""
    from playwright.sync_api import expect

    curp = offer.credential["credentialSubject"]["curp"]
    for data_class, text in (("ece.summary", "Diabetes mellitus tipo 2"),
                             ("ece.full", "Nota de evolución")):  # fmt: skip
        status, body = served.call("POST", "/records", {
            "subject": curp, "dataClass": data_class, "effectiveDate": "2025-03-01",
            "resource": {"resourceType": "Condition", "code": {"text": text},
                         "recordedDate": "2025-03-01"},
        })  # fmt: skip
        assert status == 201, body
    until = format_datetime(datetime.now(UTC) + timedelta(days=30))
    status, asked = served.call("POST", "/consent-requests", {
        "subject": curp, "custodian": "IMSS", "purpose": "TREAT",
        "dataClasses": ["ece.summary", "ece.full"], "accessUntil": until,
    }, as_="ISSSTE")  # fmt: skip
    assert status == 201, asked

    page = phone.page
    phone.goto("#/solicitudes")
    page.get_by_role("button", name="Ver solicitudes").click()
    item = page.locator(f"li[data-request='{asked['id']}']")
    expect(item).to_contain_text(
        "ISSSTE pide ver el resumen de su expediente y su expediente completo"
    )
    expect(item).to_contain_text("Para qué: atención médica.")
    phone.assert_every_control_named()
    phone.screenshot("requests", full_page=True)
    item.get_by_role("button", name="Aprobar solo una parte").click()
    item.get_by_label("su expediente completo").uncheck()
    phone.screenshot("approve-part", full_page=True)
    item.get_by_role("button", name="Aprobar lo marcado").click()
    expect(item).to_contain_text(
        "Aprobada solo en parte. ISSSTE podrá ver el resumen de su expediente."
    )

    status, state = served.call("GET", f"/consent-requests/{asked['id']}", as_="ISSSTE")
    assert status == 200, state
    assert state["state"] == "approved"
    assert state["approved"]["dataClasses"] == ["ece.summary"]
    status, answer = _records_requested(served, curp)
    assert status == 200, answer
    texts = [e["resource"]["code"]["text"] for e in answer["bundle"]["entry"]]
    assert texts == ["Diabetes mellitus tipo 2"]  # the approved class only
    assert {d["dataClass"]: d["outcome"] for d in answer["decisions"]} == {
        "ece.summary": "permit",
        "ece.full": "deny",
    }

    phone.goto("#/permisos")
    page.get_by_role("button", name="Ver permisos").click()
    grant = page.get_by_test_id("grants").locator("li").first
    expect(grant).to_contain_text(
        "ISSSTE puede ver el resumen de su expediente para atención médica"
    )
    expect(grant).to_contain_text("Activo")
    phone.assert_every_control_named()
    phone.screenshot("grants", full_page=True)
    grant.get_by_role("button", name="Retirar").click()
    grant.get_by_role("button", name="Sí, retirar").click()
    expect(grant).to_contain_text("Permiso retirado.")
    status, refused = _records_requested(served, curp)
    assert status == 403, refused
    assert refused["code"] == "ACCESS_DENIED"

    phone.goto("#/accesos")
    page.get_by_role("button", name="Consultar el registro").click()
    accesses = page.get_by_test_id("accesses")
    expect(accesses).to_contain_text(
        "ISSSTE consultó el resumen de su expediente para atención médica con su permiso."
    )
    # the first test's request, the class left out, then both classes after the withdrawal
    expect(page.get_by_test_id("refused").locator("li")).to_have_count(4)
    expect(page.get_by_test_id("refused")).to_contain_text(
        "ISSSTE pidió su expediente completo para atención médica; se le negó"
    )
    phone.screenshot("access-log", full_page=True)


def test_a_request_denied_on_the_phone(phone: Phone, served: Served, offer: Offer) -> None:
    from playwright.sync_api import expect

    curp = offer.credential["credentialSubject"]["curp"]
    until = format_datetime(datetime.now(UTC) + timedelta(days=3))
    status, asked = served.call("POST", "/consent-requests", {
        "subject": curp, "custodian": "IMSS", "purpose": "COC", "dataClasses": ["ece.full"],
        "accessUntil": until, "requesterUnit": "DFSSA003961",
    }, as_="ISSSTE")  # fmt: skip
    assert status == 201, asked
    page = phone.page
    phone.goto("#/recibir")  # the hospital screen's QR of the request, here pasted as its link
    page.get_by_label("O pegue aquí el enlace de la oferta").fill(asked["uri"])
    page.get_by_role("button", name="Usar este enlace").click()
    item = page.locator(f"li[data-request='{asked['id']}']")
    expect(item).to_be_focused()
    expect(item).to_contain_text("Unidad que pide: DFSSA003961.")
    expect(item).to_contain_text("Para qué: continuidad de la atención.")
    item.get_by_role("button", name="Negar").click()
    expect(item).to_contain_text("Negada. ISSSTE no verá sus datos.")
    status, state = served.call("GET", f"/consent-requests/{asked['id']}", as_="ISSSTE")
    assert state["state"] == "denied"
    page.get_by_role("button", name="Negadas (1)").click()
    expect(page.locator(f"li[data-request='{asked['id']}']")).to_contain_text("Respondida el")


def test_the_request_link_opened_by_the_camera_app_shows_that_request(
    phone: Phone, served: Served, offer: Offer, received: Json
) -> None:
    """The hospital screen's QR is ``https://<custodian>/r/<id>``: a phone's camera app opens it,
    and the wallet shows that request in *Solicitudes*, focused, the address bar left clean."""
    from playwright.sync_api import expect

    curp = offer.credential["credentialSubject"]["curp"]
    until = format_datetime(datetime.now(UTC) + timedelta(days=2))
    status, asked = served.call("POST", "/consent-requests", {
        "subject": curp, "custodian": "IMSS", "purpose": "TREAT", "dataClasses": ["ece.summary"],
        "accessUntil": until, "requesterUnit": "DFSSA003961",
    }, as_="ISSSTE")  # fmt: skip
    assert status == 201, asked
    assert asked["uri"].endswith("/r/" + asked["id"])
    page = phone.page
    page.goto(f"{served.url}/r/{asked['id']}")
    item = page.locator(f"li[data-request='{asked['id']}']")
    expect(item).to_be_focused()
    expect(item).to_contain_text("Para qué: atención médica.")
    assert page.url.endswith("/wallet/#/solicitudes")


def test_my_record_on_the_phone(phone: Phone, served: Served) -> None:
    from playwright.sync_api import expect

    page = phone.page
    phone.goto("#/expediente")
    page.get_by_role("button", name="Ver mi expediente").click()
    record = page.get_by_test_id("record")
    expect(record).to_contain_text("Diabetes mellitus tipo 2")
    expect(record).to_contain_text("Nota de evolución")
    phone.assert_every_control_named()
    phone.screenshot("record", full_page=True)
    phone.goto("#/accesos")
    page.get_by_role("button", name="Consultar el registro").click()
    expect(page.get_by_test_id("accesses")).to_contain_text(
        "Usted consultó el resumen de su expediente"
    )


def test_units_with_places_nearest_first(phone: Phone, served: Served) -> None:
    from playwright.sync_api import expect

    now = format_datetime(datetime.now(UTC))
    units = [
        {"clues": "JCIMS000213", "name": "HGZ 14 Guadalajara",
         "location": {"lat": 20.6597, "lon": -103.3496}, "services": ["urgencias"],
         "available": 2, "updatedAt": now},
        {"clues": "DFIMS000014", "name": "UMF 14 Ciudad de México",
         "location": {"lat": 19.43, "lon": -99.14}, "services": ["medicina familiar"],
         "available": 5, "updatedAt": now},
    ]  # fmt: skip
    status, body = served.call("PUT", "/units/feed", {"units": units})
    assert status in (200, 201), body
    page = phone.page
    phone.goto("#/unidades")
    page.get_by_role("button", name="Buscar unidades").click()
    items = page.get_by_test_id("units").locator("li")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text("UMF 14 Ciudad de México")
    expect(items.nth(0)).to_contain_text("5 lugares")
    expect(items.nth(1)).to_contain_text("HGZ 14 Guadalajara")
    phone.assert_every_control_named()
    phone.screenshot("units")


def test_every_screen_is_named_keyboard_reachable_and_local(phone: Phone, received: Json) -> None:
    from playwright.sync_api import expect

    page = phone.page
    phone.goto("#/llave")
    expect(page.locator("#view")).to_contain_text("nueva oferta")  # how to get a new phone going
    expect(page.locator("#view")).to_contain_text(received["credential"]["credentialSubject"]["id"])
    phone.screenshot("key", full_page=True)
    for hash_, heading in (
        ("#/llave", "Mi llave"),
        ("#/solicitudes", "Solicitudes"),
        ("#/permisos", "Permisos"),
        ("#/expediente", "Mi expediente"),
    ):
        phone.goto(hash_)
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        phone.assert_every_control_named()
    phone.goto("#/")
    focused = []
    for _ in range(30):  # from the page's main region, Tab by Tab, to the card button
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.textContent"))
        if focused[-1] == "Mostrar tarjeta":
            break
    assert focused[-1] == "Mostrar tarjeta", focused
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    page.keyboard.press("Enter")  # the focused Close button
    expect(page.get_by_role("dialog")).to_be_hidden()
    phone.assert_only_own_host()


@pytest.mark.parametrize(
    ("issuer", "said"),
    [
        ("https://issste.gob.mx", "Esta oferta es de https://issste.gob.mx; ábrala en la cartera"),
        ("https://imss.example.com", "no viene de IMSS, ISSSTE ni IMSS-Bienestar"),
    ],
)
def test_an_offer_of_another_or_an_unknown_issuer_is_refused_before_the_pin(
    phone: Phone, received: Json, issuer: str, said: str
) -> None:
    from urllib.parse import quote

    from playwright.sync_api import expect

    offer = {
        "credential_issuer": issuer,
        "credential_configuration_ids": ["HealthCoverageCredential"],
        "grants": {
            "urn:ietf:params:oauth:grant-type:pre-authorized_code": {
                "pre-authorized_code": "x" * 43,
                "tx_code": {"input_mode": "numeric", "length": 6},
            }
        },
    }
    page = phone.page
    phone.goto("#/recibir")
    page.get_by_label("O pegue aquí el enlace de la oferta").fill(
        "openid-credential-offer://?credential_offer=" + quote(json.dumps(offer))
    )
    page.get_by_role("button", name="Usar este enlace").click()
    expect(page.get_by_role("alert")).to_contain_text(said)
    expect(page.get_by_label("PIN de 6 dígitos")).to_have_count(0)


def test_the_offer_link_opens_the_wallet_ready_for_the_pin(
    phone: Phone, served: Served, offer: Offer
) -> None:
    """An institution may send the offer as a link to its /wallet/ (e.g. by message)."""
    from playwright.sync_api import expect

    status, body = served.call(
        "POST", "/oid4vci/offers", {"credentialId": offer.credential["id"], "txCode": True}
    )
    assert status == 201, body
    page = phone.page
    page.goto(f"{served.url}/wallet/?{body['credentialOfferUri'].split('?', 1)[1]}")
    pin = page.get_by_label("PIN de 6 dígitos")
    expect(pin).to_be_focused()
    assert page.url.endswith("/wallet/#/recibir")  # the code leaves the address bar at once
    pin.fill(body["txCode"])
    page.get_by_role("button", name="Recibir la credencial").click()
    expect(page.get_by_role("article")).to_have_count(2)
    expect(page.get_by_test_id("state").nth(1)).to_have_text("Vigente")


def test_a_phone_with_a_wrong_clock_still_signs_what_the_institution_accepts(
    context: BrowserContext, served: Served, received: Json
) -> None:
    """The key proof's iat and a presentation's created follow the institution's Date header."""
    from playwright.sync_api import expect

    page = context.new_page()
    try:
        page.clock.set_system_time(datetime.now(UTC) - timedelta(hours=3))
        page.goto(f"{served.url}/wallet/#/accesos")
        page.wait_for_selector("body[data-ready='1']")
        assert (
            page.evaluate("Date.now()")
            < (datetime.now(UTC) - timedelta(hours=2)).timestamp() * 1000
        )
        page.get_by_role("button", name="Consultar el registro").click()
        expect(page.get_by_test_id("accesses")).to_contain_text("ISSSTE consultó")
        created = page.evaluate(
            "WalletCore.present([], 'c', 'd').then((p) => Date.parse(p.proof.created))"
        )
        assert abs(created / 1000 - datetime.now(UTC).timestamp()) < 60
    finally:
        page.close()


def test_right_on_a_desktop_too(phone: Phone) -> None:
    from playwright.sync_api import expect

    page = phone.page
    page.set_viewport_size({"width": 1280, "height": 800})
    try:
        phone.goto("#/")
        width = page.evaluate("document.getElementById('view').getBoundingClientRect().width")
        assert width <= 40 * 16 + 1  # a readable column, not stretched across the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280  # no sideways scroll
        page.get_by_role("button", name="Mostrar tarjeta").first.click()
        box = page.locator("#card-qr").bounding_box()
        assert box is not None
        assert 300 <= box["height"] <= 800  # the QR fits the screen's height
        phone.screenshot("desktop")
        page.keyboard.press("Escape")
        expect(page.get_by_role("dialog")).to_be_hidden()
    finally:
        page.set_viewport_size({"width": 360, "height": 640})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_revocation_at_the_institution_shows_revoked_on_both(
    phone: Phone, served: Served, offer: Offer
) -> None:
    """The wallet credentials share the card's status entry: one revocation covers them all."""
    from playwright.sync_api import expect

    status, body = served.call(
        "POST", "/credentials/status", {"credentialId": offer.credential["id"], "action": "revoke"}
    )
    assert status == 200, body
    phone.goto("#/")
    for button in phone.page.get_by_role("button", name="Actualizar estado").all():
        button.click()
    states = phone.page.get_by_test_id("state")
    expect(states).to_have_text(["Revocada", "Revocada"])
    expect(phone.page.locator("article").first).to_contain_text("ya no sirve")
    phone.screenshot("revoked")
    phone.goto("#/accesos")  # the institution refuses a revoked credential's presentation
    phone.page.get_by_role("button", name="Consultar el registro").click()
    expect(phone.page.get_by_role("alert")).to_have_text(
        "Su credencial está revocada: su institución ya no la acepta."
    )
    phone.goto("#/")
    second = phone.page.locator("article").nth(1)
    second.get_by_role("button", name="Quitar de este teléfono").click()
    second.get_by_role("button", name="Sí, quitar").click()
    expect(phone.page.locator("article")).to_have_count(1)
    phone.assert_only_own_host()


def test_the_wallet_is_served_with_a_strict_policy(served: Served) -> None:
    request = urllib.request.Request(served.url + "/wallet/")
    with urllib.request.urlopen(request, timeout=10) as response:
        csp = response.headers["Content-Security-Policy"]
        assert response.headers["Content-Type"].startswith("text/html")
        page = response.read().decode()
    assert csp.startswith("default-src 'self';")
    assert "http" not in csp
    assert "unsafe" not in csp
    assert '<script src="/wallet/wallet.js"' in page
    assert "http://" not in page  # no CDN, no remote font
    assert "https://" not in page
