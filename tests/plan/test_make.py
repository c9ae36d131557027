"""plan.make: one test per decision, then properties over random inputs (hypothesis)."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.model import UpgradeKey
from reconciler.observed import Observed, SeenEligibility, SeenStatus
from reconciler.plan import Action, Plan, make
from reconciler.state import Record, RecordStatus
from tests.plan.helpers import NOW, desired, key, record, state

UP = "aaaaaaaa-0000-4000-8000-000000000001"
UP2 = "aaaaaaaa-0000-4000-8000-000000000002"


def observed(eligibility: dict[int, SeenEligibility] | None = None,
             status: dict[int, SeenStatus] | None = None) -> Observed:
    return Observed(MappingProxyType({key(n): e for n, e in (eligibility or {}).items()}),
                    MappingProxyType({key(n): s for n, s in (status or {}).items()}),
                    refreshed=True)


def only(plan: Plan) -> tuple[Action, str]:
    (change,) = plan.changes
    return change.action, change.reason


ELIGIBLE = SeenEligibility(True)
INELIGIBLE = SeenEligibility(False, reason="Customer has no Azure subscriptions",
                             error_code="900108")


@pytest.mark.parametrize(("rec", "elig", "stat", "action", "reason"), [
    (None, ELIGIBLE, None, Action.CREATE, "eligible"),
    (None, SeenEligibility(True, upgrade_id=UP), None, Action.ADOPT, f"upgrade {UP}"),
    (None, SeenEligibility(False, upgrade_id=UP), None, Action.ADOPT, "outside this tool"),
    (None, INELIGIBLE, None, Action.BLOCKED, "no Azure subscriptions (code 900108)"),
    (None, SeenEligibility(False), None, Action.BLOCKED, "Partner Center gave no reason"),
    (record(1, RecordStatus.COMPLETED, upgrade_id=UP, remote="Completed"), None, None,
     Action.NOOP, "upgraded (Completed)"),
    (record(1, RecordStatus.IN_PROGRESS, upgrade_id=UP, remote="InProgress"), None,
     SeenStatus(UP, "Completed"), Action.UPDATE, "InProgress → Completed"),
    (record(1, RecordStatus.IN_PROGRESS, upgrade_id=UP), None,  # as a create records it
     SeenStatus(UP, "Completed"), Action.UPDATE, "in progress → Completed"),
    (record(1, RecordStatus.IN_PROGRESS, upgrade_id=UP, remote="InProgress"), None,
     SeenStatus(UP, "InProgress"), Action.WAIT, "InProgress since 2026-11-24T09:05:00Z"),
    (record(1, RecordStatus.IN_PROGRESS, upgrade_id=UP), None,
     SeenStatus(UP, "Failed", error_message="quota"), Action.RETRY, "failed: quota"),
    (record(1, RecordStatus.IN_PROGRESS, upgrade_id=UP), None,
     SeenStatus(UP, found=False), Action.BLOCKED, "does not know upgrade"),
    (record(1, RecordStatus.IN_PROGRESS, upgrade_id=UP), None,
     SeenStatus(UP, foreign=True), Action.BLOCKED, "belongs to another customer"),
    (record(1, RecordStatus.PENDING, upgrade_id=UP), None,
     SeenStatus(UP, "InProgress"), Action.UPDATE, "pending → InProgress"),
    (record(1, RecordStatus.PENDING), ELIGIBLE, None, Action.RESUME, "never learned"),
    (record(1, RecordStatus.PENDING), SeenEligibility(False, upgrade_id=UP), None,
     Action.UPDATE, f"the earlier create went through: upgrade {UP}"),
    (record(1, RecordStatus.PENDING), INELIGIBLE, None, Action.BLOCKED, "not eligible"),
    (record(1, RecordStatus.FAILED, upgrade_id=UP, error="boom"), ELIGIBLE, None,
     Action.RETRY, "previous upgrade failed: boom"),
    (record(1, RecordStatus.FAILED, upgrade_id=UP), SeenEligibility(False, upgrade_id=UP2),
     None, Action.ADOPT, f"a new upgrade exists (upgrade {UP2})"),
    (record(1, RecordStatus.FAILED, upgrade_id=UP), INELIGIBLE, None, Action.BLOCKED,
     "previous upgrade failed"),
])
def test_each_decision(rec: Record | None, elig: SeenEligibility | None,
                       stat: SeenStatus | None, action: Action, reason: str) -> None:
    plan = make(desired(1), state(rec) if rec else None,
                observed({1: elig} if elig else None, {1: stat} if stat else None),
                created_at=NOW)
    got_action, got_reason = only(plan)
    assert got_action is action
    assert reason in got_reason


def test_forget_keys_in_no_manifest() -> None:
    plan = make(desired(), state(record(3, RecordStatus.COMPLETED, upgrade_id=UP)), observed(),
                created_at=NOW)
    assert only(plan)[0] is Action.FORGET
    assert "the completed upgrade is not undone" in only(plan)[1]
    assert plan.changes[0].upgrade_id == UP


def test_without_refresh() -> None:
    plan = make(desired(1, 2), state(record(2, RecordStatus.PENDING)), Observed.none(),
                created_at=NOW)
    assert [c.action for c in plan.changes] == [Action.CREATE, Action.RESUME]
    assert "refresh is off" in plan.changes[0].reason
    assert plan.refreshed is False


def test_in_progress_without_refresh_waits() -> None:
    plan = make(desired(1), state(record(1, RecordStatus.IN_PROGRESS, upgrade_id=UP)),
                Observed.none(), created_at=NOW)
    assert only(plan)[0] is Action.WAIT


def test_plan_metadata_and_summary() -> None:
    plan = make(desired(1, 2), state(record(5, RecordStatus.FAILED), serial=9),
                observed({1: ELIGIBLE, 2: INELIGIBLE}), created_at=NOW)
    assert (plan.lineage, plan.serial, plan.created_at) == (
        "6f1c3c9e-1111-4c1c-9c1c-000000000001", 9, NOW)
    assert plan.summary()["create"] == 1
    assert plan.summary()["blocked"] == 1
    assert plan.summary()["forget"] == 1
    assert plan.has_changes
    assert plan.upgrades_started() == 1


def test_no_state_gives_null_lineage_and_serial() -> None:
    plan = make(desired(1), None, observed({1: ELIGIBLE}), created_at=NOW)
    assert (plan.lineage, plan.serial) == (None, None)


def test_targets_restrict_to_named_customers() -> None:
    plan = make(desired(1, 2, 3), state(record(4, RecordStatus.COMPLETED)),
                observed({1: ELIGIBLE, 2: ELIGIBLE, 3: ELIGIBLE}), created_at=NOW,
                targets=[key(2).customer_id.upper(), key(4).customer_id])
    assert [c.key for c in plan.changes] == [key(2), key(4)]
    assert plan.targets == (key(2).customer_id, key(4).customer_id)


def test_names_come_from_manifest_then_state() -> None:
    plan = make(desired(1, names=False), state(record(1, RecordStatus.COMPLETED)), observed(),
                created_at=NOW)
    assert plan.changes[0].customer_name == "Customer 1"


# --- properties -------------------------------------------------------------------------------

STATUSES = st.sampled_from(list(RecordStatus))
N = st.integers(min_value=0, max_value=12)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[set[int], list[Record], Observed]:
    wanted = draw(st.sets(N, max_size=10))
    recorded = draw(st.dictionaries(N, st.tuples(STATUSES, st.booleans()), max_size=10))
    records = [record(n, status, upgrade_id=UP if has_id else None)
               for n, (status, has_id) in recorded.items()]
    elig = draw(st.dictionaries(N, st.builds(
        SeenEligibility, st.booleans(), st.sampled_from([None, UP, UP2]),
        st.sampled_from([None, "reason"]), st.sampled_from([None, "900108"]))))
    stat = draw(st.dictionaries(N, st.builds(
        SeenStatus, st.just(UP), st.sampled_from([None, "InProgress", "Completed", "failed"]),
        st.just(()), st.none(), st.none(), st.booleans(), st.booleans())))
    observation = Observed(MappingProxyType({key(n): e for n, e in elig.items()}),
                           MappingProxyType({key(n): s for n, s in stat.items()}),
                           refreshed=draw(st.booleans()))
    return wanted, records, observation


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_invariants(scenario: tuple[set[int], list[Record], Observed]) -> None:
    wanted, records, observation = scenario
    want = desired(*wanted)
    recorded = state(*records)
    plan = make(want, recorded, observation, created_at=NOW)
    managed = {key(n) for n in wanted} | {r.key for r in records}
    keys = [c.key for c in plan.changes]
    # every managed key appears exactly once
    assert sorted(keys) == sorted(managed)
    assert len(keys) == len(set(keys))
    # forget exactly for keys in no manifest
    desired_keys = {key(n) for n in wanted}
    assert {c.key for c in plan.changes if c.action is Action.FORGET} == managed - desired_keys
    # no create when an upgrade id is known
    known: set[UpgradeKey] = {r.key for r in records if r.upgrade_id}
    known |= {k for k, e in observation.eligibility.items() if e.upgrade_id}
    assert not [c for c in plan.changes if c.action is Action.CREATE and c.key in known]
    # a pending intent is never planned as a fresh create (it would lose its MS-RequestId)
    pending = {r.key for r in records if r.status is RecordStatus.PENDING}
    assert not [c for c in plan.changes if c.action is Action.CREATE and c.key in pending]
    # deterministic, sorted, and independent of input order
    again = make(want, state(*reversed(records)), observation, created_at=NOW)
    assert again == plan
    assert list(plan.changes) == sorted(plan.changes, key=lambda c: c.sort_key())
    assert sum(plan.summary().values()) == len(plan.changes)
