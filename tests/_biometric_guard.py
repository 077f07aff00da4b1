"""A session-wide guard: no API response and no log record may carry biometric data.

``tests/conftest.py`` installs one :class:`BiometricLeakGuard` for the whole test run: a logging
handler on the root logger and a wrapper around ``TestClient.request`` feed it every log record
and every response the suite produces; at the end of the session it fails the run if any of them
carried a biometric field or a test template. Test templates start with :data:`SENTINEL`, so
the raw bytes, their base64 and their hex are all recognisable.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from starlette.testclient import TestClient

__all__ = ["BIOMETRIC_KEYS", "SENTINEL", "BiometricLeakGuard"]

#: The first 24 bytes of every biometric template a test stores (24: its base64 is stable).
SENTINEL = b"BIOMETRIC-SENTINEL-7f3a9"
#: JSON member names that carry biometric data (issuer.biometrics.service.BIOMETRIC_FIELDS).
BIOMETRIC_KEYS = frozenset({"biometricTemplate"})
#: The OpenAPI document describes the request field; it carries no biometric data.
_DESCRIBES_FIELDS = ("/openapi.json",)


def _keys(value: Any) -> Iterator[str]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield from (key for key in item if isinstance(key, str))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


class BiometricLeakGuard(logging.Handler):
    """Collects leaks of biometric data from responses and log records."""

    needles: tuple[str, ...] = (
        SENTINEL.decode(),
        base64.b64encode(SENTINEL).decode(),
        base64.urlsafe_b64encode(SENTINEL).decode(),
        SENTINEL.hex(),
    )

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.leaks: list[str] = []
        self.responses = 0
        self.records = 0

    def scan_text(self, where: str, text: str) -> None:
        """Record a leak if ``text`` contains a test template."""
        for needle in self.needles:
            if needle in text:
                self.leaks.append(f"{where}: contains a biometric template")
                return

    def scan_response(self, method: str, url: str, status: int, body: bytes) -> None:
        """Scan one API response body."""
        self.responses += 1
        where = f"{method} {url} -> {status}"
        text = body.decode("utf-8", "replace")
        self.scan_text(where, text)
        if url.split("?")[0].endswith(_DESCRIBES_FIELDS):
            return
        try:
            parsed = json.loads(text)
        except ValueError:
            return
        named = sorted(BIOMETRIC_KEYS.intersection(_keys(parsed)))
        if named:
            self.leaks.append(f"{where}: has biometric field(s) {named}")

    def emit(self, record: logging.LogRecord) -> None:
        """Scan one log record: message, arguments and any exception text."""
        self.records += 1
        parts = [record.getMessage()]
        if record.exc_info and record.exc_info[1] is not None:
            parts.append(repr(record.exc_info[1]))
        self.scan_text(f"log record {record.name}:{record.lineno}", "\n".join(parts))

    @contextmanager
    def installed(self) -> Iterator[BiometricLeakGuard]:
        """Listen to every log record and every TestClient response while in the block."""
        root = logging.getLogger()
        original: Callable[..., Any] = TestClient.request
        guard = self

        def request(self: TestClient, method: str, url: Any, **kwargs: Any) -> Any:
            response = original(self, method, url, **kwargs)
            guard.scan_response(method, str(url), response.status_code, response.content)
            return response

        root.addHandler(self)
        TestClient.request = request  # type: ignore[method-assign]
        try:
            yield self
        finally:
            TestClient.request = original  # type: ignore[method-assign]
            root.removeHandler(self)
