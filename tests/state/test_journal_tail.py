"""Byte-level journal tail damage and deleted state files (issue 19, item 3)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler.backends import LocalBackend, LockInfo, StateRecorder
from reconciler.backends import journal as journal_format
from reconciler.errors import StateError
from reconciler.state import State, StateChange
from tests.state.helpers import make_record


def _recorded(path: Path, count: int, changes: int) -> State:
    """A snapshot of ``count`` records plus ``changes`` journalled, the lock released."""
    backend = LocalBackend(path)
    info = backend.lock(LockInfo.new("test"))
    state = State.of(State.new().lineage, 1, [make_record(i) for i in range(count)])
    backend.write(state)
    recorder = StateRecorder(backend, state)
    for i in range(changes):
        recorder.put(make_record(i, attempts=2))
    backend.unlock(info.id)
    backend.close()
    return recorder.snapshot()


def test_a_whole_last_entry_without_its_newline_is_kept(
        state_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = _recorded(state_path, 2, changes=2)
    journal = state_path.with_name("state.json.journal")
    whole = journal_format.encode(state.lineage, StateChange.put(4, make_record(7)))
    with journal.open("ab") as f:
        f.write(whole[:-1])  # every byte but the final newline
    read = LocalBackend(state_path).read()
    assert read is not None
    assert read.serial == 4
    assert read.get(make_record(7).key) == make_record(7)
    assert "crash interrupted" not in caplog.text

    # The next change follows it on a line of its own, at the next serial.
    writer = LocalBackend(state_path)
    info = writer.lock(LockInfo.new("apply"))
    writer.read()
    writer.append(StateChange.put(5, make_record(8)))
    writer.unlock(info.id)
    writer.close()
    assert journal.read_bytes().endswith(whole + journal_format.encode(
        state.lineage, StateChange.put(5, make_record(8))))
    again = LocalBackend(state_path).read()
    assert again is not None
    assert again.serial == 5
    assert again.get(make_record(7).key) is not None


def test_a_torn_last_entry_is_still_dropped(state_path: Path) -> None:
    state = _recorded(state_path, 2, changes=2)
    journal = state_path.with_name("state.json.journal")
    whole = journal_format.encode(state.lineage, StateChange.put(4, make_record(7)))
    with journal.open("ab") as f:
        f.write(whole[:-2])  # the CRC's closing brace is missing too: never acknowledged
    assert LocalBackend(state_path).read() == state


def test_a_missing_snapshot_beside_its_backup_is_refused_naming_the_backup(
        state_path: Path) -> None:
    _recorded(state_path, 2, changes=0)
    _recorded_again(state_path)  # a second snapshot: the first is now the backup
    backup = state_path.with_name("state.json.backup")
    assert backup.exists()
    state_path.unlink()
    with pytest.raises(StateError, match=re.escape(f"missing, but its backup {backup} exists")):
        LocalBackend(state_path).read()


def test_a_missing_snapshot_beside_its_journal_is_refused(state_path: Path) -> None:
    _recorded(state_path, 2, changes=2)
    state_path.unlink()
    with pytest.raises(StateError, match=r"missing, but its journal .* holds 2 changes"):
        LocalBackend(state_path).read()


def _recorded_again(path: Path) -> None:
    backend = LocalBackend(path)
    info = backend.lock(LockInfo.new("test"))
    state = backend.read()
    assert state is not None
    backend.write(State.of(state.lineage, state.serial + 1, [make_record(9)]))
    backend.unlock(info.id)
    backend.close()
