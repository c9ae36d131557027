"""Client-side throttling shared by every worker thread of one client.

Two independent controls:

* :class:`RateLimiter` spaces requests to a configured rate (requests per minute) with a small
  burst, and can be told to hold every thread back after a 429 with ``Retry-After``. Partner
  Center limits per partner tenant, so one worker's 429 concerns them all.
* :class:`AdaptiveConcurrency` bounds how many requests are in flight. It halves the bound when
  429s arrive (at most once per cooldown, so one burst of 429s counts once) and raises it by one
  only after a run of successes: additive increase, multiplicative decrease.

Clock and sleep are injected so the tests are exact.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["AdaptiveConcurrency", "RateLimiter"]

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class RateLimiter:
    """A thread-safe GCRA (token bucket) limiter.

    ``per_minute=None`` means no rate limit (``defer`` still works). ``burst`` requests may go
    back to back; after that, one every ``60 / per_minute`` seconds.
    """

    def __init__(
        self,
        per_minute: float | None,
        *,
        burst: int = 1,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if per_minute is not None and per_minute <= 0:
            raise ValueError("per_minute must be positive or None")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self._interval = 60.0 / per_minute if per_minute else 0.0
        self._tolerance = self._interval * (burst - 1)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tat = float("-inf")  # theoretical arrival time of the next request
        self._blocked_until = float("-inf")

    def reserve(self) -> float:
        """Claim the next slot and return how long the caller must wait for it (seconds)."""
        with self._lock:
            now = self._clock()
            start = max(now, self._blocked_until)
            tat = max(self._tat, start)
            allowed_at = max(start, tat - self._tolerance)
            self._tat = tat + self._interval
            return allowed_at - now

    def acquire(self) -> float:
        """Wait until a request may be sent; return the time waited."""
        delay = self.reserve()
        if delay > 0:
            self._sleep(delay)
        return delay

    def defer(self, seconds: float) -> None:
        """Hold back every request for ``seconds`` from now (after a 429 with Retry-After)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)


class AdaptiveConcurrency:
    """A resizable semaphore that shrinks on 429 and grows back slowly."""

    def __init__(
        self,
        maximum: int,
        *,
        minimum: int = 1,
        recover_after: int = 20,
        cooldown: float = 5.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if not 1 <= minimum <= maximum:
            raise ValueError("need 1 <= minimum <= maximum")
        self.maximum = maximum
        self.minimum = minimum
        self._recover_after = recover_after
        self._cooldown = cooldown
        self._clock = clock
        self._cond = threading.Condition()
        self._limit = maximum
        self._in_flight = 0
        self._successes = 0
        self._last_change = float("-inf")

    @property
    def limit(self) -> int:
        """The current bound on requests in flight."""
        with self._cond:
            return self._limit

    @property
    def in_flight(self) -> int:
        """Requests currently holding a slot."""
        with self._cond:
            return self._in_flight

    def acquire(self) -> None:
        """Block until fewer than ``limit`` requests are in flight, then take a slot."""
        with self._cond:
            self._cond.wait_for(lambda: self._in_flight < self._limit)
            self._in_flight += 1

    def release(self) -> None:
        """Give a slot back."""
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a slot for the duration of the ``with`` block."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def on_throttled(self) -> None:
        """A 429 arrived: halve the bound, unless it was already cut within the cooldown."""
        with self._cond:
            now = self._clock()
            self._successes = 0
            if now - self._last_change < self._cooldown:
                return
            self._limit = max(self.minimum, self._limit // 2)
            self._last_change = now

    def on_success(self) -> None:
        """A request was not throttled: after enough of them, raise the bound by one."""
        with self._cond:
            if self._limit >= self.maximum:
                return
            self._successes += 1
            now = self._clock()
            if self._successes >= self._recover_after and now - self._last_change >= self._cooldown:
                self._limit += 1
                self._successes = 0
                self._last_change = now
                self._cond.notify_all()
