"""Routes of verifying (VC API), public: a credential, a challenge, a holder's presentation.

200 only when VALID; INVALID and INDETERMINATE are 400 problems whose extension members are the
verification result. JSON nested deeper than the verifier needs is refused before it is parsed
further. No API key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from issuer.credentials.dependencies import ServiceDep
from issuer.credentials.models import (
    ChallengeRequest,
    ChallengeResponse,
    PresentationVerificationResponse,
    VerificationResponse,
    VerifyCredentialRequest,
    VerifyPresentationRequest,
)
from issuer.credentials.service import IssuerService
from issuer.http.errors import Problem, problem_response, problems
from issuer.http.params import Lang
from issuer.storage.challenges import ChallengeLimitError, DatabaseChallengeStore
from verifier import (
    Language,
    PresentationResult,
    PresentationVerifier,
    Reason,
    ReasonCode,
    Verdict,
    VerificationResult,
    Verifier,
    format_datetime,
)

__all__ = ["router"]

router = APIRouter()

#: Deepest JSON nesting the verify endpoints pass to the verifier (a credential needs 4).
_MAX_DEPTH = 32
_CHECKS = ("proof", "validityPeriod", "credentialStatus")


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth <= _MAX_DEPTH:
            if isinstance(item, dict):
                stack.extend((v, depth + 1) for v in item.values())
            elif isinstance(item, list):
                stack.extend((v, depth + 1) for v in item)
    return deepest


def _check(verifier: Verifier, data: dict[str, Any] | str) -> VerificationResult:
    refusal = None
    if _depth(data) > _MAX_DEPTH:
        refusal = f"JSON nested deeper than {_MAX_DEPTH} levels"
    else:
        try:
            return verifier.check(data)
        except RecursionError:
            refusal = "JSON nested too deeply"
    reason = Reason(ReasonCode.MALFORMED_INPUT, refusal)
    return VerificationResult(Verdict.INVALID, (reason,), None, datetime.now(UTC))


def _result_json(result: VerificationResult, lang: Language) -> dict[str, Any]:
    data = result.to_json(lang)
    return {
        "verified": result.is_valid,
        "verdict": data["verdict"],
        "reasons": data["reasons"],
        "checks": list(_CHECKS),
        "checkedAt": data["checkedAt"],
    }


def _not_verified(
    verdict: Verdict, reasons: list[dict[str, Any]], extra: dict[str, Any], *, what: str
) -> JSONResponse:
    """The 400 problem of a result that is not VALID; ``what``: "credential" or "presentation"."""
    messages = "; ".join(dict.fromkeys(r["message"] for r in reasons))
    return problem_response(
        400, f"{verdict.value}: {messages}", code="VERIFICATION_FAILED",
        type_=reasons[0]["type"] if reasons else "about:blank",
        title=f"The {what} did not verify" if reasons else None, extra=extra,
    )  # fmt: skip


_VERIFY_400: dict[int | str, dict[str, Any]] = {
    400: {
        "model": Problem,
        "description": "Not verified (INVALID or INDETERMINATE): a problem whose extension "
        "members are the verification result (`verified`, `verdict`, `reasons`, ...)",
    }
}


@router.post(
    "/credentials/verify",
    tags=["verifying"],
    summary="Verify a credential (VC API)",
    response_model=VerificationResponse,
    responses={**_VERIFY_400, **problems(413, 422)},
)
def verify_credential(body: VerifyCredentialRequest, service: ServiceDep, lang: Lang = "es") -> Any:
    """Verify a credential (JSON, or card text `SUS1:…`) against this deployment's keys and its
    current status lists. 200 only when VALID; INVALID and INDETERMINATE are 400. No auth."""
    result = _check(service.verifier(), body.verifiable_credential)
    data = _result_json(result, lang)
    if not result.is_valid:
        return _not_verified(result.verdict, data["reasons"], data, what="credential")
    return data


def _challenge_store(service: IssuerService) -> DatabaseChallengeStore:
    return DatabaseChallengeStore(service.db)


@router.post(
    "/challenges",
    tags=["verifying"],
    summary="A single-use challenge for a holder presentation (VC API)",
    status_code=201,
    response_model=ChallengeResponse,
    responses={
        503: {"model": Problem, "description": "Too many challenges outstanding"},
        **problems(400, 413, 422),
    },
)
def create_challenge(body: ChallengeRequest, service: ServiceDep, response: Response) -> Any:
    """A fresh challenge for presentations made for `domain`, valid 5 minutes, usable once
    (the wallet puts it in its presentation's proof). No auth."""
    now = datetime.now(UTC)
    store = _challenge_store(service)
    try:
        challenge = store.issue(body.domain, now)
    except ChallengeLimitError as exc:
        return problem_response(503, str(exc), code="TOO_MANY_CHALLENGES")
    response.headers["Cache-Control"] = "no-store"
    return {
        "challenge": challenge,
        "domain": body.domain,
        "expires": format_datetime(now + store.lifetime),
    }


def _presentation_check(
    service: IssuerService, presentation: dict[str, Any], domain: str
) -> PresentationResult:
    checker = PresentationVerifier(service.verifier(), _challenge_store(service))
    now = datetime.now(UTC)
    refusal = None
    if _depth(presentation) > _MAX_DEPTH:
        refusal = f"JSON nested deeper than {_MAX_DEPTH} levels"
    else:
        try:
            return checker.check(presentation, domain=domain, now=now)
        except RecursionError:
            refusal = "JSON nested too deeply"
    reason = Reason(ReasonCode.MALFORMED_INPUT, refusal)
    return PresentationResult(Verdict.INVALID, (reason,), None, (), None, now)


@router.post(
    "/presentations/verify",
    tags=["verifying"],
    summary="Verify a holder's presentation (VC API): holder proof, challenge, domain, binding",
    response_model=PresentationVerificationResponse,
    responses={**_VERIFY_400, **problems(413, 422)},
)
def verify_presentation(
    body: VerifyPresentationRequest, service: ServiceDep, lang: Lang = "es"
) -> Any:
    """Verify a VerifiablePresentation signed by its holder's did:key (`proofPurpose`
    `authentication`): the proof's `domain` must be `options.domain`, its `challenge` one issued
    by `POST /challenges` for that domain and not used before (a replay is refused), it must be
    fresh (5 minutes), and every credential must verify and name the holder as its subject.
    200 only when VALID. No auth."""
    presentation = body.verifiable_presentation
    proof = presentation.get("proof")
    if body.options.challenge is not None and (
        not isinstance(proof, dict) or proof.get("challenge") != body.options.challenge
    ):
        reason = Reason(
            ReasonCode.CHALLENGE_UNKNOWN, "the proof's challenge is not options.challenge"
        )
        result = PresentationResult(Verdict.INVALID, (reason,), None, (), None, datetime.now(UTC))
    else:
        result = _presentation_check(service, presentation, body.options.domain)
    per_credential = [_result_json(r, lang) for r in result.credentials]
    reasons = [reason.to_json(lang) for reason in result.reasons] + [
        {**reason, "detail": f"credential {i}: {reason['detail']}"}
        for i, item in enumerate(per_credential)
        for reason in item["reasons"]
    ]
    data = {
        "verified": result.is_valid,
        "verdict": result.verdict.value,
        "holder": result.holder,
        "reasons": reasons,
        "credentialResults": per_credential,
        "presentationProofChecked": True,
        "checkedAt": format_datetime(result.checked_at),
    }
    if not result.is_valid:
        return _not_verified(result.verdict, reasons, data, what="presentation")
    return data
