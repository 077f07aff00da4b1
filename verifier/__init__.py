"""credencial's offline verifier: health-coverage credentials (W3C VC 2.0, eddsa-rdfc-2022).

No network I/O, ever: JSON-LD contexts are bundled, keys come from a :class:`TrustStore`, status
lists from a :class:`StatusListSource` the caller fills. ``Verifier.verify`` raises from one
exception tree (see :mod:`verifier._errors`); ``Verifier.check`` returns a
:class:`VerificationResult` with a :class:`Verdict` and reasons with stable :class:`ReasonCode`\\ s.
"""

from typing import TYPE_CHECKING, Any

from ._authorize import (
    DATA_CLASSES,
    HEALTH_PURPOSES,
    JUDICIAL_ORDER_ROLES,
    AccessDecision,
    AccessRequest,
    AuthorizationCode,
    AuthorizationReason,
    ConsentGrant,
    Grant,
    Grantee,
    JudicialApproval,
    JudicialOrderGrant,
    authorize,
)
from ._base45 import b45decode, b45encode
from ._bundle import (
    AnchorKey,
    AnchorSet,
    BundleInstitution,
    BundleStatusList,
    BundleStatusLists,
    TrustBundle,
    bundle_signing_bytes,
    encode_bundle_signature,
    load_trust_bundle,
)
from ._canon import canonicalize, expand
from ._card import (
    CARD_PREFIX,
    CARD_VERSION,
    MAX_CARD_TEXT,
    decode_card,
    decode_card_bytes,
    encode_card,
    encode_card_bytes,
    is_card_text,
)
from ._consent import (
    CONSENT_RECEIPT_TYPE,
    consent_grant_from_json,
    consent_grant_from_receipt,
    consent_statement_id,
    offline_consent_grants,
)
from ._contexts import CREDENTIALS_V2_URL, ContextLoader, bundled_contexts, load_context_file
from ._datamodel import check_credential, is_url, issuer_id, validity_period
from ._didkey import (
    did_key_from_public_key,
    did_key_verification_method,
    public_key_from_did_key,
)
from ._errors import (
    CardEncodingError,
    CardFormatError,
    ContextError,
    CredencialError,
    CredentialRevokedError,
    CredentialSuspendedError,
    DataLossError,
    DataModelError,
    IndeterminateError,
    InputError,
    InvalidCredentialError,
    KeyFormatError,
    PolicyError,
    PresentationError,
    ProofError,
    ReasonCode,
    SchemaError,
    TrustBundleError,
    UntrustedKeyError,
    ValidityPeriodError,
)
from ._identifiers import INSTITUTION_CODES, curp_check_digit, is_valid_clues, is_valid_curp
from ._json import IJsonError, parse_json
from ._messages import Language, reason_summary, verdict_label
from ._multibase import (
    ED25519_PRIV_PREFIX,
    ED25519_PUB_PREFIX,
    decode_multibase,
    decode_multikey,
    encode_multikey,
)
from ._policy import AllOf, AnyOf, Policy, RequireIssuer, RequireType, UnsafeNoOp
from ._presentation import (
    PRESENTATION_TYPE,
    ChallengeStore,
    InMemoryChallengeStore,
    PresentationResult,
    PresentationVerifier,
    create_presentation,
)
from ._proof import (
    CRYPTOSUITE,
    PROOF_TYPE,
    ProofParts,
    Signer,
    create_proof,
    hash_data,
    split_proof,
)
from ._relationships import (
    RELATIONSHIP_TERMS,
    RELATIONSHIP_TERMS_WRITTEN,
    RELATIONSHIP_VOCABULARY_VERSION,
    RETIRED_RELATIONSHIP_TERMS,
)
from ._status import (
    MIN_STATUS_LIST_BITS,
    InMemoryStatusLists,
    StatusListSource,
    decode_status_bits,
    encode_status_bits,
    status_bit,
)
from ._time import format_datetime, parse_datetime
from ._trust import TrustStore
from ._trust_state import TrustDir, TrustState
from ._trusted_key import TrustedKey
from ._verifier import Reason, Verdict, VerificationResult, Verifier, VerifierConfig

if TYPE_CHECKING:
    from ._model import (
        Coverage,
        CoverageSubject,
        HealthCoverageCredential,
        StatusListEntry,
        parse_health_coverage_credential,
    )

#: The pydantic model loads on first use: importing pydantic costs the verifier's start time
#: (docs/perf.md), and verification only needs it for credentials the quick check cannot vouch for.
_MODEL_NAMES = frozenset(
    {
        "Coverage",
        "CoverageSubject",
        "HealthCoverageCredential",
        "StatusListEntry",
        "parse_health_coverage_credential",
    }
)


def __getattr__(name: str) -> Any:
    if name in _MODEL_NAMES:
        from . import _model

        return getattr(_model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CARD_PREFIX",
    "CARD_VERSION",
    "CONSENT_RECEIPT_TYPE",
    "CREDENTIALS_V2_URL",
    "CRYPTOSUITE",
    "DATA_CLASSES",
    "ED25519_PRIV_PREFIX",
    "ED25519_PUB_PREFIX",
    "HEALTH_PURPOSES",
    "INSTITUTION_CODES",
    "JUDICIAL_ORDER_ROLES",
    "MAX_CARD_TEXT",
    "MIN_STATUS_LIST_BITS",
    "PRESENTATION_TYPE",
    "PROOF_TYPE",
    "RELATIONSHIP_TERMS",
    "RELATIONSHIP_TERMS_WRITTEN",
    "RELATIONSHIP_VOCABULARY_VERSION",
    "RETIRED_RELATIONSHIP_TERMS",
    "AccessDecision",
    "AccessRequest",
    "AllOf",
    "AnchorKey",
    "AnchorSet",
    "AnyOf",
    "AuthorizationCode",
    "AuthorizationReason",
    "BundleInstitution",
    "BundleStatusList",
    "BundleStatusLists",
    "CardEncodingError",
    "CardFormatError",
    "ChallengeStore",
    "ConsentGrant",
    "ContextError",
    "ContextLoader",
    "Coverage",
    "CoverageSubject",
    "CredencialError",
    "CredentialRevokedError",
    "CredentialSuspendedError",
    "DataLossError",
    "DataModelError",
    "Grant",
    "Grantee",
    "HealthCoverageCredential",
    "IJsonError",
    "InMemoryChallengeStore",
    "InMemoryStatusLists",
    "IndeterminateError",
    "InputError",
    "InvalidCredentialError",
    "JudicialApproval",
    "JudicialOrderGrant",
    "KeyFormatError",
    "Language",
    "Policy",
    "PolicyError",
    "PresentationError",
    "PresentationResult",
    "PresentationVerifier",
    "ProofError",
    "ProofParts",
    "Reason",
    "ReasonCode",
    "RequireIssuer",
    "RequireType",
    "SchemaError",
    "Signer",
    "StatusListEntry",
    "StatusListSource",
    "TrustBundle",
    "TrustBundleError",
    "TrustDir",
    "TrustState",
    "TrustStore",
    "TrustedKey",
    "UnsafeNoOp",
    "UntrustedKeyError",
    "ValidityPeriodError",
    "Verdict",
    "VerificationResult",
    "Verifier",
    "VerifierConfig",
    "authorize",
    "b45decode",
    "b45encode",
    "bundle_signing_bytes",
    "bundled_contexts",
    "canonicalize",
    "check_credential",
    "consent_grant_from_json",
    "consent_grant_from_receipt",
    "consent_statement_id",
    "create_presentation",
    "create_proof",
    "curp_check_digit",
    "decode_card",
    "decode_card_bytes",
    "decode_multibase",
    "decode_multikey",
    "decode_status_bits",
    "did_key_from_public_key",
    "did_key_verification_method",
    "encode_bundle_signature",
    "encode_card",
    "encode_card_bytes",
    "encode_multikey",
    "encode_status_bits",
    "expand",
    "format_datetime",
    "hash_data",
    "is_card_text",
    "is_url",
    "is_valid_clues",
    "is_valid_curp",
    "issuer_id",
    "load_context_file",
    "load_trust_bundle",
    "offline_consent_grants",
    "parse_datetime",
    "parse_health_coverage_credential",
    "parse_json",
    "public_key_from_did_key",
    "reason_summary",
    "split_proof",
    "status_bit",
    "validity_period",
    "verdict_label",
]
