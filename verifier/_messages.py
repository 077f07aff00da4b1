"""Plain-language summaries of verdicts and reason codes, in Spanish (default) and English."""

from __future__ import annotations

from typing import Literal

from ._errors import ReasonCode

__all__ = ["Language", "reason_summary", "verdict_label"]

Language = Literal["es", "en"]

_REASONS: dict[ReasonCode, tuple[str, str]] = {
    ReasonCode.MALFORMED_INPUT: (
        "No se pudo leer la credencial.",
        "The credential could not be read.",
    ),
    ReasonCode.CARD_MALFORMED: (
        "El código de la tarjeta está dañado o no es una credencial.",
        "The card code is damaged or is not a credential.",
    ),
    ReasonCode.CARD_VERSION_UNSUPPORTED: (
        "La tarjeta usa una versión más nueva: actualice el verificador.",
        "The card uses a newer format version: update the verifier.",
    ),
    ReasonCode.CARD_NOT_EXPRESSIBLE: (
        "La credencial no se puede expresar en forma de tarjeta.",
        "The credential cannot be expressed in card form.",
    ),
    ReasonCode.CONTEXT_INVALID: (
        "La credencial no declara el contexto W3C VC 2.0 en primer lugar.",
        "The credential does not declare the W3C VC 2.0 context first.",
    ),
    ReasonCode.CONTEXT_NOT_ALLOWED: (
        "La credencial usa un contexto JSON-LD no reconocido.",
        "The credential uses a JSON-LD context that is not recognised.",
    ),
    ReasonCode.TYPE_INVALID: (
        "El tipo de la credencial no es válido.",
        "The credential type is not valid.",
    ),
    ReasonCode.ID_INVALID: (
        "Un identificador no es una URL válida.",
        "An identifier is not a valid URL.",
    ),
    ReasonCode.ISSUER_INVALID: ("El emisor no es válido.", "The issuer is not valid."),
    ReasonCode.DATETIME_INVALID: ("Una fecha no es válida.", "A date is not valid."),
    ReasonCode.VALIDITY_RANGE_INVALID: (
        "El inicio de vigencia es posterior a su fin.",
        "The validity starts after it ends.",
    ),
    ReasonCode.ENTRY_TYPE_MISSING: (
        "Un elemento de la credencial no declara su tipo.",
        "A credential entry does not declare its type.",
    ),
    ReasonCode.SUBJECT_INVALID: (
        "La credencial no tiene titular válido.",
        "The credential has no valid subject.",
    ),
    ReasonCode.SCHEMA_INVALID: (
        "Los datos de la credencial no tienen el formato esperado.",
        "The credential data does not have the expected form.",
    ),
    ReasonCode.DATA_LOSS: (
        "La credencial contiene datos no definidos que no están firmados.",
        "The credential contains undefined data that the signature does not cover.",
    ),
    ReasonCode.PROOF_MISSING: ("La credencial no está firmada.", "The credential is not signed."),
    ReasonCode.PROOF_MALFORMED: ("La firma está mal formada.", "The signature is malformed."),
    ReasonCode.PROOF_PURPOSE_MISMATCH: (
        "La firma no tiene el propósito esperado.",
        "The signature does not have the expected purpose.",
    ),
    ReasonCode.PROOF_EXPIRED: ("La firma ya expiró.", "The signature has expired."),
    ReasonCode.SIGNATURE_INVALID: (
        "La firma no corresponde: la credencial fue alterada o es falsa.",
        "The signature does not match: the credential was altered or forged.",
    ),
    ReasonCode.KEY_UNKNOWN: (
        "La llave que firmó no es de una institución de confianza.",
        "The signing key is not from a trusted institution.",
    ),
    ReasonCode.KEY_ISSUER_MISMATCH: (
        "La llave que firmó pertenece a otra institución.",
        "The signing key belongs to another institution.",
    ),
    ReasonCode.KEY_NOT_VALID_AT_CREATION: (
        "La llave no estaba vigente cuando se firmó.",
        "The key was not valid when the credential was signed.",
    ),
    ReasonCode.CREDENTIAL_EXPIRED: ("La credencial está vencida.", "The credential has expired."),
    ReasonCode.CREDENTIAL_NOT_YET_VALID: (
        "La credencial todavía no está vigente.",
        "The credential is not valid yet.",
    ),
    ReasonCode.REVOKED: ("La credencial fue revocada.", "The credential has been revoked."),
    ReasonCode.SUSPENDED: ("La credencial está suspendida.", "The credential is suspended."),
    ReasonCode.STATUS_UNAVAILABLE: (
        "No se tiene la lista de estado: no se puede saber si fue revocada o suspendida.",
        "The status list is not available: revocation and suspension cannot be checked.",
    ),
    ReasonCode.STATUS_STALE: (
        "La lista de estado es demasiado antigua; sincronice el verificador.",
        "The status list is too old; sync the verifier.",
    ),
    ReasonCode.STATUS_LIST_INVALID: (
        "La lista de estado no es válida: no se puede confirmar el estado.",
        "The status list is not valid: the status cannot be confirmed.",
    ),
    ReasonCode.POLICY_REJECTED: (
        "La credencial no cumple la política de este verificador.",
        "The credential does not meet this verifier's policy.",
    ),
    ReasonCode.KEY_COMPROMISED: (
        "La llave que firmó fue comprometida: no se puede confiar en esta firma.",
        "The signing key was compromised: this signature cannot be trusted.",
    ),
    ReasonCode.TRUST_BUNDLE_INVALID: (
        "El paquete de confianza no es válido: no tiene las firmas nacionales requeridas.",
        "The trust bundle is not valid: it lacks the required national signatures.",
    ),
    ReasonCode.TRUST_BUNDLE_ROLLBACK: (
        "El paquete de confianza es más antiguo que el ya instalado: se rechaza.",
        "The trust bundle is older than the one already installed: refused.",
    ),
    ReasonCode.TRUST_BUNDLE_EXPIRED: (
        "El paquete de confianza venció; sincronice el verificador.",
        "The trust bundle has expired; sync the verifier.",
    ),
    ReasonCode.CLOCK_BEHIND: (
        "El reloj del equipo está atrasado: revise la fecha y hora.",
        "The device clock is behind: check the date and time.",
    ),
    ReasonCode.STATUS_LIST_NOT_IN_BUNDLE: (
        "La lista de estado guardada no es la del paquete de confianza; sincronice el verificador.",
        "The held status list is not the one in the trust bundle; sync the verifier.",
    ),
    ReasonCode.PRESENTATION_MALFORMED: (
        "La presentación de la cartera no es válida o su firma no corresponde al titular.",
        "The wallet presentation is not valid or its signature is not the holder's.",
    ),
    ReasonCode.HOLDER_MISMATCH: (
        "La credencial pertenece a otra persona: no la presenta su titular.",
        "The credential belongs to someone else: it is not presented by its holder.",
    ),
    ReasonCode.HOLDER_BINDING_MISSING: (
        "La credencial no está vinculada a una cartera; use la tarjeta con una identificación.",
        "The credential is not bound to a wallet; use the card with an ID document.",
    ),
    ReasonCode.CHALLENGE_UNKNOWN: (
        "La presentación no responde a una solicitud de este verificador.",
        "The presentation does not answer a request from this verifier.",
    ),
    ReasonCode.CHALLENGE_EXPIRED: (
        "La solicitud de presentación caducó: pida a la persona que la presente de nuevo.",
        "The presentation request expired: ask the person to present again.",
    ),
    ReasonCode.CHALLENGE_REUSED: (
        "Esta presentación ya se usó: puede ser una copia.",
        "This presentation was already used: it may be a replay.",
    ),
    ReasonCode.DOMAIN_MISMATCH: (
        "La presentación se hizo para otro verificador.",
        "The presentation was made for another verifier.",
    ),
}

_VERDICTS: dict[str, tuple[str, str]] = {
    "VALID": ("VÁLIDA", "VALID"),
    "INVALID": ("NO VÁLIDA", "INVALID"),
    "INDETERMINATE": ("INDETERMINADA", "INDETERMINATE"),
}


def reason_summary(code: ReasonCode, lang: Language = "es") -> str:
    """One plain sentence for ``code`` in ``lang``."""
    spanish, english = _REASONS[code]
    return spanish if lang == "es" else english


def verdict_label(verdict: str, lang: Language = "es") -> str:
    """The word shown for a verdict in ``lang``."""
    spanish, english = _VERDICTS[verdict]
    return spanish if lang == "es" else english
