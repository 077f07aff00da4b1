"""The demo's people: the persons ``make run`` and ``credencial-issuer demo`` issue to.

They are also the API's OpenAPI examples and the benchmarks' subjects. Demo data only.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEMO_PEOPLE", "DEMO_RECORDS", "DEMO_UNITS"]

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

#: The demo person's clinical record at IMSS (``make run`` stores it once): what another
#: institution receives when the person consents, and what the person reads with ``record``.
DEMO_RECORDS: list[dict[str, Any]] = [
    {
        "dataClass": "ece.summary",
        "effectiveDate": "2024-03-01",
        "resource": {
            "resourceType": "Condition",
            "id": "dm2",
            "code": {"text": "Diabetes mellitus tipo 2"},
        },
    },
    {
        "dataClass": "ece.summary",
        "effectiveDate": "2024-03-01",
        "resource": {
            "resourceType": "MedicationStatement",
            "id": "metformina",
            "medicationCodeableConcept": {"text": "Metformina 850 mg"},
        },
    },
    {
        "dataClass": "ece.full",
        "effectiveDate": "2024-03-01",
        "resource": {"resourceType": "Encounter", "id": "consulta-2024-03-01"},
    },
    {
        "dataClass": "coverage",
        "effectiveDate": "2024-01-01",
        "resource": {"resourceType": "Coverage", "id": "imss-titular"},
    },
]

#: IMSS units in the demo's availability feed (Mexico City).
DEMO_UNITS: list[dict[str, Any]] = [
    {
        "clues": "DFIMS000014",
        "name": "UMF 14 Ciudad de México",
        "location": {"lat": 19.4326, "lon": -99.1332},
        "services": ["medicina familiar", "urgencias"],
        "available": 12,
    },
    {
        "clues": "DFIMS000213",
        "name": "HGZ 27 Tlatelolco",
        "location": {"lat": 19.4510, "lon": -99.1380},
        "services": ["urgencias", "hospitalización"],
        "available": 3,
    },
]
