"""Client-side throttling shared by every worker thread of one client.

Two mechanisms, steered by :class:`~reconciler.partnercenter.throttle.RateController`:

* :class:`RateLimiter` spaces requests to a rate with a small burst (GCRA), and can hold every
  thread back for a while (a pause after repeated 429s). Partner Center limits per partner
  tenant, so the rate is one value shared by every worker thread.
* :class:`ConcurrencyLimit` bounds how many requests are in flight.

Clock and sleep are injected so the tests are exact.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["ConcurrencyLimit", "RateLimiter"]

Clock = Callable[[], float]
Sleep = Callable[[float], None]

#: A waiting thread looks again at least this often (the rate may have risen meanwhile).
POLL_SECONDS = 0.25


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
        self._burst = burst
        self._interval = 60.0 / per_minute if per_minute else 0.0
        self._tolerance = self._interval * (burst - 1)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tat = float("-inf")  # theoretical arrival time of the next request
        self._blocked_until = float("-inf")

    def set_rate(self, per_second: float, burst: int | None = None) -> None:
        """Space requests for ``per_second`` (and ``burst``) from now on."""
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        with self._lock:
            if burst is not None:
                self._burst = max(1, burst)
            interval = 1.0 / per_second
            now = self._clock()
            if self._interval > 0 and self._tat > now:
                # The slots taken ahead were spaced at the old rate: respace them at the new one.
                self._tat = now + (self._tat - now) * interval / self._interval
            self._interval = interval
            self._tolerance = self._interval * (self._burst - 1)

    def reserve(self) -> float:
        """Claim the next slot and return how long the caller must wait for it (seconds)."""
        with self._lock:
            now = self._clock()
            start = max(now, self._blocked_until)
            tat = max(self._tat, start)
            allowed_at = max(start, tat - self._tolerance)
            self._tat = tat + self._interval
            return allowed_at - now

    def try_take(self) -> float:
        """Take a slot if one is free now (returns 0), else return how long until one may be.

        Nothing is claimed ahead: a thread that must wait asks again later, so a rate raised
        meanwhile takes effect at once instead of after the slots claimed at the old rate.
        """
        with self._lock:
            now = self._clock()
            if now < self._blocked_until:
                return self._blocked_until - now
            allowed_at = self._tat - self._tolerance
            if now < allowed_at:
                return allowed_at - now
            self._tat = max(self._tat, now) + self._interval
            return 0.0

    def acquire(self, time_left: Callable[[], float] | None = None) -> float | None:
        """Wait until a request may be sent; return the time waited.

        With ``time_left`` (seconds until a deadline), give up and return None once it is 0.
        """
        waited = 0.0
        while True:
            wait = self.try_take()
            if wait <= 0:
                return waited
            left = time_left() if time_left is not None else POLL_SECONDS
            if left <= 0:
                return None
            step = min(wait, POLL_SECONDS, left)
            self._sleep(step)
            waited += step

    def defer(self, seconds: float) -> None:
        """Hold back every request for ``seconds`` from now (after a 429 with Retry-After)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)


class ConcurrencyLimit:
    """A resizable semaphore: at most ``limit`` requests in flight, ``limit <= maximum``.

    The rate controller (:mod:`.throttle`) resizes it as the rate and the latency change;
    shrinking never interrupts a request already in flight, it only makes new ones wait.
    """

    def __init__(self, maximum: int) -> None:
        if maximum < 1:
            raise ValueError("the maximum must be at least 1")
        self.maximum = maximum
        self._cond = threading.Condition()
        self._limit = maximum
        self._in_flight = 0

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

    def resize(self, limit: int) -> None:
        """Allow ``limit`` requests in flight (clamped to 1..maximum)."""
        with self._cond:
            new = max(1, min(self.maximum, limit))
            if new != self._limit:
                grew = new > self._limit
                self._limit = new
                if grew:
                    self._cond.notify_all()

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
