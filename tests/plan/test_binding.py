"""A saved plan's changes are bound to what an offline plan allows (issue 19, item 5)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from types import MappingProxyType

import pytest

from reconciler.errors import PlanError
from reconciler.model import Desired
from reconciler.observed import Observed, SeenEligibility, SeenStatus
from reconciler.plan import Action, Change, Plan, make
from reconciler.planbinding import first_unbound
from reconciler.planfile import check_bound
from reconciler.state import Record, RecordStatus, State, Verification
from tests.plan.helpers import NOW, desired, key, record, state

UP = "aaaaaaaa-0000-4000-8000-000000000001"
NEW = "bbbbbbbb-0000-4000-8000-000000000002"


def _plans(numbers: tuple[int, ...], recorded: State,
           eligibility: dict[int, SeenEligibility],
           status: dict[int, SeenStatus]) -> tuple[Plan, Desired]:
    observed = Observed(MappingProxyType({key(n): e for n, e in eligibility.items()}),
                        MappingProxyType({key(n): s for n, s in status.items()}), refreshed=True)
    refreshed = make(desired(*numbers), recorded, observed, created_at=NOW)
    return refreshed, desired(*numbers)


# Every action a refresh can turn an offline action into, one customer each.
REFRESHED: list[tuple[str, Action, Record | None, SeenEligibility | None, SeenStatus | None]] = [
    ("create stays create", Action.CREATE, None, SeenEligibility(True), None),
    ("create becomes adopt", Action.ADOPT, None, SeenEligibility(True, upgrade_id=UP),
     SeenStatus(UP, "InProgress")),
    ("resume stays resume", Action.RESUME, record(1, RecordStatus.PENDING),
     SeenEligibility(True), None),
    ("resume becomes update", Action.UPDATE, record(1, RecordStatus.PENDING),
     SeenEligibility(True, upgrade_id=UP), SeenStatus(UP, "InProgress")),
    ("retry stays retry", Action.RETRY,
     record(1, RecordStatus.FAILED, upgrade_id=UP, error="suspended"), SeenEligibility(True),
     None),
    ("retry becomes adopt", Action.ADOPT,
     record(1, RecordStatus.FAILED, upgrade_id=UP, error="suspended"),
     SeenEligibility(True, upgrade_id=NEW), SeenStatus(NEW, "InProgress")),
    ("wait becomes update", Action.UPDATE,
     record(1, RecordStatus.IN_PROGRESS, upgrade_id=UP, remote="InProgress"), None,
     SeenStatus(UP, "Completed")),
    ("wait becomes retry", Action.RETRY,
     record(1, RecordStatus.IN_PROGRESS, upgrade_id=UP, remote="InProgress"), None,
     SeenStatus(UP, "Failed", error_message="it broke")),
    ("pending with id becomes update", Action.UPDATE,
     record(1, RecordStatus.PENDING, upgrade_id=UP), None, SeenStatus(UP, "InProgress")),
]


@pytest.mark.parametrize(("action", "rec", "eligibility", "status"),
                         [r[1:] for r in REFRESHED], ids=[r[0] for r in REFRESHED])
def test_every_refreshed_action_is_accepted(action: Action, rec: Record | None,
                                            eligibility: SeenEligibility | None,
                                            status: SeenStatus | None) -> None:
    recorded = state(*([rec] if rec else []))
    refreshed, offline = _plans((1,), recorded, {1: eligibility} if eligibility else {},
                                {1: status} if status else {})
    assert [c.action for c in refreshed.changes] == [action]
    assert first_unbound(refreshed, offline, recorded, NOW) is None


def test_a_refreshed_plan_of_every_kind_at_once_is_accepted() -> None:
    from tests.plan.test_render import every_action_plan
    saved = every_action_plan()
    recorded = state(*[record(n, s, upgrade_id=u, remote=r, error=e) for n, s, u, r, e in [
        (3, RecordStatus.PENDING, None, None, None),
        (4, RecordStatus.FAILED, UP, None, "subscription suspended"),
        (5, RecordStatus.IN_PROGRESS, UP, "InProgress", None),
        (6, RecordStatus.IN_PROGRESS, UP, "InProgress", None),
        (7, RecordStatus.COMPLETED, UP, "Completed", None),
        (9, RecordStatus.COMPLETED, UP, "Completed", None)]])
    offline = desired(1, 2, 3, 4, 5, 6, 7, 8)
    assert first_unbound(saved, offline, recorded, NOW) is None


def _hand_added(plan: Plan, change: Change) -> Plan:
    return replace(plan, changes=(*plan.changes, change))


def test_a_change_for_a_customer_in_no_manifest_is_refused() -> None:
    recorded = state()
    saved, offline = _plans((1,), recorded, {1: SeenEligibility(True)}, {})
    added = _hand_added(saved, Change(Action.CREATE, key(2), "added by hand"))
    with pytest.raises(PlanError, match=rf"create Azure for customer {key(2).customer_id}, "
                                        "but no manifest"):
        check_bound(added, offline, recorded, datetime.now(UTC))


def test_a_create_for_a_completed_customer_is_refused() -> None:
    recorded = state(record(1, RecordStatus.COMPLETED, upgrade_id=UP, remote="Completed"),
                     record(2, RecordStatus.COMPLETED, upgrade_id=UP, remote="Completed"))
    saved, offline = _plans((1, 2), recorded, {}, {})
    tampered = replace(saved, changes=tuple(
        replace(c, action=Action.CREATE) if c.key == key(2) else c for c in saved.changes))
    unbound = first_unbound(tampered, offline, recorded, NOW)
    assert unbound is not None
    assert unbound[0].key == key(2)
    assert unbound[1] == 'a plan of the same state and manifests lists it as "Unchanged"'


def test_a_forget_of_a_wanted_customer_and_an_update_to_another_upgrade_are_refused() -> None:
    recorded = state(record(1, RecordStatus.IN_PROGRESS, upgrade_id=UP, remote="InProgress"))
    saved, offline = _plans((1,), recorded, {}, {1: SeenStatus(UP, "Completed")})
    (update,) = [c for c in saved.changes if c.action is Action.UPDATE]
    moved = replace(saved, changes=(replace(update, upgrade_id=NEW),))
    assert "not the recorded upgrade" in first_unbound(moved, offline, recorded, NOW)[1]  # type: ignore[index]
    forgot = replace(saved, changes=(replace(update, action=Action.FORGET),))
    assert first_unbound(forgot, offline, recorded, NOW) is not None


@pytest.mark.parametrize("earlier", [None, Verification(False, NOW, "legacy subscription x "
                                                                    "still active")])
def test_a_completed_upgrade_the_refresh_verified_is_accepted(
        earlier: Verification | None) -> None:
    rec = replace(record(1, RecordStatus.COMPLETED, upgrade_id=UP, remote="Completed"),
                  verification=earlier)
    recorded = state(rec)
    seen = Verification(True, NOW, "Azure plan p active, 1 legacy subscription suspended")
    observed = Observed(verification=MappingProxyType({key(1): seen}), refreshed=True)
    saved = make(desired(1), recorded, observed, created_at=NOW)
    offline = desired(1)
    assert [c.action for c in saved.changes] == [Action.UPDATE]
    assert first_unbound(saved, offline, recorded, NOW) is None


def test_a_start_before_its_not_before_is_refused_and_after_it_accepted() -> None:
    recorded = state()
    saved, wanted = _plans((1,), recorded, {1: SeenEligibility(True)}, {})
    later = replace(wanted, upgrades=tuple(replace(u, not_before="2026-12-01T00:00:00Z")
                                           for u in wanted.upgrades))
    unbound = first_unbound(saved, later, recorded, "2026-11-30T23:59:59Z")
    assert unbound is not None
    assert unbound[1] == "it is scheduled not before 2026-12-01T00:00:00Z"
    assert first_unbound(saved, later, recorded, "2026-12-01T00:00:00Z") is None


def test_a_batched_saved_plan_is_accepted() -> None:
    recorded = state()
    observed = Observed(MappingProxyType({key(n): SeenEligibility(True) for n in (1, 2, 3)}),
                        refreshed=True)
    saved = make(desired(1, 2, 3), recorded, observed, created_at=NOW, batch=1)
    assert sorted(c.action for c in saved.changes) == [Action.CREATE, Action.DEFER,
                                                        Action.DEFER]
    assert first_unbound(saved, desired(1, 2, 3), recorded, NOW) is None
