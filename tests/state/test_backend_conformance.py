"""The StateBackend contract, run against every backend ``backend_factory`` provides."""

from __future__ import annotations

import threading

import pytest

from reconciler.backends import LockInfo, StateRecorder
from reconciler.errors import LockError, StateError
from reconciler.state import State, StateChange
from tests.state.conftest import BackendFactory
from tests.state.helpers import make_record


def test_read_without_state_is_none(backend_factory: BackendFactory) -> None:
    assert backend_factory().read() is None


def test_describe_names_the_location(backend_factory: BackendFactory) -> None:
    assert backend_factory().describe()


def test_write_then_read_round_trips(backend_factory: BackendFactory) -> None:
    backend = backend_factory()
    info = backend.lock(LockInfo.new("apply"))
    state = State.of(State.new().lineage, 3, [make_record(i) for i in range(5)])
    backend.write(state)
    backend.unlock(info.id)
    again = backend_factory().read()
    assert again == state
    assert again is not None
    assert again.lineage == state.lineage
    assert again.serial == 3


def test_writes_need_the_lock(backend_factory: BackendFactory) -> None:
    backend = backend_factory()
    with pytest.raises(StateError, match="lock"):
        backend.write(State.new())
    with pytest.raises(StateError):
        backend.append(StateChange.put(1, make_record(1)))


def test_appended_changes_are_visible_to_a_new_reader(backend_factory: BackendFactory) -> None:
    backend = backend_factory()
    info = backend.lock(LockInfo.new("apply"))
    recorder = StateRecorder(backend, backend.read())
    for i in range(10):
        recorder.put(make_record(i))
    recorder.remove(make_record(3).key)
    # No fold yet: a reader that opens the store now must see every change.
    seen = backend_factory().read()
    assert seen is not None
    assert seen.serial == 11
    assert len(seen) == 9
    assert seen.get(make_record(3).key) is None
    assert seen == recorder.snapshot()
    recorder.flush()
    backend.unlock(info.id)
    assert backend_factory().read() == recorder.snapshot()


def test_append_refuses_a_gap_in_serials(backend_factory: BackendFactory) -> None:
    backend = backend_factory()
    backend.lock(LockInfo.new("apply"))
    state = State.new()
    backend.write(state)
    with pytest.raises(StateError, match="serial"):
        backend.append(StateChange.put(2, make_record(1)))
    backend.append(StateChange.put(1, make_record(1)))


def test_write_refuses_another_lineage_or_an_older_serial(backend_factory: BackendFactory) -> None:
    backend = backend_factory()
    backend.lock(LockInfo.new("apply"))
    state = State.of(State.new().lineage, 5, [make_record(1)])
    backend.write(state)
    with pytest.raises(StateError, match="holds state"):
        backend.write(State.new())
    with pytest.raises(StateError, match="older"):
        backend.write(State(state.lineage, 4, state.records))


def test_a_second_locker_fails_naming_the_holder(backend_factory: BackendFactory) -> None:
    first, second = backend_factory(), backend_factory()
    held = first.lock(LockInfo.new("apply"))
    with pytest.raises(LockError) as caught:
        second.lock(LockInfo.new("state rm"), timeout=0)
    message = str(caught.value)
    assert held.id in message
    assert held.who in message
    assert '"apply"' in message
    assert held.created in message
    first.unlock(held.id)
    second.unlock(second.lock(LockInfo.new("state rm")).id)


def test_lock_waits_up_to_the_timeout(backend_factory: BackendFactory) -> None:
    first, second = backend_factory(), backend_factory()
    held = first.lock(LockInfo.new("apply"))
    timer = threading.Timer(0.3, first.unlock, args=(held.id,))
    timer.start()
    try:
        got = second.lock(LockInfo.new("plan"), timeout=5)
    finally:
        timer.join()
    assert second.current_lock() == got


def test_lock_times_out_naming_the_holder(backend_factory: BackendFactory) -> None:
    first, second = backend_factory(), backend_factory()
    held = first.lock(LockInfo.new("apply"))
    with pytest.raises(LockError, match=f"after waiting 0.3s: ID {held.id}"):
        second.lock(LockInfo.new("plan"), timeout=0.3)


def test_force_unlock_needs_the_matching_id(backend_factory: BackendFactory) -> None:
    first, second = backend_factory(), backend_factory()
    held = first.lock(LockInfo.new("apply"))
    with pytest.raises(LockError, match="does not match"):
        second.force_unlock("not-the-id")
    assert second.force_unlock(held.id).id == held.id
    assert second.current_lock() is None
    with pytest.raises(LockError, match="not locked"):
        second.force_unlock(held.id)


def test_unlock_after_someone_else_took_the_lock_is_refused(
    backend_factory: BackendFactory,
) -> None:
    first, second = backend_factory(), backend_factory()
    held = first.lock(LockInfo.new("apply"))
    second.force_unlock(held.id)
    other = second.lock(LockInfo.new("apply"))
    with pytest.raises(LockError, match="now"):
        first.unlock(held.id)
    assert second.current_lock() == other


def test_worker_threads_share_one_recorder(backend_factory: BackendFactory) -> None:
    backend = backend_factory()
    info = backend.lock(LockInfo.new("apply"))
    recorder = StateRecorder(backend, None)

    def work(start: int) -> None:
        for i in range(start, start + 50):
            recorder.put(make_record(i))

    threads = [threading.Thread(target=work, args=(n * 50,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen = backend_factory().read()
    assert seen is not None
    assert seen.serial == 400
    assert len(seen) == 400
    recorder.flush()
    backend.unlock(info.id)
    assert backend_factory().read() == seen


def test_an_unused_recorder_leaves_no_state(backend_factory: BackendFactory) -> None:
    backend = backend_factory()
    info = backend.lock(LockInfo.new("apply"))
    StateRecorder(backend, backend.read()).flush()
    backend.unlock(info.id)
    assert backend_factory().read() is None


def test_history_appends_from_many_threads_and_reads_back_whole(
        backend_factory: BackendFactory) -> None:
    from reconciler.history import History, read

    backend = backend_factory()
    assert backend.read_history() == b""
    writers = [History(backend, f"run-{t}") for t in range(4)]

    def write(history: History, t: int) -> None:
        for n in range(25):
            history.transition(f"c{t}-{n}", "Azure", "intent", None, "pending")

    threads = [threading.Thread(target=write, args=(w, t)) for t, w in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for writer in writers:
        writer.close()
    backend.close()
    entries = list(read(backend_factory()))
    assert len(entries) == 100
    assert {e["customer_id"] for e in entries} == {f"c{t}-{n}" for t in range(4)
                                                    for n in range(25)}
    assert backend.lock_lost() is False
