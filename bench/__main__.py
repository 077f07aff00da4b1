"""``make bench``: median sign and verify time per credential, against bare Ed25519.

Machines here are noisy, so every figure is also given as a ratio to a reference measured in the
same run (a bare Ed25519 verify with the same crypto library: the physical floor).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from issuer._demo import DEMO_PEOPLE
from issuer._institutions import INSTITUTIONS
from issuer._keys import Ed25519KeyPair
from issuer._signing import new_coverage_credential, new_status_list_credential, sign_document
from verifier import (
    ContextLoader,
    InMemoryStatusLists,
    TrustedKey,
    TrustStore,
    Verdict,
    Verifier,
    canonicalize,
    create_proof,
    encode_card,
)
from verifier._canon import canonicalize_full


def median_seconds(operation: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``operation`` over ``repeat`` runs (after one warm-up run)."""
    operation()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        operation()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    """Run the benchmarks and print the table."""
    institution = INSTITUTIONS["IMSS"]
    key = Ed25519KeyPair.generate()
    vm = institution.verification_method("key-1")
    now = datetime.now(UTC).replace(microsecond=0)
    unsigned = new_coverage_credential(
        institution, DEMO_PEOPLE["credential"], status_list=1, status_index=94_567,
        valid_from=now - timedelta(days=1), valid_until=now + timedelta(days=1825),
    )  # fmt: skip
    loader = ContextLoader()
    signed = sign_document(unsigned, key, vm, loader=loader)
    lists = InMemoryStatusLists(
        sign_document(
            new_status_list_credential(
                institution, institution.status_list_url(purpose, 1), purpose=purpose,
                valid_from=now,
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
    verifier = Verifier(trust, status_lists=lists)
    assert verifier.check(signed).verdict is Verdict.VALID

    public = Ed25519PublicKey.from_public_bytes(key.public_key)
    message, signature = b"\x01" * 64, key.sign(b"\x01" * 64)

    reference = median_seconds(lambda: public.verify(signature, message), 2000)

    def sign() -> object:
        return create_proof(
            unsigned, signer=key, verification_method=vm, loader=loader, created=created
        )

    def sign_and_check() -> object:
        return sign_document(unsigned, key, vm, loader=loader)

    created = signed["proof"]["created"]
    card = encode_card(signed)
    rows = [
        ("Ed25519 verify, 64 bytes (reference)", reference),
        ("Ed25519 sign, 64 bytes", median_seconds(lambda: key.sign(message), 2000)),
        ("canonicalize credential: full RDFC-1.0 (pyld)", median_seconds(
            lambda: canonicalize_full(unsigned, loader), 50)),
        ("canonicalize credential: direct path", median_seconds(
            lambda: canonicalize(unsigned, loader), 500)),
        ("sign credential (eddsa-rdfc-2022 proof)", median_seconds(sign, 50)),
        ("sign + self-check (what the issuer does)", median_seconds(sign_and_check, 50)),
        ("verify JSON credential (full check, 2 status lists)", median_seconds(
            lambda: verifier.check(signed), 50)),
        ("verify card text (decode + full check)", median_seconds(
            lambda: verifier.check(card), 50)),
        ("card encode (JSON -> SUS1: text)", median_seconds(lambda: encode_card(signed), 200)),
    ]  # fmt: skip
    print(f"{'operation':<52} {'median':>10} {'per second':>11} {'× reference':>12}")
    for name, seconds in rows:
        print(
            f"{name:<52} {seconds * 1e3:>8.3f}ms {1 / seconds:>11,.0f} {seconds / reference:>12.1f}"
        )
    from bench.qr_sizes import main as qr_sizes_main  # the QR-size table (bench/qr_sizes.py)

    qr_sizes_main()
    from bench.card_robustness import main as card_robustness_main  # printed-card QR decoding

    card_robustness_main()
    from bench.issuance import main as issuance_main  # issuer throughput (bench/issuance.py)

    issuance_main()
    from bench.national import main as national_main  # 130M-entry status snapshot (issue 5)

    national_main()
    from bench.hsm import main as hsm_main  # signing in a PKCS#11 token (bench/hsm.py)

    hsm_main()


if __name__ == "__main__":
    main()
