"""The reference holder library: what our tests use to play the citizen (not a mobile app).

- :class:`HolderKey`: the holder's Ed25519 key and did:key.
- :class:`WalletStore`: a wallet folder (key and credentials, atomic 0600 files).
- :func:`accept_offer`: OpenID4VCI 1.0 pre-authorized code flow, from the QR's offer URI to a
  credential bound to the holder key.
- :func:`answer_request`: a Verifiable Presentation for a presentation request (challenge,
  domain), carrying only what the request asks for.
- :func:`credential_state`: what the wallet shows (VALID ... UNVERIFIABLE when lists are stale).

Every refusal is a :class:`WalletError` with a stable code (:data:`WALLET_ERROR_CODES`).
- :class:`PersonApi`: the person's side over HTTP (consent requests, grants, access log, own
  record, units), each call authenticated by a presentation; :func:`approval_grant` builds an
  approval, never wider than the request.
- :class:`IssuerUrls` / :class:`MappedClient`: reach an issuer at a local server, identifiers
  unchanged (``--issuer-url``, ``$CREDENCIAL_WALLET_ISSUER_URLS``).
"""

from ._errors import WALLET_ERROR_CODES, WalletError
from ._keys import HolderKey
from ._oid4vci import (
    KEY_PROOF_TYP,
    OFFER_URI_SCHEME,
    PRE_AUTHORIZED_GRANT,
    TRUSTED_ISSUERS,
    CredentialOffer,
    HttpClient,
    HttpResponse,
    accept_offer,
    key_proof,
    parse_offer,
)
from ._person import (
    Custodian,
    PersonApi,
    approval_grant,
    custodians,
    end_of_day,
    holder_presentation,
)
from ._present import MAX_QUERIES, answer_request, matches_query, parse_request, select_credentials
from ._state import STATE_LABELS, CredentialState, credential_state
from ._store import STORE_VERSION, WalletStore, write_private_file
from ._transport import ISSUER_URLS_ENV, IssuerUrls, MappedClient

__all__ = [
    "ISSUER_URLS_ENV",
    "KEY_PROOF_TYP",
    "MAX_QUERIES",
    "OFFER_URI_SCHEME",
    "PRE_AUTHORIZED_GRANT",
    "STATE_LABELS",
    "STORE_VERSION",
    "TRUSTED_ISSUERS",
    "WALLET_ERROR_CODES",
    "CredentialOffer",
    "CredentialState",
    "Custodian",
    "HolderKey",
    "HttpClient",
    "HttpResponse",
    "IssuerUrls",
    "MappedClient",
    "PersonApi",
    "WalletError",
    "WalletStore",
    "accept_offer",
    "answer_request",
    "approval_grant",
    "credential_state",
    "custodians",
    "end_of_day",
    "holder_presentation",
    "key_proof",
    "matches_query",
    "parse_offer",
    "parse_request",
    "select_credentials",
    "write_private_file",
]
