"""The input step every command shares: manifests, recorded state, and what Partner Center shows.

:func:`load_inputs` reads them in that order — a bad manifest costs no state read and no call —
and returns one :class:`Inputs` value; :func:`make_plan` turns it into a plan.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from reconciler import manifest, refresh
from reconciler.backends import locked, opened
from reconciler.connect import open_client
from reconciler.errors import UsageError
from reconciler.model import Desired, parse_customer_id
from reconciler.observed import Observed
from reconciler.partnercenter import AttemptInfo
from reconciler.plan import Plan, make
from reconciler.settings import Settings
from reconciler.state import State

#: Which reads a command's refresh needs, from what is desired and recorded (pure).
ReadsFor = Callable[[Desired, State | None], refresh.Reads]
#: Where the recorded state comes from: a brief read, or a backend the command holds locked.
StateSource = Callable[[], State | None]
OnAttempt = Callable[[AttemptInfo], None]


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


@dataclass(frozen=True, slots=True)
class Inputs:
    """What a command works from: the manifests, the recorded state, and the refresh."""

    desired: Desired
    state: State | None
    observed: Observed


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """What ``plan`` (and ``apply`` without a plan file) was asked for."""

    refresh: bool = True
    targets: tuple[str, ...] = ()
    parallelism: int | None = None
    #: ``--batch N`` / ``apply.batch``: start at most N upgrades; defer the rest.
    batch: int | None = None
    #: Re-read completed records too (``--refresh-all``), the way drift does.
    refresh_all: bool = False

    def __post_init__(self) -> None:
        if self.refresh_all and not self.refresh:
            raise UsageError("--refresh-all and --no-refresh contradict each other: "
                             "give one of them.")
        # A mistyped --target must stop the run, not silently plan nothing.
        targets = tuple(dict.fromkeys(parse_customer_id(t, "--target") for t in self.targets))
        object.__setattr__(self, "targets", targets)

    @property
    def reads(self) -> ReadsFor | None:
        """The refresh a plan needs (None: no refresh at all)."""
        if not self.refresh:
            return None
        reads = refresh.needed_all if self.refresh_all else refresh.needed
        return partial(reads, targets=self.targets)


def load_desired(settings: Settings, paths: Collection[Path]) -> Desired:
    """Load the manifests (raising ManifestError listing every problem)."""
    with bulk_building():
        return manifest.load(list(paths), settings.allowed_families, settings.working_tree)


def brief_read(settings: Settings, operation: str, *, lock: bool = True,
               timeout: float = 0.0) -> StateSource:
    """A read-only command's state source: read under the lock, held only for the read.

    With no state yet there is nothing to read consistently, and taking the lock would create
    files, which read-only commands must never do: so the lock is only taken once state exists.
    """

    def read() -> State | None:
        with opened(settings.backend) as backend:
            with bulk_building():
                state = backend.read()
            if state is None or not lock:
                return state
            with locked(backend, operation, timeout), bulk_building():
                return backend.read()

    return read


def observe(settings: Settings, desired: Desired, reads: refresh.Reads | None, *,
            parallelism: int | None = None, progress: refresh.Progress | None = None,
            on_attempt: OnAttempt | None = None) -> Observed:
    """Make the reads (no client at all when there are none)."""
    if reads is None:
        return Observed.none()
    if not len(reads):
        return Observed(refreshed=True)
    parallelism = parallelism or settings.parallelism
    with open_client(settings, desired=desired, parallelism=parallelism,
                     on_attempt=on_attempt, notice=refresh.notice_of(progress)) as client:
        return refresh.refresh(client, reads, parallelism=parallelism, progress=progress)


def load_inputs(settings: Settings, paths: Collection[Path], state: StateSource, *,
                reads: ReadsFor | None = None, parallelism: int | None = None,
                progress: refresh.Progress | None = None,
                on_attempt: OnAttempt | None = None) -> Inputs:
    """Manifests, then state, then the refresh ``reads`` asks for (none when None);
    ``on_attempt`` sees every call the refresh makes."""
    desired = load_desired(settings, paths)
    recorded = state()
    needed = reads(desired, recorded) if reads is not None else None
    observed = observe(settings, desired, needed, parallelism=parallelism, progress=progress,
                       on_attempt=on_attempt)
    return Inputs(desired, recorded, observed)


def targets_in_no_manifest(desired: Desired, targets: Collection[str]) -> list[str]:
    """The targeted customers no manifest lists (worth a warning: nothing is planned for them
    unless state still records them)."""
    listed = {upgrade.customer_id for upgrade in desired.upgrades}
    return [target for target in targets if target not in listed]


def make_plan(inputs: Inputs, targets: Collection[str] = (), batch: int | None = None) -> Plan:
    """The plan for ``inputs`` (pure but for the clock stamp, which is also "now" for
    ``spec.notBefore``)."""
    with bulk_building():  # make() decodes every record it looks at
        return make(inputs.desired, inputs.state, inputs.observed, created_at=utc_stamp(),
                    targets=targets, batch=batch)
