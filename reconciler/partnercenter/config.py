"""The client's settings: one frozen value."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from reconciler import __version__

from .deadline import Deadline
from .endpoints import DEFAULT_ENDPOINT, validate_endpoint
from .retry import RetryPolicy
from .throttle import RateMemo, RatePolicy

__all__ = ["APPLICATION_NAME", "ClientConfig"]

APPLICATION_NAME = f"partnercenter-reconciler/{__version__}"


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """How the client talks to Partner Center.

    ``requests_per_minute`` is the request rate shared by every thread: ``"auto"`` finds the rate
    Partner Center accepts (:mod:`.throttle`), a number does the same but never goes above it,
    and ``None`` turns client-side pacing off (tests; a 429 then only holds every worker back for
    its Retry-After). ``max_concurrency`` bounds requests in flight (and sizes the connection
    pool); below it, concurrency follows the rate. ``max_attempts`` counts every attempt of one
    call, the first included. ``ca_bundle`` is a CA file for https verification (else
    ``REQUESTS_CA_BUNDLE`` or the system store). The endpoint is validated on construction.

    Every attempt has its own timeouts (``connect_timeout`` to connect, ``read_timeout`` for
    each wait on the server); a call gives up after ``max_timeouts`` attempts that got no answer
    in time (a server that accepts and never answers rarely starts answering). ``deadline``,
    when set, bounds the whole run: timeouts and waits are clipped to the time left, and no
    attempt starts after it. A wait of at least ``notice_after`` seconds before a retry is
    announced once per episode on the ``reconciler.partnercenter.notice`` logger (WARNING).
    """

    endpoint: str = DEFAULT_ENDPOINT
    requests_per_minute: float | Literal["auto"] | None = "auto"
    burst: int = 4
    max_concurrency: int = 16
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    retry_after_cap: float = 120.0
    max_timeouts: int = 2
    deadline: Deadline | None = None
    notice_after: float = 5.0
    rate_policy: RatePolicy = field(default_factory=RatePolicy)
    #: What an earlier client found about this endpoint's rate (start there, not at the ramp).
    learned_rate: RateMemo | None = None
    locale: str = "en-US"
    application: str = APPLICATION_NAME
    ca_bundle: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "endpoint", validate_endpoint(self.endpoint))
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        rpm = self.requests_per_minute
        if rpm is not None and rpm != "auto" and not rpm > 0:
            raise ValueError("requests_per_minute must be 'auto', a positive number or None")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if self.max_timeouts < 1:
            raise ValueError("max_timeouts must be at least 1")
        self.retry_policy  # noqa: B018 - validates the retry settings now, not at first use

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry settings as a :class:`RetryPolicy`."""
        return RetryPolicy(
            max_attempts=self.max_attempts,
            base_delay=self.base_delay,
            max_delay=self.max_delay,
            retry_after_cap=self.retry_after_cap,
        )
