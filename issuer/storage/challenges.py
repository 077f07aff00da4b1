"""Single-use challenges in the database: presentation challenges and OpenID4VCI ``c_nonce``\\ s.

:class:`DatabaseChallengeStore` implements the verifier's ``ChallengeStore`` protocol for an
issuer that runs as several processes over one database: a challenge issued by one process is
consumed by another, exactly once (the row is locked while it is consumed). Only the SHA-256 of
a challenge is stored. Each store has a ``purpose``; a challenge issued for one purpose is
unknown to a store of another (a presentation challenge is never accepted as a ``c_nonce``).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select

from issuer.storage.database import Database
from issuer.storage.tables import PresentationChallenge
from verifier import PresentationError, ReasonCode

__all__ = [
    "C_NONCE_PURPOSE",
    "MAX_DOMAIN_LENGTH",
    "PRESENTATION_PURPOSE",
    "ChallengeLimitError",
    "DatabaseChallengeStore",
]

PRESENTATION_PURPOSE = "presentation"
C_NONCE_PURPOSE = "c_nonce"
#: Longest domain a challenge can be issued for (the stored column).
MAX_DOMAIN_LENGTH = 255


class ChallengeLimitError(Exception):
    """Too many challenges are outstanding; try again later (the caller answers 503)."""


def _digest(challenge: str) -> str:
    return hashlib.sha256(challenge.encode("utf-8", "surrogatepass")).hexdigest()


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class DatabaseChallengeStore:
    """Challenges for ``purpose``, each valid for ``lifetime`` and consumable once.

    At most ``max_outstanding`` unexpired challenges exist at a time (per purpose); expired
    rows are deleted as new challenges are issued, so the table stays bounded.
    """

    def __init__(
        self,
        db: Database,
        *,
        purpose: str = PRESENTATION_PURPOSE,
        lifetime: timedelta = timedelta(minutes=5),
        max_outstanding: int = 100_000,
    ) -> None:
        self.db = db
        self.purpose = purpose
        self.lifetime = lifetime
        self.max_outstanding = max_outstanding

    def issue(self, domain: str, now: datetime) -> str:
        """A fresh random challenge (128 bits, URL-safe) for ``domain``."""
        if not domain or len(domain) > MAX_DOMAIN_LENGTH:
            raise ValueError(f"a domain is 1 to {MAX_DOMAIN_LENGTH} characters")
        moment = _utc(now)
        challenge = secrets.token_urlsafe(16)
        with self.db.transaction() as session:
            session.execute(
                delete(PresentationChallenge).where(PresentationChallenge.expires_at < moment)
            )
            outstanding = session.scalar(
                select(func.count())
                .select_from(PresentationChallenge)
                .where(PresentationChallenge.purpose == self.purpose)
            )
            if (outstanding or 0) >= self.max_outstanding:
                raise ChallengeLimitError(
                    f"{outstanding} {self.purpose} challenges are outstanding; try again later"
                )
            session.add(
                PresentationChallenge(
                    challenge_sha256=_digest(challenge),
                    purpose=self.purpose,
                    domain=domain,
                    created_at=moment,
                    expires_at=moment + self.lifetime,
                )
            )
        return challenge

    def consume(self, challenge: str, domain: str, now: datetime) -> None:
        """Use ``challenge`` up, once, for ``domain``; else :class:`verifier.PresentationError`.

        Checked in the order of :class:`verifier.InMemoryChallengeStore`: ``CHALLENGE_UNKNOWN``
        (never issued here, for another purpose, or expired and pruned), ``CHALLENGE_REUSED``,
        ``CHALLENGE_EXPIRED``, ``DOMAIN_MISMATCH`` (issued for another domain; it stays usable
        for its own).
        """
        moment = _utc(now)
        with self.db.transaction() as session:
            row = session.get(PresentationChallenge, _digest(challenge), with_for_update=True)
            if row is None or row.purpose != self.purpose:
                raise PresentationError(
                    "the challenge was not issued here", code=ReasonCode.CHALLENGE_UNKNOWN
                )
            if row.consumed_at is not None:
                raise PresentationError(
                    "the challenge was already used", code=ReasonCode.CHALLENGE_REUSED
                )
            if _utc(row.expires_at) <= moment:
                raise PresentationError(
                    "the challenge has expired", code=ReasonCode.CHALLENGE_EXPIRED
                )
            if row.domain != domain:
                raise PresentationError(
                    f"the challenge was issued for the domain {row.domain!r}, not {domain!r}",
                    code=ReasonCode.DOMAIN_MISMATCH,
                )
            row.consumed_at = moment
