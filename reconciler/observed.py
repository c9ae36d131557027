"""What a refresh saw in Partner Center, as plain values the planner can reason about.

Refresh fills these from the client's answers; the planner never talks to the client, so these
types are the boundary between the I/O shell and the pure core.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from reconciler.model import UpgradeKey
from reconciler.state import LineItem, RecordStatus, Verification


@dataclass(frozen=True, slots=True)
class SeenEligibility:
    """The eligibility answer for one key (a 200 or one of the 'not eligible' error codes)."""

    is_eligible: bool
    upgrade_id: str | None = None
    reason: str | None = None
    error_code: str | None = None

    def describe(self) -> str:
        """Why the customer is not eligible, for humans."""
        reason = self.reason or "Partner Center gave no reason"
        return f"{reason} (code {self.error_code})" if self.error_code else reason


@dataclass(frozen=True, slots=True)
class SeenStatus:
    """The status answer for one recorded upgrade id.

    ``found`` is False for 404/900106 (Partner Center does not know the id) and
    ``foreign`` is True for 400/900111 (the id belongs to another customer).
    """

    upgrade_id: str
    status: str | None = None
    line_items: tuple[LineItem, ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    found: bool = True
    foreign: bool = False

    @property
    def completed(self) -> bool:
        return RecordStatus.of(self.status) is RecordStatus.COMPLETED

    @property
    def failed(self) -> bool:
        return RecordStatus.of(self.status) is RecordStatus.FAILED


@dataclass(frozen=True, slots=True)
class Observed:
    """Everything one refresh learned; keys absent from a mapping were not read."""

    eligibility: Mapping[UpgradeKey, SeenEligibility] = field(
        default_factory=lambda: MappingProxyType({}))
    status: Mapping[UpgradeKey, SeenStatus] = field(default_factory=lambda: MappingProxyType({}))
    refreshed: bool = False
    #: What the subscriptions showed, for keys whose upgrade was seen (or recorded) Completed.
    verification: Mapping[UpgradeKey, Verification] = field(
        default_factory=lambda: MappingProxyType({}))

    @staticmethod
    def none() -> Observed:
        """The observation of a plan made with ``--no-refresh``."""
        return Observed()
