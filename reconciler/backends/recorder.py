"""A thread-safe writer of one run's changes: journal each change, fold at the end.

``apply`` takes the lock, builds a StateRecorder from what it read, lets its worker threads call
:meth:`StateRecorder.put` (each call is durable when it returns), and calls
:meth:`StateRecorder.flush` at the end to fold the journal into a new snapshot. The recorder
keeps the run's changes beside the state it read, so a change costs O(1) however many records
the state holds; callers get immutable :class:`State` values from :meth:`StateRecorder.snapshot`.
"""

from __future__ import annotations

import threading

from reconciler.backends.base import StateBackend, lost_message
from reconciler.errors import LockError
from reconciler.model import UpgradeKey
from reconciler.state import Record, State, StateChange, as_record_map


class StateRecorder:
    """Records changes to one state through one locked backend."""

    def __init__(self, backend: StateBackend, state: State | None) -> None:
        self._backend = backend
        # Two locks: ``_mutex`` orders the durable appends (one at a time, serials in order);
        # ``_view`` guards the overlay only, so reading a record never waits for an fsync.
        self._mutex = threading.Lock()
        self._view = threading.Lock()
        base = state if state is not None else State.new()
        self._lineage = base.lineage
        self._serial = base.serial
        self._base = base
        # Changes since ``base``; None marks a removal. O(1) per change at any state size.
        self._overlay: dict[UpgradeKey, Record | None] = {}
        # A brand-new state has no snapshot to journal against until the first change.
        self._needs_snapshot = state is None

    @property
    def lineage(self) -> str:
        """The state's lineage."""
        return self._lineage

    @property
    def serial(self) -> int:
        """The serial of the last recorded change."""
        with self._mutex:
            return self._serial

    def get(self, key: UpgradeKey) -> Record | None:
        """The current record for ``key`` (the last one recorded durably)."""
        with self._view:
            if key in self._overlay:
                return self._overlay[key]
        return self._base.get(key)

    def put(self, record: Record) -> int:
        """Durably record ``record`` (add or replace); returns the new serial."""
        return self._change(record.key, record)

    def remove(self, key: UpgradeKey) -> int:
        """Durably stop tracking ``key``; returns the new serial."""
        return self._change(key, None)

    def _change(self, key: UpgradeKey, record: Record | None) -> int:
        # Written in serial order under the lock; made durable outside it, so the fdatasyncs
        # of many worker threads coalesce (a group commit). Returns only once durable.
        with self._mutex:
            self._start()
            serial = self._serial + 1
            change = StateChange(serial, key, record)
            self._backend.append(change, sync=False)
            with self._view:
                self._overlay[key] = record
            self._serial = serial
        self._backend.sync()
        return serial

    def confirm_lock(self) -> None:
        """Raise LockError unless the backend's lock is still this run's (before a create)."""
        if self._backend.lock_lost():
            raise LockError(lost_message(self._backend.describe(), "start an upgrade",
                                         self._backend.lost_reason() or "it was lost"))

    def snapshot(self) -> State:
        """The current state as an immutable value (copies the records: O(n))."""
        with self._mutex:
            return self._current()

    def flush(self) -> State:
        """Fold everything recorded into a new snapshot (end of run); returns it."""
        with self._mutex:  # no put may slip in between taking the snapshot and writing it
            state = self._current()
            if self._needs_snapshot and not state.records:
                return state  # nothing was ever recorded: leave no empty state file behind
            self._backend.write(state)
            self._needs_snapshot = False
        return state

    def _current(self) -> State:
        with self._view:
            changes = list(self._overlay.items())
        records = as_record_map(self._base.records).replaced(changes)
        return State(self._lineage, self._serial, records)

    def _start(self) -> None:
        if self._needs_snapshot:
            self._backend.write(State(self._lineage, self._serial))
            self._needs_snapshot = False
