"""The operation history: one JSON line per Partner Center call and per state transition.

It answers "what exactly happened to this customer, when, and under which MS-CorrelationId" —
what Microsoft support asks for. It is kept by the state backend (beside the state file, or in
the state's blob container), so it goes wherever the state goes and a CI runner that is thrown
away loses none of it. It is only ever appended to and never holds a token or any other
secret: only ids, statuses and timings. (The *state journal* is something else: the backend's
log of state changes since the last snapshot.)

Durability: a transition and a create call are handed to the backend at once, so they are kept
as soon as the state change they belong to; read calls (eligibility, status) are handed over
with the next of those, every :data:`BATCH` entries, and when the run ends, which keeps a remote
history to about one append per state change.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any, Protocol

from reconciler.errors import StateError
from reconciler.model import canonical_id
from reconciler.partnercenter import AttemptInfo
from reconciler.state import utc_now

#: Read-call entries kept back at most before they are appended.
BATCH = 100
#: Calls whose entry is appended at once: they change something in Partner Center.
_MUTATING = frozenset({"create"})


class HistoryStore(Protocol):
    """Where the history lines go (a state backend)."""

    def append_history(self, data: bytes) -> None:
        """Append whole lines."""
        ...

    def read_history(self) -> bytes:
        """Every line so far."""
        ...

    def describe(self) -> str:
        """Where the state (and so the history) lives."""
        ...


class History:
    """One run's history writer; safe to share between worker threads."""

    def __init__(self, store: HistoryStore, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self._lock = threading.Lock()
        self._pending: list[str] = []

    def _write(self, entry: dict[str, Any], *, now: bool) -> None:
        line = json.dumps({"time": utc_now(), "run": self.run_id, **entry},
                          separators=(",", ":"), sort_keys=True)
        with self._lock:
            self._pending.append(line + "\n")
            if now or len(self._pending) >= BATCH:
                self._flush()

    def _flush(self) -> None:
        if self._pending:
            data = "".join(self._pending).encode("utf-8")
            self._pending = []
            self.store.append_history(data)

    def call(self, attempt: AttemptInfo) -> None:
        """One HTTP attempt (use as the client's ``on_attempt``)."""
        self._write({
            "kind": "call", "customer_id": attempt.customer_id,
            "operation": attempt.operation, "method": attempt.method, "path": attempt.path,
            "http_status": attempt.status, "error": attempt.error,
            "request_id": attempt.request_id, "correlation_id": attempt.correlation_id,
            "attempt": attempt.attempt, "duration_ms": round(attempt.duration * 1000, 1),
        }, now=attempt.operation in _MUTATING)

    def transition(self, customer_id: str, family: str, action: str, before: str | None,
                   after: str | None, *, request_id: str | None = None,
                   upgrade_id: str | None = None, detail: str | None = None) -> None:
        """A recorded state change (or a decision not to change, with its reason)."""
        self._write({
            "kind": "transition", "customer_id": customer_id, "product_family": family,
            "action": action, "from": before, "to": after, "request_id": request_id,
            "upgrade_id": upgrade_id, "detail": detail,
        }, now=True)

    def close(self) -> None:
        """Hand over what is still kept back (end of run)."""
        with self._lock:
            self._flush()


def read(store: HistoryStore, customer_id: str | None = None) -> Iterator[dict[str, Any]]:
    """Entries in order, optionally only one customer's; a torn last line is skipped."""
    lines = store.read_history().decode("utf-8", "replace").splitlines(keepends=True)
    wanted = canonical_id(customer_id) if customer_id else None
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines) and not line.endswith("\n"):
                return  # a crash mid-write; that entry was never complete
            raise StateError(f"The operation history of {store.describe()} is garbled at line "
                             f"{number}.") from None
        if wanted is None or entry.get("customer_id") == wanted:
            yield entry
