"""A progress bar for long operator commands (``bulk``, ``print``): one redrawn line on a
terminal; without one, a line every ``every`` items, so logs are not flooded."""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO

__all__ = ["Counts", "Progress"]


class Counts(Protocol):
    """What a run has done so far, in words (``12 new, 0 existing, 1 errors``)."""

    def summary(self) -> str:
        """The counts, for the progress line."""
        ...


class Progress:
    """A progress bar on a terminal; without one, a line every ``every`` items (no spam in logs)."""

    def __init__(
        self,
        total: int | None,
        stream: TextIO | None = None,
        *,
        every: int = 100,
        label: str = "bulk",
        unit: str = "rows",
    ) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.every = max(every, 1)
        self.label = label
        self.unit = unit
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._started = time.monotonic()
        self._drawn = 0.0
        self._done = self._printed = 0

    def _line(self, done: int, counts: Counts) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = done / elapsed
        summary = counts.summary()
        if not self.total:
            return f"{self.label}: {done} {self.unit} · {rate:.1f}/s · {summary}"
        share = min(done / self.total, 1.0)
        eta = (self.total - done) / rate if rate > 0 and done < self.total else 0.0
        minutes, seconds = divmod(int(eta), 60)
        if self.tty:
            filled = int(share * 24)
            bar = "#" * filled + "." * (24 - filled)
            return (
                f"{self.label} [{bar}] {share:4.0%} {done}/{self.total} · {rate:.1f}/s · "
                f"ETA {minutes}:{seconds:02d} · {summary}"
            )
        return (
            f"{self.label}: {done}/{self.total} {self.unit} ({share:.0%}) · {rate:.1f}/s · "
            f"{summary}"
        )

    def update(self, done: int, counts: Counts) -> None:
        """``done`` items are finished."""
        previous, self._done = self._done, done
        if self.tty:
            now = time.monotonic()
            if now - self._drawn >= 0.1:
                self._drawn = now
                self.stream.write("\r" + self._line(done, counts) + "\x1b[K")
                self.stream.flush()
        elif done != self._printed and (
            done // self.every > previous // self.every or done == self.total
        ):
            self._printed = done
            print(self._line(done, counts), file=self.stream, flush=True)

    def close(self, counts: Counts) -> None:
        """Draw the final state and end the line."""
        line = self._line(self._done, counts)
        if self.tty:
            self.stream.write("\r" + line + "\x1b[K\n")
        elif self._printed != self._done or not self._done:
            self.stream.write(line + "\n")
        self.stream.flush()
