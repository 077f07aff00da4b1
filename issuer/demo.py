"""The demo's people: the persons ``make run`` and ``credencial-issuer demo`` issue to.

They are also the API's OpenAPI examples and the benchmarks' subjects. Demo data only.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEMO_PEOPLE"]

DEMO_PEOPLE: dict[str, dict[str, Any]] = {
    "credential": {
        "curp": "HEGM850314MDFRRR01",
        "givenName": "MARÍA GUADALUPE DEL SOCORRO",
        "familyName": "HERNÁNDEZ",
        "secondFamilyName": "DE LA O",
        "birthDate": "1985-03-14",
        "coverage": {
            "institution": "IMSS",
            "program": "Régimen Obligatorio",
            "affiliationNumber": "12345678901",
            "beneficiaryRelationship": "titular",
            "adscriptionUnit": "DFIMS000014",
        },
    },
    "credential-revoked": {
        "curp": "LOPJ900101HJCPRN08",
        "givenName": "JUAN",
        "familyName": "LÓPEZ",
        "secondFamilyName": "PÉREZ",
        "birthDate": "1990-01-01",
        "coverage": {
            "institution": "IMSS",
            "program": "Régimen Obligatorio",
            "affiliationNumber": "98765432109",
            "beneficiaryRelationship": "titular",
            "adscriptionUnit": "JCIMS000213",
        },
    },
}
