"""The local backend notices at its next write that its lock was force-unlocked and taken by
another run (issue 19, item 1), in-process: two backends on one state file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.backends import journal
from reconciler.backends.base import LockInfo
from reconciler.backends.errored import ERRORED_STATE_FILE, finish_run
from reconciler.backends.local import LocalBackend
from reconciler.backends.recorder import StateRecorder
from reconciler.errors import LockError
from reconciler.state import State, StateChange
from tests.state.helpers import make_record


def test_a_write_after_the_lock_was_taken_names_the_new_holder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "state.json"
    first, second = LocalBackend(path), LocalBackend(path)
    mine = first.lock(LockInfo.new("apply"))
    recorder = StateRecorder(first, None)
    recorder.put(make_record(1))
    stopped: list[bool] = []
    first.on_lock_lost(lambda: stopped.append(True))
    assert not first.lock_lost()

    second.force_unlock(mine.id)
    theirs = second.lock(LockInfo.new("apply", info="the second run"))
    second.append(StateChange.put(2, make_record(2)))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    with pytest.raises(LockError, match=f"now held by ID {theirs.id}"):
        recorder.put(make_record(3))
    assert stopped == [True]
    assert first.lock_lost()
    with pytest.raises(LockError, match=f"lost during the run .*now held by ID {theirs.id}"):
        finish_run(recorder, first)
    first.unlock(mine.id)  # quietly: the lock is the second run's now
    assert second.current_lock() == theirs
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != ERRORED_STATE_FILE}
    assert after == before
    errored = (tmp_path / ERRORED_STATE_FILE).read_bytes()
    assert b"00000001-" in errored
    assert b"00000002-" not in errored


def test_a_run_that_keeps_its_lock_writes_as_before(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "state.json")
    info = backend.lock(LockInfo.new("apply"))
    backend.write(State.new())
    backend.append(StateChange.put(1, make_record(1)))
    assert not backend.lock_lost()
    assert backend.lost_reason() is None
    backend.unlock(info.id)
    assert backend.current_lock() is None


def test_a_write_already_past_its_lock_check_cannot_reach_the_next_holders_journal(
        tmp_path: Path) -> None:
    """The race the checks cannot close: the first run was stopped after it checked its lock
    and before it wrote. Each holder journals through a file of its own, so the stale handle
    now points at a file gone from the directory."""
    path = tmp_path / "state.json"
    first, second = LocalBackend(path), LocalBackend(path)
    mine = first.lock(LockInfo.new("apply"))
    StateRecorder(first, None).put(make_record(1))
    stale_handle = first._journal_fd  # the write in flight when it was stopped
    assert stale_handle is not None

    second.force_unlock(mine.id)
    theirs = second.lock(LockInfo.new("apply", info="the second run"))
    second.read()
    second.append(StateChange.put(2, make_record(2)))
    os.write(stale_handle, journal.encode("x", StateChange.put(2, make_record(3))))
    second.append(StateChange.put(3, make_record(4)))
    second.unlock(theirs.id)

    state = LocalBackend(path).read()
    assert state is not None
    assert state.serial == 3
    assert sorted(r.key.customer_id for r in state.records.values()) == sorted(
        make_record(n).key.customer_id for n in (1, 2, 4))
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
