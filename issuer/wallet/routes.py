"""``/wallet/``: the browser wallet (static files bundled in ``wallet_spec/web/``), served as is.

The issuer never imports wallet code: it serves the folder's files by name, from an allow-list
made when the module loads (no path from the request reaches the file system). Every answer
carries the wallet's ``Content-Security-Policy`` (``default-src 'self'``, set by
:mod:`issuer.http.hardening`) and ``Cache-Control: no-cache`` (the page's service worker keeps
the offline copy). ``POST /wallet/card-form`` gives the card text (``SUS1:…``) of a credential,
so the phone can show its QR without a card codec in JavaScript.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, RedirectResponse, Response

from issuer.consent.requests import REQUEST_ID_PATTERN
from issuer.http.errors import ApiError, problems
from issuer.http.params import NO_STORE, RequestBody
from verifier import CredencialError, encode_card

__all__ = ["WALLET_DIR", "router"]

#: The wallet's files: ``wallet_spec/web/`` beside the ``issuer`` package (installed alike).
WALLET_DIR = Path(__file__).resolve().parents[2] / "wallet_spec" / "web"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
}
_REVALIDATE = {"Cache-Control": "no-cache"}


def _files(root: Path) -> dict[str, Path]:
    """URL path under ``/wallet/`` -> file, for every servable file of the wallet folder."""
    if not root.is_dir():
        return {}
    return {
        path.relative_to(root).as_posix(): path
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.suffix in _TYPES and not path.name.startswith(".")
    }


_FILES = _files(WALLET_DIR)

router = APIRouter(tags=["wallet"])


@router.get("/wallet", include_in_schema=False)
def wallet_root() -> RedirectResponse:
    """The wallet lives under ``/wallet/`` (its service worker's scope)."""
    return RedirectResponse("/wallet/", status_code=308)


@router.get("/r/{request_id}", include_in_schema=False)  # a link for people, not API
def consent_request_link(
    request_id: Annotated[str, PathParam(pattern=REQUEST_ID_PATTERN)],
) -> RedirectResponse:
    """A consent request's QR link (``https://<custodian>/r/<id>``), opened by a phone's camera
    app: the wallet's *Solicitudes* with that request. It looks nothing up: whether the request
    exists, and for whom, the wallet learns only with the person's own presentation."""
    return RedirectResponse(f"/wallet/?request={request_id}", status_code=303)


@functools.cache
def _gzipped(path: Path) -> bytes:
    """The file gzip-compressed once (jsQR: 257 kB -> 58 kB for a phone on a slow network)."""
    return gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)


@router.get("/wallet/{name:path}", include_in_schema=False)  # files, not API: see the docstring
def wallet_file(name: str, request: Request) -> Response:
    """Public, no API key. ``/wallet/`` is the page itself. Text files are sent gzip-compressed
    to a browser that accepts it."""
    path = _FILES.get(name or "index.html")
    if path is None:
        raise ApiError(404, f"the wallet has no file {name!r:.80}", code="NOT_FOUND")
    headers = {**_REVALIDATE, "Vary": "Accept-Encoding"}
    if path.name == "sw.js":
        headers["Service-Worker-Allowed"] = "/wallet/"
    accepted = request.headers.get("accept-encoding", "").lower()
    if path.suffix != ".png" and "gzip" in accepted:
        headers["Content-Encoding"] = "gzip"
        return Response(_gzipped(path), media_type=_TYPES[path.suffix], headers=headers)
    return Response(path.read_bytes(), media_type=_TYPES[path.suffix], headers=headers)


class CardFormRequest(RequestBody):
    """A wallet credential (JSON form) whose card text the wallet wants to show as a QR."""

    credential: dict[str, Any]


@router.post(
    "/wallet/card-form",
    summary="The card text (SUS1:…) of a credential, to show as a QR",
    responses=problems(413, 422),
)
def card_form(body: CardFormRequest) -> Response:
    """Public, no API key; the same encoder as the printed card (`verifier.encode_card`).

    It only re-encodes what it is given (a forged credential stays forged: the desk verifies
    the proof). Answers `{"card": "SUS1:…"}`; a credential the card dictionary cannot express
    is a 422 problem `CARD_NOT_EXPRESSIBLE`.
    """
    try:
        text = encode_card(body.credential)
    except CredencialError as exc:
        raise ApiError(422, exc.message, code=exc.code.value) from None
    except (ValueError, TypeError, KeyError, AttributeError):
        raise ApiError(
            422, "not a credential the card form can express", code="CARD_NOT_EXPRESSIBLE"
        ) from None
    return JSONResponse({"card": text}, headers=dict(NO_STORE))
