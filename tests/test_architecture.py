"""The dependency rule and the public API, enforced rather than hoped for."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
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


# -- import graph: no circle anywhere ------------------------------------------------------------

#: The packages whose imports must form no circle (tests may import anything).
PROJECT_PACKAGES = ("verifier", "issuer", "wallet_spec", "schemas", "bench", "tools")


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_graph(root: Path, packages: Sequence[str]) -> dict[str, set[str]]:
    """Each module of ``packages`` under ``root`` and the project modules it imports.

    Every import counts: at module level, inside functions, under ``if TYPE_CHECKING:``.
    ``from package import name`` counts as importing ``package.name`` when that is a module,
    else ``package``; relative imports are resolved.
    """
    paths = {
        _module_name(root, path): path
        for package in packages
        for path in sorted((root / package).rglob("*.py"))
    }
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")
                    base = ".".join([*parts[: len(parts) - node.level + 1], node.module or ""])
                    base = base.rstrip(".")
                else:
                    base = node.module or ""
                targets.update(
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in paths else base
                    for alias in node.names
                )
        found = set()
        for target in targets:
            while target and target not in paths:  # ``a.b.name`` -> the module ``a.b``
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
        graph[name] = found
    return graph


def import_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """One circle of imports per strongly connected component of ``graph`` (Tarjan), each as
    the modules along it; empty when the imports form no circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == module:
                    break
            if len(component) > 1:
                components.append(component)

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return [_circle_in(component, graph) for component in components]


def _circle_in(component: set[str], graph: Mapping[str, set[str]]) -> list[str]:
    """A path through ``component`` that returns to its start (a shortest one from its first)."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for module in frontier:
            for target in sorted(graph[module] & component):
                if target == start:
                    return paths[module]
                if target not in paths:
                    paths[target] = [*paths[module], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no circle through {start}")  # pragma: no cover - a component has one


def _named(cycles: list[list[str]]) -> str:
    return "; ".join(" -> ".join([*cycle, cycle[0]]) for cycle in cycles)


def test_no_import_circle_anywhere() -> None:
    graph = module_graph(ROOT, PROJECT_PACKAGES)
    assert len(graph) > 120
    assert "issuer.app" in graph["issuer.cli.serve"]
    cycles = import_cycles(graph)
    assert not cycles, f"import circles: {_named(cycles)}"


def test_the_cycle_checker_names_a_circle(tmp_path: Path) -> None:
    """A circle closed by an import inside a function and one under TYPE_CHECKING are found."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from .sub import b\n")
    (package / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import c\n"
    )
    (package / "c.py").write_text("import pkg.a\nfrom pkg.sub.b import thing\n")
    (package / "d.py").write_text("from . import a\n")  # into the circle, not part of it
    graph = module_graph(tmp_path, ["pkg"])
    assert graph["pkg.a"] == {"pkg.sub.b"}
    assert graph["pkg.sub.b"] == {"pkg.c"}
    assert graph["pkg.c"] == {"pkg.a", "pkg.sub.b"}
    assert graph["pkg.d"] == {"pkg.a"}
    cycles = import_cycles(graph)
    assert cycles == [["pkg.a", "pkg.sub.b", "pkg.c"]]
    assert _named(cycles) == "pkg.a -> pkg.sub.b -> pkg.c -> pkg.a"
    (package / "c.py").write_text("import json\nimport pkg\n")  # the circle broken
    assert import_cycles(module_graph(tmp_path, ["pkg"])) == []


# -- the issuer: domain packages over shared plumbing ---------------------------------------------

#: Packages of ``issuer/`` that every domain may use and that use no domain.
ISSUER_FOUNDATIONS = {
    "http": {"errors", "principal", "settings", "institutions"},  # shared HTTP plumbing
    "storage": {"settings"},  # engine, tables, migrations, the audit chain, challenges, files
    "keys": {"settings"},  # key files and the HSM
}
#: The domain packages: each holds its rules, its storage access and its routes.
ISSUER_DOMAINS = frozenset({
    "credentials", "consent", "oid4vci", "enrolment", "cards", "trust", "units", "biometrics",
    "wallet",
})  # fmt: skip


def _issuer_part(module: str) -> str:
    return module.split(".")[1] if module.count(".") >= 1 else ""


def test_the_issuer_is_domain_packages() -> None:
    top_level = sorted(path.name for path in (ROOT / "issuer").glob("*.py"))
    assert len(top_level) <= 10, top_level
    packages = {path.parent.name for path in (ROOT / "issuer").glob("*/__init__.py")}
    assert ISSUER_DOMAINS | set(ISSUER_FOUNDATIONS) | {"cli"} == packages
    for package in packages:  # each says what it is
        assert ast.get_docstring(ast.parse((ROOT / "issuer" / package / "__init__.py").read_text()))


def test_shared_issuer_packages_import_no_domain() -> None:
    graph = module_graph(ROOT, ["issuer"])
    offenders = {
        f"{module} imports {target}"
        for module, targets in graph.items()
        if _issuer_part(module) in ISSUER_FOUNDATIONS
        for target in targets
        if target.startswith("issuer.")
        and _issuer_part(target) != _issuer_part(module)
        and _issuer_part(target) not in ISSUER_FOUNDATIONS[_issuer_part(module)]
    }
    assert not offenders


def test_issuer_packages_depend_one_way() -> None:
    """Domains may build on one another, never in a circle (package by package)."""
    packages: dict[str, set[str]] = {}
    for module, targets in module_graph(ROOT, ["issuer"]).items():
        if module != "issuer":
            packages.setdefault(f"issuer.{_issuer_part(module)}", set()).update(
                f"issuer.{_issuer_part(t)}"
                for t in targets
                if t.startswith("issuer.") and _issuer_part(t) != _issuer_part(module)
            )
    assert "issuer.credentials" in packages["issuer.consent"]
    cycles = import_cycles(packages)
    assert not cycles, f"package circles: {_named(cycles)}"


# -- the verifier: a core, two wings and their command line ---------------------------------------


def test_the_wings_and_the_core_keep_apart() -> None:
    """The core never imports ``cli``, ``sync`` or ``desk``; the wings never import each other
    or the command line's entry point (they share the core's command-line helper instead)."""
    graph = module_graph(ROOT, ["verifier"])
    wing = {"verifier.cli": "cli", "verifier.sync": "sync", "verifier.desk": "desk"}

    def part(module: str) -> str:
        return next((w for prefix, w in wing.items() if module == prefix or
                     module.startswith(prefix + ".")), "core")  # fmt: skip

    offenders = {
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        if part(target) != part(module)
        and part(target) != "core"
        and part(module) != "cli"  # the entry point loads a wing for `sync` or `serve`
    }
    assert not offenders
    assert {"verifier.sync", "verifier.desk"} <= graph["verifier.cli"]


def test_the_readme_layout_table_matches_the_tree() -> None:
    """Every path the README's Layout table names exists, and it names every package."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## Layout\n", 1)[1]
    rows = [line for line in section.split("\n## ", 1)[0].splitlines() if line.startswith("| `")]
    listed = {path for row in rows for path in re.findall(r"`([^`]+)`", row.split("|")[1])}
    assert all((ROOT / path).exists() for path in listed), sorted(
        path for path in listed if not (ROOT / path).exists()
    )
    packages = {f"{name}/" for name in (*PROJECT_PACKAGES, "tests")}
    packages |= {
        f"{path.parent.relative_to(ROOT).as_posix()}/"
        for top in ("verifier", "issuer", "wallet_spec")
        for path in (ROOT / top).glob("*/__init__.py")
    }
    assert packages - listed == set()


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
    "RELATIONSHIP_TERMS", "RELATIONSHIP_TERMS_WRITTEN", "RELATIONSHIP_VOCABULARY_VERSION",
    "RETIRED_RELATIONSHIP_TERMS",
    "IJsonError", "parse_json",
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
