"""Drift: where Partner Center no longer agrees with recorded state. Pure: no I/O, no clock.

``classify(desired, state, observed, now=...)`` looks at every managed key (recorded, or desired
with no record) and reports the ones whose reality differs from what was recorded. The kinds:

=================  ==============================================================================
kind               meaning
=================  ==============================================================================
reverted           the recorded upgrade vanished and the customer is eligible again
failed             Partner Center reports the recorded upgrade as Failed
unknown_upgrade    Partner Center does not know the recorded upgrade id (404/900106)
foreign_upgrade    the recorded upgrade id belongs to another customer (400/900111)
out_of_band        a customer in a manifest but not in state was upgraded outside this tool
stuck              the recorded upgrade has been in progress for longer than the threshold
legacy_active      the upgrade reads Completed but an MS-AZR-0145P subscription is active (again
                   or still)
azure_plan_missing the upgrade reads Completed but no Azure plan subscription is active
=================  ==============================================================================

Ordinary progress (in progress → completed, a pending intent that went through) is not drift:
``plan`` records it. Drift never changes anything; it only reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from reconciler.model import Desired, UpgradeKey
from reconciler.observed import Observed, SeenEligibility, SeenStatus
from reconciler.state import Record, RecordStatus, State, Verification

FORMAT_VERSION = "1"
#: Default of ``drift --in-progress-threshold``: Partner Center upgrades usually finish in hours.
DEFAULT_IN_PROGRESS_THRESHOLD = 24 * 3600.0


class DriftKind(StrEnum):
    """Why a key is reported as drifted (see the module docstring)."""

    REVERTED = "reverted"
    FAILED = "failed"
    UNKNOWN_UPGRADE = "unknown_upgrade"
    FOREIGN_UPGRADE = "foreign_upgrade"
    OUT_OF_BAND = "out_of_band"
    STUCK = "stuck"
    LEGACY_ACTIVE = "legacy_active"
    AZURE_PLAN_MISSING = "azure_plan_missing"

    @property
    def heading(self) -> str:
        """A short title for tables and test reports."""
        return _TITLES[self]

    def remedy(self, customer_id: str) -> str:
        """What to do about it, naming the commands for ``customer_id``."""
        return REMEDIES[self].format(customer=customer_id)


_TITLES = {
    DriftKind.REVERTED: "Reverted", DriftKind.FAILED: "Failed remotely",
    DriftKind.UNKNOWN_UPGRADE: "Unknown upgrade id (900106)",
    DriftKind.FOREIGN_UPGRADE: "Upgrade of another customer (900111)",
    DriftKind.OUT_OF_BAND: "Upgraded outside this tool", DriftKind.STUCK: "Stuck in progress",
    DriftKind.LEGACY_ACTIVE: "Legacy subscription active",
    DriftKind.AZURE_PLAN_MISSING: "No Azure plan subscription",
}

#: The one table of what to do per kind (``{customer}``: the drifted customer's id), printed
#: with every drifted key in text, markdown and JUnit.
REMEDIES = {
    DriftKind.REVERTED: "run `reconciler plan --refresh-all`, then "
                        "`reconciler apply --refresh-all`, to upgrade it again",
    DriftKind.FAILED: "look at the detail, then `reconciler plan --refresh-all` and "
                      "`reconciler apply --refresh-all` to retry it",
    DriftKind.UNKNOWN_UPGRADE: "`reconciler import {customer}` if Partner Center has another "
                               "upgrade for it, else `reconciler state rm {customer}` so the "
                               "next apply upgrades it again",
    DriftKind.FOREIGN_UPGRADE: "state is wrong: `reconciler state rm {customer}`, then "
                               "`reconciler import {customer}`",
    DriftKind.OUT_OF_BAND: "nothing urgent: the next `reconciler apply` adopts it",
    DriftKind.STUCK: "open a Microsoft support case with the upgrade id",
    DriftKind.LEGACY_ACTIVE: "wait about 15 minutes (listings lag); if the MS-AZR-0145P "
                             "subscription stays active, open a Microsoft support case with "
                             "the upgrade id (plan shows it unverified until it is suspended)",
    DriftKind.AZURE_PLAN_MISSING: "wait about 15 minutes (listings lag); if no Azure plan "
                                  "subscription appears, open a Microsoft support case with the "
                                  "upgrade id (plan shows it unverified until one is active)",
}


@dataclass(frozen=True, slots=True)
class DriftItem:
    """One drifted key: what state recorded, what Partner Center showed, and why it matters."""

    kind: DriftKind
    key: UpgradeKey
    recorded: str | None
    observed: str
    upgrade_id: str | None
    detail: str
    customer_name: str | None = None
    source: str | None = None

    @property
    def customer_id(self) -> str:
        return self.key.customer_id

    @property
    def product_family(self) -> str:
        return self.key.product_family

    def sort_key(self) -> tuple[str, str]:
        return (self.key.customer_id, self.key.product_family)

    @property
    def remedy(self) -> str:
        """What to do about it (see :data:`REMEDIES`)."""
        return self.kind.remedy(self.key.customer_id)


@dataclass(frozen=True, slots=True)
class DriftReport:
    """Every drifted key (sorted by customer), and how many keys were checked."""

    items: tuple[DriftItem, ...]
    checked: int
    created_at: str
    lineage: str | None = None
    serial: int | None = None
    format_version: str = FORMAT_VERSION

    @property
    def has_drift(self) -> bool:
        return bool(self.items)

    def counts(self) -> dict[str, int]:
        """Drifted keys per kind, every kind present, in declaration order."""
        return {kind.value: sum(1 for i in self.items if i.kind is kind) for kind in DriftKind}


def managed_keys(desired: Desired, state: State | None) -> list[UpgradeKey]:
    """Every key drift looks at: recorded ones, and desired ones not recorded yet (sorted)."""
    recorded = set(state.records) if state is not None else set()
    return sorted(recorded | set(desired.by_key()))


def classify(desired: Desired, state: State | None, observed: Observed, *, now: datetime,
             created_at: str,
             in_progress_threshold: float = DEFAULT_IN_PROGRESS_THRESHOLD) -> DriftReport:
    """Compare what was recorded with what Partner Center showed, for every managed key."""
    records = state.records if state is not None else {}
    by_key = desired.by_key()
    items: list[DriftItem] = []
    keys = managed_keys(desired, state)
    for key in keys:
        eligibility = observed.eligibility.get(key)
        record = records.get(key)
        if record is None:
            found = _unmanaged(key, eligibility)
        else:
            found = _recorded(record, eligibility, observed.status.get(key), now,
                              in_progress_threshold) \
                or _end_state(record, observed.status.get(key), observed.verification.get(key))
        if found is not None:
            upgrade = by_key.get(key)
            name = (upgrade.customer_name if upgrade else None) or \
                (record.customer_name if record else None)
            source = str(upgrade.source) if upgrade else (record.source if record else None)
            items.append(DriftItem(found.kind, key, found.recorded, found.observed,
                                   found.upgrade_id, found.detail, name, source))
    items.sort(key=DriftItem.sort_key)
    return DriftReport(tuple(items), len(keys), created_at,
                       state.lineage if state is not None else None,
                       state.serial if state is not None else None)


def _item(kind: DriftKind, key: UpgradeKey, recorded: str | None, observed: str,
          upgrade_id: str | None, detail: str) -> DriftItem:
    return DriftItem(kind, key, recorded, observed, upgrade_id, detail)


def _unmanaged(key: UpgradeKey, eligibility: SeenEligibility | None) -> DriftItem | None:
    if eligibility is None or eligibility.upgrade_id is None:
        return None
    return _item(DriftKind.OUT_OF_BAND, key, None, "upgraded", eligibility.upgrade_id,
                 f"upgrade {eligibility.upgrade_id} was made outside this tool")


def _recorded(record: Record, eligibility: SeenEligibility | None, status: SeenStatus | None,
              now: datetime, threshold: float) -> DriftItem | None:
    # A failed record is already something plan acts on (retry or adopt): not drift.
    if record.status is RecordStatus.FAILED:
        return None
    if record.upgrade_id is None or status is None:
        if record.status is RecordStatus.COMPLETED and _eligible_again(eligibility):
            return _reverted(record, "no upgrade is in place")
        return None
    return _with_status(record, record.upgrade_id, eligibility, status, now, threshold)


def _with_status(record: Record, upgrade_id: str, eligibility: SeenEligibility | None,
                 status: SeenStatus, now: datetime, threshold: float) -> DriftItem | None:
    key, recorded = record.key, record.status.value
    if status.foreign:
        return _item(DriftKind.FOREIGN_UPGRADE, key, recorded, "foreign_upgrade", upgrade_id,
                     f"Partner Center says upgrade {upgrade_id} belongs to another customer "
                     "(900111)")
    if not status.found:
        if _eligible_again(eligibility):
            return _reverted(record, f"Partner Center no longer knows upgrade {upgrade_id} "
                                     "(900106)")
        other = eligibility.upgrade_id if eligibility is not None else None
        hint = f"; Partner Center shows upgrade {other} instead" if other else ""
        return _item(DriftKind.UNKNOWN_UPGRADE, key, recorded, "unknown_upgrade", upgrade_id,
                     f"Partner Center does not know upgrade {upgrade_id} (900106){hint}")
    if status.failed:
        error = status.error_message or status.error_code or "no detail given"
        return _item(DriftKind.FAILED, key, recorded, "failed", upgrade_id,
                     f"upgrade {upgrade_id} failed in Partner Center: {error}")
    if status.completed:
        if record.status is RecordStatus.COMPLETED and _eligible_again(eligibility):
            return _reverted(record, f"upgrade {upgrade_id} still reads Completed")
        return None
    if record.status is RecordStatus.COMPLETED:
        return _item(DriftKind.STUCK, key, recorded, "in_progress", upgrade_id,
                     f"recorded as completed, but Partner Center reports {status.status}")
    return _stuck(record, upgrade_id, status, now, threshold)


def _end_state(record: Record, status: SeenStatus | None,
               seen: Verification | None) -> DriftItem | None:
    """A completed upgrade whose subscriptions do not show the customer on the Azure plan."""
    if seen is None or seen.verified or record.status is not RecordStatus.COMPLETED:
        return None  # an upgrade that just completed is progress for plan, not drift
    if status is not None and not status.completed:
        return None  # the status itself drifted; that is reported instead
    upgrade = f"upgrade {record.upgrade_id}" if record.upgrade_id else "the upgrade"
    if seen.legacy_active:
        again = "again" if record.verified else "still"
        subscriptions = ", ".join(seen.legacy_active)
        return _item(DriftKind.LEGACY_ACTIVE, record.key, record.status.value, "legacy_active",
                     record.upgrade_id,
                     f"{upgrade} reads Completed, but MS-AZR-0145P subscription "
                     f"{subscriptions} is active {again}")
    return _item(DriftKind.AZURE_PLAN_MISSING, record.key, record.status.value,
                 "azure_plan_missing", record.upgrade_id,
                 f"{upgrade} reads Completed, but the customer has no active Azure plan "
                 "subscription")


def _stuck(record: Record, upgrade_id: str, status: SeenStatus, now: datetime,
           threshold: float) -> DriftItem | None:
    since = record.in_progress_since or record.updated_at
    age = (now - _parse_stamp(since)).total_seconds()
    if age <= threshold:
        return None
    return _item(DriftKind.STUCK, record.key, record.status.value, "in_progress", upgrade_id,
                 f"{status.status or 'in progress'} since {since} ({_hours(age)}), longer than "
                 f"the {_hours(threshold)} threshold")


def _reverted(record: Record, why: str) -> DriftItem:
    return _item(DriftKind.REVERTED, record.key, record.status.value, "eligible",
                 record.upgrade_id,
                 f"the customer is eligible for an upgrade again: {why}")


def _eligible_again(eligibility: SeenEligibility | None) -> bool:
    return eligibility is not None and eligibility.is_eligible and eligibility.upgrade_id is None


def _parse_stamp(stamp: str) -> datetime:
    """Recorded stamps are ISO-8601 UTC with a ``Z`` suffix."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _hours(seconds: float) -> str:
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    return f"{seconds / 3600:.0f}h" if seconds < 172_800 else f"{seconds / 86400:.0f}d"
