"""The three institutions that issue coverage credentials."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["INSTITUTIONS", "Institution"]


@dataclass(frozen=True, slots=True)
class Institution:
    """An issuing institution: its code, name and did:web identifier."""

    code: str
    name: str
    did: str

    def verification_method(self, key_id: str) -> str:
        """The did:web verification-method id of one of its keys."""
        return f"{self.did}#{key_id}"

    def status_list_url(self, purpose: str, list_number: int) -> str:
        """Where this institution publishes its ``purpose`` status list number ``list_number``."""
        domain = self.did.removeprefix("did:web:").replace("%3A", ":")
        return f"https://{domain}/credencial/status/{purpose}/{list_number}"


INSTITUTIONS: dict[str, Institution] = {
    institution.code: institution
    for institution in (
        Institution("IMSS", "Instituto Mexicano del Seguro Social", "did:web:imss.gob.mx"),
        Institution(
            "ISSSTE",
            "Instituto de Seguridad y Servicios Sociales de los Trabajadores del Estado",
            "did:web:issste.gob.mx",
        ),
        Institution(
            "IMSS-BIENESTAR",
            "Servicios de Salud del Instituto Mexicano del Seguro Social para el Bienestar",
            "did:web:imssbienestar.gob.mx",
        ),
    )
}
