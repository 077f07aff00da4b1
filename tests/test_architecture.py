"""The dependency rule and the public API, enforced rather than hoped for."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import verifier

ROOT = Path(__file__).resolve().parents[1]
#: Optional wings of the verifier that may use the network or a web framework.
VERIFIER_WINGS = ("sync", "desk")
#: What the offline core may never import (top-level module names).
FORBIDDEN_IN_CORE = frozenset({
    "issuer", "wallet_spec", "fastapi", "starlette", "uvicorn", "httpx", "requests", "aiohttp",
    "urllib3", "socket", "http", "ssl", "asyncio", "flask", "django",
})  # fmt: skip
FORBIDDEN_SUBMODULES = frozenset({"urllib.request", "http.client"})


def _core_files() -> list[Path]:
    files = []
    for path in sorted((ROOT / "verifier").rglob("*.py")):
        relative = path.relative_to(ROOT / "verifier")
        if relative.parts[0] not in VERIFIER_WINGS:
            files.append(path)
    return files


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_imports_nothing_forbidden() -> None:
    files = _core_files()
    assert len(files) >= 10
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in _imports(path)
        if name.split(".")[0] in FORBIDDEN_IN_CORE
        or any(name == sub or name.startswith(sub + ".") for sub in FORBIDDEN_SUBMODULES)
    }
    assert not offenders


def _relative_imports(path: Path) -> set[str]:
    """``from .x import y`` / ``from . import x`` as ``x`` (the first segment below verifier/)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            if node.module:
                names.add(node.module.split(".")[0])
            else:
                names.update(alias.name for alias in node.names)
    return names


#: The command-line entry point is the composition root: it may load a wing, lazily, for
#: `credencial-verify sync` or `serve` only. No other core module may import a wing.
COMPOSITION_ROOTS = frozenset({"cli.py"})


def test_core_never_imports_a_wing() -> None:
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in _core_files()
        if path.name not in COMPOSITION_ROOTS
        for name in _relative_imports(path)
        if name in VERIFIER_WINGS
    }
    assert not offenders
    cli = (ROOT / "verifier" / "cli.py").read_text(encoding="utf-8")
    module_level = {
        node.module
        for node in ast.parse(cli).body
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not any(name.split(".")[0] in VERIFIER_WINGS for name in module_level)


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import issuer\nfrom fastapi import FastAPI\nfrom . import _x\nfrom .sync import s\n"
    )
    assert _imports(sample) == {"issuer", "fastapi"}
    assert _relative_imports(sample) == {"_x", "sync"}


def test_importing_the_verifier_loads_no_network_or_web_module() -> None:
    """Also catches what our imports import.

    pyld itself imports ``urllib.request`` and, when installed, its optional ``requests`` and
    ``aiohttp`` document loaders; we never call them (every pyld call gets our ContextLoader, and
    ``test_offline`` proves no socket is opened), so only the rest is checked here.
    """
    code = (
        "import sys, verifier, verifier.cli\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'issuer','wallet_spec','fastapi','starlette','uvicorn','httpx'})\n"
        "print(','.join(bad))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    assert output == ""


#: The desk wing serves a page with the standard library's http.server; it opens no outgoing
#: connection and uses no web framework.
DESK_ALLOWED = frozenset({"http", "http.server"})


def test_the_desk_wing_uses_only_http_server() -> None:
    files = sorted((ROOT / "verifier" / "desk").rglob("*.py"))
    assert files
    imported = set().union(*(_imports(path) for path in files))
    assert "http.server" in imported
    offenders = {
        name
        for name in imported - DESK_ALLOWED
        if name.split(".")[0] in FORBIDDEN_IN_CORE
        or any(name == sub or name.startswith(sub + ".") for sub in FORBIDDEN_SUBMODULES)
    }
    assert not offenders
    relative = set().union(*(_relative_imports(path) for path in files))
    assert "sync" not in relative  # the desk never fetches: `credencial-verify sync` does


def test_the_cli_loads_no_server_until_serve() -> None:
    code = (
        "import sys, verifier, verifier.cli\n"
        "print(','.join(sorted(m for m in sys.modules if m in {'http.server', 'verifier.desk'})))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    assert output == ""


def test_issuer_depends_on_verifier_not_the_reverse() -> None:
    issuer_imports = set().union(*(_imports(p) for p in (ROOT / "issuer").rglob("*.py")))
    assert any(name.split(".")[0] == "verifier" for name in issuer_imports)


PUBLIC_API = {
    "CARD_PREFIX", "CARD_VERSION", "MAX_CARD_TEXT", "CardEncodingError", "CardFormatError",
    "b45decode", "b45encode", "decode_card", "decode_card_bytes", "encode_card",
    "encode_card_bytes", "is_card_text",
    "CREDENTIALS_V2_URL", "CRYPTOSUITE", "ED25519_PRIV_PREFIX", "ED25519_PUB_PREFIX",
    "INSTITUTION_CODES", "MIN_STATUS_LIST_BITS", "PROOF_TYPE", "AllOf", "AnyOf", "ContextError",
    "ContextLoader", "Coverage", "CoverageSubject", "CredencialError", "CredentialRevokedError",
    "CredentialSuspendedError", "DataLossError", "DataModelError", "HealthCoverageCredential",
    "InMemoryStatusLists", "IndeterminateError", "InputError", "InvalidCredentialError",
    "KeyFormatError", "Language", "Policy", "PolicyError", "ProofError", "ProofParts", "Reason",
    "ReasonCode", "RequireIssuer", "RequireType", "SchemaError", "Signer", "StatusListEntry",
    "StatusListSource", "TrustStore", "TrustedKey", "UnsafeNoOp", "UntrustedKeyError",
    "ValidityPeriodError", "Verdict", "VerificationResult", "Verifier", "VerifierConfig",
    "bundled_contexts", "canonicalize", "check_credential", "create_proof", "curp_check_digit",
    "decode_multibase", "decode_multikey", "decode_status_bits", "encode_multikey",
    "encode_status_bits", "expand", "format_datetime", "hash_data", "is_url", "is_valid_clues",
    "is_valid_curp", "issuer_id", "load_context_file", "parse_datetime",
    "parse_health_coverage_credential", "reason_summary", "split_proof", "status_bit",
    "validity_period", "verdict_label",
    "AnchorKey", "AnchorSet", "BundleInstitution", "BundleStatusList", "BundleStatusLists",
    "TrustBundle", "TrustBundleError", "TrustDir", "TrustState", "bundle_signing_bytes",
    "encode_bundle_signature", "load_trust_bundle",
    "DATA_CLASSES", "HEALTH_PURPOSES", "JUDICIAL_ORDER_ROLES", "AccessDecision", "AccessRequest",
    "AuthorizationCode", "AuthorizationReason", "ConsentGrant", "Grant", "Grantee",
    "JudicialApproval", "JudicialOrderGrant", "authorize",
    "CONSENT_RECEIPT_TYPE", "consent_grant_from_json", "consent_grant_from_receipt",
    "consent_statement_id", "offline_consent_grants",
    "PRESENTATION_TYPE", "ChallengeStore", "InMemoryChallengeStore", "PresentationError",
    "PresentationResult", "PresentationVerifier", "create_presentation",
    "did_key_from_public_key", "did_key_verification_method", "public_key_from_did_key",
}  # fmt: skip


def test_public_api_is_pinned() -> None:
    """Changing the public surface is a decision: update this list in the same change."""
    assert set(verifier.__all__) == PUBLIC_API
    assert len(verifier.__all__) == len(PUBLIC_API)
    for name in verifier.__all__:
        assert hasattr(verifier, name), name


def test_reason_codes_are_stable() -> None:
    """Codes are keyed on by desks and wallets: their values never change."""
    from verifier import ReasonCode

    assert all(code.value == code.name for code in ReasonCode)
    assert ReasonCode.REVOKED.problem_type.startswith("https://")
