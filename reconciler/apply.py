"""Carry out a plan: intent → call → record, for each change, under the state lock.

The one module that mutates the world. Its safety rests on write-ahead intent: before a create
is POSTed, a ``pending`` record holding the MS-RequestId is durably recorded; the upgrade id is
recorded as soon as the 202 arrives. A crash at any instant therefore leaves either no intent
(nothing was sent), or an intent the next run resumes — eligibility first, then a create with the
*same* MS-RequestId only if no upgrade exists — so no customer is ever upgraded twice.

Changes run concurrently across customers, never two at once for one customer. One customer's
failure does not stop the others. A stop request (SIGINT/SIGTERM) starts nothing new and lets
in-flight calls finish and be recorded; so does the run's deadline (``--timeout``), which the
client also enforces on every call: a create it cuts short stays pending, resumed like any
unknown outcome (eligibility first), never sent again under a new MS-RequestId.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from enum import StrEnum
from itertools import groupby

from reconciler.backends import StateRecorder
from reconciler.errors import StateError
from reconciler.history import History
from reconciler.model import UpgradeKey
from reconciler.observed import SeenStatus
from reconciler.partnercenter import (
    AuthenticationError,
    CreateKind,
    CreateResult,
    Deadline,
    DeadlineExceeded,
    NotEligibleError,
    PartnerCenterClient,
    PartnerCenterError,
    PermissionDeniedError,
)
from reconciler.plan import Action, Change, Plan
from reconciler.refresh import read_eligibility, read_status, read_verification
from reconciler.state import ErrorDetail, LineItem, Record, RecordStatus, Verification, utc_now
from reconciler.words import plural

log = logging.getLogger(__name__)


class Result(StrEnum):
    """How one change ended."""

    STARTED = "started"          # a create was accepted: upgrade id recorded
    FOUND = "found"              # an upgrade already existed: its id recorded, nothing POSTed
    RECORDED = "recorded"        # adopt/update: recorded, no call needed
    FORGOTTEN = "forgotten"
    COMPLETED = "completed"      # (with --wait) reached Completed
    IN_PROGRESS = "in progress"  # (with --wait) still running when the wait ended
    UNKNOWN = "unknown"          # the create's outcome is unknown: left pending for resume
    REFUSED = "refused"          # Partner Center said no (not eligible): recorded as failed
    FAILED = "failed"            # an error, or (with --wait) the upgrade failed
    SKIPPED = "skipped"          # not started: interrupted, or the run was aborted

    @property
    def symbol(self) -> str:
        """The mark in front of an outcome line."""
        return RESULTS[self][0]

    @property
    def ok(self) -> bool:
        """Whether the change was done (else the run exits 1)."""
        return RESULTS[self][1]


#: The one table of result facts: (symbol, ok).
RESULTS: dict[Result, tuple[str, bool]] = {
    Result.STARTED: ("+", True), Result.FOUND: ("<", True), Result.RECORDED: ("~", True),
    Result.FORGOTTEN: ("-", True), Result.COMPLETED: ("✓", True),
    Result.IN_PROGRESS: ("…", False), Result.UNKNOWN: ("?", False),
    Result.REFUSED: ("!", False), Result.FAILED: ("✗", False), Result.SKIPPED: ("…", False),
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one change."""

    change: Change
    result: Result
    message: str
    upgrade_id: str | None = None
    correlation_id: str | None = None

    @property
    def key(self) -> UpgradeKey:
        return self.change.key


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """Every outcome, in plan order, and whether the run was interrupted."""

    outcomes: tuple[Outcome, ...]
    interrupted: bool = False
    aborted: str | None = None
    #: Errors at the end of the run (the final snapshot or the history could not be written),
    #: told after the summary: the outcomes stand.
    problems: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        counts = {result.value: 0 for result in Result}
        for outcome in self.outcomes:
            counts[outcome.result.value] += 1
        return counts

    @property
    def ok(self) -> bool:
        return not self.interrupted and self.aborted is None and not self.problems and all(
            outcome.result.ok for outcome in self.outcomes)

    def merged(self, later: Iterable[Outcome], *, interrupted: bool) -> ApplyResult:
        """This result with ``later`` outcomes (e.g. from ``--wait``) replacing earlier ones."""
        final = {o.key: o for o in later}
        outcomes = tuple(final.get(o.key, o) for o in self.outcomes)
        return ApplyResult(outcomes, interrupted or self.interrupted, self.aborted,
                           self.problems)


OnOutcome = Callable[[Outcome], None]


class Applier:
    """Executes a plan's changes against Partner Center, recording every step."""

    def __init__(self, client: PartnerCenterClient, recorder: StateRecorder, *,
                 history: History | None = None, stop: threading.Event | None = None,
                 on_outcome: OnOutcome | None = None,
                 new_request_id: Callable[[], str] = lambda: str(uuid.uuid4()),
                 max_failures: FailureBudget | None = None,
                 deadline: Deadline | None = None) -> None:
        self.deadline = deadline
        self.budget = _Spent(max_failures) if max_failures is not None else None
        self.client = client
        self.recorder = recorder
        self.history = history
        self.stop = stop or threading.Event()
        self.on_outcome = on_outcome
        self.new_request_id = new_request_id
        self._abort: str | None = None

    # --- the run ---------------------------------------------------------------------------

    def run(self, plan: Plan, parallelism: int) -> ApplyResult:
        """Apply every change; returns the outcomes in plan order."""
        changes = [c for c in plan.changes if c.action.is_change]
        by_customer = [list(group) for _, group in
                       groupby(sorted(changes, key=lambda c: c.customer_id),
                               key=lambda c: c.customer_id)]
        outcomes: dict[UpgradeKey, Outcome] = {}
        with ThreadPoolExecutor(max_workers=max(1, parallelism),
                                thread_name_prefix="apply") as pool:
            for result in pool.map(self._customer, by_customer):
                for outcome in result:
                    outcomes[outcome.key] = outcome
        ordered = tuple(outcomes[c.key] for c in changes)
        return ApplyResult(ordered, interrupted=self.stop.is_set(), aborted=self._abort)

    def _customer(self, changes: list[Change]) -> list[Outcome]:
        """One customer's changes, one after another (never two calls at once for it)."""
        outcomes = []
        for change in changes:
            outcome = self._one(change)
            if self.budget is not None and change.action.starts_upgrade \
                    and outcome.result is not Result.SKIPPED \
                    and self.budget.count(outcome.result) and self._abort is None:
                self._abort = self.budget.why()
            outcomes.append(outcome)
            if self.on_outcome is not None:
                self.on_outcome(outcome)
        return outcomes

    def _one(self, change: Change) -> Outcome:
        if self._abort is None and self.deadline is not None and self.deadline.expired():
            self._abort = self.deadline.reason
        if self.stop.is_set() or self._abort is not None:
            reason = self._abort or "interrupted before it started"
            return Outcome(change, Result.SKIPPED, reason)
        try:
            return self._dispatch(change)
        except DeadlineExceeded as exc:
            reason = self.deadline.reason if self.deadline is not None else "the run's deadline"
            self._abort = self._abort or reason
            if change.action in (Action.CREATE, Action.RETRY, Action.RESUME):
                # The intent is recorded and the outcome unknown: resumed, never duplicated.
                return self._cut_short(change, exc.correlation_id)
            return Outcome(change, Result.SKIPPED, reason)
        except (AuthenticationError, PermissionDeniedError) as exc:
            # Every other call would fail the same way: start nothing more.
            self._abort = f"stopped after an authentication or permission error ({exc})"
            return Outcome(change, Result.FAILED, str(exc), change.upgrade_id,
                           exc.correlation_id)
        except PartnerCenterError as exc:
            return Outcome(change, Result.FAILED, str(exc), change.upgrade_id,
                           exc.correlation_id)
        except StateError as exc:
            # The state cannot be written (a full disk, say). Every start records its intent
            # first, so nothing more may start; whatever this change did reach Partner Center
            # the next run finds through eligibility before it would create anything.
            if self._abort is None:
                self._abort = ("the state could not be written, so nothing more was started "
                               f"({exc.message.rstrip('.')})")
            return Outcome(change, Result.FAILED, f"not recorded: {exc.message} The next run "
                           "checks Partner Center for it before any create.", change.upgrade_id)

    def _dispatch(self, change: Change) -> Outcome:
        action = change.action
        if action in (Action.CREATE, Action.RETRY):
            return self._create(change, self.new_request_id())
        if action is Action.RESUME:
            return self._resume(change)
        if action is Action.ADOPT:
            return self._adopt(change)
        if action is Action.UPDATE:
            return self._update(change)
        if action is Action.FORGET:
            return self._forget(change)
        raise AssertionError(f"not a change: {action}")  # pragma: no cover

    # --- recording -------------------------------------------------------------------------

    def _record(self, change: Change, action: str, record: Record, *,
                detail: str | None = None) -> None:
        before = self.recorder.get(change.key)
        serial = self.recorder.put(record)
        if self.history is not None:
            self.history.transition(
                change.customer_id, change.product_family, action,
                before.status.value if before else None, record.status.value,
                request_id=record.request_id, upgrade_id=record.upgrade_id, detail=detail,
                recorded=(self.recorder.lineage, serial))

    def _base(self, change: Change) -> Record:
        """The current record, or a fresh one for a key not yet in state."""
        current = self.recorder.get(change.key)
        if current is not None:
            return replace(current, source=change.source or current.source,
                           customer_name=change.customer_name or current.customer_name)
        now = utc_now()
        return Record(key=change.key, status=RecordStatus.PENDING, request_id=None,
                      upgrade_id=None, remote_status=None, source=change.source,
                      customer_name=change.customer_name, created_at=now, updated_at=now)

    def _in_progress(self, change: Change, base: Record, upgrade_id: str,
                     remote_status: str | None, action: str,
                     line_items: tuple[LineItem, ...] | None = None,
                     verification: Verification | None = None) -> None:
        now = utc_now()
        status = RecordStatus.of(remote_status)
        same = base.upgrade_id == upgrade_id
        record = replace(base, status=status, upgrade_id=upgrade_id,
                         remote_status=remote_status, error=None, updated_at=now,
                         in_progress_since=base.in_progress_since if same and
                         base.in_progress_since else now,
                         line_items=line_items or (base.line_items if same else ()),
                         verification=verification or (base.verification if same else None))
        self._record(change, action, record, detail=verification.describe()
                     if verification is not None else None)

    # --- actions ---------------------------------------------------------------------------

    def _create(self, change: Change, request_id: str, *, resumed: Record | None = None
                ) -> Outcome:
        base = resumed or self._base(change)
        if resumed is None:
            # Write-ahead intent: durable before the POST, so a crash can be resumed.
            intent = replace(base, status=RecordStatus.PENDING, request_id=request_id,
                             upgrade_id=None, remote_status=None, error=None,
                             attempts=base.attempts + 1, updated_at=utc_now(),
                             in_progress_since=None, line_items=())
            self._record(change, "intent", intent)
            base = intent
        # Checked again right before the POST, not only by the intent's write: a run stopped
        # while its intent was being made durable (SIGSTOP, a suspended laptop) may have been
        # force-unlocked meanwhile, and must not create for a customer another run now owns.
        self.recorder.confirm_lock()
        try:
            result = self.client.create(change.customer_id, change.product_family, request_id)
        except NotEligibleError as exc:
            failed = replace(base, status=RecordStatus.FAILED, updated_at=utc_now(),
                             error=ErrorDetail(exc.code, str(exc), exc.correlation_id))
            self._record(change, "refused", failed, detail=exc.code)
            return Outcome(change, Result.REFUSED, str(exc), None, exc.correlation_id)
        except PartnerCenterError as exc:
            if _definitive(exc):
                # Partner Center answered and did not create: the intent is spent. Recorded as
                # failed, the next run checks eligibility and retries under a new MS-RequestId
                # instead of resuming this one (and meeting the same answer) forever.
                failed = replace(base, status=RecordStatus.FAILED, updated_at=utc_now(),
                                 error=ErrorDetail(exc.code, str(exc), exc.correlation_id))
                self._record(change, "refused", failed, detail=exc.code)
            raise
        return self._created(change, base, result)

    def _created(self, change: Change, base: Record, result: CreateResult) -> Outcome:
        if result.kind is CreateKind.OUTCOME_UNKNOWN and self.deadline is not None \
                and self.deadline.expired():  # the deadline cut its last attempt short
            self._abort = self._abort or self.deadline.reason
            return self._cut_short(change, result.correlation_id)
        if result.kind is CreateKind.OUTCOME_UNKNOWN:
            return Outcome(change, Result.UNKNOWN,
                           "the create's answer was lost; left pending: the next plan or "
                           "apply resumes it without a duplicate", None, result.correlation_id)
        if result.kind is CreateKind.CREATED and result.upgrade_id is not None:
            self._in_progress(change, base, result.upgrade_id, None, "started")
            return Outcome(change, Result.STARTED, f"upgrade {result.upgrade_id}",
                           result.upgrade_id, result.correlation_id)
        # "Already exists" (409/900109, 400/900110) or a 202 without a Location: eligibility
        # is the only way to learn the upgrade's id.
        return self._find_existing(change, base, result.correlation_id)

    def _cut_short(self, change: Change, correlation_id: str | None) -> Outcome:
        """A create (or resume) the run's deadline ended before its outcome was known."""
        reason = self.deadline.reason if self.deadline is not None else "the run's deadline"
        return Outcome(change, Result.UNKNOWN, f"cut short: {reason}; left pending: the next "
                       "plan or apply resumes it without a duplicate", None, correlation_id)

    def _find_existing(self, change: Change, base: Record, correlation_id: str | None
                       ) -> Outcome:
        seen = read_eligibility(self.client, change.key)
        if seen.upgrade_id is None:
            return Outcome(change, Result.UNKNOWN,
                           "Partner Center says an upgrade exists but eligibility does not "
                           "name it yet; left pending for the next run", None, correlation_id)
        status = read_status(self.client, change.key, seen.upgrade_id)
        self._in_progress(change, base, seen.upgrade_id, status.status, "found",
                          status.line_items, self._verified(change.key, status))
        return Outcome(change, Result.FOUND, f"upgrade {seen.upgrade_id} already existed "
                                             f"({status.status or 'status unknown'})",
                       seen.upgrade_id, correlation_id)

    def _resume(self, change: Change) -> Outcome:
        record = self.recorder.get(change.key)
        if record is None or record.request_id is None:  # pragma: no cover - plan guarantees
            return self._create(change, self.new_request_id())
        seen = read_eligibility(self.client, change.key)
        if seen.upgrade_id is not None:
            self._in_progress(change, record, seen.upgrade_id, None, "resumed")
            return Outcome(change, Result.FOUND, f"upgrade {seen.upgrade_id}: the earlier "
                                                 "create went through", seen.upgrade_id)
        if not seen.is_eligible:
            return Outcome(change, Result.REFUSED, f"not eligible now: {seen.describe()}; the "
                                                   "intent stays pending")
        # No upgrade exists: repeat the create under the SAME MS-RequestId.
        return self._create(change, record.request_id, resumed=record)

    def _adopt(self, change: Change) -> Outcome:
        if change.upgrade_id is None:  # pragma: no cover - plan guarantees
            return Outcome(change, Result.FAILED, "no upgrade id to adopt")
        self._in_progress(change, self._base(change), change.upgrade_id, change.remote_status,
                          "adopted", change.line_items, change.verification)
        return Outcome(change, Result.RECORDED, f"adopted upgrade {change.upgrade_id}",
                       change.upgrade_id)

    def _update(self, change: Change) -> Outcome:
        base = self._base(change)
        upgrade_id = change.upgrade_id or base.upgrade_id
        if upgrade_id is None:  # pragma: no cover - plan guarantees
            return Outcome(change, Result.FAILED, "no upgrade id to update")
        self._in_progress(change, base, upgrade_id, change.remote_status, "updated",
                          change.line_items, change.verification)
        after = RecordStatus.of(change.remote_status).label
        checked = f" ({change.verification.describe()})" if change.verification else ""
        return Outcome(change, Result.RECORDED, f"upgrade {upgrade_id} is {after}{checked}",
                       upgrade_id)

    def import_upgrade(self, key: UpgradeKey) -> Outcome:
        """Record the upgrade Partner Center has for ``key`` (``reconciler import``; no POST).

        RECORDED when it was recorded now, FOUND when state already knew this upgrade, FAILED
        when Partner Center has no upgrade for the customer.
        """
        existing = self.recorder.get(key)
        change = Change(Action.ADOPT, key, "import", existing.source if existing else None,
                        existing.customer_name if existing else None)
        seen = read_eligibility(self.client, key)
        if seen.upgrade_id is None:
            return Outcome(change, Result.FAILED, f"customer {key.customer_id} has no "
                                                  f"{key.product_family} upgrade in Partner "
                                                  "Center; nothing to import")
        if existing is not None and existing.upgrade_id == seen.upgrade_id:
            return Outcome(change, Result.FOUND, f"upgrade {seen.upgrade_id} of customer "
                                                 f"{key.customer_id} is already recorded",
                           seen.upgrade_id)
        status = read_status(self.client, key, seen.upgrade_id)
        self._in_progress(change, self._base(change), seen.upgrade_id, status.status,
                          "imported", status.line_items, self._verified(key, status))
        return Outcome(change, Result.RECORDED, f"imported upgrade {seen.upgrade_id} of "
                                                f"customer {key.customer_id} "
                                                f"({status.status or 'status unknown'})",
                       seen.upgrade_id)

    def _verified(self, key: UpgradeKey, status: SeenStatus) -> Verification | None:
        """The end state of an upgrade just seen Completed (None for any other status)."""
        return read_verification(self.client, key) if status.completed else None

    def _forget(self, change: Change) -> Outcome:
        before = self.recorder.get(change.key)
        serial = self.recorder.remove(change.key)
        if self.history is not None:
            self.history.transition(change.customer_id, change.product_family, "forgotten",
                                    before.status.value if before else None, None,
                                    upgrade_id=change.upgrade_id,
                                    recorded=(self.recorder.lineage, serial))
        return Outcome(change, Result.FORGOTTEN, "no longer tracked (the upgrade stays)",
                       change.upgrade_id)


@dataclass(frozen=True, slots=True)
class FailureBudget:
    """``--max-failures``: ``count`` failed changes, or ``percent`` of the creates attempted
    once at least :data:`PERCENT_AFTER` were (journey.md §4)."""

    count: int | None = None
    percent: float | None = None

    @staticmethod
    def parse(text: str, what: str = "--max-failures") -> FailureBudget:
        """``3`` or ``5%``; raises ValueError with a sentence naming ``what``."""
        raw = text.strip()
        try:
            if raw.endswith("%"):
                percent = float(raw[:-1])
                if not 0 < percent <= 100:
                    raise ValueError
                return FailureBudget(percent=percent)
            count = int(raw)
            if count < 1:
                raise ValueError
            return FailureBudget(count=count)
        except ValueError:
            raise ValueError(f"{what} {text!r} is neither a number of failures (1 or more) nor "
                             "a percentage such as 5%.") from None

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else str(self.count)

    def exhausted(self, failed: int, attempted: int) -> bool:
        if self.count is not None:
            return failed >= self.count
        assert self.percent is not None
        return attempted >= PERCENT_AFTER and failed * 100 >= self.percent * attempted


#: A percentage budget applies once this many upgrades were attempted in the run.
PERCENT_AFTER = 20
#: What counts against the budget: Partner Center refused the create, or another definitive
#: error. An unknown outcome (UNKNOWN) does not.
_FAILURES = frozenset({Result.REFUSED, Result.FAILED})


class _Spent:
    """Failures and attempts so far (thread-safe), against a budget."""

    def __init__(self, budget: FailureBudget) -> None:
        self.budget, self.failed, self.attempted = budget, 0, 0
        self.lock = threading.Lock()

    def count(self, result: Result) -> bool:
        """Count one attempted change; True once the budget is exhausted."""
        with self.lock:
            self.attempted += 1
            self.failed += result in _FAILURES
            return self.budget.exhausted(self.failed, self.attempted)

    def why(self) -> str:
        return (f"the failure budget is exhausted ({plural(self.failed, 'change')} of "
                f"{self.attempted} failed; --max-failures {self.budget})")


def _definitive(exc: PartnerCenterError) -> bool:
    """A 4xx answer that says the create was not processed (401 and 429 say only "not now")."""
    status = exc.http_status
    return status is not None and 400 <= status < 500 and status not in (401, 429)


def started_upgrades(outcomes: Iterable[Outcome]) -> list[Outcome]:
    """Outcomes that left an upgrade in flight (what --wait polls)."""
    return [o for o in outcomes if o.upgrade_id is not None
            and o.result in (Result.STARTED, Result.FOUND, Result.RECORDED)]
