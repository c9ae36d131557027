"""Conductors of the commands that inspect or edit state by hand: import, state rm|push|history,
force-unlock. Each opens the backend, takes the lock where it writes, and returns values for the
command to render."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler import history, stateedit
from reconciler.apply import Applier, Outcome
from reconciler.backends import LockInfo, StateRecorder, opened
from reconciler.backends.base import StateBehindHistory
from reconciler.backends.errored import finish_run
from reconciler.connect import open_client
from reconciler.errors import LockError, UsageError
from reconciler.model import UpgradeKey, canonical_family, parse_customer_id
from reconciler.settings import Settings
from reconciler.state import State

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Recorded:
    """The recorded state (None when there is none) and where it lives."""

    state: State | None
    where: str


def recorded(settings: Settings, *, behind_history: bool = False) -> Recorded:
    """Read the state without locking (``state list|show|pull``).

    ``behind_history``: return a state that lost changes its history records (see
    :class:`StateBehindHistory`) rather than refuse it, so ``state pull`` can save it to push.
    """
    with opened(settings.backend) as backend:
        try:
            return Recorded(backend.read(), backend.describe())
        except StateBehindHistory as exc:
            if not behind_history:
                raise
            log.warning("%s", exc.message.split(". ")[0] + ".")
            return Recorded(exc.state, backend.describe())


def import_upgrade(settings: Settings, customer_id: str, family: str, *,
                   lock_timeout: float = 0.0) -> Outcome:
    """Look up the customer's existing upgrade and record it (no POST).

    The outcome is RECORDED (imported now), FOUND (already recorded) or FAILED (Partner Center
    has none to import).
    """
    canonical = canonical_family(family, settings.allowed_families)
    if canonical is None:
        raise UsageError(f"Unknown product family {family!r}; allowed: "
                         f"{', '.join(settings.allowed_families)}.")
    key = UpgradeKey(parse_customer_id(customer_id), canonical)
    with opened(settings.backend, lock="import", timeout=lock_timeout) as backend:
        recorder = StateRecorder(backend, backend.read())
        log = history.History(backend, str(uuid.uuid4()))
        try:
            with open_client(settings, on_attempt=log.call) as client:
                return Applier(client, recorder, history=log).import_upgrade(key)
        finally:
            try:
                finish_run(recorder, backend)
            finally:
                log.close()


def remove_customers(settings: Settings, customer_ids: Iterable[str], *,
                     lock_timeout: float = 0.0) -> list[UpgradeKey]:
    """Stop tracking every record of the customers (all or nothing); the keys removed."""
    with opened(settings.backend) as backend:
        if backend.read() is None:  # nothing to remove: do not create a lock (or its directory)
            raise UsageError(f"No upgrades are recorded in {backend.describe()}; nothing was "
                             "removed.")
    with opened(settings.backend, lock="state rm", timeout=lock_timeout) as backend:
        state, keys = stateedit.without_customers(backend.read(), customer_ids,
                                                  backend.describe())
        backend.write(state)
        return keys


@dataclass(frozen=True, slots=True)
class Pushed:
    """What ``state push`` wrote (None: the backend already held that state)."""

    state: State | None
    where: str


def push_state(settings: Settings, file: Path, *, force: bool,
               lock_timeout: float = 0.0) -> Pushed:
    """Replace the recorded state with the state file ``file`` (Terraform's rules)."""
    pushed = stateedit.read_state_file(file)
    with opened(settings.backend, lock="state push", timeout=lock_timeout) as backend:
        try:
            current = backend.read()
        except StateBehindHistory as exc:
            # Pushing is the way on from lost changes: the pushed state goes past every serial
            # the history saw, so none is used twice.
            current = exc.as_recorded()
        target = stateedit.to_push(pushed, current, force, backend.describe())
        if target is not None:
            backend.write(target)
        return Pushed(target, backend.describe())


def read_history(settings: Settings, customer_id: str | None) -> tuple[list[dict[str, Any]], str]:
    """The operation history (optionally one customer's) and where the state lives."""
    if customer_id is not None:
        customer_id = parse_customer_id(customer_id)
    with opened(settings.backend) as backend:
        return list(history.read(backend, customer_id)), backend.describe()


def lock_to_release(settings: Settings, lock_id: str) -> LockInfo:
    """The current lock, if its ID is ``lock_id`` (LockError otherwise)."""
    with opened(settings.backend) as backend:
        current = backend.current_lock()
        if current is None:
            raise LockError(f"The {backend.describe()} is not locked.")
        if current.id != lock_id:
            raise LockError(f"Lock ID {lock_id} does not match the current lock: "
                            f"{current.describe()}.")
        return current


def release_lock(settings: Settings, lock_id: str) -> LockInfo:
    """Remove the lock whose ID is ``lock_id``, whoever holds it; what was removed."""
    with opened(settings.backend) as backend:
        return backend.force_unlock(lock_id)
