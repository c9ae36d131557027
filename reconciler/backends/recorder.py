"""A thread-safe writer of one run's changes: journal each change, fold at the end.

``apply`` takes the lock, builds a StateRecorder from what it read, lets its worker threads call
:meth:`StateRecorder.put` (each call is durable when it returns), and calls
:meth:`StateRecorder.flush` at the end to fold the journal into a new snapshot. The recorder
keeps the run's changes beside the state it read, so a change costs O(1) however many records
the state holds; callers get immutable :class:`State` values from :meth:`StateRecorder.snapshot`.
"""

from __future__ import annotations

import threading

from reconciler.backends.base import StateBackend
from reconciler.model import UpgradeKey
from reconciler.state import Record, State, StateChange, as_record_map


class StateRecorder:
    """Records changes to one state through one locked backend."""

    def __init__(self, backend: StateBackend, state: State | None) -> None:
        self._backend = backend
        self._mutex = threading.Lock()
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
        """The current record for ``key``."""
        with self._mutex:
            if key in self._overlay:
                return self._overlay[key]
            return self._base.get(key)

    def put(self, record: Record) -> int:
        """Durably record ``record`` (add or replace); returns the new serial."""
        with self._mutex:
            self._start()
            change = StateChange.put(self._serial + 1, record)
            self._backend.append(change)
            self._overlay[record.key] = record
            self._serial = change.serial
            return change.serial

    def remove(self, key: UpgradeKey) -> int:
        """Durably stop tracking ``key``; returns the new serial."""
        with self._mutex:
            self._start()
            change = StateChange.remove(self._serial + 1, key)
            self._backend.append(change)
            self._overlay[key] = None
            self._serial = change.serial
            return change.serial

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
        records = as_record_map(self._base.records).replaced(self._overlay.items())
        return State(self._lineage, self._serial, records)

    def _start(self) -> None:
        if self._needs_snapshot:
            self._backend.write(State(self._lineage, self._serial))
            self._needs_snapshot = False
