"""A throwaway SoftHSM2 token for tests and benchmarks: a config and token directory in a temp dir.

:func:`softhsm_token` writes a ``softhsm2.conf`` naming a token directory under ``directory``,
points ``SOFTHSM2_CONF`` at it, initializes a token with a random label (``softhsm2-util
--init-token --free``) and re-initializes python-pkcs11's handle on the module (SoftHSM reads its
config and tokens only at ``C_Initialize``); on exit it finalizes the module (every session
closed) and restores ``SOFTHSM2_CONF``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "REQUIRE_SOFTHSM_ENV",
    "SoftHsm",
    "SoftHsmUnavailableError",
    "find_softhsm_module",
    "softhsm_required",
    "softhsm_token",
]

#: Set to ``1`` (``.ci/run`` does) to make a missing SoftHSM2 a failure instead of a skip.
REQUIRE_SOFTHSM_ENV = "CREDENCIAL_REQUIRE_SOFTHSM"
#: Where distributions put the module.
MODULE_PATHS = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
_PIN = "4711-test-pin"
_SO_PIN = "so-pin-0815"


class SoftHsmUnavailableError(RuntimeError):
    """SoftHSM2 or python-pkcs11 is not installed."""


@dataclass(frozen=True)
class SoftHsm:
    """A fresh token: the module, its label and user PIN (also in ``pin_file``)."""

    module: str
    token_label: str
    pin: str
    pin_file: Path


def softhsm_required() -> bool:
    """Whether the environment demands the SoftHSM tests (``CREDENCIAL_REQUIRE_SOFTHSM=1``)."""
    return os.environ.get(REQUIRE_SOFTHSM_ENV, "") not in ("", "0")


def find_softhsm_module() -> tuple[str, str]:
    """``softhsm2-util`` and ``libsofthsm2.so``, or :class:`SoftHsmUnavailableError`."""
    try:
        import pkcs11  # noqa: F401 - only checks that the hsm extra is installed
    except ImportError:
        raise SoftHsmUnavailableError(
            "python-pkcs11 is not installed (pip install -e '.[hsm]')"
        ) from None
    util = shutil.which("softhsm2-util")
    module = next((path for path in MODULE_PATHS if Path(path).is_file()), None)
    if util is None or module is None:
        raise SoftHsmUnavailableError(
            "softhsm2-util or libsofthsm2.so not found (apt-get install softhsm2)"
        )
    return util, module


@contextmanager
def softhsm_token(directory: Path) -> Iterator[SoftHsm]:
    """A new token under ``directory`` (which must be empty or new), for the ``with`` block."""
    import pkcs11

    util, module = find_softhsm_module()
    tokens = directory / "tokens"
    tokens.mkdir(parents=True)
    config = directory / "softhsm2.conf"
    config.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(config)
    try:
        label = f"credencial-{uuid.uuid4().hex[:8]}"
        subprocess.run(
            [util, "--init-token", "--free", "--label", label, "--pin", _PIN, "--so-pin", _SO_PIN],
            check=True,
            capture_output=True,
        )
        pkcs11.lib(module).reinitialize()
        pin_file = directory / "pin"
        pin_file.write_text(_PIN + "\n")
        yield SoftHsm(module, label, _PIN, pin_file)
    finally:
        pkcs11.lib(module).finalize()  # close every session and log out
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous
