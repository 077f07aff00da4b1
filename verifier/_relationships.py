"""The relationship vocabulary: how the covered person is related to the insured (the titular).

Versioned and append-only (ADR 0010). A credential carries the person's **own** term, spelled as
they read it on their card: ``hija`` for a daughter, ``esposa`` for a wife, ``cónyuge`` with its
accent. Every term ever issued stays valid, so every credential and card ever made still reads
the same; retired spellings are only never written again.
"""

from __future__ import annotations

__all__ = [
    "RELATIONSHIP_TERMS",
    "RELATIONSHIP_TERMS_WRITTEN",
    "RELATIONSHIP_VOCABULARY_VERSION",
    "RETIRED_RELATIONSHIP_TERMS",
]

#: Version of the vocabulary; version 1 had the first seven terms, version 2 appended the rest.
RELATIONSHIP_VOCABULARY_VERSION = 2
#: Every term a credential may carry, in the order of the card table (new terms are appended:
#: a card holds a term's position, so a position never changes meaning).
RELATIONSHIP_TERMS: tuple[str, ...] = (
    # version 1
    "titular", "conyuge", "concubino", "hijo", "padre", "madre", "otro",
    # version 2: the feminine forms and the spellings people read
    "cónyuge", "esposa", "esposo", "concubina", "hija",
)  # fmt: skip
#: Spellings of version 1 that issuers no longer write, with the term written instead. They stay
#: valid on the credentials issued with them.
RETIRED_RELATIONSHIP_TERMS: dict[str, str] = {"conyuge": "cónyuge"}
#: The terms an issuer writes today, in the order people are listed on a family's coverage.
RELATIONSHIP_TERMS_WRITTEN: tuple[str, ...] = (
    "titular", "cónyuge", "esposa", "esposo", "concubina", "concubino",
    "hija", "hijo", "madre", "padre", "otro",
)  # fmt: skip
