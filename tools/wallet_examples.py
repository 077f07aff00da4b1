"""The worked examples of the wallet specification, produced by the code they describe.

``python -m tools.wallet_examples`` rewrites the files in ``wallet_spec/examples/``; ``--check``
only compares (exit 1 on any difference). It lives outside ``wallet_spec/`` because it imports the
issuer, which the wallet package never does. ``tests/wallet_spec/test_spec_examples.py``
regenerates them in memory and compares, validates each against its JSON Schema, and checks that
the Markdown quotes them exactly, so the specification cannot drift from the code.

Everything is fixed so the output is reproducible: the issuer key is the card codec's example
key (``SHA-256("credencial card-codec example")``), the holder key is
``SHA-256("credencial wallet-spec example holder")``, the codes, nonces and times are constants,
and Ed25519 signatures are deterministic. Building the issuer-side examples uses the issuer's own
functions (the ``issuer`` extra); the wallet-side ones use :mod:`wallet_spec.holder`.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "EXAMPLES_DIR",
    "EXAMPLE_DOMAIN",
    "EXAMPLE_NOW",
    "EXAMPLE_SUBJECT",
    "FixedChallenges",
    "build_consent_examples",
    "build_examples",
    "check_examples",
    "example_holder_key",
    "example_issuer_trust",
    "main",
    "write_examples",
]

#: The specification's example files (data of the ``wallet_spec`` package).
EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "wallet_spec" / "examples"
ISSUER_SEED = b"credencial card-codec example"
HOLDER_SEED = b"credencial wallet-spec example holder"
#: When the wallet credential is issued and presented (inside every validity period).
ISSUED_AT = datetime(2026, 1, 15, 16, 30, tzinfo=UTC)
EXAMPLE_NOW = datetime(2026, 1, 15, 16, 35, tzinfo=UTC)
EXAMPLE_DOMAIN = "https://hospital-general.example.gob.mx"
PRE_AUTHORIZED_CODE = "Wl6kKZbnR1Xk3yQJQ6rG3o0oN0sUe2c8h5qv9l1aYtE"
TX_CODE = "493536"
ACCESS_TOKEN = "q3V9xXp0b1oZ7hQy2Wm4nT8cR6eL5aK1sD0fG9jH3kM"  # noqa: S105 - an example
C_NONCE = "wKI4LT17ac15ES9bw8ac4A"
CHALLENGE = "kN3Zb0oJw8e2mXq1vYt5Ag"
BASE_ID = "urn:uuid:3f1c9a52-7d4e-4b8a-9c61-0e2f5a7b8d90"
WALLET_ID = "urn:uuid:9d2e7c41-5b3a-4f8e-a1c6-2b7d9e0f4a35"
#: The person of every example (the card codec's and the test suite's example person too).
EXAMPLE_SUBJECT: Mapping[str, Any] = {
    "curp": "HEOG850314MDFRXD08",
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
}


class FixedChallenges:
    """A :class:`verifier.ChallengeStore` that knows the examples' fixed challenges, once each."""

    def __init__(self, *challenges: tuple[str, str]) -> None:
        self._open = dict(challenges)

    def issue(self, domain: str, now: datetime) -> str:
        """Not used by the examples (their challenges are fixed)."""
        raise NotImplementedError("the example challenges are fixed")

    def consume(self, challenge: str, domain: str, now: datetime) -> None:
        """Use a fixed challenge up (the verifier's codes otherwise)."""
        from verifier import PresentationError, ReasonCode

        expected = self._open.pop(challenge, None)
        if expected is None:
            raise PresentationError(
                "not an open example challenge", code=ReasonCode.CHALLENGE_UNKNOWN
            )
        if expected != domain:
            raise PresentationError("another domain", code=ReasonCode.DOMAIN_MISMATCH)


def _seed_key(seed: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest())


def example_holder_key() -> Any:
    """The example holder's key (a :class:`wallet_spec.holder.HolderKey`)."""
    from wallet_spec.holder import HolderKey

    return HolderKey(_seed_key(HOLDER_SEED))


def example_issuer_trust() -> Any:
    """A :class:`verifier.TrustStore` with the example issuer key (IMSS ``key-1``)."""
    from issuer.keys.files import Ed25519KeyPair
    from verifier import TrustedKey, TrustStore

    key = Ed25519KeyPair(_seed_key(ISSUER_SEED))
    return TrustStore([
        TrustedKey.from_json({
            "id": "did:web:imss.gob.mx#key-1",
            "controller": "did:web:imss.gob.mx",
            "publicKeyMultibase": key.public_key_multibase,
        })
    ])  # fmt: skip


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


def build_examples() -> dict[str, str]:
    """Every example file's name and exact content."""
    from issuer.credentials.signing import (
        new_coverage_credential,
        new_status_list_credential,
        sign_document,
    )
    from issuer.institutions import INSTITUTIONS
    from issuer.keys.files import Ed25519KeyPair
    from issuer.oid4vci.flow import (
        CONFIGURATION_ID,
        PRE_AUTHORIZED_GRANT,
        authorization_server_metadata,
        credential_issuer_url,
        credential_offer,
        credential_offer_uri,
        issuer_metadata,
        new_wallet_credential,
    )
    from verifier import encode_card, format_datetime
    from wallet_spec.holder import answer_request, key_proof

    imss = INSTITUTIONS["IMSS"]
    issuer_key = Ed25519KeyPair(_seed_key(ISSUER_SEED))
    holder = example_holder_key()
    method = imss.verification_method("key-1")
    issuer_url = credential_issuer_url(imss)
    subject = copy.deepcopy(EXAMPLE_SUBJECT)
    base = sign_document(
        new_coverage_credential(
            imss, subject, status_list=1, status_index=94567,
            valid_from=datetime(2026, 1, 1, tzinfo=UTC),
            valid_until=datetime(2031, 1, 1, tzinfo=UTC),
            credential_id=BASE_ID,
        ),
        issuer_key, method, created="2025-12-15T16:20:00Z",
    )  # fmt: skip
    wallet_credential = sign_document(
        new_wallet_credential(
            imss, base, holder=holder.did, list_number=1, status_index=94567,
            valid_from=ISSUED_AT, credential_id=WALLET_ID,
        ),
        issuer_key, method, created=format_datetime(ISSUED_AT),
    )  # fmt: skip
    offer = credential_offer(issuer_url, PRE_AUTHORIZED_CODE, tx_code_length=len(TX_CODE))
    proof = key_proof(
        holder, audience=issuer_url, nonce=C_NONCE, issued_at=int(ISSUED_AT.timestamp())
    )
    header, claims = (json.loads(_b64decode(part)) for part in proof.split(".")[:2])
    status_lists = {
        f"status-list-{purpose}.json": sign_document(
            new_status_list_credential(
                imss,
                imss.status_list_url(purpose, 1),
                purpose=purpose,
                valid_from=datetime(2026, 1, 15, 12, tzinfo=UTC),
                ttl=timedelta(hours=24),
            ),
            issuer_key,
            method,
            created="2026-01-15T12:00:00Z",
        )
        for purpose in ("revocation", "suspension")
    }
    request = {
        "query": [
            {
                "type": "QueryByExample",
                "credentialQuery": {
                    "reason": "Verificar su derechohabiencia para la consulta de hoy",
                    "example": {
                        "type": "HealthCoverageCredential",
                        "credentialSubject": {"coverage": {"institution": "IMSS"}},
                    },
                },
            }
        ],
        "challenge": CHALLENGE,
        "domain": EXAMPLE_DOMAIN,
    }
    response = answer_request(request, key=holder, credentials=[wallet_credential], now=EXAMPLE_NOW)
    token_form = {
        "grant_type": PRE_AUTHORIZED_GRANT,
        "pre-authorized_code": PRE_AUTHORIZED_CODE,
        "tx_code": TX_CODE,
    }
    return {
        "issuer-metadata.json": _json(issuer_metadata(imss)),
        "authorization-server-metadata.json": _json(authorization_server_metadata(imss)),
        "credential-offer.json": _json(offer),
        "credential-offer-uri.txt": credential_offer_uri(offer) + "\n",
        "token-request.txt": urlencode(token_form) + "\n",
        "token-response.json": _json(
            {"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 300}
        ),
        "token-error.json": _json(
            {
                "error": "invalid_grant",
                "error_description": "wrong transaction code (2 left)",
            }
        ),
        "nonce-response.json": _json({"c_nonce": C_NONCE}),
        "key-proof.jwt": proof + "\n",
        "key-proof-header.json": _json(header),
        "key-proof-claims.json": _json(claims),
        "credential-request.json": _json(
            {"credential_configuration_id": CONFIGURATION_ID, "proofs": {"jwt": [proof]}}
        ),
        "credential-response.json": _json({"credentials": [{"credential": wallet_credential}]}),
        "credential-error.json": _json(
            {
                "error": "invalid_nonce",
                "error_description": "CHALLENGE_REUSED: the challenge was already used",
            }
        ),
        "card-credential.json": _json(base),
        "wallet-credential.json": _json(wallet_credential),
        "wallet-credential-card.txt": encode_card(wallet_credential) + "\n",
        "stored-credential.json": _json(
            {
                "storeVersion": 1,
                "id": WALLET_ID,
                "format": "ldp_vc",
                "receivedAt": format_datetime(ISSUED_AT),
                "source": "oid4vci",
                "credential": wallet_credential,
                "card": encode_card(wallet_credential),
            }
        ),
        **{name: _json(document) for name, document in status_lists.items()},
        "presentation-request.json": _json(request),
        "presentation-response.json": _json(response),
        **build_consent_examples(wallet_credential, issuer_key, method),
    }


#: The consent-request examples: ISSSTE asks for the example person's IMSS record.
REQUEST_ID = "CR-MFRGGZDFMZTWQ2LK"
CONSENT_CHALLENGES = ("Yx2bq7Wm0kP4tN9sR1cV3A", "Hd8fL2pQ6zJ0aW5eT7uK9g")
RECEIPT_ID = "urn:uuid:0b6f8e2a-1c4d-4e7f-9a3b-5d6c7e8f9a0b"
GRANT_ID = "urn:uuid:5b1e2c3d-4f5a-4b6c-9d7e-8f9a0b1c2d3e"
REQUESTED_AT = datetime(2026, 1, 15, 16, 0, tzinfo=UTC)


def build_consent_examples(
    wallet_credential: Mapping[str, Any], issuer_key: Any, method: str
) -> dict[str, str]:
    """The consent-request messages: the person's view of a request, the list, an approval
    (narrowed) with its presentation, the answer with its signed receipt, and a denial."""
    from issuer.consent.requests import request_view
    from issuer.consent.service import institution_domain, receipt_document
    from issuer.credentials.signing import sign_document
    from issuer.storage.tables import ConsentRequestRow
    from verifier import format_datetime
    from wallet_spec.holder import approval_grant, end_of_day, holder_presentation

    holder = example_holder_key()
    curp = wallet_credential["credentialSubject"]["curp"]
    row = ConsentRequestRow(
        id=REQUEST_ID, requester_code="ISSSTE", requester_unit="DFSSA003961",
        requested_by="issste-hospital", custodian_code="IMSS", subject_curp=curp,
        purpose="TREAT", data_classes=["ece.summary", "ece.full"],
        data_from=datetime(2020, 1, 1).date(), data_until=datetime(2026, 1, 15).date(),
        access_until=end_of_day(datetime(2026, 2, 14).date()), created_at=REQUESTED_AT,
        expires_at=REQUESTED_AT + timedelta(hours=24), state="pending",
    )  # fmt: skip
    request = request_view(row, None, for_requester=False)
    grant = approval_grant(
        request, curp=curp, now=EXAMPLE_NOW, data_classes=["ece.summary"],
        until=end_of_day(datetime(2026, 1, 22).date()),
    )  # fmt: skip
    domain = institution_domain("IMSS")
    approve = {"action": "consent.grant", "institution": "IMSS", "grant": grant,
               "request": REQUEST_ID}  # fmt: skip
    deny = {"action": "consent.deny", "institution": "IMSS", "request": REQUEST_ID}
    approval = {
        "grant": grant,
        "presentation": holder_presentation(
            holder, wallet_credential, challenge=CONSENT_CHALLENGES[0], domain=domain,
            now=EXAMPLE_NOW, statement=approve,
        ),
    }  # fmt: skip
    denial = {
        "presentation": holder_presentation(
            holder, wallet_credential, challenge=CONSENT_CHALLENGES[1], domain=domain,
            now=EXAMPLE_NOW, statement=deny,
        )
    }  # fmt: skip
    receipt = sign_document(
        receipt_document("IMSS", holder.did, {"id": GRANT_ID, **grant}, 1, 40321, EXAMPLE_NOW,
                         receipt_id=RECEIPT_ID),
        issuer_key, method, created=format_datetime(EXAMPLE_NOW),
    )  # fmt: skip
    answer = {"requestId": REQUEST_ID, "state": "approved", "narrowed": True,
              "grantId": GRANT_ID, "receipt": receipt}  # fmt: skip
    return {
        "consent-request.json": _json(request),
        "consent-request-list.json": _json(
            {"curp": curp, "custodian": "IMSS", "requests": [request]}
        ),
        "consent-approval.json": _json(approval),
        "consent-approval-response.json": _json(answer),
        "consent-denial.json": _json(denial),
    }


def _b64decode(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def write_examples(folder: Path = EXAMPLES_DIR) -> list[str]:
    """Write every example; return the names of the files that changed."""
    changed = []
    for name, content in build_examples().items():
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
            changed.append(name)
    return changed


def check_examples(folder: Path = EXAMPLES_DIR) -> list[str]:
    """The names of the example files that differ from what the code produces."""
    built: Mapping[str, str] = build_examples()
    return [
        name
        for name, content in built.items()
        if not (folder / name).exists() or (folder / name).read_text(encoding="utf-8") != content
    ]


def main() -> int:
    """Write the examples (exit 0), or with ``--check`` list the stale ones (exit 1 if any)."""
    parser = argparse.ArgumentParser(prog="python -m tools.wallet_examples")
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on a difference")
    args = parser.parse_args()
    if args.check:
        stale = check_examples()
        for name in stale:
            print(f"stale: {EXAMPLES_DIR / name}", file=sys.stderr)
        return 1 if stale else 0
    for name in write_examples():
        print(f"wrote {EXAMPLES_DIR / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
