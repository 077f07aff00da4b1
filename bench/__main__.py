"""``make bench``: every benchmark, each figure as a ratio to a reference measured in the same run.

Machines here are noisy, so no figure stands alone: issue 9's goals (verify, sign, start, memory)
are interleaved against their references (``bench/verification.py``), the canonicalization
engines are compared to pyld (``bench/canon_engines.py``), and the sub-benchmarks follow.
``CREDENCIAL_BENCH_NATIONAL=1`` measures verifier memory with the whole national snapshot.
"""

from __future__ import annotations

import time


def main() -> None:
    """Run the benchmarks and print their tables."""
    began = time.perf_counter()
    from bench.verification import main as verification_main  # issue 9 goals 1, 2, 4, 5

    verification_main([])
    from bench.canon_engines import main as canon_engines_main  # pyoxigraph vs pyld

    canon_engines_main()
    from bench.qr_sizes import main as qr_sizes_main  # the QR-size table (bench/qr_sizes.py)

    qr_sizes_main()
    from bench.card_robustness import main as card_robustness_main  # printed-card QR decoding

    card_robustness_main()
    from bench.issuance import main as issuance_main  # issuer throughput (bench/issuance.py)

    issuance_main()
    from bench.printing import main as printing_main  # card rendering ÷ bulk issuance (issue 19)

    printing_main([])
    from bench.national import main as national_main  # 130M-entry status snapshot (issue 5)

    national_main()
    from bench.hsm import main as hsm_main  # signing in a PKCS#11 token (bench/hsm.py)

    hsm_main()
    print(f"\n(make bench: {time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
