"""Crash safety: apply SIGKILLed at random instants, again and again, then run to completion.

Whatever instant the kill lands on (before the intent is recorded, between the intent and the
POST, after Partner Center committed the create but before its answer was recorded, in the
middle of a state write), the next run must finish the job with exactly one upgrade per
customer. The seeds are fixed so a failure can be replayed.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.simulator import Fault, SimulatorConfig
from tests.e2e.conftest import Project, customer, make_project

CUSTOMERS = 300
KILLS = 20


def crash_project(tmp_path: Path, *, dedup: bool) -> Iterator[Project]:
    config = SimulatorConfig(latency_ms=15, completion_delay_seconds=3600, dedup=dedup,
                             seed=7, retry_after_seconds=1, record_requests=False)
    yield from make_project(tmp_path, config)


@pytest.fixture
def crash(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Project]:
    yield from crash_project(tmp_path, dedup=bool(request.param))


def kill_repeatedly(project: Project, rng: random.Random) -> int:
    """Start apply and SIGKILL it, KILLS times; returns how many kills hit it mid-creation.

    One kill in five lands at a random instant of the first two seconds (start-up, refresh);
    the others wait until apply reports its first started upgrade and then land at a random
    instant of the next 0.8 s, so most kills hit the create phase itself.
    """
    mid_creation = 0
    for index in range(KILLS):
        proc = project.popen("apply", "--auto-approve", "--parallelism", "4")
        assert proc.stdout is not None
        if index % 5 == 0:
            time.sleep(rng.uniform(0.1, 2.0))
        elif _first_start(proc):
            time.sleep(rng.uniform(0.0, 0.8))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            mid_creation += index % 5 != 0
        proc.communicate(timeout=60)
    return mid_creation


def _first_start(proc: subprocess.Popen[str]) -> bool:
    """Read apply's output until it reports a started upgrade (False if it ends first)."""
    assert proc.stdout is not None
    return any(": started:" in line or ": found:" in line for line in proc.stdout)


def run_to_completion(project: Project) -> None:
    for _ in range(6):
        result = project.run("apply", "--auto-approve", "--parallelism", "8", timeout=300)
        if result.returncode == 0 and "No changes" in result.stdout:
            return
    pytest.fail(f"apply did not converge:\n{result.stdout}\n{result.stderr}")


def assert_exactly_one_upgrade_each(project: Project) -> None:
    counts = [project.upgrades(n) for n in range(CUSTOMERS)]
    assert counts == [1] * CUSTOMERS, {customer(n): c for n, c in enumerate(counts) if c != 1}
    assert project.sim.stats.duplicates == 0
    plan = project.plan_json()
    assert {c["action"] for c in plan["changes"]} == {"wait"}  # type: ignore[union-attr]


def setup_customers(project: Project) -> None:
    # Creates take 100 ms each (4 in flight: ~40/s), so the 20 kills span the create phase.
    project.sim.add_fault(Fault("create", "delay", delay_ms=100))
    for n in range(CUSTOMERS):
        project.sim.world.add_customer(customer(n), f"Customer {n}")
    project.manifest(list(range(CUSTOMERS)))


@pytest.mark.slow
@pytest.mark.parametrize("crash", [True], indirect=True)
def test_sigkill_at_random_instants(crash: Project) -> None:
    setup_customers(crash)
    hits = kill_repeatedly(crash, random.Random(20261126))
    assert hits >= KILLS // 2, f"only {hits} kills landed while creates were running"
    assert 0 < sum(crash.upgrades(n) for n in range(CUSTOMERS)) < CUSTOMERS
    run_to_completion(crash)
    assert_exactly_one_upgrade_each(crash)


@pytest.mark.slow
@pytest.mark.parametrize("crash", [True, False], ids=["dedup-on", "dedup-off"], indirect=True)
def test_sigkill_with_faults(crash: Project) -> None:
    setup_customers(crash)
    for fault in (Fault("create", "500", rate=0.05), Fault("create", "503", rate=0.05),
                  Fault("create", "drop_after", rate=0.08), Fault("*", "429", rate=0.004),
                  Fault("eligibility", "drop_before", rate=0.03)):
        crash.sim.add_fault(fault)
    hits = kill_repeatedly(crash, random.Random(11))
    assert hits >= KILLS // 2, f"only {hits} kills landed while creates were running"
    crash.sim.clear_faults()
    crash.sim.add_fault(Fault("create", "delay", delay_ms=100))
    run_to_completion(crash)
    assert_exactly_one_upgrade_each(crash)
