"""The operation journal: one JSON line per Partner Center call and per state transition.

It lives next to the state (``<state>.history``), is only ever appended to, and answers "what
exactly happened to this customer, when, and under which MS-CorrelationId" — what Microsoft
support asks for. It never holds a token or any other secret: only ids, statuses and timings.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from reconciler.errors import StateError
from reconciler.partnercenter import AttemptInfo
from reconciler.state import utc_now


def history_path(state_path: Path) -> Path:
    """The journal of a local state file."""
    return state_path.with_name(state_path.name + ".history")


class OperationLog:
    """Appends entries; safe to share between worker threads."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self._lock = threading.Lock()
        self._handle: Any = None

    def _write(self, entry: dict[str, Any]) -> None:
        line = json.dumps({"time": utc_now(), "run": self.run_id, **entry},
                          separators=(",", ":"), sort_keys=True)
        with self._lock:
            if self._handle is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
            self._handle.write(line + "\n")
            self._handle.flush()

    def call(self, attempt: AttemptInfo) -> None:
        """One HTTP attempt (use as the client's ``on_attempt``)."""
        self._write({
            "kind": "call", "customer_id": attempt.customer_id,
            "operation": attempt.operation, "method": attempt.method, "path": attempt.path,
            "http_status": attempt.status, "error": attempt.error,
            "request_id": attempt.request_id, "correlation_id": attempt.correlation_id,
            "attempt": attempt.attempt, "duration_ms": round(attempt.duration * 1000, 1),
        })

    def transition(self, customer_id: str, family: str, action: str, before: str | None,
                   after: str | None, *, request_id: str | None = None,
                   upgrade_id: str | None = None, detail: str | None = None) -> None:
        """A recorded state change (or a decision not to change, with its reason)."""
        self._write({
            "kind": "transition", "customer_id": customer_id, "product_family": family,
            "action": action, "from": before, "to": after, "request_id": request_id,
            "upgrade_id": upgrade_id, "detail": detail,
        })

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None


def read(path: Path, customer_id: str | None = None) -> Iterator[dict[str, Any]]:
    """Entries in order, optionally only one customer's; a torn last line is skipped."""
    if not path.exists():
        return
    wanted = customer_id.lower() if customer_id else None
    with open(path, encoding="utf-8") as handle:
        lines = handle.readlines()
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines) and not line.endswith("\n"):
                return  # a crash mid-write; that entry was never complete
            raise StateError(f"The operation journal {path} is garbled at line {number}.") \
                from None
        if wanted is None or entry.get("customer_id") == wanted:
            yield entry


def fsync(path: Path) -> None:
    """Make the journal durable (end of a run)."""
    if path.exists():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
