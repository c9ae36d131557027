"""A run whose local lock was force-unlocked while it was stopped (issue 19, item 1).

The first apply is stopped with SIGSTOP mid-run, an operator force-unlocks it (taking it for
dead), a second apply takes the lock and records more, and the first is resumed with SIGCONT.
The first must notice at its next write that the lock is no longer its own: start nothing new,
leave the second run's state alone, save what it knows as errored state, and exit 1.
"""

from __future__ import annotations

import json
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.backends.errored import ERRORED_STATE_FILE
from reconciler.simulator import SimulatorConfig
from reconciler.simulator.recording import RecordedRequest
from tests.e2e.conftest import Project, customer, make_project

CUSTOMERS = list(range(40))


@pytest.fixture
def busy(tmp_path: Path) -> Iterator[Project]:
    # Slow answers, so the first run is certainly mid-run when it is stopped.
    yield from make_project(tmp_path, SimulatorConfig(completion_delay_seconds=3600, seed=3,
                                                      latency_ms=60))


def _creates(project: Project) -> list[RecordedRequest]:
    return [r for r in project.sim.requests
            if r.method == "POST" and r.path.lower() == "/v1/productupgrades"]


def _state_files(project: Project) -> dict[str, bytes]:
    directory = project.root / ".reconciler"
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())
            if p.name.startswith("state.json") and not p.name.endswith((".history", ".mutex"))}


@pytest.mark.slow
def test_a_force_unlocked_run_stops_and_leaves_the_next_runs_state_alone(busy: Project) -> None:
    busy.manifest(CUSTOMERS)
    for n in CUSTOMERS:
        busy.sim.world.add_customer(customer(n), f"Customer {n}")
    first = busy.popen("apply", "--auto-approve", "--parallelism", "2")
    assert first.stdout is not None
    seen = ""
    while ": started:" not in seen:
        line = first.stdout.readline()
        assert line, f"apply ended before starting any upgrade:\n{seen}"
        seen += line
    first.send_signal(signal.SIGSTOP)
    try:
        lock = json.loads((busy.root / ".reconciler" / "state.json.lock").read_text())
        unlocked = busy.run("force-unlock", lock["ID"], "--force")
        assert unlocked.returncode == 0, unlocked.stderr
        assert f"process {first.pid} on {socket.gethostname()}" in unlocked.stderr
        assert "still running" in unlocked.stderr

        second = busy.run("apply", "--auto-approve", "--parallelism", "8", timeout=180)
        assert second.returncode == 0, second.stdout + second.stderr
        after_second = _state_files(busy)
        known_ids = {r.header("MS-RequestId") for r in _creates(busy)}
        creates_before = len(_creates(busy))
    finally:
        first.send_signal(signal.SIGCONT)
    rest, err = first.communicate(timeout=120)

    assert first.returncode == 1, seen + rest + err
    assert "lost" in err
    assert "force-unlocked" in err
    assert "Traceback" not in err
    late = _creates(busy)[creates_before:]
    assert all(r.header("MS-RequestId") in known_ids for r in late), \
        [r.header("MS-RequestId") for r in late]
    assert [busy.upgrades(n) for n in CUSTOMERS] == [1] * len(CUSTOMERS)
    assert busy.sim.stats.duplicates == 0
    assert _state_files(busy) == after_second  # the second run's records are intact
    errored = busy.root / ERRORED_STATE_FILE
    assert errored.exists()
    assert f"reconciler state push {errored}" in err
    listed = busy.run("state", "list")
    assert all(customer(n) in listed.stdout for n in CUSTOMERS)
