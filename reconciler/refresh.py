"""Refresh: read Partner Center for exactly the keys whose plan depends on it.

* eligibility for desired keys with no record, a pending intent without an upgrade id, or a
  failed upgrade (this is also how out-of-band upgrades are found: ``upgradeId`` → adopt);
* status for desired keys whose pending or in-progress record knows its upgrade id, and for
  an upgrade eligibility names (so adopting one records its status at once);
* the customer's subscriptions once an upgrade reads Completed, and for completed records not
  verified yet (journey.md §3: the end state, not the status string, is the proof).

Verified completed records are never re-read for a plan (that is what ``drift`` is for, with
:func:`needed_for_drift`), so a converged plan of any size makes no API call. Calls run
concurrently; the client's shared rate limiter and adaptive concurrency keep them within
Partner Center's limits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from reconciler.errors import RemoteError
from reconciler.model import Desired, UpgradeKey, canonical_id
from reconciler.observed import Observed, SeenEligibility, SeenStatus
from reconciler.partnercenter import (
    AuthenticationError,
    ClientStats,
    DeadlineExceeded,
    PartnerCenterClient,
    PartnerCenterError,
    PermissionDeniedError,
    ThrottledError,
    UpgradeNotFoundError,
    UpgradeOwnershipError,
    UpgradeStatus,
)
from reconciler.state import LineItem, Record, RecordStatus, State, Verification, utc_now
from reconciler.verification import verdict

log = logging.getLogger(__name__)

#: Called with (calls done, calls in all) after each call.
Progress = Callable[[int, int], None]


@runtime_checkable
class WatchesClient(Protocol):
    """A progress display that can also show the client's counters (e.g. 429 back-off)."""

    def __call__(self, done: int, total: int) -> None:
        """Report (calls done, calls in all)."""

    def watch(self, stats: Callable[[], ClientStats]) -> None:
        """Show ``stats()`` alongside the counts from now on."""


@runtime_checkable
class Notes(Protocol):
    """A progress display that can also print a one-off line (e.g. the simulator seeding)."""

    def __call__(self, done: int, total: int) -> None:
        """Report (calls done, calls in all)."""

    def note(self, text: str) -> None:
        """Print ``text`` on a line of its own."""


def notice_of(progress: Progress | None) -> Callable[[str], None] | None:
    """Where one-off lines go for this progress display (None: nowhere)."""
    return progress.note if isinstance(progress, Notes) else None


@dataclass(frozen=True, slots=True)
class Reads:
    """Which keys a refresh must read, and with which call."""

    eligibility: tuple[UpgradeKey, ...]
    status: tuple[tuple[UpgradeKey, str], ...]
    #: Completed records whose subscriptions must be (re)read.
    verify: tuple[UpgradeKey, ...] = ()
    #: Read the status of an upgrade eligibility names (plan: to adopt it as it stands).
    follow: bool = True

    def __len__(self) -> int:
        return len(self.eligibility) + len(self.status) + len(self.verify)


def needed(desired: Desired, state: State | None, targets: Collection[str] = ()) -> Reads:
    """The reads a plan needs (pure)."""
    wanted = {canonical_id(t) for t in targets}
    records = state.records if state is not None else {}
    eligibility: list[UpgradeKey] = []
    status: list[tuple[UpgradeKey, str]] = []
    verify: list[UpgradeKey] = []
    for upgrade in desired.upgrades:
        key = upgrade.key
        if wanted and key.customer_id not in wanted:
            continue
        record = records.get(key)
        if record is None or _needs_eligibility(record):
            eligibility.append(key)
        elif record.status is RecordStatus.COMPLETED:
            if not record.verified:
                verify.append(key)
        elif record.upgrade_id is not None and record.status in (RecordStatus.PENDING,
                                                                 RecordStatus.IN_PROGRESS):
            status.append((key, record.upgrade_id))
    return Reads(tuple(eligibility), tuple(status), tuple(verify))


def needed_all(desired: Desired, state: State | None, targets: Collection[str] = ()) -> Reads:
    """The reads a ``plan --refresh-all`` needs (pure): a plan's, plus the reads drift makes of
    completed records (eligibility, and the status of their upgrade id), so the planner sees a
    reverted, failed or unknown upgrade and plans the way back."""
    base = needed(desired, state, targets)
    wanted = {canonical_id(t) for t in targets}
    records = state.records if state is not None else {}
    eligibility: list[UpgradeKey] = []
    status: list[tuple[UpgradeKey, str]] = []
    for upgrade in desired.upgrades:
        key = upgrade.key
        record = records.get(key)
        if record is None or record.status is not RecordStatus.COMPLETED \
                or (wanted and key.customer_id not in wanted):
            continue
        eligibility.append(key)
        if record.upgrade_id is not None:
            status.append((key, record.upgrade_id))
    read = {key for key, _ in status}  # a status read of a Completed upgrade verifies it too
    return Reads(base.eligibility + tuple(eligibility), base.status + tuple(status),
                 tuple(key for key in base.verify if key not in read))


def needed_for_drift(desired: Desired, state: State | None) -> Reads:
    """The reads drift needs (pure): eligibility for every managed key, completed ones too,
    and status for every recorded upgrade id whose record has not failed."""
    records = state.records if state is not None else {}
    keys = sorted(set(records) | set(desired.by_key()))
    status: list[tuple[UpgradeKey, str]] = []
    for key in keys:
        record = records.get(key)
        if record is not None and record.upgrade_id is not None \
                and record.status is not RecordStatus.FAILED:
            status.append((key, record.upgrade_id))
    # Status reads that answer Completed read the subscriptions too; recorded ids are read
    # anyway, so an id eligibility names need not be followed.
    return Reads(tuple(keys), tuple(status), follow=False)


def _needs_eligibility(record: Record) -> bool:
    if record.status is RecordStatus.FAILED:
        return True
    return record.status is RecordStatus.PENDING and record.upgrade_id is None


def seen_status(reply: UpgradeStatus) -> SeenStatus:
    """The planner's view of a status reply."""
    items = tuple(
        LineItem(i.source_product.id, i.source_product.name, i.target_product.id,
                 i.target_product.name, i.upgraded_date, i.status,
                 i.error.code if i.error else None, i.error.message if i.error else None)
        for i in reply.line_items)
    return SeenStatus(reply.id, reply.status, items, reply.error_code, reply.error_message)


def read_status(client: PartnerCenterClient, key: UpgradeKey, upgrade_id: str) -> SeenStatus:
    """One status read; 900106 and 900111 become observations, not errors."""
    try:
        return seen_status(client.status(upgrade_id, key.customer_id, key.product_family))
    except UpgradeNotFoundError:
        return SeenStatus(upgrade_id, found=False)
    except UpgradeOwnershipError:
        return SeenStatus(upgrade_id, foreign=True)


def read_verification(client: PartnerCenterClient, key: UpgradeKey) -> Verification:
    """One subscriptions read, judged (see :mod:`reconciler.verification`)."""
    return verdict(client.subscriptions(key.customer_id), utc_now())


def read_eligibility(client: PartnerCenterClient, key: UpgradeKey) -> SeenEligibility:
    """One eligibility read (a 200 or a 'not eligible' fault: the client makes them alike)."""
    answer = client.eligibility(key.customer_id, key.product_family)
    return SeenEligibility(answer.is_eligible, answer.upgrade_id, answer.reason,
                           answer.error_code)


def refresh(client: PartnerCenterClient, reads: Reads, *, parallelism: int,
            progress: Progress | None = None) -> Observed:
    """Run the reads concurrently and collect what was seen.

    Authentication and permission errors stop the refresh at once (every other call would fail
    the same way). Other failures are collected; if any key could not be read, the refresh fails
    naming the customers and MS-CorrelationIds, since a plan built on a guess is worse than none.
    """
    eligibility: dict[UpgradeKey, SeenEligibility] = {}
    status: dict[UpgradeKey, SeenStatus] = {}
    verification: dict[UpgradeKey, Verification] = {}
    failures: list[tuple[UpgradeKey, PartnerCenterError]] = []
    counter = _Counter(len(reads), progress)
    if isinstance(progress, WatchesClient):
        progress.watch(client.stats)

    def verify(key: UpgradeKey) -> None:
        verification[key] = read_verification(client, key)

    def read_progress(key: UpgradeKey, upgrade_id: str) -> None:
        seen = status[key] = read_status(client, key, upgrade_id)
        if seen.completed:
            verify(key)  # first seen Completed: check the end state once

    read_anyway = {key for key, _ in reads.status}

    def read_one(key: UpgradeKey) -> None:
        seen = eligibility[key] = read_eligibility(client, key)
        if reads.follow and seen.upgrade_id is not None and key not in read_anyway:
            read_progress(key, seen.upgrade_id)

    tasks = [_task(partial(read_one, key), key, failures, counter) for key in reads.eligibility]
    tasks += [_task(partial(read_progress, key, upgrade_id), key, failures, counter)
              for key, upgrade_id in reads.status]
    tasks += [_task(partial(verify, key), key, failures, counter) for key in reads.verify]
    _run_all(tasks, parallelism)
    if failures:
        raise _refresh_failed(failures, len(reads))
    return Observed(MappingProxyType(eligibility), MappingProxyType(status), refreshed=True,
                    verification=MappingProxyType(verification))


class _Counter:
    """Thread-safe count of finished calls, reported to the progress callback."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.done, self.progress = total, 0, progress
        self.lock = threading.Lock()

    def tick(self) -> None:
        with self.lock:
            self.done += 1
            done = self.done
        if self.progress is not None:
            self.progress(done, self.total)


def _task(call: Callable[[], None], key: UpgradeKey,
          failures: list[tuple[UpgradeKey, PartnerCenterError]],
          counter: _Counter) -> Callable[[], None]:
    def run() -> None:
        try:
            call()
        except (AuthenticationError, PermissionDeniedError, DeadlineExceeded):
            raise
        except PartnerCenterError as exc:
            log.warning("refresh of customer %s failed: %s", key.customer_id, exc)
            failures.append((key, exc))
        finally:
            counter.tick()
    return run


def _run_all(tasks: Iterable[Callable[[], None]], parallelism: int) -> None:
    """Run tasks on a pool; the first auth/permission error cancels the rest and is raised."""
    with ThreadPoolExecutor(max_workers=max(1, parallelism),
                            thread_name_prefix="refresh") as pool:
        futures: list[Future[None]] = [pool.submit(task) for task in tasks]
        try:
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        for future in done:
            error = future.exception()
            if error is not None:
                for other in futures:
                    other.cancel()
                raise error


def _refresh_failed(failures: list[tuple[UpgradeKey, PartnerCenterError]],
                    total: int) -> RemoteError:
    shown = "; ".join(f"customer {key.customer_id}: {exc}" for key, exc in failures[:5])
    more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
    throttled = any(isinstance(exc, ThrottledError) for _, exc in failures)
    hint = ThrottledError.hint if throttled else \
        "Re-run plan; if it keeps failing, give Microsoft support the MS-CorrelationIds."
    return RemoteError(
        f"Refresh could not read {len(failures)} of {total} customers from Partner Center, so "
        f"no plan was made: {shown}{more}.", hint=hint)
