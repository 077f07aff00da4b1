"""Bundled JSON-LD contexts and a document loader that never fetches anything."""

from __future__ import annotations

import copy
import importlib.util
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cachetools import LRUCache

import schemas

from ._errors import ContextError, InputError
from ._json import parse_json

__all__ = [
    "CREDENTIALS_V2_URL",
    "ContextLoader",
    "bundled_contexts",
    "load_context_file",
]

#: The W3C VC 2.0 base context; MUST be the first ``@context`` entry of every credential.
CREDENTIALS_V2_URL = "https://www.w3.org/ns/credentials/v2"


#: pyld's frozen copy of the credentials v2 context, inside the installed pyld package (found
#: without importing pyld: the direct canonicalization path never needs it, and start time counts).
_PYLD_FROZEN_V2 = ("documentloader", "frozen", "bundled", "credentials-v2.jsonld")


def _pyld_file(*parts: str) -> Path:
    spec = importlib.util.find_spec("pyld")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("pyld is not installed")
    return Path(next(iter(spec.submodule_search_locations)), *parts)


@cache
def _bundled() -> Mapping[str, Mapping[str, Any]]:
    path = _pyld_file(*_PYLD_FROZEN_V2)
    v2 = json.loads(path.read_text(encoding="utf-8"))
    return MappingProxyType(
        {
            CREDENTIALS_V2_URL: v2,
            schemas.CREDENCIAL_CONTEXT_URL: schemas.credencial_context(),
            schemas.CONSENT_CONTEXT_URL: schemas.consent_context(),
        }
    )


def bundled_contexts() -> dict[str, dict[str, Any]]:
    """The contexts every verifier serves: W3C credentials v2 (pyld's frozen copy) and ours
    (credentials, and consent receipts / unit feeds)."""
    return {url: copy.deepcopy(dict(doc)) for url, doc in _bundled().items()}


def load_context_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON-LD context document from a file, as ``--context URL=PATH`` does."""
    try:
        document = parse_json(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read context file {path}: {exc}") from exc
    if not isinstance(document, dict) or "@context" not in document:
        raise InputError(f"{path} is not a JSON-LD context document (no '@context')")
    return document


class ContextLoader:
    """A pyld document loader serving an allow-list of contexts and refusing every other URL.

    Each loader owns its resolved-context cache, so two loaders with different allow-lists never
    see each other's contexts (pyld's default cache is process-global).
    """

    def __init__(self, extra: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._extra: dict[str, Mapping[str, Any]] = dict(extra or {})
        replaced = sorted(set(self._extra) & set(_bundled()))
        if replaced:  # a replaced bundled context would let a forged credential verify
            raise InputError(f"an extra context cannot replace the bundled context {replaced[0]}")
        self._documents: dict[str, Mapping[str, Any]] = {**_bundled(), **self._extra}
        self._cache: LRUCache[Any, Any] = LRUCache(maxsize=64)

    @property
    def urls(self) -> frozenset[str]:
        """The context URLs this loader serves."""
        return frozenset(self._documents)

    def with_extra(self, extra: Mapping[str, Mapping[str, Any]]) -> ContextLoader:
        """A new loader that also serves ``extra`` (URL → context document)."""
        return ContextLoader({**self._extra, **extra})

    def check_allowed(self, url: object) -> None:
        """Raise :class:`ContextError` unless ``url`` is a string this loader serves."""
        if not isinstance(url, str):
            raise ContextError("embedded @context objects are not accepted; use a bundled URL")
        if url not in self._documents:
            raise ContextError(
                f"unknown JSON-LD context {url!r}: contexts are bundled, never fetched"
            )

    def __call__(self, url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """pyld's document-loader interface."""
        if url not in self._documents:
            from pyld.jsonld import JsonLdError  # pyld is imported only when it runs

            raise JsonLdError(
                "Refusing to load a context that is not bundled.",
                "jsonld.LoadDocumentError",
                {"url": url},
                code="loading document failed",
            )
        return {
            "contentType": "application/ld+json",
            "contextUrl": None,
            "documentUrl": url,
            "document": self._documents[url],
        }

    def pyld_options(self) -> dict[str, Any]:
        """Options that route pyld's context resolution through this loader and its cache."""
        from pyld.context_resolver import ContextResolver

        return {
            "documentLoader": self,
            "contextResolver": ContextResolver(self._cache, self),
            "base": None,  # no document base: a relative IRI stays relative and is refused
        }
