"""Who calls the service: an API client of one institution, and the scopes it may hold."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SCOPES", "Principal", "cli_principal"]

#: API scopes: issue credentials, change their status, administer keys and clients; request and
#: load clinical records, act as the legal unit or the data-protection officer on judicial orders,
#: publish the unit-availability feed.
SCOPES = frozenset({"issue", "status", "admin", "records", "legal", "dpo", "units"})


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API client of one institution, with its scopes."""

    client_id: str
    institution: str
    scopes: frozenset[str]


def cli_principal(institution: str) -> Principal:
    """The principal of an operator at the command line (actor ``cli``, every scope)."""
    return Principal("cli", institution, frozenset({"issue", "status", "admin"}))
