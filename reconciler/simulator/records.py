"""The world's records: customers, upgrades, remembered responses and the lifecycle rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

IN_PROGRESS = "InProgress"
COMPLETED = "Completed"
FAILED = "Failed"
TERMINAL = frozenset({COMPLETED, FAILED})


def utcnow() -> datetime:
    """The wall clock in UTC; wall time (not monotonic) so that it survives a restart."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ApiError:
    """An ApiFault a customer is refused with: HTTP status, Partner Center code, description."""

    status: int
    code: int | str
    description: str


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer tenant the partner has a relationship with (immutable: shared, not copied)."""

    id: str
    name: str
    eligible: bool = True
    reason: str | None = None
    error: ApiError | None = None
    #: Whether the customer has the legacy MS-AZR-0145P subscription at all; a customer without
    #: one (only Microsoft 365, say) is refused eligibility with 403/900108.
    legacy: bool = True
    #: The legacy subscription is active again after the upgrade (drift: ``legacy_active``).
    legacy_active_again: bool = False
    #: No Azure plan subscription is listed after the upgrade (drift: ``azure_plan_missing``).
    azure_plan_missing: bool = False


@dataclass(slots=True)
class Upgrade:
    """One upgrade request and where it stands."""

    id: str
    customer_id: str
    status: str
    request_id: str | None
    created_at: datetime
    product_family: str = "Azure"
    completed_at: datetime | None = None
    polls: int = 0
    will_fail: bool = False
    error_code: str | None = None
    error_message: str | None = None
    out_of_band: bool = False


@dataclass(slots=True)
class StoredResponse:
    """A response remembered under its MS-RequestId, for idempotent replays."""

    status: int
    headers: list[tuple[str, str]]
    body: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """How an in-flight upgrade reaches a terminal state.

    By time (``completion_delay_seconds`` after creation) unless ``completion_after_polls`` is
    set, in which case only status polls move it. ``fail_rate`` is the chance, drawn once at
    creation, that the terminal state is Failed instead of Completed.
    """

    completion_delay_seconds: float = 5.0
    completion_after_polls: int | None = None
    fail_rate: float = 0.0
