"""apply --wait when the state cannot be written any more (a full disk, issue 19, item 11).

A status seen but not recorded must not end the run in a traceback that hides every outcome:
polling stops, each upgrade still open is reported in progress with the cause, and the next
plan reads the status again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.apply import Result, started_upgrades
from reconciler.backends import StateRecorder, opened
from reconciler.connect import open_client
from reconciler.errors import StateError
from reconciler.simulator import SimulatorConfig
from reconciler.state import Record
from reconciler.waiting import WaitClock, wait_for
from tests.apply.test_apply_inprocess import Fleet, open_fleet

FULL = "Cannot record a change in state.json.journal: No space left on device."


class FullDisk(StateRecorder):
    """A recorder on a disk that has just filled up: every change fails as the backend's do."""

    def put(self, record: Record) -> int:
        raise StateError(FULL)


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    config = SimulatorConfig(completion_delay_seconds=0.0, seed=1, latency_ms=1)
    with open_fleet(tmp_path, monkeypatch, config) as opened_fleet:
        yield opened_fleet


def test_a_wait_whose_state_cannot_be_written_reports_each_upgrade_with_the_cause(
        fleet: Fleet) -> None:
    fleet.manifest([1, 2, 3])
    started = started_upgrades(fleet.apply().outcomes)
    assert len(started) == 3
    no_sleep = WaitClock(sleep=lambda _: None)
    with opened(fleet.settings.backend, lock="apply") as backend, \
            open_client(fleet.settings) as client:
        recorder = FullDisk(backend, backend.read())
        seen = []
        final = wait_for(client, recorder, started, timeout=60, stop_requested=lambda: False,
                         clock=no_sleep, on_outcome=seen.append)
    assert [o.result for o in final] == [Result.IN_PROGRESS] * 3
    assert all("the state could not be written (Cannot record a change in "
               "state.json.journal: No space left on device)" in o.message for o in final)
    assert seen == final
    assert {r.status.value for r in fleet.state().records.values()} == {"in_progress"}
