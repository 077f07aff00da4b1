"""What the front-desk page asks of the verifier: a verdict for a scan, the trust status, counts.

No HTTP here (see :mod:`verifier.desk._http`): this module turns card text or a card image into
the small JSON object the page shows, and nothing more. The page never receives the credential
itself, only the holder's name, CURP, institution, program and validity (no birth date,
affiliation number, adscription unit or any clinical data).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from .._bundle import AnchorSet
from .._card import is_card_text
from .._datamodel import validity_period
from .._errors import CredencialError, InputError, ReasonCode
from .._images import MAX_IMAGE_BYTES, decode_qr_image
from .._json import parse_json
from .._messages import Language, reason_summary, verdict_label
from .._time import format_datetime, parse_datetime
from .._trust_state import BUNDLE_FILE, STATE_FILE, TrustDir, atomic_write_bytes, current_dir
from .._verifier import Verdict, VerificationResult, Verifier, VerifierConfig

__all__ = ["COUNTS_FILE", "DailyCounts", "DeskConfig", "DeskService", "UnreadableScanError"]

#: Default file name of the day's counts, kept in the trust folder beside ``current``.
COUNTS_FILE = "desk-counts.json"
_LANGUAGES: tuple[Language, ...] = ("es", "en")

#: Messages of the page's own, for a scan that is not a verdict (nothing could be read).
_UNREADABLE: dict[str, tuple[str, str]] = {
    "text": (
        "No se pudo leer. Escanee de nuevo.",
        "It could not be read. Scan again.",
    ),
    "image": (
        "No se encontró el código QR de una credencial en la imagen. Intente con otra foto.",
        "No credential QR code was found in the image. Try another photo.",
    ),
}


class UnreadableScanError(Exception):
    """A scan or image from which no credential could be read: no verdict, nothing counted."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail

    def to_json(self) -> dict[str, Any]:
        """``{"error": {"message": {"es", "en"}, "detail"}}`` for the page."""
        spanish, english = _UNREADABLE[self.kind]
        return {"error": {"message": {"es": spanish, "en": english}, "detail": self.detail}}


@dataclass(frozen=True, slots=True)
class DeskConfig:
    """Settings of one front desk (the ``credencial-verify serve`` options)."""

    trust_dir: Path
    anchors: AnchorSet | None = None
    #: Status lists older than this are stale (the verifier's ``max_status_age``).
    max_offline_age: timedelta = VerifierConfig().max_status_age
    #: The status line warns this long before the trust data goes stale.
    warn_before: timedelta = timedelta(hours=6)
    #: Seconds a verdict stays on screen before the page clears it (0: until the next scan).
    clear_after: float = 20.0
    #: The day's counts file (default: ``desk-counts.json`` in the trust folder).
    counts_file: Path | None = None
    #: The reference time; the system clock unless fixed (tests, demonstrations).
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    @property
    def counts_path(self) -> Path:
        """Where the day's counts are kept."""
        return self.counts_file or self.trust_dir / COUNTS_FILE


class DailyCounts:
    """How many verifications ended in each verdict today: three numbers and the date, no more.

    Kept in one small JSON file (``{"date": "2026-06-01", "VALID": 12, "INVALID": 1,
    "INDETERMINATE": 0}``), rewritten atomically after each verification. No time of a scan, no
    name, CURP or credential id is stored; a new local day starts again from zero and the
    previous day's numbers are dropped.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._day: date | None = None
        self._counts = dict.fromkeys(Verdict, 0)
        self._load()

    def _load(self) -> None:
        try:
            document = parse_json(self.path.read_text(encoding="utf-8"))
            day = date.fromisoformat(document["date"])
            counts = {v: int(document.get(v.value, 0)) for v in Verdict}
        except (OSError, ValueError, KeyError, TypeError):
            return  # missing or unreadable: start from zero (it is only a count)
        if all(n >= 0 for n in counts.values()):
            self._day, self._counts = day, counts

    def _roll(self, today: date) -> None:
        if self._day != today:
            self._day, self._counts = today, dict.fromkeys(Verdict, 0)

    def add(self, verdict: Verdict, today: date) -> None:
        """Count one verification and save."""
        self._roll(today)
        self._counts[verdict] += 1
        document = {"date": today.isoformat(), **{v.value: n for v, n in self._counts.items()}}
        atomic_write_bytes(self.path, (json.dumps(document) + "\n").encode("utf-8"))

    def today(self, today: date) -> dict[str, Any]:
        """``{"date", "VALID", "INVALID", "INDETERMINATE"}`` for ``today``."""
        self._roll(today)
        return {"date": today.isoformat(), **{v.value: n for v, n in self._counts.items()}}


def _date_text(value: object) -> str:
    """``dd/mm/yyyy`` as printed on the card; the raw value if it is not a date."""
    try:
        return f"{parse_datetime(str(value)):%d/%m/%Y}"
    except ValueError:
        return str(value)


def holder_fields(credential: Mapping[str, Any]) -> dict[str, str] | None:
    """Name, CURP, institution, program and validity: all the page shows of a credential."""
    subject = credential.get("credentialSubject")
    if not isinstance(subject, Mapping) or "curp" not in subject:
        return None
    coverage = subject.get("coverage")
    coverage = coverage if isinstance(coverage, Mapping) else {}
    name = " ".join(
        str(subject[k]) for k in ("givenName", "familyName", "secondFamilyName") if subject.get(k)
    )
    return {
        "name": name,
        "curp": str(subject["curp"]),
        "institution": str(coverage.get("institution", "")),
        "program": str(coverage.get("program", "")),
        "validFrom": _date_text(credential.get("validFrom", "")),
        "validUntil": _date_text(credential.get("validUntil", "")),
    }


def _reason_json(code: ReasonCode, detail: str) -> dict[str, Any]:
    return {
        "code": code.value,
        "message": {lang: reason_summary(code, lang) for lang in _LANGUAGES},
        "detail": detail,
    }


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


class DeskService:
    """The verifier behind the page, over a synced trust folder that may change while it runs.

    The folder is loaded again whenever ``credencial-verify sync`` installs a new snapshot (its
    ``current`` link, bundle or state file changes). Thread-safe: one lock around each call.
    """

    def __init__(self, config: DeskConfig) -> None:
        self.config = config
        self.counts = DailyCounts(config.counts_path)
        self._lock = threading.Lock()
        self._signature: tuple[Any, ...] | None = None
        self._trust: TrustDir | None = None
        self._verifier: Verifier | None = None
        self._load_error: CredencialError | None = None

    # -- trust folder -------------------------------------------------------------------------

    def _folder_signature(self) -> tuple[Any, ...]:
        root = current_dir(self.config.trust_dir)
        stamps: list[Any] = [str(root)]
        for name in (BUNDLE_FILE, STATE_FILE):
            try:
                stat = (root / name).stat()
                stamps.append((stat.st_mtime_ns, stat.st_size))
            except OSError:
                stamps.append(None)
        return tuple(stamps)

    def _refresh(self) -> None:
        signature = self._folder_signature()
        if signature == self._signature:
            return
        self._signature = signature
        try:
            self._trust = TrustDir.load(self.config.trust_dir, anchors=self.config.anchors)
        except CredencialError as exc:
            self._trust, self._verifier, self._load_error = None, None, exc
            return
        limits = VerifierConfig(max_status_age=self.config.max_offline_age)
        self._verifier = Verifier(self._trust.trust, limits, self._trust.status_lists)
        self._load_error = None

    # -- what the page asks -------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.config.clock().astimezone(UTC)

    def _today(self, now: datetime) -> date:
        return now.astimezone().date()  # the desk's local day

    def status(self) -> dict[str, Any]:
        """The status line: trust bundle version and age, when it goes stale, today's counts."""
        with self._lock:
            self._refresh()
            return self._status(self._now())

    def _status(self, now: datetime) -> dict[str, Any]:
        document: dict[str, Any] = {
            "now": format_datetime(now),
            "clearAfterSeconds": self.config.clear_after,
            "maxImageBytes": MAX_IMAGE_BYTES,
            "counts": self.counts.today(self._today(now)),
        }
        if self._trust is None:
            error = self._load_error
            code = error.code if error is not None else ReasonCode.TRUST_BUNDLE_INVALID
            document["trust"] = {
                "state": "missing",
                **_reason_json(code, str(error) if error else "no trust bundle"),
            }
            return document
        bundle = self._trust.bundle
        stale_at, cause = bundle.expires, "bundle"
        information_since = bundle.issued
        limits, held_since = self._status_list_limits(now)
        if held_since:
            information_since = min(held_since)
        for moment in limits:
            if moment < stale_at:
                stale_at, cause = moment, "status"
        since = self._trust.trust.trusted_since
        behind = since is not None and now + VerifierConfig().clock_skew < since
        if behind:
            state = "clock"  # every verdict is INDETERMINATE (CLOCK_BEHIND) until it is set
        elif now >= stale_at:
            state = "stale"
        elif now >= stale_at - self.config.warn_before:
            state = "warning"
        else:
            state = "ok"
        document["trust"] = {
            "state": state,
            "version": bundle.version,
            "issued": format_datetime(bundle.issued),
            "expires": format_datetime(bundle.expires),
            "ageHours": _hours(now - bundle.issued),
            # How old the revocation and suspension information is: a revocation made since
            # then reaches this desk only at its next sync.
            "informationSince": format_datetime(information_since),
            "informationAgeHours": _hours(now - information_since),
            "staleAt": format_datetime(stale_at),
            "staleInHours": _hours(stale_at - now),
            "staleCause": cause,
        }
        if behind:
            document["trust"].update(_reason_json(ReasonCode.CLOCK_BEHIND, "clock behind"))
        return document

    def _status_list_limits(self, now: datetime) -> tuple[list[datetime], list[datetime]]:
        """When each status list of the bundle stops being usable (a list not held: ``now``),
        and when each held list was made (its ``validFrom``).

        The same limits the verifier applies: ``validUntil``, ``validFrom`` + ``ttl`` and
        ``validFrom`` + the maximum offline age.
        """
        assert self._trust is not None
        limits: list[datetime] = []
        made: list[datetime] = []
        for entry in self._trust.bundle.status_lists():
            valid_from, valid_until, ttl = entry.valid_from, entry.valid_until, None
            try:
                held = self._trust.status_lists.get(entry.url)
            except CredencialError:
                held = None
            if held is None:
                limits.append(now)
                continue
            subject = held.get("credentialSubject")
            raw_ttl = subject.get("ttl") if isinstance(subject, Mapping) else None
            if type(raw_ttl) is int and raw_ttl > 0:
                ttl = timedelta(milliseconds=raw_ttl)
            try:
                held_from, held_until = validity_period(held)
            except CredencialError:
                held_from, held_until = None, None
            valid_from = held_from or valid_from
            valid_until = min(filter(None, (valid_until, held_until)), default=None)
            if valid_until is not None:
                limits.append(valid_until)
            if valid_from is not None:
                made.append(valid_from)
                limits.append(valid_from + self.config.max_offline_age)
                if ttl is not None:
                    limits.append(valid_from + ttl)
        return limits, made

    def verify_text(self, text: str) -> dict[str, Any]:
        """The verdict for scanned card text or JSON; raises :class:`UnreadableScanError`."""
        with self._lock:
            self._refresh()
            return self._verify(text.strip())

    def verify_image(self, data: bytes) -> dict[str, Any]:
        """The verdict for a PNG or JPEG photo of the card; raises :class:`UnreadableScanError`."""
        try:
            text = decode_qr_image(data)
        except InputError as exc:
            raise UnreadableScanError("image", exc.message) from None
        with self._lock:
            self._refresh()
            return self._verify(text)

    def read_image(self, data: bytes) -> str | None:
        """The card text in a camera frame, or ``None`` if no card's QR code is in it.

        No verdict and nothing counted: the page's camera sends several frames a second and
        verifies a code once it has read one.
        """
        try:
            return decode_qr_image(data)
        except InputError:
            return None

    def _verify(self, text: str) -> dict[str, Any]:
        now = self._now()
        if self._verifier is None:  # no usable trust bundle: nothing can be known
            code = self._load_error.code if self._load_error else ReasonCode.TRUST_BUNDLE_INVALID
            detail = str(self._load_error) if self._load_error else "no trust bundle"
            reasons = [_reason_json(code, detail)]
            verdict, holder = Verdict.INDETERMINATE, None
        else:
            result = self._verifier.check(text, now=now)
            verdict, holder, reasons = self._judge(result)
        self.counts.add(verdict, self._today(now))
        return {
            "verdict": verdict.value,
            "label": {lang: verdict_label(verdict.value, lang) for lang in _LANGUAGES},
            "holder": holder,
            "form": "card" if is_card_text(text) else "credential",
            # Neither a card nor a bare credential proves who presents it (wallet_spec: a desk
            # MUST compare the name with an identity document); only a holder-bound wallet
            # presentation, which this page does not take, would.
            "idCheck": verdict is Verdict.VALID,
            "reasons": reasons,
            "checkedAt": format_datetime(now),
            "status": self._status(now),
        }

    @staticmethod
    def _judge(
        result: VerificationResult,
    ) -> tuple[Verdict, dict[str, str] | None, list[dict[str, Any]]]:
        if result.unreadable:  # not a whole, well-formed card or JSON: a bad scan, read again
            raise UnreadableScanError("text", "; ".join(r.detail for r in result.reasons))
        # What an INVALID credential claims is not shown as if it were true.
        shown = result.credential is not None and result.verdict is not Verdict.INVALID
        holder = holder_fields(result.credential) if shown and result.credential else None
        reasons = [_reason_json(r.code, r.detail) for r in result.reasons]
        return result.verdict, holder, reasons
