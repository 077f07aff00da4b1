"""Verifier policies: small checks on an authentic credential, combined with AllOf / AnyOf."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ._datamodel import issuer_id
from ._errors import PolicyError

__all__ = ["AllOf", "AnyOf", "Policy", "RequireIssuer", "RequireType", "UnsafeNoOp"]


class Policy(Protocol):
    """A policy inspects an authentic credential and raises :class:`PolicyError` to refuse it."""

    def check(self, credential: Mapping[str, Any]) -> None:
        """Raise :class:`PolicyError` if ``credential`` is not acceptable."""
        ...


class RequireType:
    """The credential's ``type`` must include ``credential_type``."""

    def __init__(self, credential_type: str) -> None:
        self.credential_type = credential_type

    def check(self, credential: Mapping[str, Any]) -> None:
        """Refuse a credential without the required type."""
        types = credential.get("type")
        if self.credential_type not in (types if isinstance(types, list) else [types]):
            raise PolicyError(f"credential type must include {self.credential_type}")


class RequireIssuer:
    """The credential must come from one of ``issuers``."""

    def __init__(self, *issuers: str) -> None:
        self.issuers = frozenset(issuers)

    def check(self, credential: Mapping[str, Any]) -> None:
        """Refuse a credential from any other issuer."""
        if issuer_id(credential) not in self.issuers:
            raise PolicyError(f"issuer must be one of {sorted(self.issuers)}")


class AllOf:
    """Every policy must accept."""

    def __init__(self, *policies: Policy) -> None:
        if not policies:
            raise ValueError("AllOf needs at least one policy (use UnsafeNoOp to accept anything)")
        self.policies = policies

    def check(self, credential: Mapping[str, Any]) -> None:
        """Raise the first refusal."""
        for policy in self.policies:
            policy.check(credential)


class AnyOf:
    """At least one policy must accept."""

    def __init__(self, *policies: Policy) -> None:
        if not policies:
            raise ValueError("AnyOf needs at least one policy")
        self.policies = policies

    def check(self, credential: Mapping[str, Any]) -> None:
        """Refuse only if every policy refuses."""
        refusals: list[str] = []
        for policy in self.policies:
            try:
                policy.check(credential)
            except PolicyError as exc:
                refusals.append(exc.message)
            else:
                return
        raise PolicyError("no policy accepted the credential: " + "; ".join(refusals))


class UnsafeNoOp:
    """Accepts every authentic credential. Named so that choosing it is a visible decision."""

    def check(self, credential: Mapping[str, Any]) -> None:
        """Accept."""
