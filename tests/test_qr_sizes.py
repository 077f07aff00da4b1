"""QR sizes of the card form (``bench/qr_sizes.py``): the long-names card fits version 10 at
level M in alphanumeric mode, ours is smaller than EU-DCC-style and SHC-style encodings, and every
reference credential survives the card form exactly."""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bench.qr_sizes import (
    LONG_NAMES,
    MAX_LONG_NAMES_VERSION,
    TOO_LARGE,
    alphanumeric_segments,
    eu_dcc_style,
    modes_used,
    qr_version,
    reference_credentials,
    shc_segments,
    shc_style,
)
from issuer.keys.files import Ed25519KeyPair
from verifier import b45decode, decode_card, encode_card

KEY = Ed25519KeyPair.generate()
NAMES = (
    "short names",
    LONG_NAMES,
    "ISSSTE beneficiary (hijo)",
    "IMSS-BIENESTAR with holder did:key",
)
#: Data codewords of a version-10 QR code at level M (ISO/IEC 18004, table 7).
V10_M_DATA_BITS = 216 * 8


@pytest.fixture(scope="module")
def credentials() -> dict[str, dict[str, Any]]:
    return reference_credentials(KEY)


def _alphanumeric_bits(text: str) -> int:
    """Bits of one alphanumeric segment in versions 10-26: mode, 11-bit count, 11 bits a pair."""
    return 4 + 11 + 11 * (len(text) // 2) + 6 * (len(text) % 2)


def test_reference_set_covers_the_brief(credentials: dict[str, dict[str, Any]]) -> None:
    assert set(NAMES) <= set(credentials)
    long_subject = credentials[LONG_NAMES]["credentialSubject"]
    assert len(long_subject["givenName"]) >= 40
    assert len(long_subject["familyName"]) + len(long_subject["secondFamilyName"]) >= 40
    assert any(char in "ÁÉÍÓÚÑ" for char in long_subject["givenName"] + long_subject["familyName"])
    assert long_subject["coverage"]["affiliationNumber"].isdigit()
    assert [entry["statusPurpose"] for entry in credentials[LONG_NAMES]["credentialStatus"]] == [
        "revocation",
        "suspension",
    ]
    child = credentials["ISSSTE beneficiary (hijo)"]["credentialSubject"]["coverage"]
    assert (child["institution"], child["beneficiaryRelationship"]) == ("ISSSTE", "hijo")
    holder = credentials["IMSS-BIENESTAR with holder did:key"]["credentialSubject"]
    assert holder["id"].startswith("did:key:z6Mk")
    for credential in credentials.values():
        assert credential["proof"]["cryptosuite"] == "eddsa-rdfc-2022"


def test_long_names_card_fits_version_10_at_level_m(
    credentials: dict[str, dict[str, Any]],
) -> None:
    text = encode_card(credentials[LONG_NAMES])
    segments = alphanumeric_segments(text)
    assert modes_used(segments) == ["alphanumeric"]
    assert qr_version(segments, "M") <= MAX_LONG_NAMES_VERSION
    # the same judgement without the QR library: the segment fits the version-10-M data bits
    assert _alphanumeric_bits(text) <= V10_M_DATA_BITS


@pytest.mark.parametrize("name", NAMES)
def test_ours_is_smaller_than_both_other_styles_at_level_m(
    credentials: dict[str, dict[str, Any]], name: str
) -> None:
    credential = credentials[name]
    ours = qr_version(alphanumeric_segments(encode_card(credential)), "M")
    dcc = qr_version(alphanumeric_segments(eu_dcc_style(credential, KEY)), "M")
    shc = qr_version(shc_segments(shc_style(credential)), "M")
    assert ours < dcc
    assert ours < shc


@pytest.mark.parametrize("name", NAMES)
def test_reference_credential_round_trips_exactly(
    credentials: dict[str, dict[str, Any]], name: str
) -> None:
    credential = credentials[name]
    text = encode_card(credential)
    assert decode_card(text) == credential
    assert encode_card(decode_card(text)) == text


def test_eu_dcc_style_really_carries_the_signed_credential(
    credentials: dict[str, dict[str, Any]],
) -> None:
    credential = credentials[LONG_NAMES]
    text = eu_dcc_style(credential, KEY)
    assert text.startswith("HC1:")
    assert modes_used(alphanumeric_segments(text)) == ["alphanumeric"]
    cose = cbor2.loads(zlib.decompress(b45decode(text.removeprefix("HC1:"))))
    assert cose.tag == 18
    protected, _unprotected, payload, signature = cose.value
    header = cbor2.loads(protected)
    assert set(header) == {1, 4}
    assert header[1] == -8  # EdDSA
    assert len(header[4]) == 8  # kid
    Ed25519PublicKey.from_public_bytes(KEY.public_key).verify(
        signature, cbor2.dumps(["Signature1", protected, b"", payload])
    )
    claims = cbor2.loads(payload)
    assert set(claims) == {1, 4, 6, -260}
    assert claims[-260][1] == {k: v for k, v in credential.items() if k != "proof"}


def test_shc_style_really_carries_the_claims(credentials: dict[str, dict[str, Any]]) -> None:
    credential = credentials[LONG_NAMES]
    text = shc_style(credential)
    segments = shc_segments(text)
    assert modes_used(segments) == ["byte", "numeric"]
    digits = text.removeprefix("shc:/")
    jws = "".join(chr(int(digits[i : i + 2]) + 45) for i in range(0, len(digits), 2))
    header_b64, payload_b64, signature_b64 = jws.split(".")

    def unb64(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    header = json.loads(unb64(header_b64))
    assert header["alg"] == "ES256"
    assert header["zip"] == "DEF"
    assert len(header["kid"]) == 43
    assert len(unb64(signature_b64)) == 64
    payload = json.loads(zlib.decompress(unb64(payload_b64), wbits=-15))
    assert payload["iss"] == "https://imss.gob.mx"
    assert payload["vc"] == {
        "type": credential["type"],
        "credentialSubject": credential["credentialSubject"],
    }


def test_qr_version_measures_modes_and_capacity() -> None:
    # version 1 at level M holds 20 alphanumeric characters or 34 digits (ISO/IEC 18004, table 7)
    assert qr_version(alphanumeric_segments("A" * 20), "M") == 1
    assert qr_version(alphanumeric_segments("A" * 21), "M") == 2
    # "shc:/" as bytes (52 bits) then digits: 10 digits (48 bits) fit 128, 20 (81 bits) do not
    assert qr_version(shc_segments("shc:/" + "1" * 10), "M") == 1
    assert qr_version(shc_segments("shc:/" + "1" * 20), "M") == 2
    assert qr_version(alphanumeric_segments("A" * 5000), "L") == TOO_LARGE
    with pytest.raises(ValueError, match="can not be represented"):
        alphanumeric_segments("lower case")
