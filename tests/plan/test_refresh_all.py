"""plan --refresh-all in the pure core: which reads it asks for, and how the planner answers
what those reads show about completed records."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from reconciler import refresh
from reconciler.observed import Observed, SeenEligibility, SeenStatus
from reconciler.plan import Action, make
from reconciler.state import Record, RecordStatus, Verification
from tests.plan.helpers import NOW, desired, key, record, state

UP = "aaaaaaaa-0000-4000-8000-000000000001"
GOOD = Verification(True, NOW, "Azure plan s-1 active, 1 legacy subscription suspended")
BAD = Verification(False, NOW, "legacy subscription s-0 still active", legacy_active=("s-0",))


def verified(n: int) -> Record:
    return replace(record(n, RecordStatus.COMPLETED, upgrade_id=UP, remote="Completed"),
                   verification=GOOD)


def test_refresh_all_also_reads_completed_records_once_each() -> None:
    done = verified(1)
    recorded = state(done, record(2, RecordStatus.IN_PROGRESS, upgrade_id=UP))
    plain = refresh.needed(desired(1, 2, 3), recorded)
    full = refresh.needed_all(desired(1, 2, 3), recorded)
    assert key(1) not in plain.eligibility
    assert set(full.eligibility) == {key(1), key(3)}
    assert (key(1), UP) in full.status
    assert full.follow  # a new customer's out-of-band upgrade is still followed
    assert refresh.needed_all(desired(1, 2, 3), recorded, targets=[key(3).customer_id]) \
        .eligibility == (key(3),)


def plan_for(eligibility: SeenEligibility, status: SeenStatus | None,
             seen: Verification | None = None) -> tuple[Action, str]:
    observed = Observed(MappingProxyType({key(1): eligibility}),
                        MappingProxyType({key(1): status} if status else {}), refreshed=True,
                        verification=MappingProxyType({key(1): seen} if seen else {}))
    (change,) = make(desired(1), state(verified(1)), observed, created_at=NOW).changes
    return change.action, change.reason


def test_a_converged_completed_record_stays_unchanged() -> None:
    completed = SeenStatus(UP, "Completed")
    assert plan_for(SeenEligibility(False, upgrade_id=UP), completed, GOOD)[0] is Action.NOOP


def test_what_drift_reports_is_planned_back() -> None:
    eligible = SeenEligibility(True)
    action, reason = plan_for(eligible, SeenStatus(UP, found=False))
    assert (action, reason) == (Action.RETRY, f"reverted: upgrade {UP} no longer exists "
                                              "(900106), and the customer is eligible again; "
                                              "start a new one")
    assert plan_for(eligible, SeenStatus(UP, "Completed"), GOOD)[0] is Action.RETRY
    assert plan_for(SeenEligibility(False), SeenStatus(UP, "Failed", error_message="no"))[0] \
        is Action.RETRY
    action, reason = plan_for(SeenEligibility(False), SeenStatus(UP, found=False))
    assert action is Action.BLOCKED
    assert "(900106); state rm or import the customer" in reason
    assert plan_for(SeenEligibility(False), SeenStatus(UP, foreign=True))[0] is Action.BLOCKED
    action, reason = plan_for(SeenEligibility(False, upgrade_id=UP), SeenStatus(UP, "Completed"),
                              BAD)
    assert action is Action.UPDATE
    assert "unverified: legacy subscription s-0 still active" in reason
