"""Runners sharing one Azure Blob state (Azurite): real ``reconciler`` processes, real kills.

Each "runner" is its own working directory (nothing shared on disk) whose settings point at
the same container; all of them talk to one Partner Center simulator in this process.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.backends.azureblob import AzureBlobBackend
from reconciler.backends.errored import ERRORED_STATE_FILE
from reconciler.simulator import SimulatorConfig
from tests.e2e.conftest import Project, customer, make_project
from tests.state.conftest import AzureStore, open_azure

CUSTOMERS = list(range(1, 41))


def _settings(store: AzureStore) -> str:
    return (f"apply:\n  parallelism: 1\n  max_requests_per_minute: 100000\n"
            f"backend:\n  type: azureblob\n  account_url: {store.account_url}\n"
            f"  container: {store.container}\n  key: {store.key}\n")


@pytest.fixture
def runners(tmp_path: Path, azure_store: AzureStore) -> Iterator[list[Project]]:
    """Three runners on one container, against a simulator that answers after 40 ms."""
    (tmp_path / "sim").mkdir()
    config = SimulatorConfig(completion_delay_seconds=3600, seed=1, latency_ms=40)
    for base in make_project(tmp_path / "sim", config):
        env = {**base.env, **azure_store.env, "RECONCILER_AZUREBLOB_LEASE_SECONDS": "15"}
        for n in CUSTOMERS:
            base.sim.world.add_customer(customer(n))
        projects = []
        for name in ("runner-a", "runner-b", "runner-c"):
            project = Project(tmp_path / name, base.sim, dict(env))
            project.root.mkdir()
            (project.root / "reconciler.yaml").write_text(_settings(azure_store))
            project.manifest(CUSTOMERS)
            projects.append(project)
        yield projects


def _azure(store: AzureStore) -> AzureBlobBackend:
    backend = open_azure(store)
    assert isinstance(backend, AzureBlobBackend)
    return backend


def _wait_for_start(proc: subprocess.Popen[str]) -> str:
    """Apply's output up to its first started upgrade (the lock is certainly held then)."""
    assert proc.stdout is not None
    seen = ""
    while ": started:" not in seen:
        line = proc.stdout.readline()
        assert line, f"apply ended before starting any upgrade:\n{seen}"
        seen += line
    return seen


def _assert_one_upgrade_each(project: Project) -> None:
    assert [project.upgrades(n) for n in CUSTOMERS] == [1] * len(CUSTOMERS)
    assert project.sim.stats.duplicates == 0


def test_two_runners_apply_at_once_and_exactly_one_proceeds(runners: list[Project]) -> None:
    a, b, _ = runners
    procs = [r.popen("apply", "--auto-approve") for r in (a, b)]
    results = [p.communicate(timeout=180) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 1], results
    loser = results[[p.returncode for p in procs].index(1)]
    assert "The state is locked" in loser[1]
    assert '"apply"' in loser[1]
    _assert_one_upgrade_each(a)


def test_a_killed_runners_lease_expires_and_the_next_run_proceeds(
        runners: list[Project], azure_store: AzureStore) -> None:
    a, b, _ = runners
    proc = a.popen("apply", "--auto-approve")
    _wait_for_start(proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert _azure(azure_store).current_lock() is not None  # the dead runner's lease is held
    refused = b.run("apply", "--auto-approve")
    assert refused.returncode == 1
    assert "force-unlock" in refused.stderr
    started = time.monotonic()
    result = b.run("apply", "--auto-approve", "--lock-timeout", "60s")
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.monotonic() - started < 45
    _assert_one_upgrade_each(b)
    assert b.run("plan", "--detailed-exitcode").returncode == 0


def test_a_lost_lock_stops_the_run_and_saves_an_errored_state(
        runners: list[Project], azure_store: AzureStore) -> None:
    a, b, _ = runners
    a.env["RECONCILER_AZUREBLOB_RENEW_SECONDS"] = "0.3"
    proc = a.popen("apply", "--auto-approve")
    seen = _wait_for_start(proc)
    admin = _azure(azure_store)
    holder = admin.current_lock()
    assert holder is not None
    admin.force_unlock(holder.id)  # as an operator who wrongly took the runner for dead
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, seen + rest + err
    assert "lost" in err
    errored = a.root / ERRORED_STATE_FILE
    assert errored.exists()
    assert f"reconciler state push {errored}" in err
    started = sum(a.upgrades(n) for n in CUSTOMERS)
    assert 0 < started < len(CUSTOMERS)  # it stopped starting upgrades
    pushed = a.run("state", "push", str(errored))
    assert pushed.returncode == 0, pushed.stderr
    finished = b.run("apply", "--auto-approve")
    assert finished.returncode == 0, finished.stdout + finished.stderr
    _assert_one_upgrade_each(b)


def test_state_push_refuses_another_lineage_unless_forced(runners: list[Project]) -> None:
    a, _, c = runners
    c.manifest(CUSTOMERS[:3])
    assert a.run("apply", "--auto-approve").returncode == 0
    local = c.root / "other.json"
    assert c.run("--state", str(local), "apply", "--auto-approve").returncode == 0
    refused = a.run("state", "push", str(local))
    assert refused.returncode == 1
    assert "lineage" in refused.stderr
    forced = a.run("state", "push", str(local), "--force")
    assert forced.returncode == 0, forced.stderr
    listed = a.run("state", "list")
    assert listed.stdout.count("completed") + listed.stdout.count("in_progress") == 3


def test_history_is_in_the_container_and_seen_from_another_runner(
        runners: list[Project]) -> None:
    a, b, _ = runners
    applied = a.run("apply", "--auto-approve", "--target", customer(1), "--target", customer(2))
    assert applied.returncode == 0, applied.stderr
    assert not list(a.root.rglob("*.history"))  # nothing of it stays on the runner's disk
    shown = b.run("state", "history", customer(1))
    assert shown.returncode == 0, shown.stderr
    assert "intent: - → pending" in shown.stdout
    assert "call create POST /v1/productUpgrades → 202" in shown.stdout
    assert customer(2) not in shown.stdout
    everything = b.run("state", "history", "--format", "json").stdout
    assert customer(2) in everything
    assert a.sim.token not in everything
