"""The relationship column as institutions write it, mapped to the vocabulary (ADR 0010).

Enrolment systems write ``HIJA``, ``Conyuge``, ``cónyuge``, ``CONCUBINARIO``: the same terms in
capitals, without accents or in the legal masculine form. Each spelling maps to one term of the
vocabulary, written as the person reads it on their card (``hija``, ``cónyuge``); anything else is
refused with the list of accepted terms. Nothing is guessed: every accepted spelling is listed
here.
"""

from __future__ import annotations

import unicodedata

from verifier import RELATIONSHIP_TERMS_WRITTEN

__all__ = ["ACCEPTED_RELATIONSHIPS", "relationship_term"]

#: Other words for a term, as written in enrolment systems (after folding: lower case, no
#: accents). ``concubinario`` is the Ley del Seguro Social's masculine of ``concubina``; ``otra``
#: is the feminine of the one ``otro`` term (which names the relationship, not the person).
_SYNONYMS = {"concubinario": "concubino", "otra": "otro"}


def _folded(value: str) -> str:
    """Lower case, accents removed, inner spaces collapsed: how spellings are compared."""
    decomposed = unicodedata.normalize("NFD", value.strip().casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.split())


_TERMS: dict[str, str] = {_folded(term): term for term in RELATIONSHIP_TERMS_WRITTEN} | _SYNONYMS

#: The terms, as named in error messages.
ACCEPTED_RELATIONSHIPS = ", ".join(RELATIONSHIP_TERMS_WRITTEN)


def relationship_term(value: str) -> str | None:
    """The vocabulary term ``value`` spells (``HIJA`` → ``hija``, ``Conyuge`` → ``cónyuge``),
    or None if it spells none."""
    return _TERMS.get(_folded(value))
