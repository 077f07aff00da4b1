"""The issuer's business logic, independent of HTTP: issue, change status, publish lists and keys.

Every write happens in one database transaction together with its audit entry, so a crash
leaves either the whole change or none of it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer.credentials.permutation import permute
from issuer.credentials.signing import (
    STATUS_PURPOSES,
    new_coverage_credential,
    new_status_list_credential,
)
from issuer.errors import ConflictError, IssuanceCheckError, NotFoundError, ServiceError
from issuer.institutions import INSTITUTIONS, Institution
from issuer.keys.store import KeyHandle, KeyStore, open_keystore
from issuer.principal import SCOPES, Principal
from issuer.settings import IssuerSettings
from issuer.storage.audit import append_audit
from issuer.storage.database import Database, utc
from issuer.storage.tables import ApiClient, Credential, SigningKey, StatusEvent, StatusList
from issuer.storage.tables import Institution as InstitutionRow
from verifier import (
    ContextLoader,
    CredencialError,
    InMemoryStatusLists,
    KeyFormatError,
    ReasonCode,
    StatusListSource,
    TrustedKey,
    TrustStore,
    Verdict,
    Verifier,
    create_proof,
    decode_status_bits,
    encode_status_bits,
    format_datetime,
)

__all__ = [
    "IssuedCredential",
    "IssuerService",
    "StatusAction",
    "open_next_status_list",
]

_MAX_ALLOCATION_ATTEMPTS = 20
#: A cached signed status list whose bits have not changed is served again for at most this long.
_RESIGN = timedelta(hours=1)


class StatusAction(StrEnum):
    """What an operator can do to a credential's status."""

    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    REVOKE = "revoke"


@dataclass(frozen=True)
class IssuedCredential:
    """The result of an issuance; ``created`` is False when an idempotent retry found it."""

    document: dict[str, Any]
    created: bool


def _request_hash(payload: Any) -> str:
    body = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


class IssuerService:
    """One issuer deployment: its database, its key store and the institutions it serves."""

    def __init__(
        self,
        settings: IssuerSettings,
        *,
        database: Database | None = None,
        keystore: KeyStore | None = None,
    ) -> None:
        self.settings = settings
        self.db = database or Database(settings.database_url)
        self.keys = keystore or open_keystore(settings)
        self._signed_lists: dict[tuple[str, str, int, bytes, str], dict[str, Any]] = {}
        self._loader = ContextLoader()
        self._loader_lock = threading.Lock()

    # -- set-up ---------------------------------------------------------------------------------

    def bootstrap(self, institutions: Iterable[Institution] = INSTITUTIONS.values()) -> None:
        """Migrate the schema; make sure each institution exists and has an active key."""
        self.db.migrate()
        for institution in institutions:
            with self.db.transaction() as session:
                if session.get(InstitutionRow, institution.code) is None:
                    session.add(
                        InstitutionRow(
                            code=institution.code, name=institution.name, did=institution.did
                        )
                    )
                    session.flush()
                if self._active_key_row(session, institution.code) is None:
                    self._new_key(session, institution.code, actor="bootstrap")

    def create_client(
        self, institution: str, name: str, scopes: Iterable[str], *, actor: str = "cli"
    ) -> str:
        """Create an API client; returns its API key (shown once, stored only as a hash)."""
        wanted = frozenset(scopes)
        if not wanted or not wanted <= SCOPES:
            raise ServiceError(f"scopes must be a non-empty subset of {sorted(SCOPES)}")
        client_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        with self.db.transaction() as session:
            self._institution(session, institution)
            session.add(
                ApiClient(
                    client_id=client_id,
                    institution_code=institution,
                    name=name,
                    secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
                    scopes=" ".join(sorted(wanted)),
                    created_at=datetime.now(UTC),
                )
            )
            append_audit(
                session, institution=institution, actor=actor, action="client.create",
                subject=client_id, details={"name": name, "scopes": sorted(wanted)},
            )  # fmt: skip
        return f"{client_id}.{secret}"

    def authenticate(self, api_key: str) -> Principal | None:
        """The principal an API key belongs to, or None (unknown, wrong, or disabled)."""
        client_id, sep, secret = api_key.partition(".")
        if not sep or not client_id or not secret:
            return None
        with self.db.read() as session:
            client = session.get(ApiClient, client_id)
            if client is None or client.disabled_at is not None:
                return None
            digest = hashlib.sha256(secret.encode()).hexdigest()
            if not hmac.compare_digest(digest, client.secret_sha256):
                return None
            return Principal(
                client.client_id, client.institution_code, frozenset(client.scopes.split())
            )

    # -- keys -----------------------------------------------------------------------------------

    def _institution(self, session: Session, code: str) -> InstitutionRow:
        row = session.get(InstitutionRow, code)
        if row is None:
            raise NotFoundError(f"unknown institution {code!r}")
        return row

    def _active_key_row(self, session: Session, institution: str) -> SigningKey | None:
        return session.scalars(
            select(SigningKey)
            .where(SigningKey.institution_code == institution, SigningKey.retired_at.is_(None))
            .order_by(SigningKey.id.desc())
        ).first()

    def _new_key(self, session: Session, institution: str, *, actor: str) -> SigningKey:
        count = session.scalar(
            select(func.count())
            .select_from(SigningKey)
            .where(SigningKey.institution_code == institution)
        )
        key_id = f"key-{(count or 0) + 1}"
        try:
            pair = self.keys.create(institution, key_id)
        except FileExistsError:
            # A process killed after writing this key's file but before committing its row:
            # the key was never published nor used, so it becomes the new key (with no row
            # for it, nothing else can claim it; a racing process inserting the same row loses).
            pair = self.keys.load(institution, key_id)
        row = SigningKey(
            institution_code=institution,
            key_id=key_id,
            public_key_multibase=pair.public_key_multibase,
            backend=self.keys.backend,
            valid_from=datetime.now(UTC).replace(microsecond=0),
        )
        session.add(row)
        session.flush()
        append_audit(
            session, institution=institution, actor=actor, action="key.create", subject=key_id,
            details={"publicKeyMultibase": pair.public_key_multibase},
        )  # fmt: skip
        return row

    def _rotate(self, session: Session, institution: str, *, actor: str) -> SigningKey:
        """Retire the active key (if any) and create the next one, in ``session``'s transaction."""
        old = self._active_key_row(session, institution)
        now = datetime.now(UTC).replace(microsecond=0)
        if old is not None:
            old.retired_at = now
            append_audit(
                session, institution=institution, actor=actor, action="key.retire",
                subject=old.key_id,
            )  # fmt: skip
        return self._new_key(session, institution, actor=actor)

    def rotate_key(self, institution: str, *, actor: str) -> str:
        """A new key signs from now on; the old one is retired but stays listed. Returns its id."""
        with self.db.transaction() as session:
            self._institution(session, institution)
            return self._rotate(session, institution, actor=actor).key_id

    def mark_key_compromised(
        self, institution: str, key_id: str, at: datetime, *, actor: str
    ) -> str | None:
        """Record that ``key_id`` has been compromised since ``at`` (proofs from then on are void).

        ``key_id`` is ``key-N`` (or the full verification method id). A compromised key that is
        still active is retired and a new key created, as :meth:`rotate_key` does, so issuance
        continues; returns the new key's id, else ``None``. A key already marked keeps the
        earlier of the two times; a time in the future, or no later than one already recorded,
        is refused.
        """
        if at.tzinfo is None:
            raise ServiceError("the compromise time needs a time zone")
        moment = at.astimezone(UTC).replace(microsecond=0)
        now = datetime.now(UTC)
        if moment > now:
            raise ServiceError(
                f"the compromise time {format_datetime(moment)} is in the future "
                f"(now {format_datetime(now)})"
            )
        with self.db.transaction() as session:
            did = self._institution(session, institution).did
            key_id = key_id.removeprefix(f"{did}#")
            row = session.scalars(
                select(SigningKey)
                .where(SigningKey.institution_code == institution, SigningKey.key_id == key_id)
                .with_for_update()
            ).first()
            if row is None:
                raise NotFoundError(f"{institution} has no signing key {key_id!r}")
            if row.compromised_at is not None and utc(row.compromised_at) <= moment:
                raise ConflictError(
                    f"{institution} {key_id} is already compromised since "
                    f"{format_datetime(utc(row.compromised_at))}"
                )
            previous = row.compromised_at
            row.compromised_at = moment
            replacement = (
                self._rotate(session, institution, actor=actor).key_id
                if row.retired_at is None
                else None
            )
            details: dict[str, Any] = {"compromisedAt": format_datetime(moment)}
            if previous is not None:
                details["previousCompromisedAt"] = format_datetime(utc(previous))
            if replacement is not None:
                details["replacedBy"] = replacement
            append_audit(
                session, institution=institution, actor=actor, action="key.compromise",
                subject=key_id, details=details,
            )  # fmt: skip
        self._signed_lists.clear()  # lists signed by the compromised key are not served again
        return replacement

    def active_key(self, institution: str) -> KeyHandle:
        """The key that signs for ``institution`` now."""
        with self.db.read() as session:
            row = self._active_key_row(session, institution)
            did = self._institution(session, institution).did
        if row is None:
            raise ServiceError(f"{institution} has no active signing key")
        if row.backend != self.keys.backend:  # switching backends: rotate to a key in the new one
            raise KeyFormatError(
                f"{institution}'s active key {row.key_id} is in the {row.backend} key store, but "
                f"this service uses {self.keys.backend}: rotate the key (keys rotate)"
            )
        key = self.keys.load(institution, row.key_id)
        if key.public_key_multibase != row.public_key_multibase:
            raise KeyFormatError(f"{institution}'s key {row.key_id} does not match its record")
        return KeyHandle(f"{did}#{row.key_id}", row.public_key_multibase, key)

    def trust_store(self) -> TrustStore:
        """Every key of every institution, each valid from creation until retirement."""
        with self.db.read() as session:
            rows = session.execute(
                select(SigningKey, InstitutionRow.did).join(
                    InstitutionRow, InstitutionRow.code == SigningKey.institution_code
                )
            ).all()
        return TrustStore(
            TrustedKey.from_json(
                {
                    "id": f"{did}#{key.key_id}",
                    "controller": did,
                    "publicKeyMultibase": key.public_key_multibase,
                    "validFrom": format_datetime(utc(key.valid_from)),
                    **(
                        {"validUntil": format_datetime(utc(key.retired_at))}
                        if key.retired_at
                        else {}
                    ),
                    **(
                        {
                            "state": "compromised",
                            "compromisedAt": format_datetime(utc(key.compromised_at)),
                        }
                        if key.compromised_at
                        else {}
                    ),
                }
            )
            for key, did in rows
        )

    def did_document(self, institution: str) -> dict[str, Any]:
        """The did:web document: every key as a Multikey verification method, with validity."""
        with self.db.read() as session:
            did = self._institution(session, institution).did
            keys = session.scalars(
                select(SigningKey)
                .where(SigningKey.institution_code == institution)
                .order_by(SigningKey.id)
            ).all()
        methods = []
        for key in keys:
            method: dict[str, Any] = {
                "id": f"{did}#{key.key_id}",
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": key.public_key_multibase,
                "validFrom": format_datetime(utc(key.valid_from)),
            }
            if key.retired_at is not None:
                method["validUntil"] = format_datetime(utc(key.retired_at))
            if key.compromised_at is not None:  # Multikey "revoked": proofs from then on are void
                method["revoked"] = format_datetime(utc(key.compromised_at))
            methods.append(method)
        return {
            "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
            "id": did,
            "verificationMethod": methods,
            "assertionMethod": [
                m["id"] for m in methods if "validUntil" not in m and "revoked" not in m
            ],
        }

    # -- issuing --------------------------------------------------------------------------------

    def _allocate(self, session: Session, institution: str) -> tuple[int, int]:
        """The next (list number, index): a counter per list, permuted; a new list when full."""
        for _ in range(_MAX_ALLOCATION_ATTEMPTS):
            open_list = (
                select(func.min(StatusList.number))
                .where(
                    StatusList.institution_code == institution,
                    StatusList.allocated < StatusList.size,
                )
                .scalar_subquery()
            )
            row = session.execute(
                update(StatusList)
                .where(
                    StatusList.institution_code == institution,
                    StatusList.number == open_list,
                    StatusList.allocated < StatusList.size,
                )
                .values(allocated=StatusList.allocated + 1)
                .returning(
                    StatusList.number,
                    StatusList.allocated,
                    StatusList.size,
                    StatusList.permutation_key,
                )
            ).first()
            if row is not None:
                number, allocated, size, key = row
                return number, permute(key, allocated - 1, size)
            # The list after the last *full* one: if another transaction opened a list since the
            # UPDATE above looked, inserting it again conflicts and the next attempt uses it.
            open_next_status_list(session, institution, self.settings.status_list_size)
        raise ServiceError("could not allocate a status index (too much contention)")

    def _complete(
        self,
        institution: Institution,
        credential: Mapping[str, Any],
        *,
        number: int,
        index: int,
        valid_from: datetime,
        valid_until: datetime,
    ) -> dict[str, Any]:
        """Fill what the issuer owns: context, id, type, issuer, validity, status, schema."""
        subject = credential.get("credentialSubject")
        if not isinstance(subject, Mapping):
            raise ServiceError("credential.credentialSubject must be an object")
        try:
            document = new_coverage_credential(
                institution, subject, status_list=number, status_index=index,
                valid_from=valid_from, valid_until=valid_until,
            )  # fmt: skip
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise ServiceError(
                f"the credential is not a valid health-coverage credential: {exc}"
            ) from None
        coverage_institution = document["credentialSubject"]["coverage"]["institution"]
        if coverage_institution != institution.code:
            raise ServiceError(
                f"{institution.code} cannot issue coverage of {coverage_institution}"
            )
        return document

    def issue(
        self,
        principal: Principal,
        credential: Mapping[str, Any],
        *,
        valid_until: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> IssuedCredential:
        """Issue a credential for ``credential["credentialSubject"]``: allocate, sign, check, store.

        With an ``idempotency_key``, a retry of the same request returns the stored credential;
        the same key with a different request is a :class:`ConflictError`.
        """
        institution = INSTITUTIONS[principal.institution]
        request_hash = _request_hash(
            {
                "credential": credential,
                "validUntil": valid_until.isoformat() if valid_until else None,
            }
        )
        if idempotency_key is not None:
            existing = self._by_idempotency_key(
                principal.institution, idempotency_key, request_hash
            )
            if existing is not None:
                return IssuedCredential(existing, created=False)
        key = self.active_key(principal.institution)
        now = datetime.now(UTC).replace(microsecond=0)
        until = valid_until or now + self.settings.credential_validity
        try:
            with self.db.transaction() as session:
                number, index = self._allocate(session, principal.institution)
                document = self._complete(
                    institution,
                    credential,
                    number=number,
                    index=index,
                    valid_from=now,
                    valid_until=until,
                )
                signed = self._sign(document, key, now)
                self._check_issued(signed, key)
                session.add(
                    Credential(
                        id=signed["id"],
                        institution_code=principal.institution,
                        list_number=number,
                        status_index=index,
                        curp=signed["credentialSubject"]["curp"],
                        document=signed,
                        issued_at=now,
                        valid_until=until,
                        client_id=principal.client_id,
                        idempotency_key=idempotency_key,
                        request_sha256=request_hash,
                    )
                )
                append_audit(
                    session, institution=principal.institution, actor=principal.client_id,
                    action="credential.issue", subject=signed["id"],
                    details={"list": number, "index": index, "key": key.verification_method},
                )  # fmt: skip
        except IntegrityError:
            if idempotency_key is None:
                raise
            existing = self._by_idempotency_key(
                principal.institution, idempotency_key, request_hash
            )
            if existing is None:
                raise
            return IssuedCredential(existing, created=False)
        return IssuedCredential(signed, created=True)

    def _sign(self, document: dict[str, Any], key: KeyHandle, now: datetime) -> dict[str, Any]:
        # pyld's context cache (used off the direct path) is not thread-safe.
        with self._loader_lock:
            return create_proof(
                document,
                signer=key.signer,
                verification_method=key.verification_method,
                loader=self._loader,
                created=format_datetime(now),
            )

    def sign_checked(
        self, institution: str, document: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        """Sign ``document`` with ``institution``'s active key (``created`` = ``now``) and verify
        it with the verifier before it leaves, as :meth:`issue` does: the one way to sign what
        the service hands out besides coverage credentials (the wallet form, consent receipts,
        receipt status lists, unit feeds). :class:`IssuanceCheckError` if it does not verify."""
        key = self.active_key(institution)
        signed = self._sign(document, key, now)
        self._check_issued(signed, key)
        return signed

    def _by_idempotency_key(
        self, institution: str, idempotency_key: str, request_hash: str
    ) -> dict[str, Any] | None:
        with self.db.read() as session:
            row = session.scalars(
                select(Credential).where(
                    Credential.institution_code == institution,
                    Credential.idempotency_key == idempotency_key,
                )
            ).first()
            if row is None:
                return None
            if row.request_sha256 != request_hash:
                raise ConflictError("this Idempotency-Key was used for a different request")
            return dict(row.document)

    def _check_issued(self, signed: Mapping[str, Any], key: KeyHandle) -> None:
        """Verify what we are about to hand out, with the verifier, before it leaves."""
        trust = TrustStore([
            TrustedKey.from_json({
                "id": key.verification_method,
                "controller": signed["issuer"],
                "publicKeyMultibase": key.public_key_multibase,
            })
        ])  # fmt: skip
        result = Verifier(trust).check(signed)
        # A brand-new credential's status bits are known to be clear; only its lists are not held.
        problems = [r for r in result.reasons if r.code is not ReasonCode.STATUS_UNAVAILABLE]
        if result.verdict is Verdict.INVALID or problems:
            raise IssuanceCheckError(f"the issued credential does not verify: {problems}")

    # -- reading and status ---------------------------------------------------------------------

    def credential_institution(self, credential_id: str) -> str:
        """The institution that issued ``credential_id``; :class:`NotFoundError` if none did."""
        with self.db.read() as session:
            code = session.scalar(
                select(Credential.institution_code).where(Credential.id == credential_id)
            )
        if code is None:
            raise NotFoundError(f"no credential {credential_id}")
        return code

    def status_list_numbers(self, institution: str | None = None) -> list[tuple[str, int]]:
        """``(institution, number)`` of every status list (of one institution, if given)."""
        query = select(StatusList.institution_code, StatusList.number).order_by(
            StatusList.institution_code, StatusList.number
        )
        if institution is not None:
            query = query.where(StatusList.institution_code == institution)
        with self.db.read() as session:
            return [(code, number) for code, number in session.execute(query)]

    def get_credential(self, principal: Principal, credential_id: str) -> dict[str, Any]:
        """A credential of the caller's institution (another's is reported as not found)."""
        with self.db.read() as session:
            row = session.get(Credential, credential_id)
            if row is None or row.institution_code != principal.institution:
                raise NotFoundError(f"no credential {credential_id} of {principal.institution}")
            return dict(row.document)

    def credential_status(self, principal: Principal, credential_id: str) -> dict[str, Any]:
        """``{"revoked": bool, "suspended": bool}`` of one of the caller's credentials."""
        with self.db.read() as session:
            row = session.get(Credential, credential_id)
            if row is None or row.institution_code != principal.institution:
                raise NotFoundError(f"no credential {credential_id} of {principal.institution}")
            return {"revoked": row.revoked_at is not None, "suspended": row.suspended}

    def change_status(
        self, principal: Principal, credential_id: str, action: StatusAction
    ) -> dict[str, Any]:
        """Suspend, reinstate or revoke (final). Returns the new status."""
        with self.db.transaction() as session:
            row = session.get(Credential, credential_id, with_for_update=True)
            now = datetime.now(UTC)  # after the lock: events of one credential are in time order
            if row is None or row.institution_code != principal.institution:
                raise NotFoundError(f"no credential {credential_id} of {principal.institution}")
            if row.revoked_at is not None:
                raise ConflictError("the credential is revoked; revocation is final")
            purpose, value = {
                StatusAction.SUSPEND: ("suspension", True),
                StatusAction.REINSTATE: ("suspension", False),
                StatusAction.REVOKE: ("revocation", True),
            }[action]
            if purpose == "revocation":
                row.revoked_at = now
            else:
                row.suspended = value
            session.add(
                StatusEvent(
                    credential_id=row.id, institution_code=row.institution_code,
                    list_number=row.list_number, status_index=row.status_index,
                    purpose=purpose, value=value, at=now,
                )
            )  # fmt: skip
            append_audit(
                session, institution=principal.institution, actor=principal.client_id,
                action=f"credential.{action.value}", subject=row.id,
            )  # fmt: skip
            return {"revoked": row.revoked_at is not None, "suspended": row.suspended}

    # -- status lists ---------------------------------------------------------------------------

    def _bits(
        self, session: Session, institution: str, purpose: str, number: int, at: datetime | None
    ) -> bytes:
        """The list's bits, now or as they stood at ``at``."""
        size = session.scalar(
            select(StatusList.size).where(
                StatusList.institution_code == institution, StatusList.number == number
            )
        )
        if size is None:
            raise NotFoundError(f"no status list {purpose}/{number} of {institution}")
        query = select(StatusEvent.status_index, StatusEvent.value).where(
            StatusEvent.institution_code == institution,
            StatusEvent.list_number == number,
            StatusEvent.purpose == purpose,
        )
        if at is not None:  # stored in UTC; SQLite compares the text, so the bound must be UTC
            query = query.where(StatusEvent.at <= at.astimezone(UTC))
        bits = bytearray(size // 8)
        for index, value in session.execute(query.order_by(StatusEvent.id)):
            mask = 0x80 >> (index & 7)
            bits[index >> 3] = (bits[index >> 3] | mask) if value else (bits[index >> 3] & ~mask)
        return bytes(bits)

    def status_list_credential(
        self, institution: str, purpose: str, number: int, *, at: datetime | None = None
    ) -> dict[str, Any]:
        """The signed BitstringStatusListCredential, now or as it stood at ``at``."""
        if purpose not in STATUS_PURPOSES:
            raise NotFoundError(f"no status purpose {purpose!r}")
        inst = INSTITUTIONS.get(institution)
        if inst is None:
            raise NotFoundError(f"unknown institution {institution!r}")
        with self.db.read() as session:
            bits = self._bits(session, institution, purpose, number, at)
            signer = self._active_key_row(session, institution)
        now = datetime.now(UTC).replace(microsecond=0)
        ttl = self.settings.status_list_ttl
        # Keyed by the bits themselves: events may commit out of id order, the bits cannot lie;
        # and by the signing key, so that no process serves a list signed by a retired key.
        signer_id = signer.key_id if signer is not None else ""
        cache_key = (institution, purpose, number, hashlib.sha256(bits).digest(), signer_id)
        cached = self._signed_lists.get(cache_key) if at is None else None
        # Re-signed within the hour: a list's offline life (its ttl) starts at most an hour early.
        if cached is not None and now - utc_parse(cached["validFrom"]) < min(ttl / 4, _RESIGN):
            return cached
        valid_from = at.astimezone(UTC).replace(microsecond=0) if at is not None else now
        unsigned = new_status_list_credential(
            inst, inst.status_list_url(purpose, number), purpose=purpose, valid_from=valid_from,
            ttl=ttl, size=len(bits) * 8,
        )  # fmt: skip
        unsigned["credentialSubject"]["encodedList"] = encode_status_bits(bits)
        signed = self._sign(unsigned, self.active_key(institution), now)
        if at is None:
            self._signed_lists[cache_key] = signed
        return signed

    def adopt_status_lists(self, credentials: Iterable[Mapping[str, Any]]) -> int:
        """Let earlier signed lists (a previous trust bundle's, say) be served again, as if this
        service had signed them: each only while its bits, its signing key and its ``ttl`` are
        still current and it is younger than the re-sign interval (the rule of
        :meth:`status_list_credential`). A bundle built within the hour after another then
        changes only the lists whose bits changed. Returns how many were adopted."""
        addresses = {
            INSTITUTIONS[code].status_list_url(purpose, number): (code, purpose, number)
            for code, number in self.status_list_numbers()
            for purpose in STATUS_PURPOSES
            if code in INSTITUTIONS
        }
        ttl = self.settings.status_list_ttl
        adopted = 0
        for credential in credentials:
            try:
                address = addresses.get(str(credential["id"]))
                bits = decode_status_bits(credential["credentialSubject"]["encodedList"])
                key_id = str(credential["proof"]["verificationMethod"]).rsplit("#", 1)[1]
                lifetime = utc_parse(credential["validUntil"]) - utc_parse(credential["validFrom"])
            except (KeyError, TypeError, ValueError, IndexError, CredencialError):
                continue
            if address is None or lifetime != ttl:
                continue
            with self.db.read() as session:
                signer = self._active_key_row(session, address[0])
                current = self._bits(session, *address, None)
            if signer is None or signer.key_id != key_id or current != bits:
                continue
            cache_key = (*address, hashlib.sha256(bits).digest(), key_id)
            self._signed_lists.setdefault(cache_key, dict(credential))
            adopted += 1
        return adopted

    def status_lists(self) -> StatusListSource:
        """Every current status list, signed, as a verifier's status source."""
        return InMemoryStatusLists(
            self.status_list_credential(institution, purpose, number)
            for institution, number in self.status_list_numbers()
            for purpose in STATUS_PURPOSES
        )

    def verifier(self) -> Verifier:
        """A verifier trusting this deployment's keys and holding its current status lists."""
        return Verifier(self.trust_store(), status_lists=self.status_lists())


def utc_parse(value: str) -> datetime:
    """Parse one of our own ``YYYY-MM-DDTHH:MM:SSZ`` strings."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def open_next_status_list(session: Session, institution: str, size: int) -> None:
    """Open the list after ``institution``'s last *full* one, unless another transaction did.

    If another process opened it since the caller looked, inserting it again conflicts; the
    caller's next attempt then uses that list.
    """
    highest = session.scalar(
        select(func.max(StatusList.number)).where(
            StatusList.institution_code == institution,
            StatusList.allocated >= StatusList.size,
        )
    )
    try:
        with session.begin_nested():
            session.add(
                StatusList(
                    institution_code=institution,
                    number=(highest or 0) + 1,
                    size=size,
                    allocated=0,
                    permutation_key=secrets.token_bytes(32),
                    created_at=datetime.now(UTC),
                )
            )
    except IntegrityError:
        pass  # another process opened that list first: the next attempt uses it
