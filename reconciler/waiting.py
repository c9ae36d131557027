"""``apply --wait``: poll the upgrades a run started until each is Completed or Failed.

Polls back off (2 s, 4 s, 8 s … capped at 30 s) so a thousand upgrades in flight do not turn into
a status storm, and every transition is recorded as it is seen, so an interrupted wait loses
nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from reconciler.apply import Outcome, Result
from reconciler.backends import StateRecorder
from reconciler.errors import StateError
from reconciler.history import History
from reconciler.partnercenter import PartnerCenterClient, PartnerCenterError
from reconciler.refresh import read_status, read_verification
from reconciler.state import ErrorDetail, RecordStatus, Verification, utc_now

FIRST_DELAY = 2.0
MAX_DELAY = 30.0


@dataclass(frozen=True, slots=True)
class WaitClock:
    """Injectable time for tests."""

    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic


def wait_for(client: PartnerCenterClient, recorder: StateRecorder, outcomes: Sequence[Outcome],
             *, timeout: float, stop_requested: Callable[[], bool],
             history: History | None = None, clock: WaitClock | None = None,
             on_outcome: Callable[[Outcome], None] | None = None,
             timed_out: str = "--wait-timeout ran out") -> list[Outcome]:
    """Poll until every upgrade is terminal, the timeout passes, or a stop is requested.

    Returns one final outcome per polled upgrade: COMPLETED, FAILED, or IN_PROGRESS (still
    running when the timeout passed or a stop came); each is also handed to ``on_outcome``.
    ``timed_out`` says what the timeout was (e.g. the run's --timeout, when that came first).
    """
    clock = clock or WaitClock()
    deadline = clock.monotonic() + timeout
    pending = {o.key: o for o in outcomes if o.upgrade_id is not None}
    final: dict[object, Outcome] = {}
    delay = FIRST_DELAY
    halted: str | None = None  # why polling stopped early (a state write failed)
    while pending and not stop_requested() and halted is None:
        remaining = deadline - clock.monotonic()
        if remaining <= 0:
            break
        clock.sleep(min(delay, remaining))
        delay = min(delay * 2, MAX_DELAY)
        try:
            for key, outcome in list(pending.items()):
                done = _poll(client, recorder, outcome, history)
                if done is not None:
                    final[key] = done
                    del pending[key]
                    if on_outcome is not None:
                        on_outcome(done)
        except StateError as exc:
            # A full disk, say: a status seen but not recorded is seen again by the next plan.
            halted = f"the state could not be written ({exc.message.rstrip('.')})"
    for key, outcome in pending.items():
        when = halted or ("the wait was interrupted" if stop_requested() else timed_out)
        final[key] = replace(outcome, result=Result.IN_PROGRESS,
                             message=f"upgrade {outcome.upgrade_id} was still running when "
                                     f"{when}; later plans pick up its progress")
        if on_outcome is not None:
            on_outcome(final[key])
    return [final[o.key] for o in outcomes if o.key in final]


def _poll(client: PartnerCenterClient, recorder: StateRecorder, outcome: Outcome,
          history: History | None) -> Outcome | None:
    """One status read; records a change of status; returns an outcome once terminal."""
    upgrade_id = outcome.upgrade_id or ""
    try:
        seen = read_status(client, outcome.key, upgrade_id)
    except PartnerCenterError:
        return None  # transient trouble: try again next round
    record = recorder.get(outcome.key)
    if record is None or not seen.found or seen.foreign:
        return replace(outcome, result=Result.FAILED,
                       message=f"upgrade {upgrade_id} can no longer be read; run drift")
    status = RecordStatus.of(seen.status)
    if seen.status != record.remote_status:
        error = ErrorDetail(seen.error_code, seen.error_message or "the upgrade failed") \
            if status is RecordStatus.FAILED else None
        checked = _end_state(client, outcome, status)
        updated = replace(record, status=status, remote_status=seen.status,
                          line_items=seen.line_items, error=error, updated_at=utc_now(),
                          verification=checked or record.verification)
        serial = recorder.put(updated)
        if history is not None:
            history.transition(outcome.key.customer_id, outcome.key.product_family, "polled",
                               record.status.value, status.value, upgrade_id=upgrade_id,
                               detail=seen.status, recorded=(recorder.lineage, serial))
    if status is RecordStatus.COMPLETED:
        done = recorder.get(outcome.key)
        verdict = f" ({done.verification.describe()})" \
            if done is not None and done.verification is not None else ""
        return replace(outcome, result=Result.COMPLETED,
                       message=f"upgrade {upgrade_id}{verdict}")
    if status is RecordStatus.FAILED:
        return replace(outcome, result=Result.FAILED,
                       message=f"upgrade {upgrade_id}: "
                               f"{seen.error_message or seen.error_code or 'no detail given'}")
    return None


def _end_state(client: PartnerCenterClient, outcome: Outcome,
               status: RecordStatus) -> Verification | None:
    """The subscriptions' verdict on an upgrade just seen Completed (None: not read)."""
    if status is not RecordStatus.COMPLETED:
        return None
    try:
        return read_verification(client, outcome.key)
    except PartnerCenterError:
        return None  # the next plan reads them instead
