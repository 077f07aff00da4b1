"""The card form's version-1 dictionary: the value tables, alphabets and limits.

Shared by the value packers (:mod:`verifier._cardpack`), the generic codec
(:mod:`verifier._card`) and the issuer-layout reader (:mod:`verifier._cardfast`); it imports none
of them. The modules go one way: ``_cardtables`` <- ``_cardpack`` <- ``_cardfast`` <- ``_card``.
The format is specified in ``wallet_spec/card-codec.md``; the tables below are the normative
dictionary (``verifier._card.dictionary_tables`` lists them by name).
"""

from __future__ import annotations

import schemas

from ._contexts import CREDENTIALS_V2_URL
from ._relationships import RELATIONSHIP_TERMS

__all__ = [
    "CONTEXTS",
    "COVERAGE_TYPES",
    "CREDENTIAL_TYPES",
    "CRYPTOSUITES",
    "INSTITUTIONS",
    "ISSUERS",
    "NAME_ALPHABET",
    "PROGRAMS",
    "PROOF_PURPOSES",
    "PROOF_TYPES",
    "RELATIONSHIPS",
    "SCHEMA_REFS",
    "STATUS_ENTRY_TYPES",
    "STATUS_PURPOSES",
]

# -- the version-1 dictionary (append-only; once version 1 is released, a new entry needs a new
# version: wallet_spec/card-codec.md §1 and its changelog) ------------------------------------

CONTEXTS: tuple[list[str], ...] = ([CREDENTIALS_V2_URL, schemas.CREDENCIAL_CONTEXT_URL],)
# One spelling per meaning: the order of `type` values does not change the signed RDF, so a
# second ordering in the table would give one signature two card forms.
CREDENTIAL_TYPES: tuple[list[str], ...] = (["VerifiableCredential", "HealthCoverageCredential"],)
ISSUERS = ("did:web:imss.gob.mx", "did:web:issste.gob.mx", "did:web:imssbienestar.gob.mx")
INSTITUTIONS = ("IMSS", "ISSSTE", "IMSS-BIENESTAR")
PROGRAMS = (
    "Régimen Obligatorio",
    "Régimen Voluntario",
    "Continuación Voluntaria",
    "Seguro de Salud para la Familia",
    "Seguro Facultativo",
    "Pensionado",
    "Trabajador en Activo",
    "Trabajador del Estado",
    "Pensionado del Estado",
    "Familiar Derechohabiente",
    "Servicios de Salud IMSS-Bienestar",
    "Atención a Población sin Seguridad",
    "Personas sin seguridad social",
)
#: Appended in the draft of version 1 (ADR 0010): positions 0-6 keep their meaning.
RELATIONSHIPS = RELATIONSHIP_TERMS
SCHEMA_REFS: tuple[dict[str, str], ...] = (
    {"id": schemas.HEALTH_COVERAGE_SCHEMA_URL, "type": "JsonSchema"},
)
COVERAGE_TYPES = ("HealthCoverage",)
STATUS_ENTRY_TYPES = ("BitstringStatusListEntry",)
STATUS_PURPOSES = ("revocation", "suspension")
PROOF_TYPES = ("DataIntegrityProof",)
CRYPTOSUITES = ("eddsa-rdfc-2022",)
PROOF_PURPOSES = ("assertionMethod",)

#: Name alphabet: a name made only of these is packed at about 5.2 bits per character.
NAME_ALPHABET = " ABCDEFGHIJKLMNOPQRSTUVWXYZÑÁÉÍÓÚÜ'-."
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = "0123456789"
_CURP_RADICES: tuple[str | tuple[str, ...], ...] = (
    _LETTERS, _LETTERS, _LETTERS, _LETTERS,
    _DIGITS, _DIGITS, _DIGITS, _DIGITS, _DIGITS, _DIGITS,
    "HMX",
    ("AS", "BC", "BS", "CC", "CL", "CM", "CS", "CH", "DF", "DG", "GT", "GR", "HG", "JC", "MC",
     "MN", "MS", "NT", "NL", "OC", "PL", "QT", "QR", "SP", "SL", "SR", "TC", "TS", "TL", "VZ",
     "YN", "ZS", "NE"),
    "BCDFGHJKLMNPQRSTVWXYZ", "BCDFGHJKLMNPQRSTVWXYZ", "BCDFGHJKLMNPQRSTVWXYZ",
    _DIGITS + _LETTERS,
)  # fmt: skip
#: Below this a packed date-time is a day number; from it on, seconds since 1970.
_SECONDS_FLOOR = 1_000_000
#: Largest list number, index or key number a card carries (larger ones travel as text).
_MAX_UINT = 2**32 - 1
#: Largest packed name: about 184 characters (longer names travel as text).
_MAX_NAME_BYTES = 120
#: Deepest CBOR nesting the card decoders read (both refuse deeper bytes).
_MAX_DEPTH = 8


def _status_list_url(issuer: str, purpose: str, number: int) -> str:
    """The URL of the issuer's status list ``number`` for ``purpose`` (what a packed status
    entry stands for)."""
    domain = issuer.removeprefix("did:web:").replace("%3A", ":")
    return f"https://{domain}/credencial/status/{purpose}/{number}"
