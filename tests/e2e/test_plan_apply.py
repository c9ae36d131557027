"""plan and apply through the CLI against the simulator: every action, targets, exit codes,
saved plans, approval, blast radius, locking and interrupts."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from reconciler.backends import LocalBackend, LockInfo, StateRecorder
from reconciler.model import UpgradeKey
from reconciler.state import ErrorDetail, Record, RecordStatus, Verification
from tests.e2e.conftest import Project, customer

STATE = Path(".reconciler/state.json")


#: What a completed record holds once its end state was checked (an earlier plan's doing).
VERIFIED = Verification(True, "2026-11-25T09:00:00Z", "Azure plan p active, 1 legacy "
                        "subscription suspended", "p", (), ("l",))


def seed_record(project: Project, n: int, status: RecordStatus, *,
                upgrade_id: str | None = None, request_id: str | None = None) -> None:
    """Write a record straight into the project's state (as an earlier run would have)."""
    backend = LocalBackend(project.root / STATE)
    lock = backend.lock(LockInfo.new("test"))
    recorder = StateRecorder(backend, backend.read())
    stamp = "2026-11-25T09:00:00Z"
    recorder.put(Record(UpgradeKey(customer(n), "Azure"), status, request_id, upgrade_id,
                        "InProgress" if status is RecordStatus.IN_PROGRESS else None,
                        f"manifests/wave-1.yaml:{n}", f"Customer {n}", stamp, stamp,
                        error=ErrorDetail("x", "boom") if status is RecordStatus.FAILED
                        else None, verification=VERIFIED if status is RecordStatus.COMPLETED
                        else None))
    recorder.flush()
    backend.unlock(lock.id)
    backend.close()


def test_every_action_then_converge(project: Project) -> None:
    world = project.sim.world
    for n in range(1, 10):
        world.add_customer(customer(n), f"Customer {n}")
    world.add_customer(customer(7), "Customer 7", eligible=False,
                       reason="Customer has no Azure subscriptions")
    adopted = world.upgrade_out_of_band(customer(2))            # 2: adopt
    seed_record(project, 3, RecordStatus.PENDING,                 # 3: resume
                request_id="5e1d0c1e-0000-4000-8000-000000000003")
    failed = world.upgrade_out_of_band(customer(4))
    world.fail_upgrade(failed, code="900120", message="cannot process")
    seed_record(project, 4, RecordStatus.FAILED, upgrade_id=failed)  # 4: retry
    done = world.upgrade_out_of_band(customer(5))
    world.complete_upgrade(done)
    seed_record(project, 5, RecordStatus.IN_PROGRESS, upgrade_id=done)  # 5: update
    seed_record(project, 6, RecordStatus.COMPLETED, upgrade_id=done)    # 6: forget (no manifest)
    slow = world.upgrade_out_of_band(customer(8))
    seed_record(project, 8, RecordStatus.IN_PROGRESS, upgrade_id=slow)  # 8: wait
    project.sim.config  # noqa: B018 - the world completes upgrades after 0.5 s: 8 is re-read
    seed_record(project, 9, RecordStatus.COMPLETED, upgrade_id=done)    # 9: noop
    project.manifest([1, 2, 3, 4, 5, 7, 8, 9])                          # 1: create, 7: blocked

    actions = project.actions()
    expected = {1: "create", 2: "adopt", 3: "resume", 4: "retry", 5: "update", 6: "forget",
                7: "blocked", 9: "noop"}
    for n, action in expected.items():
        assert actions[customer(n)] == action, (n, actions)
    assert actions[customer(8)] in ("wait", "update")

    result = project.run("apply", "--auto-approve")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Apply complete" in result.stdout
    assert adopted == project.sim.world.upgrades_for(customer(2))[0].id
    for n in (1, 3):
        assert project.upgrades(n) == 1
    assert project.upgrades(4) == 2  # the failed one and its retry
    time.sleep(0.7)  # let the simulator complete the upgrades started
    project.run("apply", "--auto-approve")
    final = project.plan_json("--detailed-exitcode")
    assert {c["action"] for c in final["changes"]} <= {"noop", "blocked", "wait"}  # type: ignore[union-attr]
    assert project.run("plan", "--detailed-exitcode").returncode == 0


def test_detailed_exit_codes_and_usage_errors(project: Project) -> None:
    project.sim.world.add_customer(customer(1))
    project.manifest([1])
    assert project.run("plan").returncode == 0
    assert project.run("plan", "--detailed-exitcode").returncode == 2
    assert project.run("plan", "--bogus").returncode == 1
    assert project.run("plan", "--format", "yaml").returncode == 1
    (project.root / "manifests" / "broken.yaml").write_text("apiVersion: [\n")
    broken = project.run("plan", "--detailed-exitcode")
    assert broken.returncode == 1
    assert "manifests/broken.yaml:2:1: invalid YAML" in broken.stderr


def test_plan_never_writes_state(project: Project) -> None:
    project.sim.world.add_customer(customer(1))
    project.manifest([1])
    plan = project.plan_json()
    assert (plan["lineage"], plan["serial"]) == (None, None)
    assert not (project.root / ".reconciler").exists()
    assert project.sim.world.upgrades_for(customer(1)) == []


def test_target_limits_plan_and_apply(project: Project) -> None:
    for n in (1, 2, 3):
        project.sim.world.add_customer(customer(n))
    project.manifest([1, 2, 3])
    assert set(project.actions("--target", customer(2))) == {customer(2)}
    result = project.run("apply", "--auto-approve", "--target", customer(2))
    assert result.returncode == 0, result.stderr
    assert [project.upgrades(n) for n in (1, 2, 3)] == [0, 1, 0]


def test_saved_plan_applies_and_stale_plans_are_refused(project: Project) -> None:
    for n in (1, 2):
        project.sim.world.add_customer(customer(n))
    project.manifest([1])
    assert project.run("plan", "--out", "p1.json").returncode == 0
    assert project.run("plan", "--out", "p2.json").returncode == 0
    assert project.run("show", "p1.json").stdout.startswith("reconciler will perform")
    applied = project.run("apply", "p1.json")
    assert applied.returncode == 0, applied.stderr
    stale = project.run("apply", "p2.json")
    assert stale.returncode == 1
    assert "Saved plan is stale" in stale.stderr
    assert project.upgrades(1) == 1

    project.run("plan", "--out", "p3.json")
    project.manifest([1, 2])
    changed = project.run("apply", "p3.json")
    assert changed.returncode == 1
    assert "the manifests changed" in changed.stderr

    project.run("plan", "--out", "p4.json")
    document = json.loads((project.root / "p4.json").read_text())
    document["created_at"] = "2026-01-01T00:00:00Z"
    (project.root / "p4.json").write_text(json.dumps(document))
    old = project.run("apply", "p4.json", "--max-plan-age", "24h")
    assert old.returncode == 1
    assert "older than --max-plan-age 1d" in old.stderr
    assert project.upgrades(2) == 0
    assert project.run("apply", "p4.json", "--target", customer(2)).returncode == 1


def test_a_saved_plan_survives_renaming_a_customer_but_not_adding_one(project: Project) -> None:
    for n in (1, 2):
        project.sim.world.add_customer(customer(n))
    path = project.manifest([1])
    assert project.run("plan", "--out", "p1.json").returncode == 0
    path.write_text(path.read_text().replace("name: Customer 1", "name: Customer One Ltd"))
    renamed = project.run("apply", "p1.json")
    assert renamed.returncode == 0, renamed.stderr
    assert project.upgrades(1) == 1

    assert project.run("plan", "--out", "p2.json").returncode == 0
    project.manifest([1, 2])
    added = project.run("apply", "p2.json")
    assert added.returncode == 1
    assert "the manifests changed" in added.stderr
    assert project.upgrades(2) == 0


def test_apply_without_tty_needs_auto_approve(project: Project) -> None:
    project.sim.world.add_customer(customer(1))
    project.manifest([1])
    result = project.run("apply")
    assert result.returncode == 1
    assert "--auto-approve" in result.stderr
    assert project.upgrades(1) == 0
    assert not (project.root / STATE).exists()


def test_max_upgrades_caps_blast_radius(project: Project) -> None:
    for n in (1, 2, 3):
        project.sim.world.add_customer(customer(n))
    project.manifest([1, 2, 3])
    result = project.run("apply", "--auto-approve", "--max-upgrades", "2")
    assert result.returncode == 1
    assert "would start 3 upgrades, more than --max-upgrades 2" in result.stderr
    assert sum(project.upgrades(n) for n in (1, 2, 3)) == 0


def test_wait_polls_until_completed(project: Project) -> None:
    project.sim.world.add_customer(customer(1))
    project.manifest([1])
    result = project.run("apply", "--auto-approve", "--wait", "--wait-timeout", "60s")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "completed" in result.stdout
    listed = json.loads(project.run("state", "list", "--format", "json").stdout)
    statuses = [r["status"] for r in listed["records"]]
    assert statuses == ["completed"]


def test_ineligible_create_is_refused_and_recorded(project: Project) -> None:
    project.sim.world.add_customer(customer(1))
    project.manifest([1])
    project.run("plan", "--out", "p.json")
    project.sim.world.add_customer(customer(1), eligible=False, error=(403, 900108, "No subs"))
    result = project.run("apply", "p.json")
    assert result.returncode == 1
    assert "refused" in result.stdout
    assert project.upgrades(1) == 0
    assert project.actions()[customer(1)] == "blocked"


def test_history_and_import(project: Project) -> None:
    world = project.sim.world
    world.add_customer(customer(1))
    world.add_customer(customer(2))
    project.manifest([1])
    project.run("apply", "--auto-approve")
    history = project.run("state", "history", customer(1)).stdout
    assert "intent: - → pending" in history
    assert "call create POST /v1/productUpgrades → 202" in history
    assert project.sim.token not in history
    upgrade = world.upgrade_out_of_band(customer(2))
    imported = project.run("import", customer(2))
    assert imported.returncode == 0, imported.stderr
    assert upgrade in imported.stdout
    shown = project.run("state", "show", customer(2))
    assert upgrade in shown.stdout
    missing = project.run("import", customer(9))
    assert missing.returncode == 1


def test_two_applies_exactly_one_proceeds(slow_project: Project) -> None:
    project = slow_project
    for n in range(1, 41):
        project.sim.world.add_customer(customer(n))
    project.manifest(list(range(1, 41)))
    first = project.popen("apply", "--auto-approve", "--parallelism", "1")
    time.sleep(1.0)
    second = project.run("apply", "--auto-approve")
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    assert second.returncode == 1
    assert "lock" in second.stderr.lower()
    assert "apply" in second.stderr
    assert sum(project.upgrades(n) for n in range(1, 41)) == 40


def test_sigint_finishes_in_flight_and_releases_the_lock(slow_project: Project) -> None:
    project = slow_project
    for n in range(1, 61):
        project.sim.world.add_customer(customer(n))
    project.manifest(list(range(1, 61)))
    proc = project.popen("apply", "--auto-approve", "--parallelism", "2")
    assert proc.stdout is not None
    seen = ""
    while ": started:" not in seen:  # interrupt once creates are under way
        line = proc.stdout.readline()
        assert line, "apply ended before starting any upgrade"
        seen += line
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=60)
    out = seen + rest
    assert proc.returncode == 130, out + err
    assert "Apply interrupted" in out
    started = sum(project.upgrades(n) for n in range(1, 61))
    assert 0 < started < 60
    listed = json.loads(project.run("state", "list", "--format", "json").stdout)
    assert len([r for r in listed["records"] if r["upgrade_id"]]) == started
    again = project.run("apply", "--auto-approve")
    assert again.returncode == 0, again.stderr
    assert all(project.upgrades(n) == 1 for n in range(1, 61))


def test_sigint_during_refresh_exits_130_and_writes_nothing(slow_project: Project) -> None:
    project = slow_project
    for n in range(1, 201):
        project.sim.world.add_customer(customer(n))
    project.manifest(list(range(1, 201)))
    proc = project.popen("plan", "--parallelism", "1")
    deadline = time.monotonic() + 30
    while not project.sim.requests and time.monotonic() < deadline:
        time.sleep(0.05)  # interrupt once the refresh is calling Partner Center
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert not (project.root / ".reconciler").exists()


def test_a_change_added_to_a_saved_plan_by_hand_is_refused(project: Project) -> None:
    for n in (1, 2):
        project.sim.world.add_customer(customer(n))
    project.manifest([1])
    assert project.run("plan", "--out", "reviewed.json").returncode == 0
    document = json.loads((project.root / "reviewed.json").read_text())
    added = dict(document["changes"][0], customer_id=customer(2), reason="added by hand")
    document["changes"].append(added)
    (project.root / "reviewed.json").write_text(json.dumps(document))
    refused = project.run("apply", "reviewed.json")
    assert refused.returncode == 1
    assert f"create Azure for customer {customer(2)}, but no manifest" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert [project.upgrades(n) for n in (1, 2)] == [0, 0]
