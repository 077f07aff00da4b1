"""Issuer service settings, from the environment (``CREDENCIAL_*``) or a ``.env`` file."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from verifier import MIN_STATUS_LIST_BITS

#: The default validity and ``ttl`` of a status list: four days. A desk that synced on Friday
#: evening still judges cards on Monday morning (lists are re-signed within the hour before a
#: bundle is built); a revocation reaches an offline desk only at its next sync.
STATUS_LIST_TTL = timedelta(hours=96)
#: Entries per status list by default: 2^20 (128 KiB of bits, eight times the Bitstring Status
#: List minimum). Larger herds hide a holder better, and a national population fits in about 250
#: lists, so a desk's daily sync stays small (ADR 0004; ``bench.national``).
STATUS_LIST_SIZE = 1_048_576

__all__ = ["IssuerSettings"]

_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


class IssuerSettings(BaseSettings):
    """Everything an issuer process needs to know; one frozen object passed to ``create_app``."""

    model_config = SettingsConfigDict(
        env_prefix="CREDENCIAL_", env_file=".env", env_file_encoding="utf-8", frozen=True
    )

    #: SQLAlchemy URL: SQLite (WAL) by default; ``postgresql+psycopg://...`` in production.
    database_url: str = "sqlite:///var/credencial.db"
    #: Where file keys live (encrypted at rest with ``key_passphrase``).
    key_dir: Path = Path("var/keys")
    #: Passphrase that encrypts file keys at rest. Required to sign.
    key_passphrase: SecretStr = Field(default=SecretStr(""))
    #: Where institution keys live: ``file`` (encrypted PEM files under ``key_dir``, the
    #: default) or ``pkcs11`` (generated in, and never leaving, an HSM token: docs/hsm.md).
    key_backend: Literal["file", "pkcs11"] = "file"
    #: The PKCS#11 module (shared library) of the HSM, e.g. SoftHSM2's ``libsofthsm2.so``.
    pkcs11_module: Path | None = None
    #: The label of the token that holds the institution keys.
    pkcs11_token_label: str = "credencial"  # noqa: S105 - a label, not a secret
    #: The token's user PIN (prefer ``pkcs11_pin_file``); never logged or shown.
    pkcs11_pin: SecretStr = Field(default=SecretStr(""))
    #: A file whose content (trailing newline stripped) is the user PIN, e.g. a mounted secret.
    pkcs11_pin_file: Path | None = None
    #: Entries per status list: 1,048,576 by default (a national population fits in about 250
    #: lists, and a day's sync in about 60 kB, ADR 0004); the Bitstring Status List minimum,
    #: 131,072, is the floor.
    status_list_size: int = Field(default=STATUS_LIST_SIZE, ge=MIN_STATUS_LIST_BITS)
    #: How long a served status list is valid (``validUntil``), and its ``ttl`` /
    #: ``Cache-Control: max-age``: how long a desk may judge cards offline after a sync
    #: (README "Offline for a weekend"; the default covers Friday evening to Monday morning).
    status_list_ttl: timedelta = STATUS_LIST_TTL
    #: The same for the consent-receipt status lists: a person's withdrawal reaches a party that
    #: checks receipts offline within this time. Shorter than the coverage lists' on purpose: a
    #: withdrawal should take effect quickly, and a desk judging cards over a weekend needs no
    #: receipts (docs/consent.md, "Offline").
    consent_status_list_ttl: timedelta = Field(default=timedelta(hours=24), gt=timedelta(0))
    #: Default validity of a new credential.
    credential_validity: timedelta = timedelta(days=5 * 365)
    #: How long an institution's consent request waits for the person's answer before it
    #: expires unanswered (``POST /consent-requests``).
    consent_request_ttl: timedelta = Field(default=timedelta(hours=24), gt=timedelta(0))
    #: Browser origins allowed to call the API cross-origin (CORS), e.g.
    #: ``["https://portal.imss.gob.mx"]``; empty (the default): no cross-origin access at all.
    cors_allow_origins: tuple[str, ...] = ()
    #: Failed authentications (401) allowed per source address, and per client id, in
    #: ``auth_failure_window``; beyond that, requests with credentials get 429 (in memory, per
    #: process).
    auth_failure_limit: int = Field(default=10, ge=1)
    auth_failure_window: timedelta = timedelta(minutes=1)
    #: The institution (``IMSS``…) a request to a loopback Host (``127.0.0.1``, ``localhost``,
    #: ``[::1]``) stands for, so a browser on this machine can use the phone wallet at
    #: ``/wallet/`` against a local server (``serve --demo``: IMSS). Unset in production.
    loopback_institution: str | None = None
    #: Where ``credencial-issuer serve`` listens.
    host: str = "127.0.0.1"
    port: int = 8000

    @field_validator("cors_allow_origins")
    @classmethod
    def _explicit_origins(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        """Each allowed origin is ``scheme://host[:port]``; no wildcard."""
        for origin in origins:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"{origin!r} is not an origin (scheme://host[:port], no path, no wildcard)"
                )
        return origins
