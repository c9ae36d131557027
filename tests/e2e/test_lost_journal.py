"""A journal deleted after a killed apply: refused, then pushed on past every used serial.

Through the CLI, as a user meets it: apply is SIGKILLed after some upgrades started (their
records are in the journal only), the journal is deleted, and every command that reads the
state refuses it, naming the journal and the serial the history recorded, until the state is
pulled and pushed with --force; the next apply then finishes with one upgrade per customer.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.simulator import SimulatorConfig
from tests.e2e.conftest import Project, customer, make_project

CUSTOMERS = 40


@pytest.fixture
def held_back(tmp_path: Path) -> Iterator[Project]:
    """Slow answers (so a run is caught mid-flight); upgrades never complete on their own."""
    yield from make_project(tmp_path, SimulatorConfig(latency_ms=40, seed=3,
                                                      completion_delay_seconds=3600))


def _kill_after_starts(project: Project, starts: int) -> None:
    proc = project.popen("apply", "--auto-approve", "--parallelism", "2", "--no-wait")
    assert proc.stdout is not None
    seen = 0
    for line in proc.stdout:
        seen += ": started:" in line
        if seen == starts:
            break
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert seen == starts, "apply ended before starting enough upgrades"


def _history_serials(state_dir: Path) -> list[int]:
    lines = (state_dir / "state.json.history").read_text().splitlines()
    return [e["serial"] for e in map(json.loads, lines) if "serial" in e]


def test_a_journal_deleted_after_a_killed_apply_is_refused_until_pushed(
        held_back: Project) -> None:
    project = held_back
    for n in range(CUSTOMERS):
        project.sim.world.add_customer(customer(n), f"Customer {n}")
    project.manifest(list(range(CUSTOMERS)))
    _kill_after_starts(project, 6)
    state_dir = project.root / ".reconciler"
    journal = state_dir / "state.json.journal"
    assert journal.stat().st_size > 0, "the killed run left no journal"
    witnessed = max(_history_serials(state_dir))
    journal.unlink()

    for command in (("plan",), ("apply", "--auto-approve"), ("state", "list")):
        refused = project.run(*command)
        assert refused.returncode == 1, (command, refused.stdout, refused.stderr)
        assert f"records changes up to serial {witnessed}" in refused.stderr
        assert "state.json.journal was deleted or cut short" in refused.stderr
        assert "Traceback" not in refused.stderr

    pulled = project.run("state", "pull")
    assert pulled.returncode == 0, pulled.stderr
    assert "records changes up to serial" in pulled.stderr
    (project.root / "pulled.json").write_text(pulled.stdout)
    pushed = project.run("state", "push", "--force", "pulled.json")
    assert pushed.returncode == 0, pushed.stderr
    assert f"serial {witnessed + 1}," in pushed.stdout

    done = project.run("apply", "--auto-approve", "--no-wait")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [project.upgrades(n) for n in range(CUSTOMERS)] == [1] * CUSTOMERS
    assert project.sim.stats.duplicates == 0
    serials = _history_serials(state_dir)
    assert len(serials) == len(set(serials)), "a serial was used twice"
