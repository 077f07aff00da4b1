"""What signing in an HSM costs: Ed25519 signatures and issuance, file key against PKCS#11 token.

``python -m bench.hsm`` measures, in one run on a throwaway SoftHSM2 token (``tests/softhsm.py``):

- raw signatures per second over 64 bytes: an in-process key (``cryptography``) and the token
  (``CKM_EDDSA`` through python-pkcs11), and their ratio;
- bulk issuance (``IssuerService.issue`` in a loop, SQLite) with file keys and with the token.

SoftHSM2 is software: the figures show the PKCS#11 round trip, not a hardware HSM's speed (ask
the vendor for its Ed25519 signatures per second, and divide by the ``sigs/cred`` of
``python -m bench.issuance``).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr

from issuer.credentials.service import IssuerService
from issuer.demo import DEMO_PEOPLE
from issuer.keys.files import Ed25519KeyPair
from issuer.principal import Principal
from issuer.settings import IssuerSettings

__all__ = ["main"]

SIGNATURES = 2000
BULK = 100


def _per_second(operation: Callable[[], object], count: int) -> float:
    """Operations per second: median of five batches of ``count // 5``, after one warm-up."""
    operation()
    batch = max(1, count // 5)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(batch):
            operation()
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def _issuance_rate(settings: IssuerSettings) -> float:
    service = IssuerService(settings)
    try:
        service.bootstrap()
        principal = Principal("bench", "IMSS", frozenset({"issue"}))
        subject = {"credentialSubject": dict(DEMO_PEOPLE["credential"])}
        service.issue(principal, subject)  # warm-up: key loaded, status list opened
        start = time.perf_counter()
        for _ in range(BULK):
            service.issue(principal, subject)
        return BULK / (time.perf_counter() - start)
    finally:
        service.db.dispose()


def main() -> None:
    """Measure and print the table (or why it was skipped)."""
    try:
        from issuer.keys.hsm import Pkcs11KeyStore
        from tests.softhsm import SoftHsmUnavailableError, find_softhsm_module, softhsm_token

        find_softhsm_module()
    except (ImportError, SoftHsmUnavailableError) as exc:
        print(f"HSM benchmark skipped: {exc}")
        return
    message = b"\x01" * 64
    file_key = Ed25519KeyPair.generate()
    with tempfile.TemporaryDirectory(prefix="credencial-bench-hsm-") as tmp:
        workdir = Path(tmp)
        with softhsm_token(workdir / "softhsm") as token:
            store = Pkcs11KeyStore(token.module, token.token_label, token.pin)
            token_key = store.create("BENCH", "key-1")
            file_signatures = _per_second(lambda: file_key.sign(message), SIGNATURES)
            token_signatures = _per_second(lambda: token_key.sign(message), SIGNATURES)
            store.close()
            base = IssuerSettings(_env_file=None, key_passphrase=SecretStr("bench"))
            file_issuance = _issuance_rate(
                base.model_copy(
                    update={
                        "database_url": f"sqlite:///{workdir / 'file.db'}",
                        "key_dir": workdir / "keys",
                    }
                )
            )
            token_issuance = _issuance_rate(
                base.model_copy(
                    update={
                        "database_url": f"sqlite:///{workdir / 'token.db'}",
                        "key_backend": "pkcs11",
                        "pkcs11_module": Path(token.module),
                        "pkcs11_token_label": token.token_label,
                        "pkcs11_pin": SecretStr(token.pin),
                    }
                )
            )
    print("\nSigning in an HSM (SoftHSM2 over PKCS#11) against a file key, same run")
    print(f"  {'what':<44} {'file key':>12} {'token':>12} {'token/file':>11}")
    for name, file_rate, token_rate in (
        ("raw Ed25519 signatures/s (64 bytes)", file_signatures, token_signatures),
        (f"bulk issuance, SQLite, credentials/s (N={BULK})", file_issuance, token_issuance),
    ):
        print(
            f"  {name:<44} {file_rate:>12,.1f} {token_rate:>12,.1f} {token_rate / file_rate:>11.3f}"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
