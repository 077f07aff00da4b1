"""QR sizes: our card text against EU-DCC-style and SMART-Health-Card-style encodings.

``python -m bench.qr_sizes`` signs a few reference credentials and prints, for each, the QR
version needed at levels L/M/Q/H by three encodings of the same credential:

- **ours**: ``SUS1:`` + Base45 of the card CBOR (:func:`verifier.encode_card`), one alphanumeric
  segment;
- **EU-DCC-style**: ``HC1:`` + Base45 of zlib(COSE_Sign1 over a CWT-like claims map holding the
  credential without its proof as CBOR), one alphanumeric segment;
- **SHC-style**: ``shc:/`` + numeric form of a compact JWS (ES256, DEFLATE payload with ``iss``,
  ``nbf`` and ``vc`` = type and credentialSubject), a byte segment and a numeric segment.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Literal

import cbor2
import qrcode
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from qrcode.constants import ERROR_CORRECT_H, ERROR_CORRECT_L, ERROR_CORRECT_M, ERROR_CORRECT_Q
from qrcode.exceptions import DataOverflowError
from qrcode.util import MODE_8BIT_BYTE, MODE_ALPHA_NUM, MODE_NUMBER, QRData

from issuer.credentials.signing import new_coverage_credential, sign_document
from issuer.institutions import INSTITUTIONS
from issuer.keys.files import Ed25519KeyPair
from verifier import ContextLoader, b45encode, encode_card, encode_card_bytes, parse_datetime

__all__ = [
    "ECC_LEVELS",
    "LONG_NAMES",
    "MAX_LONG_NAMES_VERSION",
    "TOO_LARGE",
    "VERY_LONG_NAMES",
    "alphanumeric_segments",
    "eu_dcc_style",
    "main",
    "modes_used",
    "qr_code",
    "qr_version",
    "reference_credentials",
    "shc_numeric",
    "shc_segments",
    "shc_style",
]

#: Error-correction levels by letter, in the qrcode library's constants.
ECC_LEVELS: Final[dict[str, int]] = {
    "L": ERROR_CORRECT_L,
    "M": ERROR_CORRECT_M,
    "Q": ERROR_CORRECT_Q,
    "H": ERROR_CORRECT_H,
}
#: What :func:`qr_version` returns when the data does not fit even version 40.
TOO_LARGE: Final = 41
#: The long-names reference credential (given names 42 characters, surnames 21 + 22): it must
#: fit QR version 10 at level M.
LONG_NAMES: Final = "long names"
#: A stress case beyond the requirement (42 + 48 name characters): measured, not asserted.
VERY_LONG_NAMES: Final = "very long names (stress)"
#: The largest QR version the long-names card may need at level M.
MAX_LONG_NAMES_VERSION: Final = 10
# The QR mode indicators (ISO/IEC 18004), typed as the literals QRData accepts.
_NUMERIC: Final[Literal[1]] = 1
_ALPHANUMERIC: Final[Literal[2]] = 2
_BYTE: Final[Literal[4]] = 4
assert (MODE_NUMBER, MODE_ALPHA_NUM, MODE_8BIT_BYTE) == (_NUMERIC, _ALPHANUMERIC, _BYTE)
MODE_NAMES: Final[dict[int, str]] = {
    _NUMERIC: "numeric",
    _ALPHANUMERIC: "alphanumeric",
    _BYTE: "byte",
}

_VALID_FROM = datetime(2026, 1, 1, tzinfo=UTC)
_VALID_UNTIL = datetime(2031, 1, 1, tzinfo=UTC)
_CREATED = "2026-01-02T09:41:27Z"


def _id(name: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'credencial-bench:{name}')}"


def _subjects(holder_did: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Institution code and subject of each reference credential."""
    return {
        "short names": (
            "IMSS",
            {
                "curp": "RUPA900101MJCZZN03",
                "givenName": "ANA",
                "familyName": "RUIZ",
                "secondFamilyName": "PAZ",
                "birthDate": "1990-01-01",
                "coverage": {
                    "institution": "IMSS",
                    "program": "Régimen Obligatorio",
                    "affiliationNumber": "04169012345",
                    "beneficiaryRelationship": "titular",
                    "adscriptionUnit": "JCIMS000213",
                },
            },
        ),
        LONG_NAMES: (
            "IMSS",
            {
                "curp": "HEMA850314MDFRNN00",
                "givenName": "MARÍA DE LOS ÁNGELES GUADALUPE DEL SOCORRO",
                "familyName": "HERNÁNDEZ DE LA FUENTE",
                "secondFamilyName": "MONTES DE OCA ÁLVAREZ",
                "birthDate": "1985-03-14",
                "coverage": {
                    "institution": "IMSS",
                    "program": "Régimen Obligatorio",
                    "affiliationNumber": "39058512345",
                    "beneficiaryRelationship": "titular",
                    "adscriptionUnit": "DFIMS000325",
                },
            },
        ),
        VERY_LONG_NAMES: (
            "IMSS",
            {
                "curp": "HEMG850314MDFRND00",
                "givenName": "MARÍA GUADALUPE DEL SOCORRO ALEJANDRA INÉS",
                "familyName": "HERNÁNDEZ DE LA FUENTE",
                "secondFamilyName": "MONTES DE OCA Y SANTIBÁÑEZ",
                "birthDate": "1985-03-14",
                "coverage": {
                    "institution": "IMSS",
                    "program": "Régimen Obligatorio",
                    "affiliationNumber": "39058512345",
                    "beneficiaryRelationship": "titular",
                    "adscriptionUnit": "DFIMS000325",
                },
            },
        ),
        "ISSSTE beneficiary (hijo)": (
            "ISSSTE",
            {
                "curp": "SOLD120505HMCTNGA0",
                "givenName": "DIEGO",
                "familyName": "SOTO",
                "secondFamilyName": "LUNA",
                "birthDate": "2012-05-05",
                "coverage": {
                    "institution": "ISSSTE",
                    "program": "Trabajador del Estado",
                    "affiliationNumber": "SOGJ8001019A3",
                    "beneficiaryRelationship": "hijo",
                    "adscriptionUnit": "MCIST000123",
                },
            },
        ),
        "IMSS-BIENESTAR with holder did:key": (
            "IMSS-BIENESTAR",
            {
                "id": holder_did,
                "curp": "PEXA780912HOCRGN05",
                "givenName": "JOSÉ ÁNGEL",
                "familyName": "PÉREZ",
                "secondFamilyName": "ÑÍGUEZ",
                "birthDate": "1978-09-12",
                "coverage": {
                    "institution": "IMSS-BIENESTAR",
                    "program": "Personas sin seguridad social",
                    "affiliationNumber": "IB-2026000123456",
                    "beneficiaryRelationship": "titular",
                    "adscriptionUnit": "OCSSA001234",
                },
            },
        ),
    }


def reference_credentials(key: Ed25519KeyPair | None = None) -> dict[str, dict[str, Any]]:
    """The signed reference credentials by name (signed with ``key``, default a new key)."""
    key = key or Ed25519KeyPair.generate()
    loader = ContextLoader()
    holder_did = "did:key:" + Ed25519KeyPair.generate().public_key_multibase
    credentials = {}
    for number, (name, (code, subject)) in enumerate(_subjects(holder_did).items(), start=1):
        institution = INSTITUTIONS[code]
        unsigned = new_coverage_credential(
            institution, subject, status_list=number, status_index=131_071 - number * 7_919,
            valid_from=_VALID_FROM, valid_until=_VALID_UNTIL, credential_id=_id(name),
        )  # fmt: skip
        vm = institution.verification_method("key-1")
        credentials[name] = sign_document(unsigned, key, vm, loader=loader, created=_CREATED)
    return credentials


# -- QR ----------------------------------------------------------------------------------------


def qr_code(segments: Sequence[QRData], ecc: str) -> qrcode.QRCode[Any]:
    """A QR code holding exactly ``segments`` (in their own modes), smallest version that fits.

    Raises :class:`qrcode.exceptions.DataOverflowError` (or, from qrcode 8, ``ValueError``
    "Invalid version") when not even version 40 is enough.
    """
    qr: qrcode.QRCode[Any] = qrcode.QRCode(error_correction=ECC_LEVELS[ecc])
    for segment in segments:
        qr.add_data(segment)  # a QRData is appended as is: no re-segmentation
    qr.make(fit=True)
    return qr


def qr_version(segments: Sequence[QRData], ecc: str) -> int:
    """The QR version (1..40) needed for ``segments`` at level ``ecc``; TOO_LARGE if none."""
    try:
        return qr_code(segments, ecc).version
    except DataOverflowError:
        return TOO_LARGE
    except ValueError as exc:  # qrcode 8 sets version 41 before its overflow check: refused
        if "Invalid version" in str(exc):
            return TOO_LARGE
        raise


def modes_used(segments: Sequence[QRData]) -> list[str]:
    """The modes the QR library really encodes ``segments`` in (read back from ``data_list``)."""
    qr: qrcode.QRCode[Any] = qrcode.QRCode()
    for segment in segments:
        qr.add_data(segment)
    return [MODE_NAMES.get(data.mode, str(data.mode)) for data in qr.data_list]


def alphanumeric_segments(text: str) -> list[QRData]:
    """``text`` as one alphanumeric-mode segment (ValueError if it is not QR-alphanumeric)."""
    return [QRData(text, mode=_ALPHANUMERIC)]


def shc_segments(text: str) -> list[QRData]:
    """SMART Health Card QR segments: ``shc:/`` in byte mode, then the digits in numeric mode."""
    prefix = "shc:/"
    if not text.startswith(prefix):
        raise ValueError("not a shc:/ text")
    return [QRData(prefix, mode=_BYTE), QRData(text[len(prefix) :], mode=_NUMERIC)]


# -- EU-DCC-style: CBOR, COSE_Sign1, zlib, Base45 ----------------------------------------------


def _epoch(stamp: str) -> int:
    return int(parse_datetime(stamp).timestamp())


def _without_proof(credential: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in credential.items() if key != "proof"}


def eu_dcc_cose(credential: Mapping[str, Any], key: Ed25519KeyPair) -> bytes:
    """A COSE_Sign1 (tag 18), EdDSA, over ``{1: iss, 4: exp, 6: iat, -260: {1: credential}}``."""
    claims = {
        1: "MX",
        4: _epoch(credential["validUntil"]),
        6: _epoch(credential["validFrom"]),
        -260: {1: _without_proof(credential)},
    }
    kid = hashlib.sha256(key.public_key).digest()[:8]
    protected = cbor2.dumps({1: -8, 4: kid})
    payload = cbor2.dumps(claims)
    signature = key.sign(cbor2.dumps(["Signature1", protected, b"", payload]))
    return cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, signature]))


def eu_dcc_style(credential: Mapping[str, Any], key: Ed25519KeyPair) -> str:
    """``HC1:`` + Base45(zlib level 9 (COSE_Sign1)) of the credential without its proof."""
    return "HC1:" + b45encode(zlib.compress(eu_dcc_cose(credential, key), 9))


# -- SMART-Health-Card-style: JWS (ES256, DEFLATE), numeric ------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _issuer_url(credential: Mapping[str, Any]) -> str:
    return "https://" + str(credential["issuer"]).removeprefix("did:web:").replace("%3A", ":")


def shc_payload(credential: Mapping[str, Any]) -> bytes:
    """The minified JWS payload JSON: ``iss``, ``nbf`` and ``vc`` (type, credentialSubject)."""
    claims = {
        "iss": _issuer_url(credential),
        "nbf": _epoch(credential["validFrom"]),
        "vc": {"type": credential["type"], "credentialSubject": credential["credentialSubject"]},
    }
    return json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def shc_jws(credential: Mapping[str, Any]) -> str:
    """A compact JWS, ES256 (a real P-256 signature, raw r||s), payload raw DEFLATE level 9."""
    private = ec.generate_private_key(ec.SECP256R1())
    numbers = private.public_key().public_numbers()
    jwk = {
        "crv": "P-256",
        "kty": "EC",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
    }
    thumbprint = _b64url(hashlib.sha256(json.dumps(jwk, separators=(",", ":")).encode()).digest())
    header = {"alg": "ES256", "zip": "DEF", "kid": thumbprint}
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = deflate.compress(shc_payload(credential)) + deflate.flush()
    signing_input = f"{_b64url(json.dumps(header, separators=(',', ':')).encode())}.{_b64url(body)}"
    r, s = decode_dss_signature(private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def shc_numeric(jws: str) -> str:
    """``shc:/`` + two digits per JWS character (``ord(c) - 45``)."""
    return "shc:/" + "".join(f"{ord(char) - 45:02d}" for char in jws)


def shc_style(credential: Mapping[str, Any]) -> str:
    """The SMART-Health-Card-style QR text of ``credential``."""
    return shc_numeric(shc_jws(credential))


# -- the table ---------------------------------------------------------------------------------


def _side(version: int) -> int:
    return 17 + 4 * version


def _cell(version: int) -> str:
    return ">40" if version == TOO_LARGE else str(version)


def main() -> None:
    """Print the QR-size table; print a FAIL line if the long-names card needs more than v10-M."""
    key = Ed25519KeyPair.generate()
    credentials = reference_credentials(key)
    levels = tuple(ECC_LEVELS)
    styles = ("ours", "EU-DCC-style", "SHC-style")
    print()
    print("QR version needed per error-correction level (L M Q H); lengths of each encoding")
    print(
        "  ours: SUS1:+Base45(card CBOR), 1 alphanumeric segment | EU-DCC-style: HC1:+Base45("
        "zlib(COSE_Sign1(CBOR))) | SHC-style: shc:/ byte + numeric segment (JWS ES256, DEFLATE)"
    )
    header = f"{'credential':<36}" + "".join(f"{style:>20}" for style in styles)
    print(header)
    failures: list[str] = []
    notes: list[str] = []
    ratio_rows = []
    for name, credential in credentials.items():
        card_bytes = encode_card_bytes(credential)
        ours = encode_card(credential)
        cose = eu_dcc_cose(credential, key)
        dcc = eu_dcc_style(credential, key)
        jws = shc_jws(credential)
        shc = shc_numeric(jws)
        segments = {
            "ours": alphanumeric_segments(ours),
            "EU-DCC-style": alphanumeric_segments(dcc),
            "SHC-style": shc_segments(shc),
        }
        versions = {style: [qr_version(segments[style], ecc) for ecc in levels] for style in styles}
        print(
            f"{name:<36}"
            + "".join(f"{' '.join(f'{_cell(v):>3}' for v in versions[s]):>20}" for s in styles)
        )
        json_bytes = len(json.dumps(credential, ensure_ascii=False, separators=(",", ":")).encode())
        print(
            f"{'':<4}JSON {json_bytes} B | ours: CBOR {len(card_bytes)} B, text {len(ours)} chars"
            f" | EU-DCC: COSE {len(cose)} B, zlib {len(zlib.compress(cose, 9))} B, text"
            f" {len(dcc)} chars | SHC: JWS {len(jws)} chars, {len(shc) - 5} digits"
        )
        print(
            f"{'':<4}modes: ours {modes_used(segments['ours'])}, EU-DCC "
            f"{modes_used(segments['EU-DCC-style'])}, SHC {modes_used(segments['SHC-style'])}"
        )
        ratio_rows.append((name, versions))
        at_m = versions["ours"][levels.index("M")]
        if name == LONG_NAMES and at_m > MAX_LONG_NAMES_VERSION:
            failures.append(
                f"FAIL: {name}: our card needs QR version {at_m} at level M "
                f"(must be ≤ {MAX_LONG_NAMES_VERSION})"
            )
        if name == VERY_LONG_NAMES:
            notes.append(
                f"note: {name} (not a requirement): our card needs QR version {at_m} at level M"
            )
    print()
    print("QR modules (side²) ours vs each, per level: ours/EU-DCC-style, ours/SHC-style")
    print(f"{'credential':<36}" + "".join(f"{level:>16}" for level in levels))
    for name, versions in ratio_rows:
        cells = []
        for i in range(len(levels)):
            ours_modules = _side(versions["ours"][i]) ** 2
            cells.append(
                "/".join(
                    f"{ours_modules / _side(versions[other][i]) ** 2:.2f}"
                    for other in ("EU-DCC-style", "SHC-style")
                )
            )
        print(f"{name:<36}" + "".join(f"{cell:>16}" for cell in cells))
    print()
    for line in notes:
        print(line)
    for line in failures or [
        f"OK: the {LONG_NAMES} card fits QR version ≤ {MAX_LONG_NAMES_VERSION} at level M"
    ]:
        print(line)


if __name__ == "__main__":
    main()
