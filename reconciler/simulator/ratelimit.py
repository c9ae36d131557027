"""Token buckets per partner and per partner+customer, as Microsoft's throttling guidance says.

No number is published for the product-upgrade endpoints, so rates are switches.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    """``capacity`` tokens, refilled continuously at ``per_second``."""

    capacity: float
    per_second: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Take one token; return 0 on success, else the seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.per_second


class RateLimiter:
    """A partner-wide bucket and one bucket per customer; either may be off (None)."""

    def __init__(
        self,
        partner_per_minute: float | None,
        customer_per_minute: float | None,
        *,
        partner_burst: float | None = None,
        customer_burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._partner_rate = partner_per_minute
        self._customer_rate = customer_per_minute
        self._partner_burst = partner_burst
        self._customer_burst = customer_burst
        self._clock = clock
        self._lock = threading.Lock()
        self._partner: TokenBucket | None = None
        self._customers: dict[str, TokenBucket] = {}

    @property
    def enabled(self) -> bool:
        """Whether any limit is in force."""
        return self._partner_rate is not None or self._customer_rate is not None

    def _bucket(self, per_minute: float, burst: float | None, now: float) -> TokenBucket:
        # A burst of one minute's worth by default: a quiet client may spend a minute at once.
        capacity = max(1.0, burst if burst is not None else per_minute)
        return TokenBucket(capacity, per_minute / 60.0, capacity, now)

    def check(self, customer_id: str | None) -> int:
        """Admit one request; return 0, or the whole seconds to put in ``Retry-After``.

        The partner bucket is asked first; a request refused there does not use a customer
        token, and one refused by the customer bucket keeps its partner token spent (the
        request did reach the service).
        """
        if not self.enabled:
            return 0
        now = self._clock()
        with self._lock:
            if self._partner_rate is not None:
                if self._partner is None:
                    self._partner = self._bucket(self._partner_rate, self._partner_burst, now)
                wait = self._partner.take(now)
                if wait:
                    return max(1, math.ceil(wait))
            if self._customer_rate is not None and customer_id:
                bucket = self._customers.get(customer_id)
                if bucket is None:
                    bucket = self._bucket(self._customer_rate, self._customer_burst, now)
                    self._customers[customer_id] = bucket
                wait = bucket.take(now)
                if wait:
                    return max(1, math.ceil(wait))
        return 0
