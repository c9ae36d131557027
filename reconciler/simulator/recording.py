"""What tests observe: every request with its answer, and counters of interesting events."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as received, and the status answered (0: the connection was dropped)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes | dict[str, object]
    status: int
    time: datetime

    def header(self, name: str) -> str | None:
        """A request header, looked up case-insensitively."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


@dataclass(slots=True)
class Stats:
    """Counters. ``duplicates`` counts creates for a customer that already had an upgrade in
    place arriving with another MS-RequestId than the one that started it (a real duplicate
    attempt; the same id again, with dedup off, meets 409 but is only a retry);
    ``replays`` counts creates answered from the dedup memory."""

    throttled: int = 0
    duplicates: int = 0
    replays: int = 0
    dropped: int = 0
    injected: int = 0
    #: Requests a ``hang`` fault held without an answer.
    hung: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def bump(self, name: str) -> None:
        """Add one to the counter ``name``."""
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def reset(self) -> None:
        """Set every counter to zero."""
        with self._lock:
            self.throttled = self.duplicates = self.replays = self.dropped = self.injected = 0
            self.hung = 0


class Recorder:
    """A thread-safe list of :class:`RecordedRequest`."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._items: list[RecordedRequest] = []
        self._lock = threading.Lock()

    def add(self, item: RecordedRequest) -> None:
        """Record one request (no-op when disabled)."""
        if self.enabled:
            with self._lock:
                self._items.append(item)

    def items(self) -> list[RecordedRequest]:
        """A copy of everything recorded so far."""
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        """Forget everything recorded."""
        with self._lock:
            self._items.clear()
