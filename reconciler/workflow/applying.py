"""The apply step's conductor: from a locked backend to a recorded result.

:func:`prepare` reads what apply works from (and refuses a stale saved plan); :func:`apply_plan`
carries the plan out: one recorder for the run's state changes, one history for its calls, one
client, the :class:`~reconciler.apply.Applier`, ``--wait`` polling, and the final fold of the
state journal (or, with a lost lock, the errored state file). Commands pass callbacks in and
render what comes back; nothing here prints.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from reconciler import planfile
from reconciler.apply import Applier, ApplyResult, FailureBudget, OnOutcome, started_upgrades
from reconciler.backends import StateBackend, StateRecorder
from reconciler.backends.errored import finish_run
from reconciler.connect import open_client
from reconciler.errors import StateError
from reconciler.history import History
from reconciler.partnercenter import AttemptInfo
from reconciler.plan import Plan
from reconciler.refresh import Progress, WatchesClient, notice_of
from reconciler.settings import Settings
from reconciler.state import utc_now
from reconciler.waiting import wait_for
from reconciler.workflow.inputs import Inputs, PlanOptions, load_inputs, make_plan

log = logging.getLogger(__name__)

#: Default of ``apply --wait-timeout``.
DEFAULT_WAIT_TIMEOUT = 30 * 60.0


@dataclass(frozen=True, slots=True)
class ApplyOptions:
    """How to carry out the changes."""

    parallelism: int | None = None
    wait: bool = False
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT
    #: ``--max-failures``: stop starting upgrades once it is spent (None: continue on error).
    max_failures: FailureBudget | None = None


@dataclass(frozen=True, slots=True)
class ApplyHooks:
    """What a command hands in: a stop request, and where outcomes and progress go."""

    stop: threading.Event = field(default_factory=threading.Event)
    on_outcome: OnOutcome | None = None
    progress: Progress | None = None


@dataclass(frozen=True, slots=True)
class Prepared:
    """What apply works from: its inputs and the plan to carry out."""

    inputs: Inputs
    plan: Plan
    #: The refresh's calls, with when each was made: written to the history once apply goes
    #: ahead (a refused or cancelled apply writes nothing).
    calls: tuple[tuple[str, AttemptInfo], ...] = ()


def prepare(settings: Settings, backend: StateBackend, paths: Collection[Path], *,
            saved: Plan | None, max_plan_age: float, options: PlanOptions,
            progress: Progress | None = None) -> Prepared:
    """Read inputs from the locked ``backend``; check ``saved`` or make a plan.

    A saved plan is checked before anything is called: stale (other state or manifests) or
    older than ``max_plan_age`` seconds, it is refused with a PlanError.
    """
    if saved is not None:
        inputs = load_inputs(settings, paths, backend.read)
        planfile.check_fresh(saved, inputs.state, inputs.desired.digest, max_plan_age,
                             datetime.now(UTC))
        planfile.check_bound(saved, inputs.desired, inputs.state, datetime.now(UTC))
        return Prepared(inputs, saved)
    calls: list[tuple[str, AttemptInfo]] = []  # appended from worker threads: list.append is atomic
    inputs = load_inputs(settings, paths, backend.read, reads=options.reads,
                         parallelism=options.parallelism, progress=progress,
                         on_attempt=lambda attempt: calls.append((utc_now(), attempt)))
    return Prepared(inputs, make_plan(inputs, options.targets, options.batch), tuple(calls))


def apply_plan(settings: Settings, backend: StateBackend, prepared: Prepared,
               options: ApplyOptions, hooks: ApplyHooks | None = None) -> ApplyResult:
    """Carry out ``prepared.plan`` through ``backend``, whose lock the caller holds.

    A lost lock sets ``hooks.stop`` (nothing new starts) and ends in a LockError naming the
    errored state file that holds what this run recorded.
    """
    hooks = hooks or ApplyHooks()
    recorder = StateRecorder(backend, prepared.inputs.state)
    backend.on_lock_lost(hooks.stop.set)
    history = History(backend, str(uuid.uuid4()))
    for at, attempt in prepared.calls:
        history.call(attempt, at=at)
    parallelism = options.parallelism or settings.parallelism
    try:
        result = _carry_out(settings, recorder, history, prepared, options, hooks, parallelism)
    except BaseException:
        for problem in _finish(recorder, backend, history):
            log.error("%s", problem)  # the exception on its way out is what the user sees
        raise
    return replace(result, problems=_finish(recorder, backend, history))


def _carry_out(settings: Settings, recorder: StateRecorder, history: History,
               prepared: Prepared, options: ApplyOptions, hooks: ApplyHooks,
               parallelism: int) -> ApplyResult:
    """The applier's run and the ``--wait`` polling, through one client."""
    stop = hooks.stop
    with open_client(settings, desired=prepared.inputs.desired, parallelism=parallelism,
                     on_attempt=history.call, notice=notice_of(hooks.progress)) as client:
        if isinstance(hooks.progress, WatchesClient):
            hooks.progress.watch(client.stats)
        deadline = client.config.deadline
        applier = Applier(client, recorder, history=history, stop=stop,
                          on_outcome=hooks.on_outcome, max_failures=options.max_failures,
                          deadline=deadline)
        result = applier.run(prepared.plan, parallelism)
        if options.wait and not stop.is_set() and result.aborted is None:
            timeout, timed_out = options.wait_timeout, "--wait-timeout ran out"
            if deadline is not None and deadline.remaining() < timeout:
                timeout, timed_out = deadline.remaining(), deadline.reason
            waited = wait_for(client, recorder, started_upgrades(result.outcomes),
                              timeout=timeout, stop_requested=stop.is_set,
                              history=history, on_outcome=hooks.on_outcome,
                              timed_out=timed_out)
            result = result.merged(waited, interrupted=stop.is_set())
            if deadline is not None and deadline.expired() and not result.interrupted:
                result = replace(result, aborted=deadline.reason)
    return result


def _finish(recorder: StateRecorder, backend: StateBackend, history: History) -> tuple[str, ...]:
    """Fold the run's journal and close its history: what went wrong, as sentences.

    A snapshot that cannot be written (a full disk) loses nothing, since the journal holds
    every recorded change, and a history that missed entries does not make the state wrong:
    both are told after the summary rather than hiding it. A lost lock still raises.
    """
    problems: list[str] = []
    try:
        try:
            finish_run(recorder, backend)  # with a lost lock: saves an errored state file
        except StateError as exc:
            problems.append(exc.message)
    finally:
        try:
            history.close()
        except StateError as exc:
            problems.append(exc.message)
    return tuple(problems)
