"""The wallet package is what a wallet is: it never imports the issuer (or a web framework)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.test_architecture import _imports

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = frozenset({"issuer", "fastapi", "starlette", "uvicorn", "sqlalchemy"})


def test_the_wallet_package_never_imports_the_issuer() -> None:
    """The whole of ``wallet_spec/``: the holder library, its CLI and anything beside them."""
    files = sorted((ROOT / "wallet_spec").rglob("*.py"))
    assert len(files) >= 7
    assert ROOT / "wallet_spec" / "__init__.py" in files
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in _imports(path)
        if name.split(".")[0] in FORBIDDEN
    }
    assert not offenders


def test_importing_the_holder_loads_no_issuer_module() -> None:
    code = (
        "import sys, wallet_spec, wallet_spec.holder, wallet_spec.holder.cli\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'issuer','fastapi','starlette','sqlalchemy'})))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    assert output == ""
