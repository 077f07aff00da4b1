"""Typed, immutable model of a health-coverage credential (the JSON form, field for field).

The model is strict: unknown fields are refused at every level (so nothing such as a biometric
template can ride along), explicit ``null`` values are refused, strings are never coerced, and
date-times keep their original text so that ``to_json()`` gives back exactly what was parsed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from schemas import CREDENCIAL_CONTEXT_URL

from ._contexts import CREDENTIALS_V2_URL
from ._identifiers import is_valid_clues, is_valid_curp
from ._time import parse_datetime

__all__ = [
    "Coverage",
    "CoverageSubject",
    "CredentialSchemaRef",
    "DataIntegrityProofModel",
    "HealthCoverageCredential",
    "StatusListEntry",
    "parse_health_coverage_credential",
]

_REQUIRED_CONTEXTS = (CREDENTIALS_V2_URL, CREDENCIAL_CONTEXT_URL)
_REQUIRED_TYPES = frozenset({"VerifiableCredential", "HealthCoverageCredential"})
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# Printable text: no control characters, no leading or trailing space.
_TEXT_PATTERN = r"^[^\x00-\x20\x7f](?:[^\x00-\x1f\x7f]*[^\x00-\x20\x7f])?$"
_ABSOLUTE_IRI_PATTERN = r'^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>"{}|\\^`]+$'
_HTTP_URL_PATTERN = r'^https?://[^\s<>"{}|\\^`]+$'
_UUID_URN_PATTERN = r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_DID_WEB_PATTERN = r"^did:web:[A-Za-z0-9.-]+(?:%3[Aa][0-9]+)?(?::[A-Za-z0-9._%-]+)*$"
_DID_KEY_ED25519_PATTERN = r"^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+$"


def _check_curp(value: str) -> str:
    if not is_valid_curp(value):
        raise ValueError("not a valid CURP (structure, birth date, state code or check digit)")
    return value


def _check_clues(value: str) -> str:
    if not is_valid_clues(value):
        raise ValueError("not a CLUES code (five capital letters and six digits)")
    return value


def _check_datetime_stamp(value: str) -> str:
    parse_datetime(value)  # raises ValueError with a helpful message
    return value


def _parse_date(value: object) -> object:
    """Accept exactly ``YYYY-MM-DD`` text (no timestamps, no other spellings)."""
    if isinstance(value, str):
        if _DATE.fullmatch(value) is None:
            raise ValueError("a date is written YYYY-MM-DD")
        return date.fromisoformat(value)
    return value


_Text80 = Annotated[str, Field(min_length=1, max_length=80, pattern=_TEXT_PATTERN)]
_DateTimeStamp = Annotated[str, AfterValidator(_check_datetime_stamp)]
_Curp = Annotated[str, Field(min_length=18, max_length=18), AfterValidator(_check_curp)]
_Clues = Annotated[str, Field(min_length=11, max_length=11), AfterValidator(_check_clues)]
_AbsoluteIri = Annotated[str, Field(pattern=_ABSOLUTE_IRI_PATTERN)]
_HttpUrl = Annotated[str, Field(pattern=_HTTP_URL_PATTERN)]
_NonEmpty = Annotated[str, Field(min_length=1)]
# JSON arrays arrive as lists; the model stores tuples so that it is immutable and hashable.
_StrTuple = Annotated[tuple[str, ...], Field(strict=False)]


class _JsonModel(BaseModel):
    """Frozen, strict, alias-only base: the JSON spelling is the only accepted spelling."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _refuse_nulls(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            nulls = sorted(str(key) for key, value in data.items() if value is None)
            if nulls:
                raise ValueError(f"null is not allowed (omit the field instead): {nulls}")
        return data

    def to_json(self) -> dict[str, Any]:
        """The JSON form: aliases as keys, absent optional fields omitted."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Coverage(_JsonModel):
    """What the person is covered by: institution, programme, affiliation and facility."""

    type: Literal["HealthCoverage"] | None = None
    institution: Literal["IMSS", "ISSSTE", "IMSS-BIENESTAR"]
    program: _Text80
    affiliation_number: Annotated[
        str, Field(alias="affiliationNumber", min_length=1, max_length=20, pattern=r"^[0-9A-Z-]+$")
    ]
    beneficiary_relationship: Annotated[
        # verifier._relationships.RELATIONSHIP_TERMS (a test keeps them equal)
        Literal[
            "titular",
            "conyuge",
            "concubino",
            "hijo",
            "padre",
            "madre",
            "otro",
            "cónyuge",
            "esposa",
            "esposo",
            "concubina",
            "hija",
        ],
        Field(alias="beneficiaryRelationship"),
    ]
    adscription_unit: Annotated[_Clues, Field(alias="adscriptionUnit")]


class CoverageSubject(_JsonModel):
    """The covered person. ``id`` is the holder's Ed25519 ``did:key`` (wallet form only)."""

    id: Annotated[str, Field(pattern=_DID_KEY_ED25519_PATTERN)] | None = None
    curp: _Curp
    given_name: Annotated[_Text80, Field(alias="givenName")]
    family_name: Annotated[_Text80, Field(alias="familyName")]
    second_family_name: _Text80 | None = Field(default=None, alias="secondFamilyName")
    birth_date: Annotated[date, BeforeValidator(_parse_date), Field(alias="birthDate")]
    coverage: Coverage


class StatusListEntry(_JsonModel):
    """A ``BitstringStatusListEntry`` (revocation or suspension)."""

    id: _AbsoluteIri | None = None
    type: Literal["BitstringStatusListEntry"]
    status_purpose: Annotated[Literal["revocation", "suspension"], Field(alias="statusPurpose")]
    status_list_index: Annotated[
        str, Field(alias="statusListIndex", pattern=r"^(?:0|[1-9][0-9]{0,9})$")
    ]
    status_list_credential: Annotated[_HttpUrl, Field(alias="statusListCredential")]

    @property
    def index(self) -> int:
        """``statusListIndex`` as an integer."""
        return int(self.status_list_index)


_StatusTuple = Annotated[tuple[StatusListEntry, ...], Field(strict=False, max_length=2)]


class CredentialSchemaRef(_JsonModel):
    """A ``credentialSchema`` reference to a JSON Schema."""

    id: _HttpUrl
    type: Literal["JsonSchema"]


class DataIntegrityProofModel(_JsonModel):
    """The shape of a Data Integrity proof; cryptographic checks live in the proof module."""

    context: str | _StrTuple | None = Field(default=None, alias="@context")
    id: _AbsoluteIri | None = None
    type: _NonEmpty
    cryptosuite: _NonEmpty
    created: _DateTimeStamp | None = None
    expires: _DateTimeStamp | None = None
    verification_method: Annotated[_AbsoluteIri, Field(alias="verificationMethod")]
    proof_purpose: Annotated[_NonEmpty, Field(alias="proofPurpose")]
    challenge: _NonEmpty | None = None
    domain: _NonEmpty | None = None
    nonce: _NonEmpty | None = None
    proof_value: _NonEmpty | None = Field(default=None, alias="proofValue")

    @property
    def created_datetime(self) -> datetime | None:
        """``created`` as an aware UTC datetime."""
        return None if self.created is None else parse_datetime(self.created)

    @property
    def expires_datetime(self) -> datetime | None:
        """``expires`` as an aware UTC datetime."""
        return None if self.expires is None else parse_datetime(self.expires)


class HealthCoverageCredential(_JsonModel):
    """A health-coverage Verifiable Credential (VC 2.0), with or without its proof."""

    context: Annotated[tuple[str, ...], Field(alias="@context", strict=False, min_length=2)]
    id: Annotated[str, Field(pattern=_UUID_URN_PATTERN)]
    type: Annotated[tuple[str, ...], Field(strict=False, min_length=2, max_length=2)]
    issuer: Annotated[str, Field(pattern=_DID_WEB_PATTERN)]
    valid_from: Annotated[_DateTimeStamp, Field(alias="validFrom")]
    valid_until: Annotated[_DateTimeStamp, Field(alias="validUntil")]
    credential_subject: Annotated[CoverageSubject, Field(alias="credentialSubject")]
    credential_status: _StatusTuple | None = Field(default=None, alias="credentialStatus")
    credential_schema: CredentialSchemaRef | None = Field(default=None, alias="credentialSchema")
    proof: DataIntegrityProofModel | None = None

    @model_validator(mode="after")
    def _check_consistency(self) -> HealthCoverageCredential:
        if self.context[:2] != _REQUIRED_CONTEXTS:
            raise ValueError(f"@context must start with {list(_REQUIRED_CONTEXTS)}")
        if len(set(self.context)) != len(self.context):
            raise ValueError("@context lists an entry twice")
        if frozenset(self.type) != _REQUIRED_TYPES:
            raise ValueError(f"type must be exactly {sorted(_REQUIRED_TYPES)}")
        if self.valid_from_datetime > self.valid_until_datetime:
            raise ValueError("validFrom is after validUntil")
        purposes = [entry.status_purpose for entry in self.credential_status or ()]
        if len(set(purposes)) != len(purposes):
            raise ValueError("two credentialStatus entries have the same statusPurpose")
        return self

    @property
    def valid_from_datetime(self) -> datetime:
        """``validFrom`` as an aware UTC datetime."""
        return parse_datetime(self.valid_from)

    @property
    def valid_until_datetime(self) -> datetime:
        """``validUntil`` as an aware UTC datetime."""
        return parse_datetime(self.valid_until)

    def status_entry(self, purpose: Literal["revocation", "suspension"]) -> StatusListEntry | None:
        """The status entry with the given purpose, if any."""
        for entry in self.credential_status or ():
            if entry.status_purpose == purpose:
                return entry
        return None


def parse_health_coverage_credential(data: Mapping[str, Any]) -> HealthCoverageCredential:
    """Validate the JSON form of a credential; raises ``pydantic.ValidationError`` if it is bad."""
    return HealthCoverageCredential.model_validate(dict(data))
