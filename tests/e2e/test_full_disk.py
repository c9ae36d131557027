"""A full disk under apply: the cause said plainly, the summary given, nothing left behind.

The state lives on a small tmpfs that fills up part-way through the run (the history and the
journal share it). apply must stop starting upgrades, print every outcome and the summary with
"No space left on device", exit 1 without a traceback, leave no temporary file and no torn
journal line, and, once there is room again, finish with exactly one upgrade per customer.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.backends import LocalBackend
from reconciler.simulator import SimulatorConfig
from tests.e2e.conftest import Project, customer, make_project

CUSTOMERS = 400


def _mount(disk: Path, size: str, *, remount: bool = False) -> subprocess.CompletedProcess[str]:
    options = f"remount,size={size}" if remount else f"size={size}"
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(disk)],
                          capture_output=True, text=True, check=False)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 200 KiB tmpfs; skipped, saying why, only where this machine cannot mount one."""
    path = tmp_path / "disk"
    path.mkdir()
    try:
        mounted = _mount(path, "200k")
    except FileNotFoundError:
        pytest.skip("no mount command on this machine: cannot make a small tmpfs")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root or CAP_SYS_ADMIN): "
                    f"{mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Project]:
    project_dir = tmp_path / "project"
    project_dir.mkdir()
    yield from make_project(project_dir, SimulatorConfig(seed=1, completion_delay_seconds=3600))


def test_a_full_disk_stops_apply_with_its_cause_and_summary_and_cleans_up(
        fleet: Project, disk: Path) -> None:
    for n in range(CUSTOMERS):
        fleet.sim.world.add_customer(customer(n), f"Customer {n}")
    fleet.manifest(list(range(CUSTOMERS)))
    state = disk / "state.json"

    full = fleet.run("--state", str(state), "apply", "--auto-approve", "--no-wait")
    assert full.returncode == 1
    assert "Traceback" not in full.stderr
    summary = [line for line in full.stdout.splitlines() if line.startswith("Apply ")]
    assert len(summary) == 1, full.stdout[-2000:]
    assert summary[0].startswith("Apply stopped: the state could not be written")
    assert "No space left on device" in summary[0]
    assert "skipped" in summary[0]
    started = re.search(r"(\d+) started", summary[0])
    assert started is not None
    assert int(started[1]) >= 1, "the disk filled before any upgrade started: make it larger"
    assert [p.name for p in disk.iterdir() if p.name.endswith(".tmp")] == []
    journal = disk / "state.json.journal"
    assert journal.read_bytes().endswith(b"\n")  # a write cut short was cut off again
    assert LocalBackend(state).read() is not None  # whole lines only, sound
    upgrades = sum(fleet.upgrades(n) for n in range(CUSTOMERS))
    assert 0 < upgrades < CUSTOMERS

    assert _mount(disk, "64m", remount=True).returncode == 0
    done = fleet.run("--state", str(state), "apply", "--auto-approve", "--no-wait")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert [fleet.upgrades(n) for n in range(CUSTOMERS)] == [1] * CUSTOMERS
    assert fleet.sim.stats.duplicates == 0
