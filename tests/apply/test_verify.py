"""The end state in the subscriptions (issue 14): verified, unverified until it is, adoption
that records what it saw, line items in state show, and no call once verified."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler import workflow
from reconciler.plan import Action, Change
from reconciler.render import state as render_state
from reconciler.simulator import SimulatorConfig
from reconciler.state import RecordStatus
from tests.apply.test_apply_inprocess import Fleet, open_fleet
from tests.e2e.conftest import customer


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    # Upgrades complete only when a test says so: nothing here waits.
    config = SimulatorConfig(completion_delay_seconds=3600, seed=2)
    with open_fleet(tmp_path, monkeypatch, config) as opened:
        yield opened


def change_of(fleet: Fleet, n: int) -> Change:
    return next(c for c in fleet.prepare().plan.changes if c.customer_id == customer(n))


def complete_all(fleet: Fleet, numbers: list[int]) -> None:
    for n in numbers:
        for upgrade in fleet.sim.world.upgrades_for(customer(n)):
            fleet.sim.world.complete_upgrade(upgrade.id)


def subscription_reads(fleet: Fleet) -> int:
    return sum(1 for r in fleet.sim.requests if r.path.endswith("/subscriptions"))


def test_completed_is_verified_once_and_then_costs_nothing(fleet: Fleet) -> None:
    fleet.manifest([1, 2])
    assert fleet.apply().ok
    complete_all(fleet, [1, 2])
    fleet.sim.clear_requests()
    update = change_of(fleet, 1)
    assert update.action is Action.UPDATE
    assert update.reason.startswith("in progress → Completed; verified: Azure plan ")
    assert update.reason.endswith(" active, 1 legacy subscription suspended")
    assert subscription_reads(fleet) == 2
    assert fleet.apply().ok
    record = fleet.state().get(update.key)
    assert record is not None
    assert record.status is RecordStatus.COMPLETED
    assert record.verification is not None
    assert record.verified
    assert record.verification.azure_plan_subscription_id
    assert record.line_items
    assert record.line_items[0].status == "Completed"
    shown = render_state.details(record)
    assert "end state:" in shown
    assert "verified: Azure plan" in shown
    assert "line items:" in shown
    # Converged and verified: a plan makes no call at all.
    fleet.sim.clear_requests()
    again = fleet.prepare().plan
    assert not again.has_changes
    assert {c.action for c in again.changes} == {Action.NOOP}
    assert list(fleet.sim.requests) == []


def test_unverified_is_looked_at_again_until_verified(fleet: Fleet) -> None:
    fleet.manifest([3])
    assert fleet.apply().ok
    complete_all(fleet, [3])
    fleet.sim.world.set_end_state(customer(3), legacy_active=True)
    first = change_of(fleet, 3)
    assert first.action is Action.UPDATE
    assert "Completed; unverified: legacy subscription " in first.reason
    assert first.reason.endswith(" still active")
    assert fleet.apply().ok
    record = fleet.state().get(first.key)
    assert record is not None
    assert record.status is RecordStatus.COMPLETED
    assert not record.verified
    # Still so: not a change (wait), yet it is read again.
    fleet.sim.clear_requests()
    waiting = change_of(fleet, 3)
    assert waiting.action is Action.WAIT
    assert not waiting.action.is_change
    assert subscription_reads(fleet) == 1
    # Without a refresh it says what was last seen.
    offline = workflow.make_plan(workflow.load_inputs(
        fleet.settings, fleet.settings.manifests, workflow.brief_read(fleet.settings, "plan")))
    assert "not refreshed" in offline.changes[0].reason
    # The listing catches up: recorded as verified, and then no more reads.
    fleet.sim.world.set_end_state(customer(3))
    verified = change_of(fleet, 3)
    assert verified.action is Action.UPDATE
    assert "verified: Azure plan" in verified.reason
    assert fleet.apply().ok
    assert fleet.state().get(first.key).verified  # type: ignore[union-attr]
    fleet.sim.clear_requests()
    assert not fleet.prepare().plan.has_changes
    assert list(fleet.sim.requests) == []


def test_a_hidden_legacy_subscription_counts_as_not_active(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    config = SimulatorConfig(completion_delay_seconds=3600, seed=2,
                             legacy_after_upgrade="hidden")
    with open_fleet(tmp_path, monkeypatch, config) as fleet:
        fleet.manifest([4])
        assert fleet.apply().ok
        complete_all(fleet, [4])
        change = change_of(fleet, 4)
        assert "; verified: Azure plan " in change.reason
        assert change.reason.endswith("active, 0 legacy subscriptions suspended")


def test_adopting_a_completed_upgrade_records_it_completed_and_verified(fleet: Fleet) -> None:
    fleet.manifest([5])
    fleet.sim.world.upgrade_out_of_band(customer(5), status="Completed")
    adopt = change_of(fleet, 5)
    assert adopt.action is Action.ADOPT
    assert adopt.remote_status == "Completed"
    assert "Completed; verified: Azure plan" in adopt.reason
    assert fleet.apply().ok
    record = fleet.state().get(adopt.key)
    assert record is not None
    assert record.status is RecordStatus.COMPLETED  # converged in one apply
    assert record.verified
    fleet.sim.clear_requests()
    assert not fleet.prepare().plan.has_changes
    assert list(fleet.sim.requests) == []


def test_a_saved_plan_carries_what_it_saw_into_state(fleet: Fleet, tmp_path: Path) -> None:
    from reconciler import planfile

    fleet.manifest([6])
    assert fleet.apply().ok
    complete_all(fleet, [6])
    prepared = fleet.prepare()
    planfile.write(prepared.plan, tmp_path / "plan.json")
    reread = planfile.read(tmp_path / "plan.json")
    assert reread.changes == prepared.plan.changes
    assert reread.changes[0].verification is not None
    assert reread.changes[0].line_items
