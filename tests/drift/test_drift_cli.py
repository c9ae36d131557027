"""``reconciler drift`` through the CLI against the simulator: every kind, exit codes, formats,
and that it never mutates anything."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from reconciler.backends import LocalBackend, LockInfo, StateRecorder
from reconciler.model import UpgradeKey
from reconciler.schemacheck import validator_for
from reconciler.state import Record, RecordStatus
from tests.e2e.conftest import Project, customer

STATE = Path(".reconciler/state.json")
LONG_AGO = "2026-01-01T00:00:00Z"


def seed(project: Project, n: int, status: RecordStatus, upgrade_id: str | None,
         since: str | None = None) -> None:
    """Write a record straight into state, as an earlier apply would have."""
    backend = LocalBackend(project.root / STATE)
    lock = backend.lock(LockInfo.new("test"))
    recorder = StateRecorder(backend, backend.read())
    stamp = since or "2026-11-25T09:00:00Z"
    remote = {RecordStatus.IN_PROGRESS: "InProgress", RecordStatus.COMPLETED: "Completed"}
    recorder.put(Record(UpgradeKey(customer(n), "Azure"), status, None, upgrade_id,
                        remote.get(status), f"manifests/wave-1.yaml:{n}", f"Customer {n}",
                        stamp, stamp,
                        in_progress_since=stamp if status is RecordStatus.IN_PROGRESS else None))
    recorder.flush()
    backend.unlock(lock.id)
    backend.close()


def completed(project: Project, n: int) -> str:
    """Customer n upgraded and recorded as completed."""
    upgrade = project.sim.world.upgrade_out_of_band(customer(n), status="Completed")
    seed(project, n, RecordStatus.COMPLETED, upgrade)
    return upgrade


def every_kind(project: Project) -> dict[int, str]:
    """One customer per drift kind, and one (8) that is fine. Returns n → expected kind."""
    world = project.sim.world
    for n in range(1, 11):
        world.ensure_customer(customer(n), f"Customer {n}")
    completed(project, 1)
    world.revert(customer(1))                                           # reverted
    failing = completed(project, 2)
    world.fail_upgrade(failing, code="900120", message="cannot process")  # failed
    seed(project, 3, RecordStatus.COMPLETED, "cccccccc-0000-4000-8000-000000000003")
    world.add_customer(customer(3), "Customer 3", eligible=False,
                       reason="Customer has no Azure subscriptions")  # unknown_upgrade
    seed(project, 4, RecordStatus.IN_PROGRESS, completed(project, 5))  # foreign_upgrade
    world.upgrade_out_of_band(customer(6))                              # out_of_band
    slow = world.upgrade_out_of_band(customer(7))
    seed(project, 7, RecordStatus.IN_PROGRESS, slow, since=LONG_AGO)    # stuck
    completed(project, 8)
    completed(project, 9)
    world.set_end_state(customer(9), legacy_active=True)                # legacy_active
    completed(project, 10)
    world.set_end_state(customer(10), plan_missing=True)                # azure_plan_missing
    project.manifest(list(range(1, 11)))
    return {1: "reverted", 2: "failed", 3: "unknown_upgrade", 4: "foreign_upgrade",
            6: "out_of_band", 7: "stuck", 9: "legacy_active", 10: "azure_plan_missing"}


def test_every_drift_kind_is_classified(project: Project) -> None:
    expected = every_kind(project)
    before = (project.root / STATE).read_bytes()
    result = project.run("drift", "--format", "json")
    assert result.returncode == 2, result.stderr
    document = json.loads(result.stdout)
    assert list(validator_for("drift.schema.json").iter_errors(document)) == []
    assert document["checked"] == 10
    kinds = {item["customer_id"]: item["kind"] for item in document["drift"]}
    assert kinds == {customer(n): kind for n, kind in expected.items()}
    reverted = next(i for i in document["drift"] if i["kind"] == "reverted")
    assert (reverted["recorded"], reverted["observed"]) == ("completed", "eligible")
    # Drift never mutates: no create, state byte for byte the same.
    assert not any(r.path.rstrip("/").lower().endswith("productupgrades")
                   for r in project.sim.requests)
    assert (project.root / STATE).read_bytes() == before


def test_no_drift_exits_0_and_a_fresh_project_too(project: Project) -> None:
    project.sim.world.ensure_customer(customer(1))
    project.manifest([1])
    fresh = project.run("drift")
    assert fresh.returncode == 0, fresh.stderr
    assert "Drift: none in 1 managed upgrade." in fresh.stdout
    assert not (project.root / ".reconciler").exists()
    completed(project, 1)
    assert project.run("drift").returncode == 0


def test_text_markdown_and_junit_outputs(project: Project) -> None:
    expected = every_kind(project)
    text = project.run("drift", "--junit-xml", "reports/drift.xml")
    assert text.returncode == 2
    assert "Drift: 8 of 10 managed upgrades differ from state" in text.stdout
    suite = ET.parse(project.root / "reports" / "drift.xml").getroot().find("testsuite")
    assert suite is not None
    failures = suite.findall("testcase/failure")
    assert sorted(f.get("type") or "" for f in failures) == sorted(expected.values())
    assert suite.get("tests") == "9"
    assert suite.get("failures") == "8"
    md = project.run("drift", "--format", "markdown")
    assert md.returncode == 2
    assert md.stdout.startswith("<!-- partnercenter-reconciler:drift -->")
    assert "Customer 7" in md.stdout


def test_threshold_option_and_usage_errors(project: Project) -> None:
    world = project.sim.world
    seed(project, 1, RecordStatus.IN_PROGRESS, world.upgrade_out_of_band(customer(1)),
         since=LONG_AGO)
    project.manifest([1])
    assert project.run("drift", "--in-progress-threshold", "3650d").returncode == 0
    assert project.run("drift", "--in-progress-threshold", "1h").returncode == 2
    bad = project.run("drift", "--in-progress-threshold", "soon")
    assert bad.returncode == 1
    assert "--in-progress-threshold" in bad.stderr
    assert project.run("drift", "--format", "yaml").returncode == 1


def test_lock_is_respected_unless_no_lock(project: Project) -> None:
    completed(project, 1)
    project.manifest([1])
    backend = LocalBackend(project.root / STATE)
    held = backend.lock(LockInfo.new("apply"))
    try:
        locked = project.run("drift")
        assert locked.returncode == 1
        assert "apply" in locked.stderr
        assert project.run("drift", "--no-lock").returncode == 0
    finally:
        backend.unlock(held.id)
        backend.close()


def test_unreadable_customer_is_an_error_not_drift(project: Project) -> None:
    from reconciler.simulator.faults import Fault

    completed(project, 1)
    project.manifest([1])
    project.sim.add_fault(Fault(route="status", kind="500"))
    result = project.run("drift")
    assert result.returncode == 1, result.stdout
    assert "could not read" in result.stderr
