"""The front desk's local web server: the standard library's ``http.server``, nothing else.

Routes: ``GET /`` the page, ``GET /static/NAME`` its bundled files, ``GET /api/status`` the
status line, ``POST /api/verify`` (card text), ``POST /api/verify-image`` (PNG or JPEG bytes) and
``POST /api/read-image`` (a camera frame: the card text it shows, if any; no verdict).
Every response carries a strict Content-Security-Policy (``default-src 'self'``): the page can
load nothing and send nothing beyond this server. Requests must name this server in ``Host``
(no DNS rebinding), and a verification must carry the ``X-Credencial-Desk`` header, which a
page of another origin cannot send without a CORS preflight this server never grants.
"""

from __future__ import annotations

import json
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from .._images import MAX_IMAGE_BYTES, image_format
from .._verifier import VerifierConfig
from ._service import DeskService, UnreadableScanError

__all__ = ["CONTENT_SECURITY_POLICY", "DeskServer", "make_server"]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
#: The header a verification request must carry (a cross-origin page cannot add it silently).
DESK_HEADER = "X-Credencial-Desk"
MAX_TEXT_BYTES = VerifierConfig().max_input_bytes
_STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
_SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
    "Cache-Control": "no-store",
}


def _static_files() -> dict[str, tuple[bytes, str]]:
    """The page's files, read once from the package: name → (bytes, content type)."""
    files: dict[str, tuple[bytes, str]] = {}
    for item in resources.files(__package__).joinpath("static").iterdir():
        suffix = "." + item.name.rpartition(".")[2]
        if item.is_file() and suffix in _STATIC_TYPES:
            files[item.name] = (item.read_bytes(), _STATIC_TYPES[suffix])
    return files


class DeskServer(ThreadingHTTPServer):
    """A threading HTTP server that holds the :class:`DeskService` and the page's files."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], service: DeskService, *, quiet: bool = False
    ) -> None:
        self.service = service
        self.quiet = quiet
        self.static = _static_files()
        super().__init__(address, _Handler)
        self.allowed_hosts = {
            f"{name}:{self.port}" for name in ("127.0.0.1", "localhost", "[::1]", self._netloc_host)
        }

    @property
    def host(self) -> str:
        """The address listened on."""
        host = self.server_address[0]
        return host if isinstance(host, str) else bytes(host).decode()

    @property
    def port(self) -> int:
        """The port listened on (the one chosen when 0 was asked)."""
        return self.server_address[1]

    @property
    def _netloc_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def url(self) -> str:
        """The page's address."""
        return f"http://{self._netloc_host}:{self.port}/"


def make_server(
    service: DeskService, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = False
) -> DeskServer:
    """A :class:`DeskServer` bound to ``host:port`` (port 0: any free port); not yet serving."""
    return DeskServer((host, port), service, quiet=quiet)


class _Handler(BaseHTTPRequestHandler):
    server: DeskServer
    server_version = "credencial-desk"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

    # -- plumbing -----------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:  # method, path and status only: bodies are never logged
            sys.stderr.write(f"desk: {format % args}\n")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        for name, value in _SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: HTTPStatus, document: Any) -> None:
        body = json.dumps(document, ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    def _problem(self, status: HTTPStatus, detail: str) -> None:
        self._send_json(status, {"error": {"status": status.value, "detail": detail}})

    def _host_allowed(self) -> bool:
        if self.headers.get("Host", "") in self.server.allowed_hosts:
            return True
        self._problem(HTTPStatus.MISDIRECTED_REQUEST, "unknown Host: this desk serves itself")
        return False

    def _read_body(self, limit: int) -> bytes | None:
        raw = self.headers.get("Content-Length")
        if raw is None or not raw.isdecimal():
            self._problem(HTTPStatus.LENGTH_REQUIRED, "a Content-Length is required")
            return None
        length = int(raw)
        if length > limit:
            self._problem(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"at most {limit} bytes")
            return None
        body = self.rfile.read(length)
        self.close_connection = self.headers.get("Connection", "").lower() == "close"
        return body

    # -- routes -------------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if not self._host_allowed():
            return
        path = self.path.split("?", 1)[0]
        if path == "/api/status":
            self._send_json(HTTPStatus.OK, self.server.service.status())
            return
        name = "index.html" if path == "/" else path.removeprefix("/static/")
        found = self.server.static.get(name) if path == "/" or path.startswith("/static/") else None
        if found is None:
            self._problem(HTTPStatus.NOT_FOUND, "not found")
            return
        self._send(HTTPStatus.OK, *found)

    def do_POST(self) -> None:
        self.close_connection = True  # until the body is read: unread bytes are no next request
        if not self._host_allowed():
            return
        path = self.path.split("?", 1)[0]
        if path not in ("/api/verify", "/api/verify-image", "/api/read-image"):
            self._problem(HTTPStatus.NOT_FOUND, "not found")
            return
        if self.headers.get(DESK_HEADER) != "1":
            self._problem(HTTPStatus.FORBIDDEN, f"the {DESK_HEADER} header is required")
            return
        image = path != "/api/verify"
        body = self._read_body(MAX_IMAGE_BYTES if image else MAX_TEXT_BYTES)
        if body is None:
            return
        service = self.server.service
        if path == "/api/read-image":
            text = service.read_image(body) if image_format(body) is not None else None
            self._send_json(HTTPStatus.OK, {"text": text})
            return
        try:
            if image:
                if image_format(body) is None:
                    raise UnreadableScanError("image", "not a PNG or JPEG image")
                result = service.verify_image(body)
            else:
                try:
                    text = body.decode("utf-8")
                except UnicodeDecodeError:
                    raise UnreadableScanError("text", "the scan is not UTF-8 text") from None
                result = service.verify_text(text)
        except UnreadableScanError as exc:
            self._send_json(HTTPStatus.UNPROCESSABLE_ENTITY, exc.to_json())
            return
        self._send_json(HTTPStatus.OK, result)
