"""The front-desk server over loopback: routes, verdicts, the status line, counts, and refusals."""

from __future__ import annotations

import http.client
import io
import json
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NOW
from tests.desk.conftest import DeskWorld, StartDesk, read_json
from verifier import encode_card, format_datetime
from verifier._images import MAX_IMAGE_BYTES
from verifier.cli import run
from verifier.desk import (
    CONTENT_SECURITY_POLICY,
    DailyCounts,
    DeskConfig,
    DeskServer,
    DeskService,
)
from verifier.sync import sync

DESK = {"X-Credencial-Desk": "1"}


def call(
    server: DeskServer,
    method: str,
    path: str,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        payload = body.encode() if isinstance(body, str) else body
        connection.request(method, path, body=payload, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def verify(server: DeskServer, text: str) -> tuple[int, dict[str, Any]]:
    status, _, body = call(server, "POST", "/api/verify", text, DESK)
    return status, json.loads(body)


# -- the page ------------------------------------------------------------------------------------


def test_page_and_its_files_are_served_with_a_strict_policy(start_desk: StartDesk) -> None:
    server = start_desk()
    status, headers, page = call(server, "GET", "/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert CONTENT_SECURITY_POLICY.startswith("default-src 'self';")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    referenced = set(re.findall(rb'(?:src|href)="([^"]+)"', page))
    assert referenced == {b"/static/favicon.svg", b"/static/desk.css", b"/static/desk.js"}
    types = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml"}
    for ref in sorted(referenced):
        status, headers, body = call(server, "GET", ref.decode())
        assert status == 200, ref
        assert headers["Content-Type"].startswith(types[ref.decode().rpartition(".")[2]])
        assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert body


def test_the_bundled_files_name_no_other_host() -> None:
    """Nothing to fetch from a CDN or a font service: the only URL is the SVG namespace."""
    static = Path(__file__).resolve().parents[2] / "verifier" / "desk" / "static"
    files = sorted(static.iterdir())
    assert {f.name for f in files} >= {"index.html", "desk.css", "desk.js", "favicon.svg"}
    for path in files:
        text = path.read_text(encoding="utf-8")
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.\w+[^\s\"')]*", text))
        assert urls <= {"http://www.w3.org/2000/svg"}, (path.name, urls)
        for construct in ("@import", "@font-face", "<script>", "style="):  # nothing inline (CSP)
            assert construct not in text, (path.name, construct)


@pytest.mark.parametrize(
    "path", ["/static/../__init__.py", "/static/_http.py", "/static/", "/index.html", "/api/x"]
)
def test_unknown_paths_are_not_found(start_desk: StartDesk, path: str) -> None:
    status, _, _ = call(start_desk(), "GET", path)
    assert status == 404


# -- verdicts ------------------------------------------------------------------------------------


def test_a_valid_card_shows_the_holder_and_nothing_clinical(
    start_desk: StartDesk, desk_world: DeskWorld
) -> None:
    server = start_desk()
    status, result = verify(server, desk_world.valid_card + "\r\n")
    assert status == 200
    assert result["verdict"] == "VALID"
    assert result["label"] == {"es": "VÁLIDA", "en": "VALID"}
    assert result["reasons"] == []
    assert result["holder"] == {
        "name": "MARÍA GUADALUPE DEL SOCORRO HERNÁNDEZ DE LA O",
        "curp": "HEOG850314MDFRXD08",
        "institution": "IMSS",
        "program": "Régimen Obligatorio",
        "validFrom": "01/01/2026",
        "validUntil": "01/01/2031",
    }
    text = json.dumps(result, ensure_ascii=False)
    subject = desk_world.valid["credentialSubject"]
    for private in (
        subject["birthDate"],
        subject["coverage"]["affiliationNumber"],
        subject["coverage"]["adscriptionUnit"],
        desk_world.valid["id"],
        desk_world.valid["proof"]["proofValue"],
    ):
        assert private not in text


def test_json_credential_from_a_wallet_is_verified_too(
    start_desk: StartDesk, desk_world: DeskWorld
) -> None:
    status, result = verify(start_desk(), json.dumps(desk_world.valid))
    assert (status, result["verdict"]) == (200, "VALID")


def test_a_revoked_card_is_invalid_with_the_reason_and_no_holder(
    start_desk: StartDesk, desk_world: DeskWorld
) -> None:
    status, result = verify(start_desk(), desk_world.revoked_card)
    assert status == 200
    assert result["verdict"] == "INVALID"
    assert result["holder"] is None  # what an invalid credential claims is not shown
    assert [r["code"] for r in result["reasons"]] == ["REVOKED"]
    assert result["reasons"][0]["message"] == {
        "es": "La credencial fue revocada.",
        "en": "The credential has been revoked.",
    }
    assert "GONZÁLEZ" not in json.dumps(result, ensure_ascii=False)


@pytest.mark.parametrize(
    "damage",
    [
        lambda card: card[: len(card) // 2],  # the scanner stopped half-way
        lambda card: card[:40] + card[41:],  # a character dropped
        lambda card: card[:40] + "#" + card[41:],  # a character outside the card alphabet
        lambda card: card + "SUS1:",  # two scans run together
    ],
    ids=["truncated", "dropped character", "outside the alphabet", "run together"],
)
def test_a_damaged_scan_is_no_verdict_and_not_counted(
    start_desk: StartDesk, desk_world: DeskWorld, damage: Any
) -> None:
    server = start_desk()
    status, result = verify(server, damage(desk_world.valid_card))
    assert status == 422
    assert result["error"]["message"] == {
        "es": "No se pudo leer. Escanee de nuevo.",
        "en": "It could not be read. Scan again.",
    }
    assert result["error"]["detail"].startswith("card ")
    counts = json.loads(call(server, "GET", "/api/status")[2])["counts"]
    assert (counts["VALID"], counts["INVALID"], counts["INDETERMINATE"]) == (0, 0, 0)


def test_a_forged_card_is_invalid_not_unreadable(
    start_desk: StartDesk, desk_world: DeskWorld
) -> None:
    forged = json.loads(json.dumps(desk_world.valid))
    forged["credentialSubject"]["givenName"] = "ROSA"
    status, result = verify(start_desk(), encode_card(forged))
    assert status == 200
    assert result["verdict"] == "INVALID"
    assert [r["code"] for r in result["reasons"]] == ["SIGNATURE_INVALID"]
    assert result["holder"] is None
    assert result["idCheck"] is False


def test_a_valid_card_asks_for_an_identity_document(
    start_desk: StartDesk, desk_world: DeskWorld
) -> None:
    """A card is not bound to whoever holds it (wallet_spec): VALID comes with the reminder."""
    server = start_desk()
    status, result = verify(server, desk_world.valid_card)
    assert (status, result["verdict"], result["form"], result["idCheck"]) == (
        200,
        "VALID",
        "card",
        True,
    )
    result = verify(server, json.dumps(desk_world.valid))[1]
    assert (result["form"], result["idCheck"]) == ("credential", True)  # no holder proof
    result = verify(server, desk_world.revoked_card)[1]
    assert (result["verdict"], result["idCheck"]) == ("INVALID", False)


def test_a_camera_frame_is_read_without_a_verdict(
    start_desk: StartDesk, desk_world: DeskWorld
) -> None:
    """``/api/read-image``: the card text a frame shows, or null; nothing verified or counted."""
    pytest.importorskip("zxingcpp")
    server = start_desk()
    status, _, body = call(
        server, "POST", "/api/read-image", desk_world.valid_png.read_bytes(), DESK
    )
    assert (status, json.loads(body)) == (200, {"text": desk_world.valid_card})
    from PIL import Image

    blank = io.BytesIO()
    Image.new("RGB", (320, 240), "white").save(blank, format="JPEG")
    for frame in (blank.getvalue(), b"GIF89a not an image we read"):
        status, _, body = call(server, "POST", "/api/read-image", frame, DESK)
        assert (status, json.loads(body)) == (200, {"text": None})
    assert call(server, "POST", "/api/read-image", blank.getvalue())[0] == 403  # no desk header
    counts = json.loads(call(server, "GET", "/api/status")[2])["counts"]
    assert (counts["VALID"], counts["INVALID"], counts["INDETERMINATE"]) == (0, 0, 0)


def test_stale_status_lists_are_indeterminate_and_the_status_line_says_so(
    start_desk: StartDesk, desk_world: DeskWorld
) -> None:
    server = start_desk(now=NOW + timedelta(hours=96))
    status, result = verify(server, desk_world.valid_card)
    assert status == 200
    assert result["verdict"] == "INDETERMINATE"
    assert {r["code"] for r in result["reasons"]} == {"STATUS_STALE"}
    assert result["holder"]["curp"] == "HEOG850314MDFRXD08"
    assert result["reasons"][0]["message"]["es"].startswith("La lista de estado es demasiado")
    assert result["status"]["trust"]["state"] == "stale"


@pytest.mark.parametrize(
    ("hours", "state"), [(0, "ok"), (88, "ok"), (90, "warning"), (94, "warning"), (95, "stale")]
)
def test_the_status_line_warns_before_the_lists_go_stale(
    start_desk: StartDesk, desk_world: DeskWorld, hours: int, state: str
) -> None:
    """The lists are valid from NOW - 1 h for 96 h (their ttl): stale at NOW + 95 h."""
    server = start_desk(now=NOW + timedelta(hours=hours))
    status, _, body = call(server, "GET", "/api/status")
    trust = json.loads(body)["trust"]
    assert status == 200
    assert trust["state"] == state
    assert trust["version"] == 1
    assert trust["ageHours"] == 24 + hours  # the bundle was issued a day before NOW
    assert trust["staleAt"] == "2026-06-05T11:00:00Z"
    assert trust["staleCause"] == "status"
    assert trust["informationSince"] == "2026-06-01T11:00:00Z"  # the lists' validFrom
    assert trust["informationAgeHours"] == 1 + hours


def test_a_clock_set_back_is_named_on_the_status_line(
    start_desk: StartDesk, desk_world: DeskWorld
) -> None:
    server = start_desk(now=NOW - timedelta(days=30))
    trust = json.loads(call(server, "GET", "/api/status")[2])["trust"]
    assert trust["state"] == "clock"
    assert trust["code"] == "CLOCK_BEHIND"
    assert trust["message"]["es"] == "El reloj del equipo está atrasado: revise la fecha y hora."
    _, result = verify(server, desk_world.valid_card)
    assert result["verdict"] == "INDETERMINATE"
    assert "CLOCK_BEHIND" in {r["code"] for r in result["reasons"]}


def test_no_trust_bundle_means_indeterminate_never_valid(
    start_desk: StartDesk, desk_world: DeskWorld, tmp_path: Path
) -> None:
    server = start_desk(trust_dir=tmp_path / "nothing-synced")
    status, _, body = call(server, "GET", "/api/status")
    trust = json.loads(body)["trust"]
    assert trust["state"] == "missing"
    assert trust["code"] == "TRUST_BUNDLE_INVALID"
    status, result = verify(server, desk_world.valid_card)
    assert (status, result["verdict"], result["holder"]) == (200, "INDETERMINATE", None)
    assert result["reasons"][0]["code"] == "TRUST_BUNDLE_INVALID"


def test_a_new_sync_is_picked_up_while_serving(
    start_desk: StartDesk, desk_world: DeskWorld, tmp_path: Path
) -> None:
    trust_dir = tmp_path / "trust"
    shutil.copytree(desk_world.trust_dir, trust_dir, symlinks=True)
    server = start_desk(trust_dir=trust_dir)
    assert verify(server, desk_world.valid_card)[1]["verdict"] == "VALID"
    index = int(desk_world.valid["credentialStatus"][0]["statusListIndex"])
    folder = desk_world.publisher.publish(2, revoked=frozenset({index}))
    sync(str(folder), trust_dir, now=NOW)
    _, result = verify(server, desk_world.valid_card)
    assert [r["code"] for r in result["reasons"]] == ["REVOKED"]
    assert result["status"]["trust"]["version"] == 2


# -- images --------------------------------------------------------------------------------------


def test_a_photo_of_the_card_is_read_on_the_server(
    start_desk: StartDesk, desk_world: DeskWorld
) -> None:
    pytest.importorskip("zxingcpp")
    server = start_desk()
    status, _, body = call(
        server, "POST", "/api/verify-image", desk_world.valid_png.read_bytes(), DESK
    )
    result = json.loads(body)
    assert (status, result["verdict"]) == (200, "VALID")
    assert result["holder"]["curp"] == "HEOG850314MDFRXD08"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"GIF89a not an image we read", "not a PNG or JPEG image"),
        (b"\x89PNG\r\n\x1a\n truncated", "cannot read the PNG image"),
    ],
)
def test_an_unreadable_image_is_no_verdict_and_not_counted(
    start_desk: StartDesk, body: bytes, detail: str
) -> None:
    server = start_desk()
    status, _, raw = call(server, "POST", "/api/verify-image", body, DESK)
    error = json.loads(raw)["error"]
    assert status == 422
    assert error["detail"].startswith(detail)
    assert error["message"]["es"].startswith("No se encontró el código QR")
    counts = json.loads(call(server, "GET", "/api/status")[2])["counts"]
    assert (counts["VALID"], counts["INVALID"], counts["INDETERMINATE"]) == (0, 0, 0)


def test_text_that_is_no_credential_is_no_verdict(start_desk: StartDesk) -> None:
    server = start_desk()
    for text in ("hello", "[1, 2]", b"\xff\xfe".decode("latin-1")):
        status, result = verify(server, text)
        assert status == 422, text
        assert result["error"]["message"]["en"] == "It could not be read. Scan again."
    status, _, raw = call(server, "POST", "/api/verify", b"\xff\xfe\xfd", DESK)
    assert status == 422
    assert json.loads(raw)["error"]["detail"] == "the scan is not UTF-8 text"


# -- refusals ------------------------------------------------------------------------------------


def test_requests_from_elsewhere_are_refused(start_desk: StartDesk, desk_world: DeskWorld) -> None:
    server = start_desk()
    card = desk_world.valid_card
    # no desk header: a form or a cross-origin page cannot verify (nor bump the counts)
    assert call(server, "POST", "/api/verify", card)[0] == 403
    # a DNS-rebinding name for 127.0.0.1 is not this desk
    rebound = {"Host": f"evil.example:{server.port}", **DESK}
    assert call(server, "POST", "/api/verify", card, rebound)[0] == 421
    assert call(server, "GET", "/", None, {"Host": f"evil.example:{server.port}"})[0] == 421
    assert call(server, "GET", "/", None, {"Host": f"localhost:{server.port}"})[0] == 200
    # too large: refused before the body is read
    huge = {"Content-Length": str(10**9), **DESK}
    assert call(server, "POST", "/api/verify", None, huge)[0] == 413
    assert call(server, "POST", "/api/verify", "x" * (64 * 1024 + 1), DESK)[0] == 413
    over = {"Content-Length": str(MAX_IMAGE_BYTES + 1), **DESK}
    assert call(server, "POST", "/api/verify-image", None, over)[0] == 413
    counts = json.loads(call(server, "GET", "/api/status")[2])["counts"]
    assert sum(counts[v] for v in ("VALID", "INVALID", "INDETERMINATE")) == 0


def test_a_refused_post_closes_the_connection_its_body_unread(
    start_desk: StartDesk, desk_world: DeskWorld
) -> None:
    """Unread body bytes must never be parsed as the next request on a kept-alive connection."""
    server = start_desk()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("POST", "/api/verify", body=b"GET /api/status HTTP/1.1\r\n\r\n")
        response = connection.getresponse()
        assert response.status == 403
        assert response.getheader("Connection") == "close"
        response.read()
        # a verification that was read keeps the connection for the next request
        connection.request("POST", "/api/verify", body=desk_world.valid_card, headers=DESK)
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Connection") is None
        assert json.loads(response.read())["verdict"] == "VALID"
        connection.request("GET", "/api/status")
        assert connection.getresponse().status == 200
    finally:
        connection.close()


def test_the_service_needs_no_network(
    desk_world: DeskWorld, no_network: list[str], tmp_path: Path
) -> None:
    """Everything behind the page runs with every socket call refused."""
    counts = tmp_path / "counts.json"
    service = DeskService(DeskConfig(desk_world.trust_dir, counts_file=counts, clock=lambda: NOW))
    assert service.verify_text(desk_world.valid_card)["verdict"] == "VALID"
    assert service.verify_text(desk_world.revoked_card)["verdict"] == "INVALID"
    pytest.importorskip("zxingcpp")
    assert service.verify_image(desk_world.valid_png.read_bytes())["verdict"] == "VALID"
    assert service.status()["trust"]["state"] == "ok"
    assert no_network == []
    assert read_json(counts)["VALID"] == 2


# -- the day's counts ----------------------------------------------------------------------------


def test_counts_per_verdict_are_kept_without_personal_data(
    start_desk: StartDesk, desk_world: DeskWorld, tmp_path: Path
) -> None:
    counts_file = tmp_path / "counts.json"
    server = start_desk(counts_file=counts_file)
    for card in (desk_world.valid_card, desk_world.valid_card, desk_world.revoked_card):
        verify(server, card)
    stored = read_json(counts_file)
    assert stored == {"date": "2026-06-01", "VALID": 2, "INVALID": 1, "INDETERMINATE": 0}
    status = json.loads(call(server, "GET", "/api/status")[2])
    assert status["counts"] == stored
    # a restarted desk goes on counting the same day
    server.shutdown()
    again = start_desk(counts_file=counts_file)
    verify(again, desk_world.valid_card)
    assert read_json(counts_file)["VALID"] == 3


def test_a_new_day_starts_from_zero_and_a_broken_file_is_replaced(tmp_path: Path) -> None:
    from datetime import date

    from verifier import Verdict

    path = tmp_path / "counts.json"
    path.write_text('{"date": "2026-05-31", "VALID": 40, "INVALID": 2, "INDETERMINATE": 1}')
    counts = DailyCounts(path)
    assert counts.today(date(2026, 5, 31))["VALID"] == 40
    assert counts.today(date(2026, 6, 1)) == {
        "date": "2026-06-01", "VALID": 0, "INVALID": 0, "INDETERMINATE": 0
    }  # fmt: skip
    counts.add(Verdict.INDETERMINATE, date(2026, 6, 1))
    assert read_json(path) == {"date": "2026-06-01", "VALID": 0, "INVALID": 0, "INDETERMINATE": 1}
    for broken in ("not json", '{"date": "2026-06-01", "VALID": -5}', "[]", '{"VALID": 1}'):
        path.write_text(broken)
        assert DailyCounts(path).today(date(2026, 6, 1))["VALID"] == 0


# -- the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["serve"],
        ["serve", "--trust-dir", "x", "--clear-after", "-1"],
        ["serve", "--trust-dir", "x", "--warn-before", "0"],
        ["serve", "--trust-dir", "x", "--now", "yesterday"],
        ["serve", "--trust-dir", "x", "--anchors", "/nonexistent/ANCHORS.json"],
        ["serve", "--trust-dir", "x", "--host", "0.0.0.0"],  # noqa: S104 (refused: the test)
    ],
)
def test_serve_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argv) == 64
    assert "credencial-verify serve" in capsys.readouterr().err


def test_serve_on_a_busy_port_is_a_usage_error(
    start_desk: StartDesk, desk_world: DeskWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    busy = start_desk()
    argv = ["serve", "--trust-dir", str(desk_world.trust_dir), "--port", str(busy.port)]
    assert run(argv) == 64
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err


def test_credencial_verify_serve_starts_the_page(desk_world: DeskWorld, tmp_path: Path) -> None:
    code = "import sys; from verifier.cli import main; sys.argv[0] = 'credencial-verify'; main()"
    argv = ["serve", "--trust-dir", str(desk_world.trust_dir), "--port", "0", "--quiet"]
    argv += ["--now", "2026-06-01T12:00:00Z", "--counts", str(tmp_path / "c.json")]
    process = subprocess.Popen(
        [sys.executable, "-c", code, *argv], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        connection = http.client.HTTPConnection("127.0.0.1", int(match.group(1)), timeout=10)
        connection.request("GET", "/api/status")
        status = json.loads(connection.getresponse().read())
        connection.close()
        assert status["trust"]["state"] == "ok"
        assert status["now"] == "2026-06-01T12:00:00Z"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


# -- offline for a weekend (issue 20) ------------------------------------------------------------

#: Synced on Friday evening, the desk is used on Monday morning: 60 hours later.
WEEKEND = timedelta(hours=60)


def test_a_desk_synced_60_hours_ago_still_tells_good_from_revoked(
    start_desk: StartDesk, desk_world: DeskWorld
) -> None:
    """The default status-list ttl (the issuer's) and --max-offline-age (the desk's) cover a
    weekend: VALID for a good card, INVALID for one revoked before the sync, never guessed."""
    server = start_desk(now=NOW + WEEKEND)
    status, result = verify(server, desk_world.valid_card)
    assert (status, result["verdict"], result["reasons"]) == (200, "VALID", [])
    status, result = verify(server, desk_world.revoked_card)
    assert (status, result["verdict"]) == (200, "INVALID")
    assert [r["code"] for r in result["reasons"]] == ["REVOKED"]
    trust = result["status"]["trust"]
    assert trust["state"] == "ok"
    assert trust["informationAgeHours"] == 61  # the lists were made an hour before the sync
    assert trust["staleInHours"] == 35


def _serve_status(desk_world: DeskWorld, tmp_path: Path, *options: str) -> dict[str, Any]:
    """Start ``credencial-verify serve`` with ``options``; its status and a card's verdict."""
    code = "import sys; from verifier.cli import main; sys.argv[0] = 'credencial-verify'; main()"
    argv = ["serve", "--trust-dir", str(desk_world.trust_dir), "--port", "0", "--quiet"]
    argv += ["--counts", str(tmp_path / "c.json"), *options]
    process = subprocess.Popen(
        [sys.executable, "-c", code, *argv], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", process.stdout.readline())
        assert match
        connection = http.client.HTTPConnection("127.0.0.1", int(match.group(1)), timeout=10)
        connection.request("POST", "/api/verify", desk_world.valid_card, DESK)
        result: dict[str, Any] = json.loads(connection.getresponse().read())
        connection.close()
        return result
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.parametrize(
    ("options", "verdict", "state"),
    [
        ((), "VALID", "ok"),  # the default: 7 days, so the lists' own 96 h decide
        (("--max-offline-age", "72"), "VALID", "ok"),
        (("--max-offline-age", "48"), "INDETERMINATE", "stale"),  # as the README says
    ],
)
def test_serve_max_offline_age_does_what_the_readme_says(
    desk_world: DeskWorld, tmp_path: Path, options: tuple[str, ...], verdict: str, state: str
) -> None:
    monday = format_datetime(NOW + WEEKEND)
    result = _serve_status(desk_world, tmp_path, "--now", monday, *options)
    assert result["verdict"] == verdict
    assert result["status"]["trust"]["state"] == state
    if verdict == "INDETERMINATE":
        assert {r["code"] for r in result["reasons"]} == {"STATUS_STALE"}


@pytest.mark.parametrize(
    ("options", "exit_status"),
    [((), 0), (("--max-offline-age", "72"), 0), (("--max-offline-age", "48"), 2)],
)
def test_verify_max_offline_age_does_what_the_readme_says(
    desk_world: DeskWorld,
    capsys: pytest.CaptureFixture[str],
    options: tuple[str, ...],
    exit_status: int,
) -> None:
    """``credencial-verify --trust-dir desk/ --max-offline-age 48 ...``: lists older than 48 h
    are stale (INDETERMINATE, exit 2); without it a weekend offline is fine."""
    monday = format_datetime(NOW + WEEKEND)
    argv = ["--trust-dir", str(desk_world.trust_dir), "--now", monday, *options]
    assert run([*argv, desk_world.valid_card]) == exit_status
    revoked = run([*argv, desk_world.revoked_card])
    assert revoked == (1 if exit_status == 0 else 2)  # stale lists are not read: never VALID
    capsys.readouterr()
