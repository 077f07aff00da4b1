"""Package data: our JSON-LD context and the JSON Schema of the health-coverage credential.

Files are read once with :mod:`importlib.resources` and cached; every accessor returns a fresh
copy, so callers may mutate what they get without touching the cache.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib.resources import files
from typing import Any

__all__ = [
    "CONSENT_CONTEXT_URL",
    "CREDENCIAL_CONTEXT_URL",
    "CREDENCIAL_VOCAB",
    "HEALTH_COVERAGE_SCHEMA_URL",
    "consent_context",
    "context_bytes",
    "credencial_context",
    "health_coverage_json_schema",
]

#: URL of our JSON-LD context. Never fetched: the document is bundled in this package.
CREDENCIAL_CONTEXT_URL = "https://credencial.salud.gob.mx/ns/v1"

#: URL of the context of consent receipts and unit feeds (bundled, never fetched).
CONSENT_CONTEXT_URL = "https://credencial.salud.gob.mx/ns/consent/v1"

#: IRI base of the terms our context defines.
CREDENCIAL_VOCAB = "https://credencial.salud.gob.mx/ns#"

#: ``$id`` of the bundled JSON Schema, referenced from ``credentialSchema``.
HEALTH_COVERAGE_SCHEMA_URL = (
    "https://credencial.salud.gob.mx/schemas/health-coverage-credential/v1.json"
)

_CONTEXT_FILE = ("contexts", "credencial-v1.jsonld")
_CONSENT_CONTEXT_FILE = ("contexts", "credencial-consent-v1.jsonld")
_SCHEMA_FILE = ("json", "health-coverage-credential.schema.json")


@cache
def _read(*parts: str) -> bytes:
    return files(__name__).joinpath(*parts).read_bytes()


@cache
def _parsed(*parts: str) -> dict[str, Any]:
    document = json.loads(_read(*parts))
    if not isinstance(document, dict):
        raise TypeError(f"{'/'.join(parts)} is not a JSON object")
    return document


def context_bytes() -> bytes:
    """Raw bytes of the bundled context file (for hashing and pinning)."""
    return _read(*_CONTEXT_FILE)


def credencial_context() -> dict[str, Any]:
    """The parsed JSON-LD context document served for :data:`CREDENCIAL_CONTEXT_URL`."""
    return copy.deepcopy(_parsed(*_CONTEXT_FILE))


def consent_context() -> dict[str, Any]:
    """The parsed JSON-LD context served for :data:`CONSENT_CONTEXT_URL`."""
    return copy.deepcopy(_parsed(*_CONSENT_CONTEXT_FILE))


def health_coverage_json_schema() -> dict[str, Any]:
    """The parsed JSON Schema (draft 2020-12) of a health-coverage credential."""
    return copy.deepcopy(_parsed(*_SCHEMA_FILE))
