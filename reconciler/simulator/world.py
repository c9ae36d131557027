"""The simulated Partner Center world: customers, their upgrades, and remembered responses.

Everything here is guarded by one re-entrant lock, so the HTTP threads and a test that mutates
the world (out-of-band upgrades, reverts, forced failures) never see half a change. Upgrade
status is advanced lazily: each read compares the clock (or the poll count) with the lifecycle,
so no background thread is needed and a world loaded from disk resumes where it was.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from reconciler.simulator.records import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    TERMINAL,
    ApiError,
    Customer,
    Lifecycle,
    StoredResponse,
    Upgrade,
    utcnow,
)

logger = logging.getLogger(__name__)

__all__ = [
    "COMPLETED",
    "FAILED",
    "IN_PROGRESS",
    "ApiError",
    "Changes",
    "Customer",
    "Lifecycle",
    "StoredResponse",
    "Upgrade",
    "World",
    "normalize_id",
]

#: Code and message given to an upgrade that fails by ``fail_rate`` (the docs name none).
DEFAULT_FAILURE_CODE = "800003"
DEFAULT_FAILURE_MESSAGE = "The upgrade could not be completed. Please try again later."


@dataclass(slots=True)
class _Dirty:
    """Keys changed since the last :meth:`World.take_changes` (kept only while tracking)."""

    customers: set[str] = field(default_factory=set)
    upgrades: set[str] = field(default_factory=set)
    responses: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Changes:
    """What changed: records as they are now, and the ids of upgrades that vanished."""

    customers: list[Customer]
    upgrades: list[Upgrade]
    gone_upgrades: list[str]
    responses: dict[str, StoredResponse]

    def __bool__(self) -> bool:
        return bool(self.customers or self.upgrades or self.gone_upgrades or self.responses)


@dataclass(slots=True)
class _State:
    customers: dict[str, Customer] = field(default_factory=dict)
    upgrades: dict[str, Upgrade] = field(default_factory=dict)
    #: Upgrade ids per customer, oldest first, so per-customer reads do not scan every upgrade.
    by_customer: dict[str, list[str]] = field(default_factory=dict)
    responses: dict[str, StoredResponse] = field(default_factory=dict)


def normalize_id(value: str) -> str:
    """Ids compare case-insensitively; keep them lower-case everywhere."""
    return value.strip().lower()


class World:
    """Customers and upgrades, safe to use from many threads at once."""

    def __init__(
        self,
        *,
        lifecycle: Lifecycle | None = None,
        clock: Callable[[], datetime] = utcnow,
        seed: int | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._state = _State()
        self._lifecycle = lifecycle or Lifecycle()
        self._clock = clock
        self._rng = random.Random(seed)
        self._listeners: list[Callable[[], None]] = []
        self._batch_depth = 0
        self._batch_dirty = False
        self._tracking = False
        self._dirty = _Dirty()

    # -- configuration -------------------------------------------------------------------

    def configure(
        self,
        *,
        lifecycle: Lifecycle | None = None,
        seed: int | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """Set the lifecycle, the random seed or the clock (the Simulator does this on start)."""
        with self._lock:
            if lifecycle is not None:
                self._lifecycle = lifecycle
            if seed is not None:
                self._rng = random.Random(seed)
            if clock is not None:
                self._clock = clock

    @property
    def lifecycle(self) -> Lifecycle:
        """The lifecycle in force."""
        return self._lifecycle

    def now(self) -> datetime:
        """The world's clock."""
        return self._clock()

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (without arguments) after every mutation, e.g. to save the world."""
        self._listeners.append(listener)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Hold the lock for several mutations and notify listeners once, at the end.

        A create records the upgrade and the response remembered for its request id in one
        batch, so a saved world never has one without the other. Listeners run after the lock
        is released: a saver takes its own lock and then this one, never the other way round.
        """
        flush = False
        try:
            with self._lock:
                self._batch_depth += 1
                try:
                    yield
                finally:
                    self._batch_depth -= 1
                    if self._batch_depth == 0 and self._batch_dirty:
                        self._batch_dirty, flush = False, True
        finally:
            if flush:
                self._notify()

    def _changed(
        self,
        customers: Iterable[str] = (),
        upgrades: Iterable[str] = (),
        responses: Iterable[str] = (),
    ) -> None:
        with self._lock:
            if self._tracking:
                self._dirty.customers.update(customers)
                self._dirty.upgrades.update(upgrades)
                self._dirty.responses.update(responses)
            if self._batch_depth:
                self._batch_dirty = True
                return
        self._notify()

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    # -- customers -----------------------------------------------------------------------

    def add_customer(
        self,
        customer_id: str,
        name: str = "Contoso",
        *,
        eligible: bool = True,
        reason: str | None = None,
        error: tuple[int, int | str, str] | ApiError | None = None,
        legacy: bool = True,
    ) -> Customer:
        """Add (or replace) a customer.

        ``eligible=False`` with a ``reason`` makes eligibility answer ``isEligible: false`` (or an
        error, per the server's switch); ``error=(status, code, description)`` makes eligibility
        and create answer that ApiFault instead. ``legacy=False``: the customer has no
        MS-AZR-0145P subscription (eligibility and create answer 403/900108).
        """
        api_error = ApiError(*error) if isinstance(error, tuple) else error
        if not legacy and api_error is None:
            api_error = ApiError(403, 900108, "Customer has no Azure subscriptions.")
        customer = Customer(normalize_id(customer_id), name, eligible, reason, api_error, legacy)
        with self._lock:
            self._state.customers[customer.id] = customer
        self._changed(customers=[customer.id])
        return customer

    def ensure_customer(self, customer_id: str, name: str | None = None) -> Customer:
        """Add an eligible customer unless one with this id exists; return the customer."""
        with self._lock:
            existing = self._state.customers.get(normalize_id(customer_id))
            if existing is not None:
                return existing
        return self.add_customer(customer_id, name or f"Customer {customer_id[:8]}")

    def customer(self, customer_id: str) -> Customer | None:
        """The customer, or None."""
        # A dict read is atomic and customers are immutable: no lock on this hot path.
        return self._state.customers.get(normalize_id(customer_id))

    def customers(self) -> list[Customer]:
        """Every customer, in the order they were added."""
        with self._lock:
            return list(self._state.customers.values())

    # -- upgrades ------------------------------------------------------------------------

    def upgrades_for(self, customer_id: str) -> list[Upgrade]:
        """Copies of the customer's upgrades, oldest first, with status brought up to date."""
        key = normalize_id(customer_id)
        with self._lock:
            ids = self._state.by_customer.get(key, ())
            found = [self._state.upgrades[i] for i in ids]
            changed = [u.id for u in found if self._advance(u)]
            copies = [replace(u) for u in found]
        if changed:
            self._changed(upgrades=changed)
        return copies

    def upgrade(self, upgrade_id: str) -> Upgrade | None:
        """A copy of the upgrade with status brought up to date, or None."""
        with self._lock:
            found = self._state.upgrades.get(normalize_id(upgrade_id))
            if found is None:
                return None
            changed = self._advance(found)
            copy = replace(found)
        if changed:
            self._changed(upgrades=[copy.id])
        return copy

    def active_upgrade(self, customer_id: str) -> Upgrade | None:
        """The newest upgrade that is in flight or completed (a failed one is not "in place")."""
        key = normalize_id(customer_id)
        with self._lock:
            if key not in self._state.by_customer:  # the common case: never upgraded
                return None
        live = [u for u in self.upgrades_for(customer_id) if u.status != FAILED]
        return live[-1] if live else None

    def start_upgrade(
        self, customer_id: str, request_id: str | None, *, out_of_band: bool = False
    ) -> Upgrade:
        """Create an in-flight upgrade; whether it will fail is drawn now from the seeded RNG."""
        with self._lock:
            upgrade_id = self._new_id()
            upgrade = Upgrade(
                id=upgrade_id,
                customer_id=normalize_id(customer_id),
                status=IN_PROGRESS,
                request_id=request_id,
                created_at=self._clock(),
                will_fail=self._rng.random() < self._lifecycle.fail_rate,
                out_of_band=out_of_band,
            )
            self._state.upgrades[upgrade.id] = upgrade
            self._state.by_customer.setdefault(upgrade.customer_id, []).append(upgrade.id)
            self._advance(upgrade)  # a zero delay completes at once
            copy = replace(upgrade)
        logger.debug("upgrade %s started for customer %s", upgrade.id, upgrade.customer_id)
        self._changed(upgrades=[copy.id])
        return copy

    def _new_id(self) -> str:
        # Seeded ids repeat across restarts with a loaded world: draw again on a collision.
        while True:
            candidate = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            if candidate not in self._state.upgrades:
                return candidate

    def upgrade_out_of_band(self, customer_id: str, *, status: str = IN_PROGRESS) -> str:
        """Start an upgrade that did not come through the API (e.g. made in the portal).

        The customer is added if unknown. With ``status="Completed"`` it is done at once;
        otherwise it follows the lifecycle like any other upgrade.
        """
        self.ensure_customer(customer_id)
        upgrade = self.start_upgrade(customer_id, None, out_of_band=True)
        if status == COMPLETED:
            self.complete_upgrade(upgrade.id)
        return upgrade.id

    def complete_upgrade(self, upgrade_id: str) -> None:
        """Force an upgrade to Completed now."""
        self._finish(upgrade_id, COMPLETED, None, None)

    def fail_upgrade(
        self,
        upgrade_id: str,
        code: str = DEFAULT_FAILURE_CODE,
        message: str = DEFAULT_FAILURE_MESSAGE,
    ) -> None:
        """Force an upgrade to Failed now, with the given error details."""
        self._finish(upgrade_id, FAILED, str(code), message)

    def _finish(self, upgrade_id: str, status: str, code: str | None, message: str | None) -> None:
        with self._lock:
            upgrade = self._state.upgrades.get(normalize_id(upgrade_id))
            if upgrade is None:
                raise KeyError(f"Unknown upgrade {upgrade_id}.")
            upgrade.status = status
            upgrade.completed_at = self._clock()
            upgrade.error_code = code
            upgrade.error_message = message
        self._changed(upgrades=[upgrade.id])

    def revert(self, customer_id: str) -> list[str]:
        """Make the customer's upgrades vanish and the customer eligible again (drift).

        Returns the ids that vanished; their status now answers 404/900106.
        """
        key = normalize_id(customer_id)
        with self._lock:
            gone = self._state.by_customer.pop(key, [])
            for upgrade_id in gone:
                del self._state.upgrades[upgrade_id]
            customer = self._state.customers.get(key)
            if customer is not None:
                self._state.customers[key] = replace(
                    customer, eligible=True, reason=None, error=None
                )
        self._changed(customers=[key] if customer is not None else [], upgrades=gone)
        return gone

    def set_end_state(self, customer_id: str, *, legacy_active: bool = False,
                      plan_missing: bool = False) -> None:
        """What the subscriptions show after the customer's upgrade: the MS-AZR-0145P
        subscription active again, and/or no Azure plan (both False: the documented end)."""
        key = normalize_id(customer_id)
        with self._lock:
            customer = self._state.customers[key]
            self._state.customers[key] = replace(customer, legacy_active_again=legacy_active,
                                                 azure_plan_missing=plan_missing)
        self._changed(customers=[key])

    def record_poll(self, upgrade_id: str) -> Upgrade | None:
        """Count one status poll of the upgrade and return its up-to-date copy (None: unknown)."""
        with self._lock:
            found = self._state.upgrades.get(normalize_id(upgrade_id))
            if found is None:
                return None
            found.polls += 1
            changed = self._advance(found)
            copy = replace(found)
        if changed or self._lifecycle.completion_after_polls is not None:
            self._changed(upgrades=[copy.id])
        return copy

    def _advance(self, upgrade: Upgrade) -> bool:
        """Move an in-flight upgrade to its terminal state when its time has come."""
        if upgrade.status in TERMINAL:
            return False
        life = self._lifecycle
        if life.completion_after_polls is not None:
            if upgrade.polls < life.completion_after_polls:
                return False
            finished_at = self._clock()
        else:
            finished_at = upgrade.created_at + timedelta(seconds=life.completion_delay_seconds)
            if self._clock() < finished_at:
                return False
        upgrade.completed_at = finished_at
        if upgrade.will_fail:
            upgrade.status = FAILED
            upgrade.error_code = DEFAULT_FAILURE_CODE
            upgrade.error_message = DEFAULT_FAILURE_MESSAGE
        else:
            upgrade.status = COMPLETED
        return True

    # -- remembered responses (MS-RequestId dedup) ---------------------------------------

    def remembered(self, request_id: str, window_seconds: float | None) -> StoredResponse | None:
        """The response first given to ``request_id``, if still inside the dedup window."""
        with self._lock:
            stored = self._state.responses.get(normalize_id(request_id))
            if stored is None:
                return None
            age = (self._clock() - stored.created_at).total_seconds()
            if window_seconds is not None and age > window_seconds:
                return None
            return stored

    def remember(self, request_id: str, response: StoredResponse) -> None:
        """Keep ``response`` as the answer to any replay of ``request_id``."""
        with self._lock:
            self._state.responses[normalize_id(request_id)] = response
        self._changed(responses=[normalize_id(request_id)])

    # -- whole-world access for persistence ----------------------------------------------

    def track_changes(self) -> None:
        """From now on, remember which records change, for :meth:`take_changes`."""
        with self._lock:
            self._tracking = True

    def take_changes(self) -> Changes:
        """The records changed since the last call (copies), forgetting them."""
        with self._lock:
            dirty, self._dirty = self._dirty, _Dirty()
            state = self._state
            return Changes(
                customers=[state.customers[k] for k in sorted(dirty.customers)
                           if k in state.customers],
                upgrades=[replace(state.upgrades[k]) for k in sorted(dirty.upgrades)
                          if k in state.upgrades],
                gone_upgrades=sorted(k for k in dirty.upgrades if k not in state.upgrades),
                responses={k: state.responses[k] for k in sorted(dirty.responses)
                           if k in state.responses},
            )

    def snapshot(self) -> tuple[list[Customer], list[Upgrade], dict[str, StoredResponse]]:
        """Consistent copies of everything, for saving."""
        with self._lock:
            return (
                list(self._state.customers.values()),
                [replace(u) for u in self._state.upgrades.values()],
                dict(self._state.responses),
            )

    def restore(
        self,
        customers: list[Customer],
        upgrades: list[Upgrade],
        responses: dict[str, StoredResponse],
        gone_upgrades: Iterable[str] = (),
    ) -> None:
        """Merge what was saved into the world (no listeners are called); ``gone_upgrades``
        (reverted since) are removed.

        Saved records win over ones with the same id; anything added before loading (e.g.
        customers seeded from manifests with :meth:`ensure_customer`) is kept.
        """
        with self._lock:
            state = self._state
            state.customers.update({c.id: c for c in customers})
            state.upgrades.update({u.id: u for u in upgrades})
            for upgrade_id in gone_upgrades:
                state.upgrades.pop(upgrade_id, None)
            state.responses.update(responses)
            state.by_customer = {}
            for upgrade in sorted(state.upgrades.values(), key=lambda u: u.created_at):
                state.by_customer.setdefault(upgrade.customer_id, []).append(upgrade.id)
