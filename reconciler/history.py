"""The operation history: one JSON line per Partner Center call and per state transition.

It answers "what exactly happened to this customer, when, and under which MS-CorrelationId" —
what Microsoft support asks for. It is kept by the state backend (beside the state file, or in
the state's blob container), so it goes wherever the state goes and a CI runner that is thrown
away loses none of it. It is only ever appended to and never holds a token or any other
secret: only ids, statuses and timings. (The *state journal* is something else: the backend's
log of state changes since the last snapshot.)

Writing never holds up the run: worker threads queue entries and one writer thread hands
whatever is queued to the backend as one append, at once when the backend is fast (a local file)
and coalescing many entries per append when it is slow (a blob), so a remote history costs far
fewer requests than entries. :meth:`History.close` (the end of every run, interrupted ones
included) waits until everything queued is written; a process killed outright loses at most the
entries of its last moments (the state journal, not the history, is what makes a run
resumable).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from reconciler.errors import StateError
from reconciler.model import canonical_id
from reconciler.partnercenter import AttemptInfo
from reconciler.state import utc_now

#: The most bytes handed to the backend in one append (Azure takes 4 MiB per block).
MAX_APPEND = 1 << 20

log = logging.getLogger(__name__)


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
        self._cond = threading.Condition()
        self._pending: list[bytes] = []
        self._closed = False
        self._writer: threading.Thread | None = None
        self._failure: Exception | None = None

    def _write(self, entry: dict[str, Any], at: str | None = None) -> None:
        line = json.dumps({"time": at or utc_now(), "run": self.run_id, **entry},
                          separators=(",", ":"), sort_keys=True)
        with self._cond:
            if self._closed:
                raise RuntimeError("history written after close")
            self._pending.append(line.encode("utf-8") + b"\n")
            if self._writer is None:
                self._writer = threading.Thread(target=self._drain, name="history",
                                                daemon=True)
                self._writer.start()
            self._cond.notify()

    def _drain(self) -> None:
        """The writer thread: append whatever is queued, until closed and empty."""
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closed)
                if not self._pending:
                    return
                batch, self._pending = self._pending, []
            for chunk in _chunks(batch):
                try:
                    self.store.append_history(chunk)
                except Exception as exc:  # reported at close, never lost silently
                    if self._failure is None:  # once: a full disk fails every append after
                        log.error("Could not write the operation history of %s: %s",
                                  self.store.describe(), exc)
                    self._failure = exc

    def call(self, attempt: AttemptInfo, *, at: str | None = None) -> None:
        """One HTTP attempt (use as the client's ``on_attempt``); ``at``: when it was made, if
        not now (a refresh's calls, written once the run goes ahead)."""
        self._write({
            "kind": "call", "customer_id": attempt.customer_id,
            "operation": attempt.operation, "method": attempt.method, "path": attempt.path,
            "http_status": attempt.status, "error": attempt.error,
            "request_id": attempt.request_id, "correlation_id": attempt.correlation_id,
            "attempt": attempt.attempt, "duration_ms": round(attempt.duration * 1000, 1),
        }, at)

    def transition(self, customer_id: str, family: str, action: str, before: str | None,
                   after: str | None, *, request_id: str | None = None,
                   upgrade_id: str | None = None, detail: str | None = None,
                   recorded: tuple[str, int] | None = None) -> None:
        """A recorded state change (or a decision not to change, with its reason).

        ``recorded`` is the (lineage, serial) the change was recorded at, once durable: the
        history then witnesses how far the state got (see :func:`recorded_serials`).
        """
        entry: dict[str, Any] = {
            "kind": "transition", "customer_id": customer_id, "product_family": family,
            "action": action, "from": before, "to": after, "request_id": request_id,
            "upgrade_id": upgrade_id, "detail": detail,
        }
        if recorded is not None:
            entry["lineage"], entry["serial"] = recorded
        self._write(entry)

    def close(self) -> None:
        """Write everything still queued (end of run); StateError if any append failed."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            writer = self._writer
        if writer is not None:
            writer.join()
        if self._failure is not None:
            cause = str(self._failure).rstrip(".")
            raise StateError(f"The operation history of {self.store.describe()} is missing "
                             f"entries of this run: {cause}. The state does not depend on "
                             "it.") from self._failure


def _chunks(lines: list[bytes]) -> list[bytes]:
    """Whole lines joined into appends of at most MAX_APPEND bytes (a longer line alone)."""
    chunks: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for line in lines:
        if current and size + len(line) > MAX_APPEND:
            chunks.append(b"".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line)
    if current:
        chunks.append(b"".join(current))
    return chunks


def recorded_serials(tail: bytes) -> dict[str, int]:
    """The highest serial each state lineage reached, as far as ``tail`` of a history shows.

    A transition names the serial its change was recorded at, and is written only once that
    change is durable, so the history never runs ahead of the state: a state whose serial is
    below what its history records has lost changes (a deleted or emptied journal, an older
    snapshot put back), and the next change would reuse a serial for a different state.
    ``tail`` may start mid-line and end in a torn line; such lines are skipped.
    """
    found: dict[str, int] = {}
    for line in tail.split(b"\n"):
        if _SERIAL_MARK not in line:
            continue  # most lines are calls; json.loads only what may name a serial
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        lineage, serial = entry.get("lineage"), entry.get("serial")
        if isinstance(lineage, str) and isinstance(serial, int) and \
                not isinstance(serial, bool) and serial > found.get(lineage, -1):
            found[lineage] = serial
    return found


_SERIAL_MARK = b'"serial":'

#: How a history's end is read for the serials it witnesses: in blocks, from the end, until a
#: block names one (a killed run's last changes are near the end) or this much was read.
WITNESS_BLOCK = 1 << 20
WITNESS_LIMIT = 16 << 20


def witnessed_serials(size: int, read_range: Callable[[int, int], bytes]) -> dict[str, int]:
    """:func:`recorded_serials` of the end of a history of ``size`` bytes, read backwards.

    ``read_range(start, end)`` returns the history's bytes from ``start`` to ``end``. Each
    block is read once; a line cut by a block's start is completed by the block before it.
    """
    end, carry = size, b""
    while end > 0 and size - end < WITNESS_LIMIT:
        start = max(0, end - WITNESS_BLOCK)
        data = read_range(start, end) + carry
        carry = b""
        if start > 0:
            cut = data.find(b"\n") + 1  # the first line may be partial: kept for the next
            carry, data = (data, b"") if cut == 0 else (data[:cut], data[cut:])
        found = recorded_serials(data)
        if found:
            return found
        end = start
    return {}


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
