"""A pool of distinct signed credentials, cards and the verifier that trusts them (benchmarks).

Every credential differs (names, CURP, birth date, affiliation, status index, ``created``), so a
benchmark that cycles through the pool measures the verifier on new cards, not on what a cache
kept from the previous round: the pool is larger than every cache on the verification path.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from issuer.credentials.signing import (
    new_coverage_credential,
    new_status_list_credential,
    sign_document,
)
from issuer.institutions import INSTITUTIONS
from issuer.keys.files import Ed25519KeyPair
from verifier import (
    ContextLoader,
    InMemoryStatusLists,
    TrustedKey,
    TrustStore,
    Verifier,
    create_proof,
    curp_check_digit,
    encode_card,
)
from verifier._cardtables import PROGRAMS
from verifier._identifiers import CURP_STATE_CODES
from verifier._time import format_datetime

__all__ = ["Pool", "build_pool", "person"]

_GIVEN = ("MARÍA", "JOSÉ", "GUADALUPE", "JUAN", "ÁNGEL", "SOFÍA", "IÑAKI", "RENÉ", "ZOË", "LUCÍA")
_FAMILY = ("HERNÁNDEZ", "GARCÍA", "MUÑOZ", "PEÑA", "LÓPEZ", "DE LA O", "O'HIGGINS", "NÚÑEZ")
_CONSONANTS = "BCDFGHJKLMNPQRSTVWXYZ"


def person(rng: random.Random) -> dict[str, Any]:
    """A random covered person of the IMSS (valid CURP with its birth date, CLUES, programme)."""
    born = date(1930, 1, 1) + timedelta(days=rng.randrange(365 * 90))
    letters = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4))
    homoclave = rng.choice("0123456789" if born.year < 2000 else "ABCDEFGHIJ")
    first17 = (
        f"{letters}{born:%y%m%d}{rng.choice('HM')}{rng.choice(CURP_STATE_CODES)}"
        f"{''.join(rng.choice(_CONSONANTS) for _ in range(3))}{homoclave}"
    )
    subject: dict[str, Any] = {
        "curp": first17 + curp_check_digit(first17),
        "givenName": " ".join(rng.sample(_GIVEN, rng.randint(1, 3))),
        "familyName": rng.choice(_FAMILY),
        "secondFamilyName": rng.choice(_FAMILY),
        "birthDate": born.isoformat(),
        "coverage": {
            "institution": "IMSS",
            "program": rng.choice(PROGRAMS[:5]),
            "affiliationNumber": f"{rng.randrange(10**11):011d}",
            "beneficiaryRelationship": rng.choice(("titular", "cónyuge", "hija", "hijo")),
            "adscriptionUnit": f"DFIMS{rng.randrange(10**6):06d}",
        },
    }
    if rng.random() < 0.3:
        del subject["secondFamilyName"]
    return subject


@dataclass(frozen=True)
class Pool:
    """Distinct unsigned and signed credentials, their card texts, and a verifier for them."""

    key: Ed25519KeyPair
    verification_method: str
    loader: ContextLoader
    unsigned: list[dict[str, Any]]
    created: list[str]
    signed: list[dict[str, Any]]
    cards: list[str]
    verifier: Verifier

    def sign(self, position: int) -> dict[str, Any]:
        """The signing step for one credential of the pool (what goal 2 measures)."""
        return create_proof(
            self.unsigned[position],
            signer=self.key,
            verification_method=self.verification_method,
            loader=self.loader,
            created=self.created[position],
        )


def build_pool(count: int, *, seed: int = 2026) -> Pool:
    """``count`` distinct signed credentials of the IMSS, valid now, with both status lists."""
    rng = random.Random(seed)
    institution = INSTITUTIONS["IMSS"]
    key = Ed25519KeyPair.generate()
    vm = institution.verification_method("key-1")
    loader = ContextLoader()
    now = datetime.now(UTC).replace(microsecond=0)
    unsigned, created, signed, cards = [], [], [], []
    for position in range(count):
        document = new_coverage_credential(
            institution, person(rng), status_list=1, status_index=rng.randrange(131_072),
            valid_from=now - timedelta(days=1 + position % 300),
            valid_until=now + timedelta(days=1825 - position % 300),
        )  # fmt: skip
        stamp = format_datetime(now - timedelta(hours=1, seconds=position))
        secured = sign_document(document, key, vm, loader=loader, created=stamp)
        unsigned.append(document)
        created.append(stamp)
        signed.append(secured)
        cards.append(encode_card(secured))
    lists = InMemoryStatusLists(
        sign_document(
            new_status_list_credential(
                institution, institution.status_list_url(purpose, 1), purpose=purpose,
                valid_from=now - timedelta(hours=1),
            ),
            key, vm, loader=loader,
        )
        for purpose in ("revocation", "suspension")
    )  # fmt: skip
    trust = TrustStore(
        [
            TrustedKey.from_json(
                {
                    "id": vm,
                    "controller": institution.did,
                    "publicKeyMultibase": key.public_key_multibase,
                }
            )
        ]
    )
    checker = Verifier(trust, status_lists=lists)
    return Pool(key, vm, loader, unsigned, created, signed, cards, checker)
