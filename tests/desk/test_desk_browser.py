"""The front-desk page in a real browser: Debian's Chromium, headless, driven by Playwright.

One browser per module, with a fresh profile. Each verdict screen is saved to
``artifacts/desk/``; ``CREDENCIAL_UPDATE_SCREENSHOTS=1`` (``make desk-screenshot``) also
refreshes the README's ``docs/img/desk-valid.png``. Without ``/usr/bin/chromium`` the tests skip,
unless ``CREDENCIAL_REQUIRE_BROWSER=1`` (set by ``.ci/run``) makes that a failure.
"""

from __future__ import annotations

import copy
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlsplit

import pytest

from tests.conftest import NOW
from tests.desk.conftest import DeskWorld, StartDesk
from verifier.desk import DeskServer

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts" / "desk"
README_SCREENSHOT = ROOT / "docs" / "img" / "desk-valid.png"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VALID_NAME = "MARÍA GUADALUPE DEL SOCORRO HERNÁNDEZ DE LA O"


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CREDENCIAL_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and CREDENCIAL_REQUIRE_BROWSER=1 requires the browser tests")
    pytest.skip(f"{reason} (Debian: apt-get install chromium)")


#: Chromium's fake webcam: an empty desk for this many frames (5 a second), then the card.
EMPTY_FRAMES, CARD_FRAMES = 5, 10


def y4m_video(png: Path, out: Path, size: tuple[int, int] = (1280, 720)) -> Path:
    """A Y4M video (4:2:0, 5 frames a second, looped by Chromium): white for
    ``EMPTY_FRAMES``, then ``png`` centred on white for ``CARD_FRAMES``."""
    from PIL import Image

    def planes(frame: Image.Image) -> bytes:
        luma, blue, red = frame.convert("YCbCr").split()
        half = (size[0] // 2, size[1] // 2)
        return luma.tobytes() + blue.resize(half).tobytes() + red.resize(half).tobytes()

    empty = Image.new("RGB", size, "white")
    card = empty.copy()
    picture = Image.open(png).convert("RGB")
    picture.thumbnail(size)
    card.paste(picture, ((size[0] - picture.width) // 2, (size[1] - picture.height) // 2))
    frames = [planes(empty)] * EMPTY_FRAMES + [planes(card)] * CARD_FRAMES
    header = f"YUV4MPEG2 W{size[0]} H{size[1]} F5:1 Ip A1:1 C420jpeg\n".encode()
    out.write_bytes(header + b"".join(b"FRAME\n" + frame for frame in frames))
    return out


@pytest.fixture(scope="module")
def context(
    tmp_path_factory: pytest.TempPathFactory, desk_world: DeskWorld
) -> Iterator[BrowserContext]:
    """One headless Chromium for the module, with a fresh user-data dir.

    Its webcam is Chromium's fake capture device, showing the valid card.
    """
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (the test extra)")
    pytest.importorskip("PIL")
    video = y4m_video(desk_world.valid_png, tmp_path_factory.mktemp("webcam") / "card.y4m")
    fake_webcam = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    with sync_playwright() as playwright:
        browser_context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS + fake_webcam,
            viewport={"width": 1280, "height": 800},
            locale="es-MX",
        )
        browser_context.set_default_timeout(10_000)
        yield browser_context
        browser_context.close()


@dataclass
class Desk:
    """A page open on a desk server, with every request the browser made."""

    page: Page
    server: DeskServer
    requests: list[str] = field(default_factory=list)

    def scan(self, text: str, *, every_key: bool = False) -> None:
        """What a USB keyboard-wedge scanner does: type the code, then Enter.

        The first key is a real key press (the page moves the focus to the scanner input on
        it), the rest is inserted at once unless ``every_key`` (a key event per character is
        slow to drive, and one test doing it is enough).
        """
        keyboard = self.page.keyboard
        if every_key:
            keyboard.type(text)
        else:
            keyboard.type(text[:1])
            keyboard.insert_text(text[1:])
        keyboard.press("Enter")

    def shows(self, verdict: str) -> None:
        from playwright.sync_api import expect

        expect(self.page.locator("#verdict")).to_be_visible()
        expect(self.page.locator("#verdict")).to_have_attribute("data-verdict", verdict)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def assert_only_local_requests(self) -> None:
        assert self.requests, "the page made no request at all"
        own = f"127.0.0.1:{self.server.port}"
        elsewhere = [url for url in self.requests if urlsplit(url).netloc != own]
        assert not elsewhere


OpenDesk = Callable[..., Desk]


@pytest.fixture
def open_desk(context: BrowserContext, start_desk: StartDesk) -> Iterator[OpenDesk]:
    """Start a desk server and open its page in a new tab."""
    pages: list[Page] = []

    def open_(**options: object) -> Desk:
        server = start_desk(**options)
        page = context.new_page()
        pages.append(page)
        desk = Desk(page, server)
        page.on("request", lambda request: desk.requests.append(request.url))
        page.goto(server.url)
        page.evaluate("localStorage.clear()")
        page.reload()
        page.wait_for_function("document.activeElement && document.activeElement.id === 'scan'")
        page.wait_for_function("document.getElementById('trust-line').dataset.state !== 'loading'")
        return desk

    yield open_
    for page in pages:
        page.close()


def test_a_scanned_valid_card_shows_valid_with_the_holder(
    open_desk: OpenDesk, desk_world: DeskWorld
) -> None:
    from playwright.sync_api import expect

    desk = open_desk()
    page = desk.page
    expect(page.locator("#trust-line")).to_have_attribute("data-state", "ok")
    expect(page.locator("#trust-line")).to_have_text(
        "Paquete de confianza v1 · información de hace 1 h · vigente 3 días 23 h más"
    )
    desk.scan(desk_world.valid_card, every_key=True)
    desk.shows("VALID")
    expect(page.locator("#verdict-word")).to_have_text("VÁLIDA")
    expect(page.locator("#holder-name")).to_have_text(VALID_NAME)
    expect(page.locator("#holder-curp")).to_have_text("HEOG850314MDFRXD08")
    expect(page.locator("#holder-institution")).to_have_text("IMSS")
    expect(page.locator("#holder-program")).to_have_text("Régimen Obligatorio")
    expect(page.locator("#holder-validity")).to_have_text("01/01/2026 – 01/01/2031")
    expect(page.locator(".icon-VALID")).to_be_visible()  # an icon and words, not colour alone
    expect(page.locator("#reasons li")).to_have_count(0)
    expect(page.locator("#details")).to_be_hidden()
    # a printed card proves coverage, not identity: compare the name with an ID document
    expect(page.locator("#id-check")).to_have_text(
        "Compare el nombre con una identificación oficial."
    )
    expect(page.locator("#counts-line")).to_have_text(
        "Hoy: 1 válida · 0 no válidas · 0 indeterminadas"
    )
    shot = desk.screenshot("valid")
    if os.environ.get("CREDENCIAL_UPDATE_SCREENSHOTS") == "1":
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, README_SCREENSHOT)
    assert page.evaluate("document.activeElement.id") == "scan"  # ready for the next scan
    desk.assert_only_local_requests()


def test_a_revoked_card_shows_invalid_with_the_reason_in_both_languages(
    open_desk: OpenDesk, desk_world: DeskWorld
) -> None:
    from playwright.sync_api import expect

    desk = open_desk()
    page = desk.page
    desk.scan(desk_world.revoked_card)
    desk.shows("INVALID")
    expect(page.locator("#verdict-word")).to_have_text("NO VÁLIDA")
    expect(page.locator("#reasons li")).to_have_count(1)
    expect(page.locator("#reasons li")).to_have_text("La credencial fue revocada.")
    expect(page.locator("#details")).to_have_text("Detalles: REVOKED")  # apart, below
    expect(page.locator("#holder")).to_be_hidden()
    expect(page.locator("#id-check")).to_be_hidden()
    expect(page.locator(".icon-INVALID")).to_be_visible()
    desk.screenshot("invalid")
    # keyboard only: Shift+Tab to the language switch, Enter; the same verdict in English
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.id") == "lang"
    page.keyboard.press("Enter")
    expect(page.locator("#verdict-word")).to_have_text("INVALID")
    expect(page.locator("#reasons li")).to_contain_text("The credential has been revoked.")
    expect(page.locator("#details")).to_have_text("Details: REVOKED")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    desk.screenshot("invalid-en")
    # a scan while the button has the focus still reaches the scanner input: next scan replaces
    desk.scan(desk_world.valid_card)
    desk.shows("VALID")
    expect(page.locator("#holder-name")).to_have_text(VALID_NAME)
    expect(page.locator("#counts-line")).to_have_text(
        "Today: 1 valid · 1 invalid · 0 indeterminate"
    )
    desk.assert_only_local_requests()


def test_a_stale_bundle_shows_indeterminate(open_desk: OpenDesk, desk_world: DeskWorld) -> None:
    from playwright.sync_api import expect

    desk = open_desk(now=NOW + timedelta(hours=96))
    page = desk.page
    expect(page.locator("#trust-line")).to_have_attribute("data-state", "stale")
    expect(page.locator("#trust-line")).to_contain_text("sincronice el verificador")
    desk.scan(desk_world.valid_card)
    desk.shows("INDETERMINATE")
    expect(page.locator("#verdict-word")).to_have_text("INDETERMINADA")
    expect(page.locator("#reasons li").first).to_contain_text("demasiado antigua")
    expect(page.locator(".icon-INDETERMINATE")).to_be_visible()
    desk.screenshot("indeterminate")
    desk.assert_only_local_requests()


def test_the_status_line_warns_before_going_stale(open_desk: OpenDesk) -> None:
    from playwright.sync_api import expect

    desk = open_desk(now=NOW + timedelta(hours=92))
    line = desk.page.locator("#trust-line")
    expect(line).to_have_attribute("data-state", "warning")
    expect(line).to_have_text("⚠ Sincronice pronto: el paquete de confianza v1 vence en 3 h")


def test_an_uploaded_card_photo_shows_valid(open_desk: OpenDesk, desk_world: DeskWorld) -> None:
    from playwright.sync_api import expect

    pytest.importorskip("zxingcpp")
    desk = open_desk()
    desk.page.set_input_files("#photo", str(desk_world.valid_png))
    desk.shows("VALID")
    expect(desk.page.locator("#holder-name")).to_have_text(VALID_NAME)
    desk.screenshot("upload-valid")
    assert desk.page.evaluate("document.activeElement.id") == "scan"
    desk.assert_only_local_requests()


def test_the_camera_reads_the_card_by_itself(open_desk: OpenDesk, desk_world: DeskWorld) -> None:
    """One key press turns the camera on; frames are then read several times a second (an empty
    desk first, then the card) until the code is read, and the verdict shows: no key per frame."""
    from playwright.sync_api import expect

    pytest.importorskip("zxingcpp")
    desk = open_desk()
    page = desk.page
    page.keyboard.press("Tab")  # scanner input → upload
    page.keyboard.press("Tab")  # → camera
    assert page.evaluate("document.activeElement.id") == "camera"
    page.evaluate(
        """() => {
            window.keysAfterCamera = 0;
            document.addEventListener("keydown", () => window.keysAfterCamera++, true);
        }"""
    )
    page.keyboard.press("Enter")  # the only key press
    expect(page.locator("#camera")).to_have_text("Apagar la cámara")
    expect(page.locator("#camera-hint")).to_have_text("Acerque el código a la cámara: se lee solo.")
    desk.shows("VALID")
    expect(page.locator("#holder-name")).to_have_text(VALID_NAME)
    expect(page.locator("#id-check")).to_be_visible()
    assert page.evaluate("window.keysAfterCamera") == 1
    frames = [url for url in desk.requests if url.endswith("/api/read-image")]
    verifications = [url for url in desk.requests if url.endswith("/api/verify")]
    assert len(frames) >= 2  # the empty desk was read first, then the card
    assert len(verifications) == 1  # the code read is verified once, not every frame
    desk.screenshot("webcam-valid")
    page.keyboard.press("Escape")
    page.locator("#camera").click()  # off: the frames stop
    expect(page.locator("#video")).to_be_hidden()
    desk.assert_only_local_requests()


def test_a_photo_over_the_limit_is_refused_in_the_page(open_desk: OpenDesk) -> None:
    from playwright.sync_api import expect

    from verifier._images import MAX_IMAGE_BYTES

    desk = open_desk()
    desk.page.evaluate(  # a file chosen in the page (made there: cheaper than sending 20 MB)
        """size => {
            const chosen = new DataTransfer();
            chosen.items.add(new File([new Uint8Array(size)], "huge.png", {type: "image/png"}));
            const input = document.getElementById("photo");
            input.files = chosen.files;
            input.dispatchEvent(new Event("change"));
        }""",
        MAX_IMAGE_BYTES + 1,
    )
    desk.shows("UNREADABLE")
    expect(desk.page.locator("#reasons li")).to_contain_text("La imagen es demasiado grande")
    assert not any(url.endswith("/api/verify-image") for url in desk.requests)


def test_unreadable_input_is_no_verdict_and_the_screen_clears(open_desk: OpenDesk) -> None:
    from playwright.sync_api import expect

    desk = open_desk(clear_after=0.5)
    desk.scan("hola")
    desk.shows("UNREADABLE")
    expect(desk.page.locator("#reasons li")).to_have_text("No se pudo leer. Escanee de nuevo.")
    expect(desk.page.locator("#verdict")).to_be_hidden()  # the timeout cleared it
    expect(desk.page.locator("#counts-line")).to_contain_text("Hoy: 0 válidas · 0 no válidas")


DAMAGED_SCANS = {
    "truncated": lambda card: card[: len(card) * 2 // 3],
    "dropped character": lambda card: card[:60] + card[61:],
    "outside the alphabet": lambda card: card[:60] + "ñ" + card[61:],
    "JSON cut short": lambda card: '{"@context": ["https://www.w3.org/ns/credentials/v2"], ',
}


@pytest.mark.parametrize("damage", DAMAGED_SCANS.values(), ids=list(DAMAGED_SCANS))
def test_a_damaged_scan_is_grey_not_red(
    open_desk: OpenDesk, desk_world: DeskWorld, damage: Callable[[str], str]
) -> None:
    """A bad scan is not a forged card: grey "scan again", nothing counted."""
    from playwright.sync_api import expect

    desk = open_desk()
    desk.scan(damage(desk_world.valid_card))
    desk.shows("UNREADABLE")
    expect(desk.page.locator("#verdict-word")).to_have_text("SIN LECTURA")
    expect(desk.page.locator("#reasons li")).to_have_text("No se pudo leer. Escanee de nuevo.")
    expect(desk.page.locator(".icon-UNREADABLE")).to_be_visible()
    expect(desk.page.locator("#counts-line")).to_have_text(
        "Hoy: 0 válidas · 0 no válidas · 0 indeterminadas"
    )


def test_a_forged_card_is_red(open_desk: OpenDesk, desk_world: DeskWorld) -> None:
    """A card that reads well but whose signature fails is NO VÁLIDA, not "scan again"."""
    from playwright.sync_api import expect

    from verifier import encode_card

    forged = copy.deepcopy(desk_world.valid)
    forged["credentialSubject"]["givenName"] = "ROSA"
    desk = open_desk()
    desk.scan(encode_card(forged))
    desk.shows("INVALID")
    expect(desk.page.locator("#reasons li")).to_have_text(
        "La firma no corresponde: la credencial fue alterada o es falsa."
    )
    expect(desk.page.locator("#details")).to_have_text("Detalles: SIGNATURE_INVALID")
    expect(desk.page.locator("#holder")).to_be_hidden()
    expect(desk.page.locator("#counts-line")).to_have_text(
        "Hoy: 0 válidas · 1 no válida · 0 indeterminadas"
    )
    desk.screenshot("forged")


def test_escape_clears_the_verdict(open_desk: OpenDesk, desk_world: DeskWorld) -> None:
    from playwright.sync_api import expect

    desk = open_desk()
    desk.scan(desk_world.valid_card)
    desk.shows("VALID")
    desk.page.keyboard.press("Escape")
    expect(desk.page.locator("#verdict")).to_be_hidden()
    assert desk.page.evaluate("document.activeElement.id") == "scan"
    desk.screenshot("ready")


def test_a_missing_browser_skips_unless_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENCIAL_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        _unavailable("/usr/bin/chromium is not installed")
    monkeypatch.setenv("CREDENCIAL_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="CREDENCIAL_REQUIRE_BROWSER=1 requires"):
        _unavailable("/usr/bin/chromium is not installed")


def test_a_desk_synced_60_hours_ago_on_monday_morning(
    open_desk: OpenDesk, desk_world: DeskWorld
) -> None:
    """Synced on Friday evening: the status line says how old the information is, a good card
    is VALID and one revoked before the sync is NO VÁLIDA."""
    from playwright.sync_api import expect

    desk = open_desk(now=NOW + timedelta(hours=60))
    page = desk.page
    expect(page.locator("#trust-line")).to_have_attribute("data-state", "ok")
    expect(page.locator("#trust-line")).to_have_text(
        "Paquete de confianza v1 · información de hace 2 días 13 h · vigente 35 h más"
    )
    desk.scan(desk_world.valid_card)
    desk.shows("VALID")
    desk.scan(desk_world.revoked_card)
    desk.shows("INVALID")
    expect(page.locator("#details")).to_have_text("Detalles: REVOKED")
    desk.screenshot("monday-morning")
