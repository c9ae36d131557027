"""Progress for long phases: a live line on a TTY, a status line every 10 s otherwise.

Once it watches a client (``watch(client.stats)``) the line also shows the request rate the
client found, Partner Center's 429s and when it is backing off, so a slow run explains itself.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from reconciler.partnercenter import ClientStats

#: On a non-TTY (CI logs) at most one line per this many seconds.
LOG_INTERVAL = 10.0


class Progress:
    """Callable as ``progress(done, total)``; thread-safe; writes to stderr."""

    def __init__(self, label: str, *, stream: TextIO | None = None,
                 extra: Callable[[], str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.extra = extra
        self.clock = clock
        self.started = clock()
        self.last = 0.0 if self.tty else self.started
        self.lock = threading.Lock()
        self.shown = False
        self.stats: Callable[[], ClientStats] | None = None

    def watch(self, stats: Callable[[], ClientStats]) -> None:
        """Show the client's throttling and concurrency from now on."""
        self.stats = stats

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        with self.lock:
            # A TTY line is redrawn often and always shows the end; a log gets a line only
            # every LOG_INTERVAL seconds, so short runs stay quiet.
            due = now - self.last >= (0.1 if self.tty else LOG_INTERVAL)
            if not due and not (self.tty and done >= total):
                return
            self.last = now
            self._write(self.line(done, total, now))

    def line(self, done: int, total: int, now: float) -> str:
        """E.g. ``Refreshing: 120/1000 (12%), 35.1/s, ETA 25s``."""
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        eta = f", ETA {int((total - done) / rate)}s" if rate > 0 and done < total else ""
        extra = f", {self.extra()}" if self.extra else ""
        extra += self._throttling()
        percent = f" ({100 * done // total}%)" if total else ""
        return f"{self.label}: {done}/{total}{percent}, {rate:.1f}/s{eta}{extra}"

    def _throttling(self) -> str:
        """The request rate and any 429s, e.g. ``, 12 throttled (429), backing off to
        30 requests/s`` (empty when the client does not pace and nothing was throttled)."""
        if self.stats is None:
            return ""
        stats = self.stats()
        text = f", {stats.throttled} throttled (429)" if stats.throttled else ""
        if stats.rate is not None:
            rate = f"{stats.rate:.0f}" if stats.rate >= 10 else f"{stats.rate:.1f}"
            text += f", backing off to {rate} requests/s" if stats.backing_off else \
                f", {rate} requests/s"
        return text

    def _write(self, text: str) -> None:
        if self.tty:
            self.stream.write(f"\r\x1b[2K{text}")
            self.shown = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        """End the live line so later output starts on a fresh line."""
        with self.lock:
            if self.tty and self.shown:
                self.stream.write("\r\x1b[2K")
                self.stream.flush()


@contextmanager
def progress_line(label: str) -> Iterator[Progress]:
    """A :class:`Progress` for the block, its live line cleared when the block ends."""
    progress = Progress(label)
    try:
        yield progress
    finally:
        progress.finish()
