"""The local backend's files: atomic snapshots, backups, the journal, damage detection."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from reconciler.backends import LocalBackend, LockInfo, StateRecorder, open_backend
from reconciler.backends import journal as journal_format
from reconciler.errors import ConfigError, StateError
from reconciler.schemacheck import validator_for
from reconciler.settings import LocalBackendSettings, backend_settings
from reconciler.state import FORMAT_VERSION, State, StateChange
from tests.state.helpers import make_record


def _backend_with(path: Path, count: int, changes: int = 0) -> tuple[LocalBackend, State]:
    """A locked backend whose snapshot holds ``count`` records, plus ``changes`` journalled."""
    backend = LocalBackend(path)
    backend.lock(LockInfo.new("test"))
    state = State.of(State.new().lineage, 1, [make_record(i) for i in range(count)])
    backend.write(state)
    recorder = StateRecorder(backend, state)
    for i in range(changes):
        recorder.put(make_record(i, attempts=2))
    return backend, recorder.snapshot()


def test_reading_creates_nothing(state_path: Path) -> None:
    assert LocalBackend(state_path).read() is None
    assert not state_path.parent.exists()


def test_open_backend_picks_by_type(state_path: Path) -> None:
    backend = open_backend(LocalBackendSettings(path=state_path))
    assert backend.describe() == f"local state file {state_path}"
    with pytest.raises(ConfigError, match=r"needs backend\.account_url"):
        open_backend(backend_settings(type="azureblob"))
    with pytest.raises(ConfigError, match="Unknown"):
        open_backend(backend_settings(type="s3"))


def test_write_keeps_the_previous_snapshot_as_backup(state_path: Path) -> None:
    backend, state = _backend_with(state_path, 3)
    first = state_path.read_bytes()
    backend.write(state.with_record(make_record(9)))
    assert state_path.with_name("state.json.backup").read_bytes() == first
    leftovers = [p.name for p in state_path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_write_folds_the_journal(state_path: Path) -> None:
    backend, state = _backend_with(state_path, 5, changes=4)
    journal = state_path.with_name("state.json.journal")
    assert len(journal.read_bytes().splitlines()) == 4
    backend.write(state)
    assert journal.read_bytes() == b""
    assert LocalBackend(state_path).read() == state


def test_a_crash_between_snapshot_and_journal_truncation_is_harmless(state_path: Path) -> None:
    backend, state = _backend_with(state_path, 5, changes=4)
    journal = state_path.with_name("state.json.journal")
    kept = journal.read_bytes()
    backend.write(state)
    journal.write_bytes(kept)  # as if the process died right after the snapshot's rename
    assert LocalBackend(state_path).read() == state


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.999])
def test_a_truncated_snapshot_is_refused_naming_the_backup(state_path: Path, cut: float) -> None:
    backend, state = _backend_with(state_path, 20)
    backend.write(state.with_record(make_record(99)))
    data = state_path.read_bytes()
    state_path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(StateError, match="corrupt") as caught:
        LocalBackend(state_path).read()
    assert str(state_path.with_name("state.json.backup")) in str(caught.value)


def test_every_single_garbled_byte_is_refused(state_path: Path) -> None:
    _backend, _ = _backend_with(state_path, 3)
    data = state_path.read_bytes()
    for offset in range(0, len(data), 7):
        garbled = bytearray(data)
        garbled[offset] ^= 0x04
        state_path.write_bytes(bytes(garbled))
        with pytest.raises(StateError):
            LocalBackend(state_path).read()
    state_path.write_bytes(data)
    assert LocalBackend(state_path).read() is not None


def test_without_a_backup_the_message_says_so(state_path: Path) -> None:
    _backend_with(state_path, 2)
    state_path.write_bytes(b'{"format_version": 1, "lin')
    with pytest.raises(StateError, match="no backup"):
        LocalBackend(state_path).read()


def test_a_newer_format_asks_for_an_upgrade(state_path: Path) -> None:
    state_path.parent.mkdir(parents=True)
    state_path.write_text(json.dumps({"format_version": 7, "lineage": "x", "serial": 1}))
    with pytest.raises(StateError, match=r"newer version of reconciler \(format 7\); .*Upgrade"):
        LocalBackend(state_path).read()


def test_a_hand_edited_file_without_checksum_is_read_and_checked(state_path: Path) -> None:
    _, state = _backend_with(state_path, 3)
    doc = json.loads(state_path.read_text())
    del doc["checksum"]
    state_path.write_text(json.dumps(doc, indent=4))
    assert LocalBackend(state_path).read() == state
    name = next(iter(doc["records"]))
    doc["records"][name]["status"] = "done"
    state_path.write_text(json.dumps(doc))
    with pytest.raises(StateError, match="record 1 is invalid"):
        LocalBackend(state_path).read()


def test_a_hand_edit_that_keeps_the_checksum_is_refused(state_path: Path) -> None:
    _backend_with(state_path, 3)
    text = state_path.read_text().replace("Contoso 1 Ltd", "Contoso 1 plc")
    state_path.write_text(text)
    with pytest.raises(StateError, match="checksum"):
        LocalBackend(state_path).read()


def test_a_torn_last_journal_line_is_ignored_then_dropped(state_path: Path) -> None:
    backend, state = _backend_with(state_path, 2, changes=3)
    _release(backend)
    journal = state_path.with_name("state.json.journal")
    torn = journal_format.encode(state.lineage, StateChange.put(5, make_record(7)))[:-9]
    with journal.open("ab") as f:
        f.write(torn)
    reader = LocalBackend(state_path)
    before = journal.read_bytes()
    assert reader.read() == state  # the unacknowledged change is not there
    assert journal.read_bytes() == before  # reading never writes
    reader.lock(LockInfo.new("apply"))
    reader.read()
    reader.append(StateChange.put(5, make_record(8)))
    reader.close()
    again = LocalBackend(state_path).read()
    assert again is not None
    assert again.serial == 5
    assert again.get(make_record(8).key) is not None
    assert again.get(make_record(7).key) is None


@pytest.mark.parametrize("damage", [b"garbage\n", b"\n", b'{"serial": 3}\n'])
def test_garbage_inside_the_journal_is_refused(state_path: Path, damage: bytes) -> None:
    backend, _ = _backend_with(state_path, 2, changes=3)
    backend.close()
    journal = state_path.with_name("state.json.journal")
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(lines[0] + damage + b"".join(lines[1:]))
    with pytest.raises(StateError, match=r"journal .* is damaged at line 2"):
        LocalBackend(state_path).read()


def test_a_flipped_byte_in_a_journal_line_is_refused(state_path: Path) -> None:
    backend, _ = _backend_with(state_path, 2, changes=3)
    backend.close()
    journal = state_path.with_name("state.json.journal")
    data = bytearray(journal.read_bytes())
    data[len(data) // 2] ^= 0x01
    journal.write_bytes(bytes(data))
    with pytest.raises(StateError, match="damaged"):
        LocalBackend(state_path).read()


def test_a_journal_from_another_state_is_refused(state_path: Path) -> None:
    backend, _ = _backend_with(state_path, 1)
    stray = journal_format.encode("another-lineage", StateChange.put(2, make_record(3)))
    state_path.with_name("state.json.journal").write_bytes(stray)
    with pytest.raises(StateError, match="different state"):
        LocalBackend(state_path).read()
    backend.close()


def test_a_journal_with_a_gap_is_refused(state_path: Path) -> None:
    backend, state = _backend_with(state_path, 1)
    gap = journal_format.encode(state.lineage, StateChange.put(5, make_record(3)))
    state_path.with_name("state.json.journal").write_bytes(gap)
    with pytest.raises(StateError, match="missing"):
        LocalBackend(state_path).read()
    backend.close()


def test_files_are_written_durably_through_rename(state_path: Path) -> None:
    backend, state = _backend_with(state_path, 1)
    inode = state_path.stat().st_ino
    backend.write(state.with_record(make_record(2)))
    assert state_path.stat().st_ino != inode  # replaced, never rewritten in place
    assert oct(state_path.stat().st_mode & 0o777) == oct(0o644 & ~_umask())


def test_records_with_unusual_keys_survive(state_path: Path) -> None:
    backend = LocalBackend(state_path)
    backend.lock(LockInfo.new("test"))
    odd = make_record(1, family='Fam "quoted" \\ ü')
    state = State.of("lineage-1", 1, [odd, make_record(2)])
    backend.write(state)
    assert LocalBackend(state_path).read() == state


def _release(backend: LocalBackend) -> None:
    held = backend.current_lock()
    assert held is not None
    backend.unlock(held.id)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_writing_an_unchanged_state_keeps_the_backup(state_path: Path) -> None:
    backend, state = _backend_with(state_path, 2)
    changed = state.with_record(make_record(5))
    backend.write(changed)
    backup = state_path.with_name("state.json.backup").read_bytes()
    inode = state_path.stat().st_ino
    backend.write(changed)
    StateRecorder(backend, backend.read()).flush()  # a run that changed nothing
    assert state_path.stat().st_ino == inode
    assert state_path.with_name("state.json.backup").read_bytes() == backup


GOLDEN = Path(__file__).parent / "golden"


def test_state_written_with_an_integer_format_version_is_still_read(state_path: Path) -> None:
    # Bytes as an earlier version wrote them: "format_version": 1 in the snapshot (under its
    # checksum) and in each journal line (under its CRC); the journal adds 2 and removes 0.
    state_path.parent.mkdir(parents=True)
    old = GOLDEN / "format-1-integer.state.json"
    shutil.copy(old, state_path)
    shutil.copy(old.with_name(old.name + ".journal"), state_path.with_name("state.json.journal"))
    assert json.loads(old.read_text())["format_version"] == 1
    assert list(validator_for("state.schema.json").iter_errors(json.loads(old.read_text()))) == []
    state = LocalBackend(state_path).read()
    assert state is not None
    assert (state.serial, sorted(state.records)) == (3, [make_record(1).key, make_record(2).key])

    backend = LocalBackend(state_path)
    backend.lock(LockInfo.new("test"))
    backend.write(state)
    StateRecorder(backend, state).put(make_record(3))
    written = json.loads(state_path.read_text())
    assert written["format_version"] == FORMAT_VERSION == "2"  # upgraded on the next write
    assert list(validator_for("state.schema.json").iter_errors(written)) == []
    journalled = state_path.with_name("state.json.journal").read_text().splitlines()
    assert [json.loads(line)["format_version"] for line in journalled] == ["2"]
    assert LocalBackend(state_path).read() == state.with_record(make_record(3))


def test_a_hand_edited_state_with_an_integer_format_version_is_read(state_path: Path) -> None:
    state_path.parent.mkdir(parents=True)
    document = json.loads((GOLDEN / "format-1-integer.state.json").read_text())
    del document["checksum"]
    state_path.write_text(json.dumps(document, indent=1))
    state = LocalBackend(state_path).read()
    assert state is not None
    assert (state.serial, len(state.records)) == (1, 2)
