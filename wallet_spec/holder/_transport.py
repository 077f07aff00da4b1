"""Reaching an issuer at another address than its identifier (a local or staging server).

Identifiers never change: the offer still names ``https://imss.gob.mx``, credentials are still
issued by ``did:web:imss.gob.mx`` and presentations still name the domain ``imss.gob.mx``. Only
the transport is mapped: a request for ``https://imss.gob.mx/x`` goes to ``<base URL>/x`` with
the header ``Host: imss.gob.mx`` (the issuer tells its institutions apart by Host). A mapping to
plain ``http`` is refused unless its host is a loopback address (this machine).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ._errors import WalletError
from ._oid4vci import HttpClient, HttpResponse

__all__ = ["ISSUER_URLS_ENV", "IssuerUrls", "MappedClient"]

#: The environment variable holding mappings (``ID=URL`` pairs, separated by spaces or commas).
ISSUER_URLS_ENV = "CREDENCIAL_WALLET_ISSUER_URLS"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class IssuerUrls:
    """Issuer identifier (an ``https`` origin) → base URL of the server that answers for it."""

    def __init__(self, mapping: Mapping[str, str] | None = None) -> None:
        self.mapping: dict[str, str] = {}
        for issuer, base in (mapping or {}).items():
            self.add(issuer, base)

    def add(self, issuer: str, base: str) -> None:
        """Map ``issuer`` to ``base``; ``ISSUER_URL_REFUSED`` when either is not acceptable."""
        source = urlsplit(issuer)
        if source.scheme != "https" or not source.hostname or source.path not in {"", "/"}:
            raise WalletError(
                "ISSUER_URL_REFUSED",
                f"{issuer!r}: an issuer id is an https origin, e.g. https://imss.gob.mx",
            )
        target = urlsplit(base)
        if target.scheme not in {"http", "https"} or not target.hostname or target.query:
            raise WalletError(
                "ISSUER_URL_REFUSED", f"{base!r}: the server is an http(s) URL, e.g. "
                "http://127.0.0.1:8000",
            )  # fmt: skip
        if target.scheme == "http" and not _loopback(target.hostname):
            raise WalletError(
                "ISSUER_URL_REFUSED",
                f"{base!r}: plain http only to this machine (127.0.0.1, ::1, localhost); "
                "use https for any other server",
            )
        self.mapping[_origin(issuer)] = base.rstrip("/")

    @classmethod
    def parse(cls, pairs: Iterable[str], environment: str | None = None) -> IssuerUrls:
        """From ``ID=URL`` pairs (the command line's), after those of ``environment`` (the
        value of :data:`ISSUER_URLS_ENV`; default: read from the environment)."""
        urls = cls()
        text = os.environ.get(ISSUER_URLS_ENV, "") if environment is None else environment
        for pair in [*text.replace(",", " ").split(), *pairs]:
            issuer, separator, base = pair.partition("=")
            if not separator:
                raise WalletError(
                    "ISSUER_URL_REFUSED",
                    f"{pair!r}: write ID=URL, e.g. https://imss.gob.mx=http://127.0.0.1:8000",
                )
            urls.add(issuer.strip(), base.strip())
        return urls

    def resolve(self, url: str) -> tuple[str, dict[str, str]]:
        """Where to send a request for ``url``, and the extra headers (``Host``)."""
        origin = _origin(url)
        base = self.mapping.get(origin)
        if base is None:
            return url, {}
        rest = url[len(origin) :]
        return base + rest, {"Host": urlsplit(url).netloc}


class MappedClient:
    """An :class:`HttpClient` that sends requests for mapped issuers to their base URLs."""

    def __init__(self, inner: HttpClient, urls: IssuerUrls) -> None:
        self.inner = inner
        self.urls = urls

    def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> HttpResponse:
        """GET ``url`` (mapped)."""
        target, extra = self.urls.resolve(url)
        return self.inner.get(target, headers={**(headers or {}), **extra})

    def post(
        self,
        url: str,
        *,
        data: Mapping[str, Any] | None = None,
        json: Any | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """POST to ``url`` (mapped)."""
        target, extra = self.urls.resolve(url)
        return self.inner.post(target, data=data, json=json, headers={**(headers or {}), **extra})
