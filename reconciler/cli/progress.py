"""Progress for long phases: a live line on a TTY, a status line every 10 s otherwise.

The live line is cut to the terminal's width (a wrapped line cannot be redrawn in place, so
every redraw would leave a stale line behind) and the time left reads ``1h 02m``, not seconds.

Once it watches a client (``watch(client.stats)``) the line also shows the request rate the
client found, Partner Center's 429s and when it is backing off, so a slow run explains itself.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from reconciler.durations import format_remaining
from reconciler.partnercenter import ClientStats

#: On a non-TTY (CI logs) at most one line per this many seconds.
LOG_INTERVAL = 10.0


class Progress:
    """Callable as ``progress(done, total)``; thread-safe; writes to stderr."""

    def __init__(self, label: str, *, stream: TextIO | None = None,
                 extra: Callable[[], str] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 width: Callable[[], int] | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width or (lambda: terminal_width(self.stream))
        self.tty = self.stream.isatty()
        self.extra = extra
        self.clock = clock
        self.started = clock()
        self.last = 0.0 if self.tty else self.started
        self.lock = threading.Lock()
        self.shown = False
        self.stats: Callable[[], ClientStats] | None = None
        global _live
        _live = weakref.ref(self)  # notices (a long wait on Partner Center) go above this line

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
        eta = f", ETA {format_remaining((total - done) / rate)}" \
            if rate > 0 and done < total else ""
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

    def note(self, text: str) -> None:
        """Print ``text`` on a line of its own; the live line, if any, is redrawn after it."""
        with self.lock:
            if self.tty and self.shown:
                self.stream.write("\r\x1b[2K")
                self.shown = False
            self.stream.write(text + "\n")
            self.stream.flush()

    def _write(self, text: str) -> None:
        if self.tty:
            self.stream.write(f"\r\x1b[2K{fit(text, self.width())}")
            self.shown = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        """End the live line so later output starts on a fresh line."""
        global _live
        if _live is not None and _live() is self:
            _live = None
        with self.lock:
            if self.tty and self.shown:
                self.stream.write("\r\x1b[2K")
                self.stream.flush()


#: The progress display being drawn now, if any (one per command at a time).
_live: weakref.ref[Progress] | None = None


def note(text: str) -> None:
    """Print a line for people on stderr, above the live progress line when there is one."""
    live = _live() if _live is not None else None
    if live is not None:
        live.note(text)
        return
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


@contextmanager
def progress_line(label: str) -> Iterator[Progress]:
    """A :class:`Progress` for the block, its live line cleared when the block ends."""
    progress = Progress(label)
    try:
        yield progress
    finally:
        progress.finish()


def fit(text: str, width: int) -> str:
    """``text`` cut to fewer than ``width`` columns, ending in ``…`` when cut. The last column
    stays free: writing into it makes some terminals wrap at once."""
    room = max(1, width - 1)
    return text if len(text) <= room else text[:room - 1] + "…"


def terminal_width(stream: TextIO) -> int:
    """The width of the terminal ``stream`` writes to; ``COLUMNS`` wins, as it does for
    :func:`shutil.get_terminal_size` (which only asks stdout, not the stream we draw on)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        return shutil.get_terminal_size().columns
