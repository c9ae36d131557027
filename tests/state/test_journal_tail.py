"""Byte-level journal tail damage and deleted state files (issue 19, item 3)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler import history
from reconciler.backends import LocalBackend, LockInfo, StateRecorder
from reconciler.backends import journal as journal_format
from reconciler.backends.base import StateBehindHistory
from reconciler.errors import StateError
from reconciler.partnercenter import AttemptInfo
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


# --- a journal lost after a killed run: the history still knows the serial ---------------------

def _recorded_with_history(path: Path, count: int, changes: int) -> State:
    """As :func:`_recorded`, each change also in the history (as apply writes it), and the run
    killed before its final snapshot: the changes are in the journal only."""
    backend = LocalBackend(path)
    info = backend.lock(LockInfo.new("apply"))
    state = State.of(State.new().lineage, 1, [make_record(i) for i in range(count)])
    backend.write(state)
    recorder = StateRecorder(backend, state)
    log = history.History(backend, "run-1")
    for i in range(changes):
        record = make_record(i, attempts=2)
        serial = recorder.put(record)
        log.transition(record.key.customer_id, record.key.product_family, "created",
                       "pending", "in_progress", recorded=(recorder.lineage, serial))
        log.call(AttemptInfo("GET", "/x", 200, None, "r", "c", 0.01, 1,
                             record.key.customer_id, "poll"))
    log.close()
    backend.unlock(info.id)
    backend.close()
    return recorder.snapshot()


@pytest.mark.parametrize("damage", ["deleted", "emptied", "cut short"])
def test_a_journal_lost_after_a_killed_run_is_refused_not_rolled_back(
        state_path: Path, damage: str) -> None:
    state = _recorded_with_history(state_path, 3, changes=3)
    assert state.serial == 4
    journal = state_path.with_name("state.json.journal")
    if damage == "deleted":
        journal.unlink()
    elif damage == "emptied":
        journal.write_bytes(b"")
    else:
        journal.write_bytes(b"".join(journal.read_bytes().splitlines(keepends=True)[:1]))
    ends_at = 2 if damage == "cut short" else 1
    with pytest.raises(StateBehindHistory) as refused:
        LocalBackend(state_path).read()
    message = refused.value.message
    assert (f"The state in {state_path} ends at serial {ends_at}, but its operation history "
            f"{state_path}.history records changes up to serial 4") in message
    assert f"The journal {journal} was deleted or cut short" in message
    assert "reconciler state push --force FILE" in message
    assert refused.value.recorded == 4


def test_a_state_deleted_with_its_journal_and_backup_is_refused_by_its_history(
        state_path: Path) -> None:
    _recorded_with_history(state_path, 2, changes=2)
    for name in ("state.json", "state.json.journal", "state.json.backup"):
        state_path.with_name(name).unlink(missing_ok=True)
    with pytest.raises(StateBehindHistory, match=re.escape(
            f"No state is recorded in {state_path}, but its operation history "
            f"{state_path}.history records changes up to serial 3")):
        LocalBackend(state_path).read()


def test_a_history_that_is_behind_or_of_another_lineage_is_no_objection(
        state_path: Path) -> None:
    state = _recorded_with_history(state_path, 2, changes=2)
    assert LocalBackend(state_path).read() == state  # the history at the state's serial
    other = LocalBackend(state_path)
    info = other.lock(LockInfo.new("state push"))
    other.read()
    pushed = State.of(state.lineage, state.serial + 5, [make_record(1)])
    other.write(pushed)  # ahead of the history: what a push or state rm does
    other.unlock(info.id)
    other.close()
    assert LocalBackend(state_path).read() == pushed
    history_path = state_path.with_name("state.json.history")
    history_path.write_bytes(history_path.read_bytes().replace(
        state.lineage.encode(), State.new().lineage.encode()))
    assert LocalBackend(state_path).read() == pushed


def test_only_the_end_of_a_long_history_is_read_for_its_serial(state_path: Path) -> None:
    state = _recorded_with_history(state_path, 2, changes=2)
    history_path = state_path.with_name("state.json.history")
    calls = b'{"kind":"call","run":"r","path":"/x"}\n' * 200_000  # ~7.6 MB without a serial
    with history_path.open("ab") as f:
        f.write(calls)
    state_path.with_name("state.json.journal").unlink()
    with pytest.raises(StateBehindHistory):  # found below 7.6 MB of calls
        LocalBackend(state_path).read()
    assert history.recorded_serials(history_path.read_bytes()) == {state.lineage: 3}


@pytest.mark.parametrize("block", [7, 64, 333, 1 << 20])
def test_reading_a_history_backwards_in_blocks_sees_what_reading_it_whole_sees(
        block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [b'{"kind":"call","path":"/x"}']
    lines += [b'{"kind":"transition","lineage":"a","serial":%d,"detail":"%s"}' % (n, b"x" * n)
              for n in range(1, 40)]
    lines += [b'{"kind":"call","path":"/y"}'] * 5
    data = b"\n".join(lines) + b"\n"
    monkeypatch.setattr(history, "WITNESS_BLOCK", block)
    assert history.witnessed_serials(len(data), lambda s, e: data[s:e]) == {"a": 39}
    torn = data + b'{"kind":"transition","lineage":"a","serial":99'
    assert history.witnessed_serials(len(torn), lambda s, e: torn[s:e]) == {"a": 39}
