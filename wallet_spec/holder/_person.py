"""The person's side of the law, over HTTP (``wallet_spec/consent-requests.md``).

:class:`PersonApi` talks to one **custodian** (an institution the wallet holds a coverage
credential from) as the holder: every call is authenticated by a fresh presentation of that
credential with a challenge from the custodian, and an answer (approve, deny, withdraw) is a
presentation that signs its statement. It lists and answers consent requests, lists and withdraws
grants, reads the access log and the person's own record, and searches medical units.

:func:`approval_grant` builds the grant that approves a request, as asked or narrowed; it never
builds one wider than the request (``NARROWING_INVALID``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx

from verifier import consent_statement_id, create_presentation, format_datetime

from ._errors import WalletError
from ._keys import HolderKey
from ._oid4vci import HttpClient, HttpResponse

__all__ = [
    "Custodian",
    "PersonApi",
    "approval_grant",
    "custodians",
    "end_of_day",
    "holder_presentation",
]

#: Mexico's central time zone has been UTC-6 all year since 2022 (no daylight saving time).
_MEXICO_CITY = timedelta(hours=-6)


@dataclass(frozen=True)
class Custodian:
    """An institution the wallet holds a coverage credential from."""

    code: str
    issuer: str
    credential: Mapping[str, Any]

    @property
    def domain(self) -> str:
        """The domain presentations to it name (``imss.gob.mx``)."""
        return urlsplit(self.issuer).netloc


def _issuer_url(did: Any) -> str | None:
    if not isinstance(did, str) or not did.startswith("did:web:"):
        return None
    return "https://" + did.removeprefix("did:web:").split(":")[0].replace("%3A", ":")


def custodians(
    credentials: Iterable[Mapping[str, Any]], *, holder: str, now: datetime
) -> list[Custodian]:
    """One per institution: the newest coverage credential in force bound to ``holder``."""
    moment = format_datetime(now)
    chosen: dict[str, Custodian] = {}
    for credential in sorted(credentials, key=lambda c: str(c.get("validFrom", ""))):
        subject = credential.get("credentialSubject") or {}
        code = (subject.get("coverage") or {}).get("institution")
        issuer = _issuer_url(credential.get("issuer"))
        if (
            subject.get("id") == holder
            and isinstance(code, str)
            and issuer is not None
            and str(credential.get("validFrom", "")) <= moment < str(credential.get("validUntil"))
        ):
            chosen[code] = Custodian(code, issuer, credential)
    if not chosen:
        raise WalletError(
            "NO_MATCHING_CREDENTIAL", "the wallet holds no coverage credential in force"
        )
    return sorted(chosen.values(), key=lambda c: c.code)


def end_of_day(day: date) -> datetime:
    """The last second of ``day`` in Mexico City, as an aware UTC datetime."""
    local = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC) - _MEXICO_CITY
    return local.astimezone(UTC)


def approval_grant(
    request: Mapping[str, Any],
    *,
    curp: str,
    now: datetime,
    data_classes: Sequence[str] | None = None,
    until: datetime | None = None,
    data_from: date | None = None,
    data_until: date | None = None,
) -> dict[str, Any]:
    """The grant approving ``request`` (its view as the custodian sent it), narrowed by the
    arguments; ``NARROWING_INVALID`` if an argument would give more than was asked."""
    asked = list(request["dataClasses"])
    classes = list(dict.fromkeys(data_classes)) if data_classes else asked
    extra = [c for c in classes if c not in asked]
    if extra:
        raise WalletError(
            "NARROWING_INVALID",
            f"{', '.join(extra)} was not asked for (asked: {', '.join(asked)})",
            details={"notAsked": extra, "asked": asked},
        )
    access_until = datetime.fromisoformat(request["accessUntil"].replace("Z", "+00:00"))
    end = access_until if until is None else until.replace(microsecond=0)
    if end > access_until:
        raise WalletError(
            "NARROWING_INVALID",
            f"the access cannot end after {request['accessUntil']}",
            details={"accessUntil": request["accessUntil"]},
        )
    start = now.replace(microsecond=0)
    if end <= start:
        raise WalletError(
            "NARROWING_INVALID", "the access must end in the future", details={"past": True}
        )
    period = []
    for name, value, bound, later in (
        ("dataFrom", data_from, request.get("dataFrom"), True),
        ("dataUntil", data_until, request.get("dataUntil"), False),
    ):
        text = value.isoformat() if value is not None else bound
        if bound is not None and text is not None and (text < bound if later else text > bound):
            raise WalletError(
                "NARROWING_INVALID",
                f"{name} must stay within {bound}",
                details={"field": name, "bound": bound},
            )
        period.append((name, text))
    grantee: dict[str, str] = {"institution": request["requester"]}
    if request.get("requesterUnit"):
        grantee["unit"] = request["requesterUnit"]
    grant: dict[str, Any] = {
        "curp": curp,
        "grantees": [grantee],
        "dataClasses": classes,
        "purposes": [request["purpose"]],
        **{name: text for name, text in period if text is not None},
        "validFrom": format_datetime(start),
        "validUntil": format_datetime(end),
        "locations": ["MX"],
    }
    return grant


def holder_presentation(
    key: HolderKey,
    credential: Mapping[str, Any] | None,
    *,
    challenge: str,
    domain: str,
    now: datetime,
    statement: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The presentation that authenticates the holder to a custodian (carrying ``credential``)
    and, with ``statement``, signs it: its ``id`` is ``consent_statement_id(statement)``."""
    return create_presentation(
        [dict(credential)] if credential is not None else [],
        holder=key.did,
        signer=key,
        challenge=challenge,
        domain=domain,
        created=format_datetime(now),
        presentation_id=consent_statement_id(statement) if statement is not None else None,
    )


def _problem(response: HttpResponse) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        return body["code"], str(body.get("detail", ""))
    return f"HTTP_{response.status_code}", f"HTTP {response.status_code}"


class PersonApi:
    """The holder's calls to one custodian (see the module docstring)."""

    def __init__(
        self,
        client: HttpClient,
        key: HolderKey,
        custodian: Custodian,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = client
        self.key = key
        self.custodian = custodian
        self.clock = clock or (lambda: datetime.now(UTC))

    @property
    def curp(self) -> str:
        """The person's CURP (from the custodian's credential)."""
        return str(self.custodian.credential["credentialSubject"]["curp"])

    def _url(self, path: str, **params: Any) -> str:
        query = urlencode(
            [("institution", self.custodian.code)]
            + [(k, v) for k, values in params.items() if values is not None
               for v in (values if isinstance(values, list) else [values])]
        )  # fmt: skip
        return f"{self.custodian.issuer}{path}?{query}"

    def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            if method == "GET":
                response = self.client.get(url, headers=kwargs.get("headers"))
            else:
                response = self.client.post(url, json=kwargs.get("json"))
        except (httpx.HTTPError, OSError) as exc:
            raise WalletError("NETWORK", f"{self.custodian.issuer}: {exc}") from None
        if response.status_code not in {200, 201}:
            code, detail = _problem(response)
            raise WalletError("ISSUER_REFUSED", detail, problem=code)
        body = response.json()
        if not isinstance(body, dict):
            raise WalletError("ISSUER_REFUSED", "the answer is not a JSON object", problem="")
        return body

    def present(
        self, statement: Mapping[str, Any] | None = None, *, credential: bool = True
    ) -> dict[str, Any]:
        """A fresh presentation to the custodian (its challenge), signing ``statement``."""
        challenge = self._call(
            "POST", f"{self.custodian.issuer}/institutions/{self.custodian.code}/consent/challenges"
        )
        return holder_presentation(
            self.key,
            self.custodian.credential if credential else None,
            challenge=str(challenge.get("challenge")),
            domain=str(challenge.get("domain")),
            now=self.clock(),
            statement=statement,
        )

    def _authorization(self) -> dict[str, str]:
        text = json.dumps(self.present(), separators=(",", ":"), ensure_ascii=False)
        token = base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")
        return {"Authorization": f"Presentation {token}", "Accept": "application/json"}

    # -- consent requests -----------------------------------------------------------------------

    def requests(self, state: str | None = None) -> dict[str, Any]:
        """The requests addressed to the person (``state``: only those)."""
        return self._call(
            "GET", self._url("/me/consent-requests", state=state), headers=self._authorization()
        )

    def request(self, request_id: str) -> dict[str, Any]:
        """One request addressed to the person."""
        path = f"/me/consent-requests/{quote(request_id, safe='')}"
        return self._call("GET", self._url(path), headers=self._authorization())

    def approve(self, request: Mapping[str, Any], grant: Mapping[str, Any]) -> dict[str, Any]:
        """Approve ``request`` with ``grant`` (see :func:`approval_grant`)."""
        statement = {"action": "consent.grant", "institution": self.custodian.code,
                     "grant": dict(grant), "request": request["id"]}  # fmt: skip
        body = {"grant": dict(grant), "presentation": self.present(statement)}
        path = f"/me/consent-requests/{quote(request['id'], safe='')}/approval"
        return self._call("POST", self._url(path), json=body)

    def deny(self, request_id: str) -> dict[str, Any]:
        """Deny a request."""
        statement = {"action": "consent.deny", "institution": self.custodian.code,
                     "request": request_id}  # fmt: skip
        path = f"/me/consent-requests/{quote(request_id, safe='')}/denial"
        return self._call("POST", self._url(path), json={"presentation": self.present(statement)})

    # -- grants, access log, record, units ------------------------------------------------------

    def grants(self) -> dict[str, Any]:
        """The person's consent grants at the custodian."""
        return self._call("GET", self._url("/me/consent-grants"), headers=self._authorization())

    def withdraw(self, grant_id: str) -> dict[str, Any]:
        """Withdraw a grant (effective now)."""
        statement = {"action": "consent.withdraw", "grantId": grant_id}
        url = (
            f"{self.custodian.issuer}/institutions/{self.custodian.code}/consent/grants/"
            f"{quote(grant_id, safe=':')}/withdrawal"
        )
        return self._call(
            "POST", url, json={"presentation": self.present(statement, credential=False)}
        )

    def access_log(self) -> dict[str, Any]:
        """Who accessed the person's data at the custodian, when, under which grant."""
        return self._call("GET", self._url("/me/access-log"), headers=self._authorization())

    def record(self, data_classes: Sequence[str] = ()) -> dict[str, Any]:
        """The person's own record (a FHIR Bundle); each class read enters the access log."""
        url = self._url("/me/record", dataClass=list(data_classes) or None)
        return self._call("GET", url, headers=self._authorization())

    def units(
        self, near: tuple[float, float] | None = None, service: str | None = None, limit: int = 20
    ) -> dict[str, Any]:
        """Medical units that accept the person's coverage and have availability."""
        body: dict[str, Any] = {"presentation": self.present(), "limit": limit}
        if near is not None:
            body["near"] = {"lat": near[0], "lon": near[1]}
        if service is not None:
            body["service"] = service
        return self._call("POST", self._url("/me/units/search"), json=body)
