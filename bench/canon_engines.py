"""``python -m bench.canon_engines``: pyoxigraph evaluated as the full RDFC-1.0 engine (issue 9).

Engines compared on the W3C eddsa-rdfc-2022 vectors (``../shared/w3c``) and on a corpus of our
credentials with hard text (accents, Ñ, quotes, backslashes, emoji, control characters):

- pyld: expansion with our data-loss refusal, then URDNA2015 (the full algorithm we ship);
- hybrid: the same pyld expansion and RDF conversion, then pyoxigraph's RDFC-1.0;
- oxigraph JSON-LD: pyoxigraph parses the JSON-LD itself (contexts inlined) and canonicalizes;
- direct: our direct path (``verifier._fastcanon``), for credentials of our shape.

Agreement is byte equality of the N-Quads; speed is the median CPU time, as a ratio to pyld.
Needs pyoxigraph (the ``test`` extra); skipped with a message without it.
"""

from __future__ import annotations

import copy
import json
import random
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench._pool import person
from verifier import ContextLoader, bundled_contexts
from verifier._canon import canonicalize_full, expand
from verifier._fastcanon import fast_canonicalize

__all__ = ["main"]

SHARED_W3C = Path(__file__).resolve().parents[2] / "shared" / "w3c"
EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
HARD_TEXT = [
    'Ñoño "el" \\ Peña',
    "José 😀 👩🏽‍⚕️",
    "tab\there",
    "line\nbreak\r",
    "ctl\x01\x1f\x7f",
    "Ü'-.",
]


def _median_ms(operation: Callable[[], object], repeat: int) -> float:
    samples = []  # CPU time of this process: the machine is shared
    for _ in range(repeat):
        began = time.process_time()
        operation()
        samples.append(time.process_time() - began)
    return statistics.median(samples) * 1e3


def _corpus(count: int) -> list[dict[str, Any]]:
    from issuer.credentials.signing import new_coverage_credential
    from issuer.institutions import INSTITUTIONS

    rng = random.Random(7)
    institution = INSTITUTIONS["IMSS"]
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 11, 25, tzinfo=UTC)
    documents = []
    for position in range(count):
        document = new_coverage_credential(
            institution, person(rng), status_list=1, status_index=position,
            valid_from=now, valid_until=now + timedelta(days=365),
        )  # fmt: skip
        subject = document["credentialSubject"]
        subject["givenName"] = rng.choice(HARD_TEXT)  # beyond the model: canonicalization only
        if position % 2:
            subject["coverage"]["program"] = rng.choice(HARD_TEXT)
        if position % 3 == 0:
            del document["credentialSchema"]
        documents.append(document)
    return documents


def main() -> None:
    """Print agreement and speed of each engine."""
    try:
        import pyoxigraph as ox
    except ImportError:
        print("\nCanonicalization engines: skipped (pyoxigraph not installed: the test extra)")
        return
    from pyld.jsonld import JsonLdProcessor

    def oxigraph_canonical(dataset: Any) -> str:
        dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
        return "".join(sorted(f"{quad} .\n" for quad in dataset))

    def run_engines(
        loader: ContextLoader, contexts: dict[str, Any]
    ) -> dict[str, Callable[..., str]]:
        def hybrid(document: dict[str, Any]) -> str:
            options = loader.pyld_options()
            options.update(format="application/n-quads")
            nquads = JsonLdProcessor().to_rdf(expand(document, loader), options)
            return oxigraph_canonical(
                ox.Dataset(ox.parse(nquads.encode(), format=ox.RdfFormat.N_QUADS))
            )

        def oxigraph_jsonld(document: dict[str, Any]) -> str:
            inline = copy.deepcopy(document)
            urls = (
                inline["@context"] if isinstance(inline["@context"], list) else [inline["@context"]]
            )
            inline["@context"] = [contexts[url]["@context"] for url in urls]
            parsed = ox.parse(json.dumps(inline).encode(), format=ox.RdfFormat.JSON_LD)
            return oxigraph_canonical(ox.Dataset(parsed))

        return {
            "pyld": lambda document: canonicalize_full(document, loader),
            "hybrid": hybrid,
            "oxigraph JSON-LD": oxigraph_jsonld,
        }

    print("\nCanonicalization engines (issue 9: pyoxigraph as the full algorithm?)")
    contexts: dict[str, Any] = dict(bundled_contexts())
    if SHARED_W3C.exists():
        examples = json.loads(
            (SHARED_W3C / "contexts" / "credentials-examples-v2.jsonld").read_text()
        )
        contexts[EXAMPLES_V2] = examples
        loader = ContextLoader({EXAMPLES_V2: examples})
        vectors = SHARED_W3C / "eddsa" / "eddsa-rdfc-2022"
        unsigned = json.loads((SHARED_W3C / "eddsa" / "unsigned.json").read_text())
        config = json.loads((vectors / "proofConfigDataInt.json").read_text())
        expected = {
            "document": (unsigned, (vectors / "canonDocDataInt.txt").read_text()),
            "proof config": (config, (vectors / "proofCanonDataInt.txt").read_text()),
        }
        for name, engine in run_engines(loader, contexts).items():
            agree = [engine(document) == text for document, text in expected.values()]
            print(f"  W3C vectors, {name:<18} {sum(agree)}/{len(agree)} byte-identical")
    else:
        print(f"  W3C vectors: skipped ({SHARED_W3C} not found)")
    loader = ContextLoader()
    corpus = _corpus(200)
    engines = run_engines(loader, contexts)
    reference = [engines["pyld"](document) for document in corpus]
    direct = [fast_canonicalize(document) for document in corpus]
    print(f"  corpus of {len(corpus)} credentials with hard text (accents, Ñ, quotes, \\, emoji, "
          "control characters):")  # fmt: skip
    for name, engine in engines.items():
        same = sum(
            engine(document) == text for document, text in zip(corpus, reference, strict=True)
        )
        print(f"    {name:<18} {same}/{len(corpus)} byte-identical to pyld")
    taken = [(text, expected) for text, expected in zip(direct, reference, strict=True) if text]
    direct_agree = sum(text == expected for text, expected in taken)
    print(
        f"    {'direct path':<18} {direct_agree}/{len(taken)} byte-identical to pyld where taken "
        f"(it refuses the {len(corpus) - len(taken)} with control characters: full algorithm)"
    )
    print(
        "    (the engines differ on control characters: pyld writes them raw, pyoxigraph as "
        "\\b \\f \\u00XX; our model refuses control characters in text)"
    )
    sample = corpus[0]
    operations: dict[str, Callable[[], object]] = {
        name: partial(engine, sample) for name, engine in engines.items()
    }
    operations["direct path"] = partial(fast_canonicalize, sample)
    operations["pyld expansion only"] = partial(expand, sample, loader)
    samples: dict[str, list[float]] = {name: [] for name in operations}
    ratios: dict[str, list[float]] = {name: [] for name in operations}
    for _ in range(30):  # interleaved rounds: noise slows every engine of a round alike
        this_round = {name: _median_ms(operation, 3) for name, operation in operations.items()}
        for name, milliseconds in this_round.items():
            samples[name].append(milliseconds)
            ratios[name].append(this_round["pyld"] / milliseconds)
    print(f"  {'engine (one credential, CPU)':<30} {'median':>10} {'× faster than pyld':>20}")
    for name in operations:
        print(
            f"  {name:<30} {statistics.median(samples[name]):>8.3f}ms "
            f"{statistics.median(ratios[name]):>20.1f}"
        )


if __name__ == "__main__":
    main()
