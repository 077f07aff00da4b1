"""The fast paths of the verifier agree with the plain definitions they replace (issue 9).

Each rewrite for speed is checked against a straightforward reference implementation kept here,
on generated input including the hostile kind; the quick model check is checked to imply the
pydantic model's verdict; and the lazy imports that keep the verifier's start fast are pinned.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import subprocess
import sys
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from issuer.keys.files import Ed25519KeyPair
from tests.strategies import example_credential, unsigned_credentials
from verifier import (
    ContextLoader,
    b45encode,
    canonicalize,
    is_url,
    parse_health_coverage_credential,
)
from verifier._base45 import b45decode
from verifier._canon import canonicalize_full
from verifier._cardpack import (
    _Ctx,
    _pack_name,
    _pack_uuid,
    _unpack_clues,
    _unpack_curp,
    _unpack_name,
    _unpack_uuid,
)
from verifier._cardtables import _CURP_RADICES, _LETTERS, NAME_ALPHABET
from verifier._ed25519 import ed25519_verify
from verifier._fastcanon import fast_canonicalize
from verifier._identifiers import curp_check_digit
from verifier._model import CoverageSubject
from verifier._modelcheck import conforms_to_model, conforms_to_subject_model
from verifier._multibase import b58decode, b58encode

EXAMPLES = int(os.environ.get("CREDENCIAL_DIFFERENTIAL_EXAMPLES", "300"))
_SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
LOADER = ContextLoader()

# -- reference implementations (the code before the rewrite) ------------------------------------

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S")
_FORBIDDEN_IN_IRI = frozenset(' <>"{}|\\^`')
_B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def reference_is_url(value: object) -> bool:
    return (
        isinstance(value, str)
        and _SCHEME.match(value) is not None
        and not any(c in _FORBIDDEN_IN_IRI or ord(c) < 0x21 for c in value)
    )


def reference_b45decode(text: str) -> bytes:
    if len(text) % 3 == 1:
        raise ValueError("length")
    values = [_B45.index(char) if char in _B45 else -1 for char in text]
    if -1 in values:
        raise ValueError("character")
    out = bytearray()
    for i in range(0, len(values), 3):
        chunk = values[i : i + 3]
        if len(chunk) == 3:
            n = chunk[0] + chunk[1] * 45 + chunk[2] * 2025
            if n > 0xFFFF:
                raise ValueError("range")
            out += n.to_bytes(2, "big")
        else:
            n = chunk[0] + chunk[1] * 45
            if n > 0xFF:
                raise ValueError("range")
            out.append(n)
    return bytes(out)


def reference_b58encode(data: bytes) -> str:
    zeros = len(data) - len(data.lstrip(b"\0"))
    number, digits = int.from_bytes(data, "big"), []
    while number:
        number, rem = divmod(number, 58)
        digits.append(_B58[rem])
    return "1" * zeros + "".join(reversed(digits))


def reference_b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        if char not in _B58:
            raise ValueError(char)
        number = number * 58 + _B58.index(char)
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + (
        number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    )


def _outcome(function: Any, value: Any) -> Any:
    try:
        return function(value)
    except ValueError:
        return ValueError


_IRI_ALPHABET = list('aZ09+.-:/#? \t\n\x00\x1f!<>"{}|\\^`\u00a0\u2028\u3000é😀')


@_SETTINGS
@given(
    st.one_of(
        st.text(st.sampled_from(_IRI_ALPHABET), max_size=10),
        st.text(max_size=10),
        st.builds("{}:{}".format, st.text(st.sampled_from(_IRI_ALPHABET), max_size=4),
                  st.text(st.sampled_from(_IRI_ALPHABET), max_size=6)),
    )
)  # fmt: skip
def test_is_url_matches_its_definition(value: str) -> None:
    assert is_url(value) == reference_is_url(value)


@_SETTINGS
@given(st.one_of(st.binary(max_size=40).map(b45encode), st.text(_B45 + "a:é\x00", max_size=12)))
def test_base45_decoding_matches_its_definition(text: str) -> None:
    assert _outcome(b45decode, text) == _outcome(reference_b45decode, text)


@_SETTINGS
@given(st.binary(max_size=100))
def test_base58_matches_its_definition(data: bytes) -> None:
    text = b58encode(data)
    assert text == reference_b58encode(data)
    assert b58decode(text) == data


# What GMP's reader takes that base58btc does not: its own digits, signs, spaces, underscores.
_B58_TEXT_ALPHABET = list(_B58[:5] + "zZ1" + "0OIl+-_ \t\n.éx٣")


@_SETTINGS
@given(st.text(alphabet=_B58_TEXT_ALPHABET, max_size=40))
def test_base58_decoding_matches_its_definition_on_any_text(text: str) -> None:
    assert _outcome(b58decode, text) == _outcome(reference_b58decode, text)


def test_base58_refuses_what_is_not_base58() -> None:
    for bad in ("0", "O", "I", "l", "é", "abc def", "-", "_2", " ", "\n", "٣"):
        with pytest.raises(ValueError, match="invalid base58 character"):
            b58decode("2NEp" + bad)


def test_ed25519_verify_accepts_the_signature_and_nothing_else() -> None:
    key = Ed25519KeyPair.generate()
    message = b"hash data" * 7
    signature = key.sign(message)
    assert ed25519_verify(key.public_key, signature, message)
    assert not ed25519_verify(key.public_key, signature, message + b"!")
    assert not ed25519_verify(key.public_key, bytes([signature[0] ^ 1]) + signature[1:], message)
    assert not ed25519_verify(Ed25519KeyPair.generate().public_key, signature, message)
    assert not ed25519_verify(key.public_key[:31], signature, message)
    assert not ed25519_verify(key.public_key, signature[:63], message)
    assert not ed25519_verify(bytes(32), signature, message)  # a small-order key


# -- canonical forms ------------------------------------------------------------------------------


def _status_list(purpose: str = "revocation") -> dict[str, Any]:
    url = f"https://imss.gob.mx/credencial/status/{purpose}/1"
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": "did:web:imss.gob.mx",
        "validFrom": "2026-11-25T00:00:00Z",
        "validUntil": "2026-11-26T00:00:00Z",
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA",
            "ttl": 86_400_000,
        },
    }


@_SETTINGS
@given(
    purpose=st.sampled_from(["revocation", "suspension", 'a "quoted" \\ purpose']),
    drop=st.sets(st.sampled_from(["validFrom", "validUntil", "ttl"])),
    ttl=st.one_of(st.integers(-(2**60), 2**60), st.booleans(), st.floats(allow_nan=False)),
    reverse_types=st.booleans(),
)
def test_status_list_credentials_match_the_full_algorithm(
    purpose: str, drop: set[str], ttl: Any, reverse_types: bool
) -> None:
    document = _status_list()
    document["credentialSubject"]["statusPurpose"] = purpose
    document["credentialSubject"]["ttl"] = ttl
    for key in drop:
        (document["credentialSubject"] if key == "ttl" else document).pop(key)
    if reverse_types:
        document["type"].reverse()
    fast = fast_canonicalize(document)
    expected = canonicalize_full(document, LOADER)
    if fast is not None:
        assert fast == expected
    assert canonicalize(document, LOADER) == expected


def test_the_direct_path_is_taken_for_the_issuers_status_lists() -> None:
    assert fast_canonicalize(_status_list()) is not None
    bigger = _status_list()
    bigger["credentialSubject"]["statusSize"] = 1  # not our shape: the full algorithm decides
    assert fast_canonicalize(bigger) is None


def test_proof_options_are_cached_per_key_yet_exact_per_created() -> None:
    options = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "verificationMethod": "did:web:imss.gob.mx#key-1",
        "proofPurpose": "assertionMethod",
    }
    for created in ("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", None):
        document = dict(options) if created is None else {**options, "created": created}
        assert fast_canonicalize(document) == canonicalize_full(document, LOADER)
    hostile = {**options, "challenge": ["not", "a", "string"]}  # unhashable: no cache, no crash
    assert fast_canonicalize(hostile) is None
    embedded = {**options, "@context": [{"@vocab": "https://example.org/"}]}
    assert fast_canonicalize(embedded) is None
    assert fast_canonicalize({**options, "proofPurpose": ["assertionMethod"]}) is None


# -- the quick model check ----------------------------------------------------------------------

_MUTATIONS: list[tuple[str, Any]] = [
    ("givenName", "tab\there"),
    ("givenName", " leading"),
    ("givenName", "x" * 81),
    ("givenName", "\ud800"),
    ("givenName", None),
    ("curp", "HEGM850314MDFRRR02"),
    ("birthDate", "1985-3-14"),
    ("birthDate", "1985-02-30"),
    ("secondFamilyName", ""),
    ("id", "did:key:z6Mk0OIl"),
    ("coverage.type", "Other"),
    ("coverage.institution", "PEMEX"),
    ("coverage.affiliationNumber", "abc"),
    ("coverage.adscriptionUnit", "DFIMS00001"),
    ("coverage.beneficiaryRelationship", "primo"),
    ("coverage.extra", "x"),
    ("top.issuer", "did:web:bad host"),
    ("top.id", "urn:uuid:NOT-A-UUID"),
    ("top.validFrom", "2031-01-02T00:00:00Z"),
    ("top.validUntil", "2026-13-01T00:00:00Z"),
    ("top.type", ["VerifiableCredential"]),
    ("top.@context", ["https://www.w3.org/ns/credentials/v2"]),
    ("top.extra", 1),
    ("status.statusListIndex", "01"),
    ("status.statusPurpose", "refresh"),
    ("status.statusListCredential", "ftp://imss.gob.mx/1"),
    ("status.id", "not an iri"),
    ("schema.type", "JsonSchema2023"),
]


def _mutate(document: dict[str, Any], where: str, value: Any) -> None:
    scope, _, key = where.rpartition(".")
    subject = document["credentialSubject"]
    node = {
        "": subject,
        "coverage": subject["coverage"],
        "top": document,
        "status": document["credentialStatus"][0] if document.get("credentialStatus") else {},
        "schema": document.get("credentialSchema", {}),
    }[scope]
    node[key] = value


def _pydantic_accepts(document: dict[str, Any]) -> bool:
    try:
        parse_health_coverage_credential(document)
    except ValidationError:
        return False
    return True


@_SETTINGS
@given(unsigned_credentials(), st.lists(st.sampled_from(_MUTATIONS), max_size=2))
def test_the_quick_model_check_implies_the_model(
    document: dict[str, Any], mutations: list[tuple[str, Any]]
) -> None:
    document = copy.deepcopy(document)
    for where, value in mutations:
        _mutate(document, where, value)
    if conforms_to_model(document):
        assert _pydantic_accepts(document)
    if not mutations:
        assert conforms_to_model(document)  # the quick path is the usual path


@_SETTINGS
@given(unsigned_credentials(), st.lists(st.sampled_from(_MUTATIONS), max_size=2))
def test_the_quick_subject_check_implies_the_subject_model(
    document: dict[str, Any], mutations: list[tuple[str, Any]]
) -> None:
    document = copy.deepcopy(document)
    for where, value in mutations:
        _mutate(document, where, value)
    subject = document["credentialSubject"]
    if conforms_to_subject_model(subject):
        CoverageSubject.model_validate(subject)  # raises if the model refuses
    if not any(where.startswith(("top.", "status.", "schema.")) for where, _ in mutations):
        assert conforms_to_subject_model(subject) == conforms_to_model(document)


@pytest.mark.parametrize(("where", "value"), _MUTATIONS)
def test_the_quick_model_check_refuses_each_broken_field(where: str, value: Any) -> None:
    document = example_credential()
    _mutate(document, where, value)
    assert not conforms_to_model(document)


def test_the_quick_model_check_wants_exact_json_types() -> None:
    document = example_credential()
    assert conforms_to_model(document)
    assert conforms_to_model(json.loads(json.dumps(document)))
    document["type"] = tuple(document["type"])
    assert not conforms_to_model(document)


# -- start time ---------------------------------------------------------------------------------


def test_the_command_line_starts_without_pyld_or_pydantic() -> None:
    code = "import sys, verifier.cli; print(sorted({'pyld', 'pydantic'} & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


# -- card codec value packers -------------------------------------------------------------------


def reference_pack_name(value: str) -> bytes | None:
    if not value or any(char not in NAME_ALPHABET for char in value):
        return None
    number = 1
    for char in value:
        number = number * len(NAME_ALPHABET) + NAME_ALPHABET.index(char)
    packed = number.to_bytes(max(1, (number.bit_length() + 7) // 8), "big")
    return packed if len(packed) <= 120 else None


def reference_unpack_name(value: bytes) -> str:
    if not 0 < len(value) <= 120:
        raise ValueError("length")
    number, chars = int.from_bytes(value, "big"), []
    while number > 1:
        number, digit = divmod(number, len(NAME_ALPHABET))
        chars.append(NAME_ALPHABET[digit])
    if number != 1 or not chars:
        raise ValueError("bad packed name")
    return "".join(reversed(chars))


@_SETTINGS
@given(st.text(st.sampled_from(NAME_ALPHABET + "aé"), max_size=200))
def test_name_packing_matches_its_definition(name: str) -> None:
    assert _pack_name(name, _Ctx(None)) == reference_pack_name(name)


@_SETTINGS
@given(st.binary(max_size=125))
def test_name_unpacking_matches_its_definition(packed: bytes) -> None:
    def ours(value: bytes) -> str | None:
        return _unpack_name(value, _Ctx(None))

    assert _outcome(ours, packed) == _outcome(reference_unpack_name, packed)


def reference_unpack_curp(value: int) -> str:
    symbols = []
    for radix in reversed(_CURP_RADICES):  # one symbol at a time, least significant first
        value, digit = divmod(value, len(radix))
        symbols.append(radix[digit])
    if value:
        raise ValueError("out of range")
    body = "".join(reversed(symbols))
    return body + curp_check_digit(body)


_CURP_TOP = math.prod(len(radix) for radix in _CURP_RADICES)


@_SETTINGS
@given(
    st.one_of(
        st.integers(0, 2 * _CURP_TOP),
        st.sampled_from([0, 1, _CURP_TOP - 1, _CURP_TOP, _CURP_TOP + 1, 10**40]),
    )
)
def test_curp_unpacking_matches_its_definition(number: int) -> None:
    def ours(value: int) -> str | None:
        return _unpack_curp(value, _Ctx(None))

    assert _outcome(ours, number) == _outcome(reference_unpack_curp, number)


def reference_unpack_clues(value: bytes) -> str:
    if not 0 < len(value) <= 6:
        raise ValueError("length")
    letters_number, digits = divmod(int.from_bytes(value, "big"), 1_000_000)
    letters = []
    for _ in range(5):
        letters_number, digit = divmod(letters_number, 26)
        letters.append(_LETTERS[digit])
    if letters_number:
        raise ValueError("out of range")
    return "".join(reversed(letters)) + f"{digits:06d}"


@_SETTINGS
@given(st.binary(max_size=7))
def test_clues_unpacking_matches_its_definition(packed: bytes) -> None:
    def ours(value: bytes) -> str | None:
        return _unpack_clues(value, _Ctx(None))

    assert _outcome(ours, packed) == _outcome(reference_unpack_clues, packed)


@_SETTINGS
@given(st.uuids(), st.booleans())
def test_uuid_packing_matches_the_uuid_class(value: uuid.UUID, upper: bool) -> None:
    text = f"urn:uuid:{str(value).upper() if upper else value}"
    assert _pack_uuid(text, _Ctx(None)) == value.bytes
    assert _unpack_uuid(value.bytes, _Ctx(None)) == f"urn:uuid:{value}"
