"""The simulator's switches: everything the docs leave open, and everything tests provoke."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from reconciler.simulator.world import IN_PROGRESS


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Settings for one :class:`~reconciler.simulator.Simulator`.

    Documented behaviour is fixed; these switch the undocumented parts (see docs/simulator.md).
    """

    #: Accepted bearer token; None draws a random one (``Simulator.token``).
    token: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    #: Replay a create with a known MS-RequestId (True) or treat it as a new create (False).
    dedup: bool = True
    #: How long a request id is remembered; None: forever.
    dedup_window_seconds: float | None = None
    #: Ineligibility as ``200 {"isEligible": false}`` or as the ``ineligible_error`` ApiFault.
    ineligible_as: Literal["200", "error"] = "200"
    ineligible_error: tuple[int, int] = (403, 900120)
    #: The answer for a well-formed customer id the world does not know.
    unknown_customer_error: tuple[int, int, str] = (404, 60003, "Tenant not found.")
    #: Added to every API request (not the token server).
    latency_ms: float = 0.0
    rate_limit_per_minute: float | None = None
    customer_rate_limit_per_minute: float | None = None
    rate_limit_burst: float | None = None
    customer_rate_limit_burst: float | None = None
    completion_delay_seconds: float = 5.0
    completion_after_polls: int | None = None
    fail_rate: float = 0.0
    #: Retry-After of injected 429s.
    retry_after_seconds: int = 1
    world_path: Path | None = None
    seed: int | None = None
    #: Spelling of the in-flight status (undocumented).
    in_progress_status: str = IN_PROGRESS
    #: Keys of ``errorDetails`` in a status: the docs' ``message``, the SDKs' ``description``,
    #: or both.
    error_details_style: Literal["message", "description", "both"] = "message"
    #: ``Location`` of a 202 as documented (``productUpgrades/<id>``), as an absolute URL, or
    #: (a misbehaving server) ``productUpgrades/blank``, naming no upgrade id.
    location_style: Literal["relative", "absolute", "no-guid"] = "relative"
    #: The most customers one page of ``GET /v1/customers`` holds, whatever ``size`` asks
    #: (undocumented; Microsoft's bulk tool asks for 500).
    max_page_size: int = 1000
    #: How the customer list ends: the last page has no ``links.next`` (``"last-page"``), or it
    #: has one and following it answers ``400`` with code ``2000``, "no more records"
    #: (``"error-2000"``, what Microsoft's bulk migration tool is written for).
    customers_end: Literal["last-page", "error-2000"] = "last-page"
    #: What the subscription list shows of the MS-AZR-0145P subscription after an upgrade
    #: completed: ``"suspended"`` (the documented end state), ``"active"`` (it stays active: the
    #: upgrade never verifies) or ``"hidden"`` (only the Azure plan is listed, the moved
    #: subscriptions being under its azureEntitlements).
    legacy_after_upgrade: Literal["suspended", "active", "hidden"] = "suspended"
    #: For this long after completion the listing still shows the customer as before the
    #: upgrade (listings lag by up to about 15 minutes).
    subscription_lag_seconds: float = 0.0
    #: Keep a record of every request (tests); turn off for long benchmark runs.
    record_requests: bool = True
    #: The threaded server's listen backlog.
    backlog: int = 256
