"""``python -m bench._verifier_memory DIR``: RSS of a verifier process holding DIR's status lists.

Run in a fresh process by ``bench.verification`` (goal 5), so the figure is the verifier's alone:
this module imports nothing but the verifier. Prints one JSON line: RSS before and after, in bytes.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from verifier import InMemoryStatusLists, TrustStore, Verifier, issuer_id

__all__ = ["main", "rss_bytes"]


def rss_bytes() -> int:
    """Current resident memory (``VmRSS``), else the peak from ``getrusage``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(folder: str) -> None:
    """Load ``trust.json`` and every ``status-*.json``; authenticate and decode each list."""
    base = rss_bytes()
    root = Path(folder)
    paths = sorted(root.glob("status-*.json"))
    began = time.perf_counter()
    lists = InMemoryStatusLists.from_files(paths)
    checker = Verifier(TrustStore.from_file(root / "trust.json"), status_lists=lists)
    now = datetime.now(UTC)
    for path in paths:
        url = json.loads(path.read_text(encoding="utf-8"))["id"]
        held = lists.get(url)
        assert held is not None
        checker._status_snapshot(url, issuer_id(held), now)  # authenticate and decode the bits
    seconds = time.perf_counter() - began
    loaded = rss_bytes()
    print(json.dumps({"base": base, "loaded": loaded, "lists": len(paths), "seconds": seconds}))


if __name__ == "__main__":
    main(sys.argv[1])
