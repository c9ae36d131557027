"""``state push`` rules, the lease keeper's decisions, and ``state pull`` round trips."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.backends import LocalBackend, LockInfo
from reconciler.backends.azurelease import LeaseKeeper
from reconciler.errors import StateError
from reconciler.state import State
from reconciler.stateedit import to_push
from tests.conftest import Result
from tests.state.helpers import make_record

WHERE = "the test store"


def _state(serial: int, *numbers: int, lineage: str = "L") -> State:
    return State.of(lineage, serial, [make_record(n) for n in numbers])


def test_push_to_an_empty_store_writes_the_file() -> None:
    pushed = _state(3, 1)
    assert to_push(pushed, None, False, WHERE) is pushed


def test_push_of_a_newer_serial_writes_it() -> None:
    pushed = _state(5, 1, 2)
    assert to_push(pushed, _state(4, 1), False, WHERE) is pushed


def test_push_of_the_same_state_writes_nothing() -> None:
    assert to_push(_state(4, 1, 2), _state(4, 1, 2), False, WHERE) is None


@pytest.mark.parametrize(("pushed", "message"), [
    (_state(9, 1, lineage="other"), "lineage other"),
    (_state(3, 1), "older than the recorded serial 4"),
    (_state(4, 7), "differs from the state"),
])
def test_push_refuses_unless_forced(pushed: State, message: str) -> None:
    current = _state(4, 1, 2)
    with pytest.raises(StateError, match=message):
        to_push(pushed, current, False, WHERE)
    forced = to_push(pushed, current, True, WHERE)
    assert forced is not None
    assert (forced.lineage, forced.serial) == ("L", 5)
    assert dict(forced.records) == dict(pushed.records)


class _FlakyLease:
    """A lease whose renewals fail with a network error from the start."""

    def __init__(self) -> None:
        self.calls = 0

    def renew(self) -> None:
        self.calls += 1
        raise ConnectionError("network is unreachable")


def test_the_keeper_retries_a_network_failure_then_declares_the_lease_lost() -> None:
    lease = _FlakyLease()
    now = [0.0]

    def clock() -> float:
        now[0] += 1.0  # every look at the clock is a second later
        return now[0]

    keeper = LeaseKeeper([lease], duration=15, every=0.01, clock=clock)  # type: ignore[list-item]
    called: list[str] = []
    keeper.on_lost(lambda: called.append("lost"))
    keeper.start()
    assert keeper.lost.wait(10)
    keeper.stop()
    assert lease.calls > 1  # retried before giving up
    assert called == ["lost"]
    assert "could not be renewed in time" in keeper.reason


def test_state_pull_then_push_round_trips(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    state_path = tmp_path / "s" / "state.json"
    backend = LocalBackend(state_path)
    info = backend.lock(LockInfo.new("test"))
    backend.write(State.of("lineage-1", 3, [make_record(1), make_record(2)]))
    backend.unlock(info.id)
    pulled = run_cli("--state", str(state_path), "state", "pull", cwd=tmp_path)
    assert pulled.code == 0, pulled.stderr
    (tmp_path / "pulled.json").write_text(pulled.stdout, encoding="utf-8")
    pushed = run_cli("--state", str(state_path), "state", "push", "pulled.json", cwd=tmp_path)
    assert pushed.code == 0, pushed.stderr
    assert pushed.stdout == (f"The local state file {state_path} already holds this state; "
                             "nothing was pushed.\n")
    empty = run_cli("--state", str(tmp_path / "none.json"), "state", "pull", cwd=tmp_path)
    assert empty.code == 1
    assert "No state is recorded" in empty.stderr
