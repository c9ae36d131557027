"""The planner: ``make(desired, state, observed) -> Plan``. Pure: no I/O, no clock, no logging.

The diff is set algebra on keys: every key that is desired or recorded gets exactly one
:class:`Change`, whose :class:`Action` says what apply will do. Changes are sorted by action
order, then customer id, so text, JSON and apply order are deterministic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from operator import attrgetter

from reconciler.errors import PlanError
from reconciler.model import Desired, DesiredUpgrade, UpgradeKey, canonical_id
from reconciler.observed import Observed, SeenEligibility, SeenStatus
from reconciler.state import LineItem, Record, RecordStatus, State, Verification
from reconciler.words import plural

FORMAT_VERSION = "1"


class Action(StrEnum):
    """What apply does for one key. ``before``/``after`` are the recorded status around apply.

    ========  ======  ===================  ===================  ===============================
    action    symbol  before               after                API calls on apply
    ========  ======  ===================  ===================  ===============================
    create    ``+``   (none)               pending/in_progress  create (persisted MS-RequestId)
    adopt     ``<``   (none) or failed     in_progress/done     none
    resume    ``~``   pending (no id)      in_progress          eligibility, then maybe create
    retry     ``+``   failed/in_progress   pending/in_progress  create (new MS-RequestId)
                      (or completed, once
                      --refresh-all sees it
                      reverted or failed)
    update    ``~``   pending/in_progress  the status seen      none
                      or completed         (and verification)
    forget    ``-``   any                  (none)               none
    blocked   ``!``   any or none          unchanged            none
    wait      ``…``   in_progress or       unchanged            none
                      completed-unverified
    defer     ``>``   any or none          unchanged            none (spec.notBefore, --batch)
    noop      `` ``   completed            unchanged            none
    ========  ======  ===================  ===================  ===============================

    Everything else known about an action (symbol, title, colour, whether it is a change or
    starts an upgrade, its phrase in the summary line) is in :data:`ACTIONS`, the one table
    every renderer reads; adding an action means a row there, a rule in the planner and a
    branch in apply.
    """

    CREATE = "create"
    ADOPT = "adopt"
    RESUME = "resume"
    RETRY = "retry"
    UPDATE = "update"
    FORGET = "forget"
    BLOCKED = "blocked"
    WAIT = "wait"
    DEFER = "defer"
    NOOP = "noop"

    @property
    def facts(self) -> ActionFacts:
        return ACTIONS[self]

    @property
    def symbol(self) -> str:
        return ACTIONS[self].symbol

    @property
    def order(self) -> int:
        return _ORDER[self]

    @property
    def is_change(self) -> bool:
        """Whether apply records or calls anything for this action."""
        return ACTIONS[self].is_change

    @property
    def starts_upgrade(self) -> bool:
        """Whether apply may POST a create for it (what --max-upgrades caps)."""
        return ACTIONS[self].starts_upgrade


@dataclass(frozen=True, slots=True)
class ActionFacts:
    """What renderers and apply need to know about one action."""

    symbol: str
    #: A table heading, e.g. in the markdown comment.
    title: str
    #: The terminal colour of its rows (click colour names).
    colour: str
    #: The words after the count in the ``Plan:`` summary line ("3 to create", "1 blocked").
    tally: str
    #: Apply records or calls something for it ("changes" for --detailed-exitcode).
    is_change: bool = False
    #: Apply may POST a create for it.
    starts_upgrade: bool = False
    #: Listed row by row in text and markdown (else only counted: a converged plan of
    #: 100,000 customers is one line).
    listed: bool = True


#: The one table of action facts, in action order (the order of plan output and the summary).
ACTIONS: dict[Action, ActionFacts] = {
    Action.CREATE: ActionFacts("+", "Create", "green", "to create", True, True),
    Action.ADOPT: ActionFacts("<", "Adopt", "cyan", "to adopt", True),
    Action.RESUME: ActionFacts("~", "Resume", "yellow", "to resume", True, True),
    Action.RETRY: ActionFacts("+", "Retry", "green", "to retry", True, True),
    Action.UPDATE: ActionFacts("~", "Update", "yellow", "to update", True),
    Action.FORGET: ActionFacts("-", "Forget", "red", "to forget", True),
    Action.BLOCKED: ActionFacts("!", "Blocked", "magenta", "blocked"),
    Action.WAIT: ActionFacts("…", "In progress", "blue", "in progress"),
    Action.DEFER: ActionFacts(">", "Deferred", "bright_black", "deferred"),
    Action.NOOP: ActionFacts(" ", "Unchanged", "white", "unchanged", listed=False),
}
_ORDER = {action: index for index, action in enumerate(Action)}
CHANGES = frozenset(a for a, facts in ACTIONS.items() if facts.is_change)
#: Actions that make apply POST a create (what --max-upgrades caps).
STARTS_UPGRADE = frozenset(a for a, facts in ACTIONS.items() if facts.starts_upgrade)


@dataclass(frozen=True, slots=True)
class Change:
    """One key's planned action, with the reason a human needs (code never branches on it)."""

    action: Action
    key: UpgradeKey
    reason: str
    source: str | None = None
    customer_name: str | None = None
    upgrade_id: str | None = None
    #: The recorded status before apply (None when not in state).
    before: str | None = None
    #: Partner Center's status to record for adopt/update (e.g. "Completed").
    remote_status: str | None = None
    #: What the subscriptions showed, to record for adopt/update of a completed upgrade.
    verification: Verification | None = None
    #: The status answer's line items, to record with the upgrade.
    line_items: tuple[LineItem, ...] = ()

    @property
    def customer_id(self) -> str:
        return self.key.customer_id

    @property
    def product_family(self) -> str:
        return self.key.product_family

    def sort_key(self) -> tuple[int, str, str]:
        return (self.action.order, self.key.customer_id, self.key.product_family)


@dataclass(frozen=True, slots=True)
class Plan:
    """Every managed key's change, plus what the plan was made from (to refuse it when stale)."""

    changes: tuple[Change, ...]
    created_at: str
    lineage: str | None
    serial: int | None
    manifest_digest: str
    refreshed: bool
    targets: tuple[str, ...] = ()
    format_version: str = FORMAT_VERSION
    #: ``--batch N``: at most N changes of this plan start an upgrade; the rest are deferred.
    batch: int | None = None

    def summary(self) -> dict[str, int]:
        """Count per action, every action present (zeros included), in action order."""
        counts = Counter(change.action for change in self.changes)
        return {action.value: counts.get(action, 0) for action in Action}

    @property
    def has_changes(self) -> bool:
        return any(change.action.is_change for change in self.changes)

    def upgrades_started(self) -> int:
        """How many changes would POST a create (for --max-upgrades)."""
        return sum(1 for change in self.changes if change.action.starts_upgrade)

    def check_max_upgrades(self, max_upgrades: int | None) -> None:
        """Refuse (PlanError) a plan that would start more upgrades than ``max_upgrades``."""
        started = self.upgrades_started()
        if max_upgrades is not None and started > max_upgrades:
            raise PlanError(f"The plan would start {plural(started, 'upgrade')}, more than "
                            f"--max-upgrades {max_upgrades}. Nothing was done; narrow it with "
                            "--target or raise the limit.")


def make(desired: Desired, state: State | None, observed: Observed, *, created_at: str,
         targets: Collection[str] = (), batch: int | None = None) -> Plan:
    """Diff desired against recorded state, informed by what refresh observed.

    ``targets`` (customer ids) restricts the plan to those customers; empty means all.
    ``created_at`` is also "now" for ``spec.notBefore``; ``batch`` keeps only the first N
    upgrade starts, in manifest order, and defers the rest.
    """
    wanted = {canonical_id(t) for t in targets}
    desired_by_key = desired.by_key()
    recorded = state.records if state is not None else {}
    # One pass over each side instead of a union set: at 100,000 keys every hash and equality
    # test of a key (Python-level dataclass methods) shows.
    changes = [_scheduled(upgrade, _decide(upgrade, recorded.get(key), observed), created_at)
               for key, upgrade in desired_by_key.items()
               if not wanted or key.customer_id in wanted]
    if batch is not None:
        changes = _batched(changes, desired_by_key, batch)
    changes += [_forget(key, recorded.get(key)) for key in recorded
                if key not in desired_by_key and (not wanted or key.customer_id in wanted)]
    # Equivalent to sorting by Change.sort_key, with C-level keys: (customer, family) first,
    # then a stable sort by action order.
    changes.sort(key=_BY_KEY)
    changes.sort(key=_action_order)
    return Plan(
        changes=tuple(changes),
        created_at=created_at,
        lineage=state.lineage if state is not None else None,
        serial=state.serial if state is not None else None,
        manifest_digest=desired.digest,
        refreshed=observed.refreshed,
        targets=tuple(sorted(wanted)),
        batch=batch,
    )


def _scheduled(upgrade: DesiredUpgrade, change: Change, now: str) -> Change:
    """Defer what would start an upgrade before the manifest's ``notBefore``; upgrades under
    way are not affected."""
    if upgrade.not_before is None or not change.action.starts_upgrade \
            or upgrade.not_before <= now:  # both are ISO-8601 UTC with Z: text order is time
        return change
    return _with(change, Action.DEFER, f"scheduled: not before {upgrade.not_before}")


def _batched(changes: list[Change], desired: dict[UpgradeKey, DesiredUpgrade],
             batch: int) -> list[Change]:
    """Keep the first ``batch`` upgrade starts in manifest order (files by path, then position
    in the file: a ``00-canary.yaml`` goes first); defer the others."""
    def order(change: Change) -> tuple[str, int, int]:
        source = desired[change.key].source
        return (source.path, source.line, source.column)

    starts = sorted((c for c in changes if c.action.starts_upgrade), key=order)
    later = {c.key for c in starts[batch:]}
    reason = f"batch: this run starts the first {plural(batch, 'upgrade')} in manifest order"
    return [_with(c, Action.DEFER, f"{reason} (--batch {batch})") if c.key in later else c
            for c in changes]


_BY_KEY = attrgetter("key.customer_id", "key.product_family")


def _action_order(change: Change) -> int:
    return _ORDER[change.action]


def _forget(key: UpgradeKey, record: Record | None) -> Change:
    status = record.status.value if record is not None else None
    upgrade = f"the {record.status.label} upgrade" if record is not None else "its upgrade"
    return Change(Action.FORGET, key,
                  f"in no manifest; stop tracking ({upgrade} is not undone)",
                  source=record.source if record else None,
                  customer_name=record.customer_name if record else None,
                  upgrade_id=record.upgrade_id if record else None, before=status)


def _decide(upgrade: DesiredUpgrade, record: Record | None, observed: Observed) -> Change:
    key = upgrade.key
    if record is None:
        return _new_key(upgrade, observed.eligibility.get(key), observed.refreshed,
                        _Seen(observed.status.get(key), observed.verification.get(key)))
    completed = record.status is RecordStatus.COMPLETED
    # Only --refresh-all re-reads a completed record's eligibility.
    rechecked = completed and key in observed.eligibility
    if completed and not rechecked and (record.verified or (
            key not in observed.verification and record.verification is None)):
        # Most keys of a converged state: one value, no call.
        return _noop(upgrade, record)
    base = Change(Action.NOOP, key, "", source=str(upgrade.source),
                  customer_name=upgrade.customer_name or record.customer_name,
                  upgrade_id=record.upgrade_id, before=record.status.value)
    if rechecked:
        return _rechecked(base, record, observed.eligibility[key], observed.status.get(key),
                          observed.verification.get(key)) or _noop(upgrade, record)
    if completed:
        return _unverified(base, record, observed.verification.get(key))
    eligibility = observed.eligibility.get(key)
    status = observed.status.get(key)
    seen = _Seen(status, observed.verification.get(key))
    if record.upgrade_id is not None and record.status is not RecordStatus.FAILED:
        return _known_upgrade(base, record, seen)
    if record.status is RecordStatus.PENDING:
        return _pending(base, record, eligibility, seen)
    return _failed(base, record, eligibility, seen)


@dataclass(frozen=True, slots=True)
class _Seen:
    """The status of the upgrade a key has (or eligibility named), and its end state."""

    status: SeenStatus | None
    verification: Verification | None

    def outcome(self) -> str:
        """E.g. ``Completed; verified: Azure plan … active, 1 legacy subscription suspended``."""
        if self.status is None:
            return ""
        if self.verification is None or not self.status.completed:
            return self.status.status or ""
        return f"{self.status.status}; {self.verification.describe()}"


def _noop(upgrade: DesiredUpgrade, record: Record) -> Change:
    return Change(Action.NOOP, record.key, _upgraded(record), str(upgrade.source),
                  upgrade.customer_name or record.customer_name, record.upgrade_id,
                  record.status.value)


def _rechecked(base: Change, record: Record, eligibility: SeenEligibility,
               status: SeenStatus | None, seen: Verification | None) -> Change | None:
    """A completed record re-read by ``--refresh-all``: the way back from what drift reports
    (reverted or failed: retry; an id Partner Center does not know or gives another customer:
    blocked until state is fixed; anything else it now reports differently: update). None:
    nothing changed."""
    upgrade = status.upgrade_id if status is not None else record.upgrade_id
    eligible_again = eligibility.is_eligible and eligibility.upgrade_id is None
    if status is not None and status.foreign:
        return _with(base, Action.BLOCKED, f"upgrade {upgrade} belongs to another customer "
                                           "(900111); state rm or import the customer")
    if status is not None and status.failed:
        detail = status.error_message or status.error_code or "no detail given"
        return _with(base, Action.RETRY, f"upgrade {upgrade} failed in Partner Center: "
                                         f"{detail}; start a new one",
                     remote_status=status.status)
    if eligible_again and (status is None or not status.found or status.completed):
        gone = "no upgrade is in place" if status is None else \
            f"upgrade {upgrade} no longer exists (900106)" if not status.found else \
            f"upgrade {upgrade} still reads Completed"
        return _with(base, Action.RETRY, f"reverted: {gone}, and the customer is eligible "
                                         "again; start a new one")
    if status is not None and not status.found:
        other = eligibility.upgrade_id
        hint = f"Partner Center shows upgrade {other} instead: import it" if other \
            else "state rm or import the customer"
        return _with(base, Action.BLOCKED, f"Partner Center does not know upgrade {upgrade} "
                                           f"(900106); {hint}")
    if status is not None and not status.completed:
        return _with(base, Action.UPDATE, f"completed → {status.status} (Partner Center "
                                          "reports it differently now)",
                     remote_status=status.status, line_items=status.line_items)
    if seen is not None and not seen.same_verdict(record.verification):
        return _with(base, Action.UPDATE, f"{record.remote_status or 'Completed'}; "
                                          f"{seen.describe()}",
                     remote_status=record.remote_status or "Completed", verification=seen)
    if not record.verified and record.verification is not None:
        return _unverified(base, record, seen)
    return None


def _upgraded(record: Record) -> str:
    done = f"upgraded ({record.remote_status or 'Completed'})"
    return f"{done}; {record.verification.describe()}" if record.verification else done


def _unverified(base: Change, record: Record, seen: Verification | None) -> Change:
    """A completed upgrade whose end state is not verified yet (or was never checked)."""
    status = record.remote_status or "Completed"
    if seen is None:
        assert record.verification is not None  # else the caller's fast path took it
        return _with(base, Action.WAIT, f"{status}; {record.verification.describe()} (checked "
                                        f"{record.verification.checked_at}; not refreshed)")
    if seen.same_verdict(record.verification):
        return _with(base, Action.WAIT, f"{status}; {seen.describe()} (listings can lag; "
                                        "the next refresh looks again)")
    return _with(base, Action.UPDATE, f"{status}; {seen.describe()}", remote_status=status,
                 verification=seen)


def _with(base: Change, action: Action, reason: str, *, upgrade_id: str | None = None,
          remote_status: str | None = None, verification: Verification | None = None,
          line_items: tuple[LineItem, ...] = ()) -> Change:
    return Change(action, base.key, reason, base.source, base.customer_name,
                  upgrade_id or base.upgrade_id, base.before, remote_status, verification,
                  line_items)


def _adopted(base: Change, reason: str, upgrade_id: str, seen: _Seen) -> Change:
    """Adopt an upgrade found through eligibility, recording its status as seen."""
    status = seen.status if seen.status is not None and seen.status.found \
        and not seen.status.foreign else None
    if status is None:
        return _with(base, Action.ADOPT, reason, upgrade_id=upgrade_id)
    return _with(base, Action.ADOPT, f"{reason}; {seen.outcome()}", upgrade_id=upgrade_id,
                 remote_status=status.status, verification=seen.verification,
                 line_items=status.line_items)


def _new_key(upgrade: DesiredUpgrade, eligibility: SeenEligibility | None,
             refreshed: bool, seen: _Seen) -> Change:
    base = Change(Action.NOOP, upgrade.key, "", source=str(upgrade.source),
                  customer_name=upgrade.customer_name)
    if eligibility is None:
        reason = "not in state; eligibility not checked (refresh is off)" if not refreshed \
            else "not in state"
        return _with(base, Action.CREATE, reason)
    if eligibility.upgrade_id is not None:
        return _adopted(base, f"already upgraded outside this tool (upgrade "
                              f"{eligibility.upgrade_id})", eligibility.upgrade_id, seen)
    if eligibility.is_eligible:
        return _with(base, Action.CREATE, "eligible")
    return _with(base, Action.BLOCKED, f"not eligible: {eligibility.describe()}")


def _known_upgrade(base: Change, record: Record, seen: _Seen) -> Change:
    """A pending or in-progress record whose upgrade id is known."""
    status = seen.status
    since = record.in_progress_since or record.updated_at
    if status is None:
        return _with(base, Action.WAIT, f"in progress since {since} (not refreshed)")
    if not status.found:
        return _with(base, Action.BLOCKED, f"Partner Center does not know upgrade "
                                           f"{status.upgrade_id} (900106); run drift, then "
                                           "state rm or import")
    if status.foreign:
        return _with(base, Action.BLOCKED, f"upgrade {status.upgrade_id} belongs to another "
                                           "customer (900111); run drift, then state rm")
    if status.failed:
        detail = status.error_message or status.error_code or "no detail given"
        return _with(base, Action.RETRY, f"upgrade {status.upgrade_id} failed: {detail}; "
                                         "start a new one", remote_status=status.status)
    if status.completed:
        return _with(base, Action.UPDATE, f"{record.remote_status or record.status.label} → "
                                          f"{seen.outcome()}", remote_status=status.status,
                     verification=seen.verification, line_items=status.line_items)
    if record.status is RecordStatus.PENDING:
        return _with(base, Action.UPDATE, f"pending → {status.status}",
                     remote_status=status.status, line_items=status.line_items)
    return _with(base, Action.WAIT, f"{status.status} since {since}",
                 remote_status=status.status)


def _pending(base: Change, record: Record, eligibility: SeenEligibility | None,
             seen: _Seen) -> Change:
    """An intent was recorded but the create's outcome (and the upgrade id) is unknown."""
    intent = f"an earlier apply recorded intent {record.request_id} at {record.updated_at} " \
             "but never learned the outcome"
    if eligibility is None:
        return _with(base, Action.RESUME, intent)
    if eligibility.upgrade_id is not None:
        went = f"the earlier create went through: upgrade {eligibility.upgrade_id}"
        status = seen.status
        if status is None or not status.found or status.foreign:
            return _with(base, Action.UPDATE, went, upgrade_id=eligibility.upgrade_id)
        return _with(base, Action.UPDATE, f"{went} ({seen.outcome()})",
                     upgrade_id=eligibility.upgrade_id, remote_status=status.status,
                     verification=seen.verification, line_items=status.line_items)
    if eligibility.is_eligible:
        return _with(base, Action.RESUME, intent)
    return _with(base, Action.BLOCKED, f"not eligible: {eligibility.describe()}")


def _failed(base: Change, record: Record, eligibility: SeenEligibility | None,
            seen: _Seen) -> Change:
    error = record.error.message if record.error is not None else "no detail recorded"
    if eligibility is not None and eligibility.upgrade_id is not None \
            and eligibility.upgrade_id != record.upgrade_id:
        return _adopted(base, f"a new upgrade exists (upgrade {eligibility.upgrade_id})",
                        eligibility.upgrade_id, seen)
    if eligibility is not None and not eligibility.is_eligible:
        return _with(base, Action.BLOCKED, f"previous upgrade failed ({error}); not eligible: "
                                           f"{eligibility.describe()}")
    return _with(base, Action.RETRY, f"previous upgrade failed: {error}")

