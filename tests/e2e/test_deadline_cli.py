"""``--timeout`` through the real CLI (issue 19, item 12): a server that accepts and never
answers, and one that always says ``Retry-After: 86400``, stop the run at its deadline with a
whole-sentence message, the apply summary and exit 1 — and the next run resumes the creates
the deadline cut short without a duplicate."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.simulator import Fault, SimulatorConfig

from .conftest import Project, customer, make_project


@pytest.fixture
def throttling_project(tmp_path: Path) -> Iterator[Project]:
    """A project whose simulator's injected 429s say ``Retry-After: 86400``."""
    yield from make_project(tmp_path, SimulatorConfig(completion_delay_seconds=0.5, seed=1,
                                                      retry_after_seconds=86400))


def _add_customers(project: Project, numbers: list[int]) -> None:
    for n in numbers:
        project.sim.world.add_customer(customer(n), f"Customer {n}")
    project.manifest(numbers)


def test_apply_against_a_hanging_server_stops_at_its_timeout_and_resumes_cleanly(
        project: Project) -> None:
    numbers = list(range(1, 13))
    _add_customers(project, numbers)
    project.sim.add_fault(Fault(route="create", kind="hang"))
    started = time.monotonic()
    result = project.run("apply", "--auto-approve", "--timeout", "3s", "--parallelism", "4",
                         timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert elapsed < 15, elapsed  # without --timeout: minutes per call
    assert "Stopped: the run reached its --timeout of 3s." in result.stderr.splitlines()
    assert "Apply stopped: the run reached its --timeout of 3s." in result.stdout
    assert "unknown: cut short: the run reached its --timeout of 3s; left pending" \
        in result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    assert "Error:" not in result.stderr
    # The creates in flight were cut short: pending intents, resumed (eligibility first).
    actions = project.actions("--no-refresh")
    cut = [cid for cid, action in actions.items() if action == "resume"]
    assert cut, actions
    project.sim.clear_faults()
    again = project.run("apply", "--auto-approve", timeout=60)
    assert again.returncode == 0, again.stdout + again.stderr
    assert all(project.upgrades(n) == 1 for n in numbers)
    assert project.sim.stats.duplicates == 0


def test_plan_against_a_constant_retry_after_says_so_and_stops_at_its_timeout(
        throttling_project: Project) -> None:
    project = throttling_project
    _add_customers(project, [1, 2, 3, 4])
    project.sim.add_fault(Fault(route="eligibility", kind="429"))
    started = time.monotonic()
    result = project.run("plan", "--timeout", "2s", timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert elapsed < 12, elapsed  # was 484 s
    lines = result.stderr.splitlines()
    waits = [line for line in lines if line.startswith("Partner Center asked to wait")]
    assert len(waits) == 1, lines  # once for the episode, not once per request; without -v
    assert waits[0].startswith(
        "Partner Center asked to wait 86400s (Retry-After), longer than is left of the run's "
        "--timeout of 2s; the run will stop at ")
    assert waits[0].endswith(" UTC.")
    assert "Stopped: the run reached its --timeout of 2s." in lines
    assert "Traceback" not in result.stderr
    assert "Error:" not in result.stderr


def test_the_settings_timeout_applies_and_the_flag_wins(project: Project) -> None:
    _add_customers(project, [1, 2])
    project.sim.add_fault(Fault(route="eligibility", kind="hang"))
    settings = project.root / "reconciler.yaml"
    settings.write_text(settings.read_text() + "timeout: 2s\n")
    result = project.run("drift", timeout=60)
    assert result.returncode == 1, result.stderr
    assert "Stopped: the run reached its timeout of 2s (set in reconciler.yaml)." \
        in result.stderr.splitlines()
    settings.write_text(settings.read_text().replace("timeout: 2s", "timeout: 1h"))
    started = time.monotonic()
    result = project.run("plan", "--timeout", "1s", timeout=60)
    assert result.returncode == 1, result.stderr
    assert time.monotonic() - started < 10
    assert "Stopped: the run reached its --timeout of 1s." in result.stderr.splitlines()


def test_discover_and_import_stop_at_their_timeout_with_a_sentence(project: Project) -> None:
    _add_customers(project, [1])
    project.sim.add_fault(Fault(route="customers", kind="hang"))
    for args in (("discover",), ("import", customer(1))):
        if args[0] == "import":
            project.sim.clear_faults()
            project.sim.add_fault(Fault(route="eligibility", kind="hang"))
        started = time.monotonic()
        result = project.run(*args, "--timeout", "1s", timeout=60)
        assert time.monotonic() - started < 10, args
        assert result.returncode == 1, (args, result.stderr)
        assert "Stopped: the run reached its --timeout of 1s." in result.stderr.splitlines()
        assert "Traceback" not in result.stderr
    assert project.sim.world.upgrades_for(customer(1)) == []
