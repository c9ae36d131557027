"""The steps commands share: read state consistently, refresh, and make a plan.

Commands call these and render the result; nothing here prints.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reconciler import manifest, refresh
from reconciler.backends import LockInfo, StateBackend
from reconciler.connect import open_client
from reconciler.model import Desired
from reconciler.observed import Observed
from reconciler.plan import Plan, make
from reconciler.settings import Settings
from reconciler.state import State


def utc_stamp() -> str:
    """Now, as the plan's ``created_at`` (ISO-8601 UTC to the second)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextlib.contextmanager
def bulk_building() -> Iterator[None]:
    """Pause the cyclic garbage collector while large, acyclic values are built.

    Loading 100,000 customers and decoding 100,000 records allocates millions of objects that
    live for the whole run, and every burst of allocations made the collector walk all of them
    again: about a third of a 100,000-customer ``plan --no-refresh``. The values built here hold
    no reference cycles, so reference counting frees whatever they drop, and any cyclic garbage
    (e.g. an error's traceback) is collected once the block ends. Only bounded steps run
    inside (loading, one state read, the pure planner), never a refresh or an apply, whose
    thousands of HTTP calls do leave cycles behind.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextlib.contextmanager
def locked(backend: StateBackend, operation: str, timeout: float) -> Iterator[LockInfo]:
    """Hold the state lock for the duration of the block."""
    info = backend.lock(LockInfo.new(operation), timeout)
    try:
        yield info
    finally:
        backend.unlock(info.id)


def read_state(backend: StateBackend, *, operation: str, lock: bool,
               timeout: float) -> State | None:
    """Read state for a read-only command, under the lock unless ``lock`` is False.

    With no state yet there is nothing to read consistently, and taking the lock would create
    files, which read-only commands must never do: so the lock is only taken once state exists.
    """
    with bulk_building():
        state = backend.read()
    if state is None or not lock:
        return state
    with locked(backend, operation, timeout), bulk_building():
        return backend.read()


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """What ``plan`` (and ``apply`` without a plan file) was asked for."""

    refresh: bool = True
    targets: tuple[str, ...] = ()
    parallelism: int | None = None
    lock: bool = True
    lock_timeout: float = 0.0


def load_desired(settings: Settings, paths: Collection[Path]) -> Desired:
    """Load the manifests (raising ManifestError listing every problem)."""
    with bulk_building():
        return manifest.load(list(paths), settings.allowed_families)


def observe(settings: Settings, desired: Desired, state: State | None, options: PlanOptions,
            progress: refresh.Progress | None = None) -> Observed:
    """Refresh from Partner Center what the plan needs (no client at all when nothing is)."""
    if not options.refresh:
        return Observed.none()
    reads = refresh.needed(desired, state, options.targets)
    if not len(reads):
        return Observed(refreshed=True)
    parallelism = options.parallelism or settings.parallelism
    with open_client(settings, desired=desired, parallelism=parallelism) as client:
        return refresh.refresh(client, reads, parallelism=parallelism, progress=progress)


def make_plan(settings: Settings, desired: Desired, state: State | None, options: PlanOptions,
              progress: refresh.Progress | None = None) -> Plan:
    """Refresh (if asked) and plan."""
    observed = observe(settings, desired, state, options, progress)
    with bulk_building():  # make() decodes every record it looks at
        return make(desired, state, observed, created_at=utc_stamp(), targets=options.targets)
