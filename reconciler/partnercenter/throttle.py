"""Finding the request rate Partner Center accepts, instead of guessing it.

Partner Center publishes no limit for the product-upgrade endpoints, and a fixed guess is either
far too slow or a storm of 429s. :class:`RateController` is the decision logic the transport
consults after every answer; it owns no thread and no sleep, only an injected clock, so tests
drive it exactly (``tests/partnercenter/test_pc_throttle.py`` runs it against a simulated token
bucket in virtual time). The algorithm, in words (also in docs/throughput.md):

1. **Ramp.** Start at ``start`` requests/s (Microsoft's only published figure is 500 a minute for
   other resources; or at the configured ceiling) and multiply the rate by ``growth`` every five
   round trips (at most every ``step`` seconds, at least one request a step) while answers
   succeed — but only while the rate is what holds the run back (at least 80% of it is used):
   when latency or parallelism is the limit, a higher rate would only store up a burst.
2. **Back off** on a 429 for a request sent *after* the last back-off (earlier ones were sent at
   the old rate and say nothing new) to ``margin`` times the service's limit, measured: a 429
   means the service's bucket is empty, so between two 429s it accepted exactly what it
   refilled, and *answers accepted since the first 429 of the episode, per second*, is its
   limit. At the first 429 of an episode there is no such span yet, and the rate of answers
   accepted over the last ``window`` seconds stands in (it over-estimates while a burst
   allowance drains, which the next 429 corrects). The throttled request itself waits at least
   its Retry-After (the transport's retry rule); the other workers slow down through the lower
   rate, which is shared by all of them. Only when back-offs keep failing (``strikes_to_pause``
   in a row, e.g. a limit per fixed window) does every worker wait out the Retry-After.
3. **Recover.** After a back-off, hold the rate for ``hold`` seconds (at least the Retry-After),
   then climb back as fast as the ramp to ``near`` the limit measured, and from there probe
   upward by ``probe`` times the rate per second, faster the longer no 429 comes (one more
   ``probe`` every ``rediscover`` seconds), since the limit may have risen.

Concurrency uses the configured parallelism until the first 429; from then on it follows the rate
(Little's law): ``headroom`` times the rate times the observed latency, plus one, never above the
parallelism, so a throttling service does not get requests piled up in flight.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateController", "RateDecision", "RateMemo", "RatePolicy", "RateState"]

log = logging.getLogger(__name__)

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class RatePolicy:
    """The controller's constants (see the module docstring for what each does)."""

    start: float = 8.0
    floor: float = 0.2
    growth: float = 2.0
    step: float = 0.25
    min_step: float = 0.02
    step_round_trips: float = 5.0
    step_sends: int = 1
    #: Below this share of the last limit found, recover as fast as the ramp.
    near: float = 0.8
    margin: float = 0.93
    #: Answers in the window that make the measured accepted rate trusted without bounds.
    trusted_answers: int = 20
    #: 429s further apart than this start a new episode (the limit may have changed).
    episode_gap: float = 2.0
    #: Answers accepted, and seconds passed, within an episode before its rate counts as the
    #: measured limit.
    episode_answers: int = 3
    episode_span: float = 0.1
    min_cut: float = 0.95
    max_cut: float = 0.5
    probe: float = 0.02
    hold: float = 1.0
    window: float = 1.0
    rediscover: float = 10.0
    strikes_to_pause: int = 3
    headroom: float = 2.0
    #: Share of the rate that must be in use for it to grow.
    used: float = 0.8
    #: Weight of the newest latency in the moving average.
    latency_weight: float = 0.2
    #: Log a new rate at INFO once it moved this much (relative) since the last one logged.
    log_change: float = 0.2


@dataclass(frozen=True, slots=True)
class RateDecision:
    """What the transport applies after an answer."""

    rate: float
    concurrency: int
    #: Requests that may go back to back.
    burst: int = 1
    #: Hold every worker back this many seconds (0: no pause).
    pause: float = 0.0


@dataclass(frozen=True, slots=True)
class RateMemo:
    """What one client found: its last rate, and the limit it measured (None: no 429 yet)."""

    rate: float
    limit: float | None


@dataclass(frozen=True, slots=True)
class RateState:
    """For progress lines: the rate aimed at, the ceiling, and whether it is backing off."""

    rate: float
    ceiling: float | None
    backing_off: bool
    cuts: int


class RateController:
    """The shared decision logic for one client's request rate; thread-safe."""

    def __init__(self, ceiling: float | None, max_concurrency: int, *, burst: int = 4,
                 policy: RatePolicy | None = None, clock: Clock = time.monotonic,
                 learned: RateMemo | None = None) -> None:
        if ceiling is not None and ceiling <= 0:
            raise ValueError("the rate ceiling must be positive or None")
        self.policy = policy or RatePolicy()
        self.ceiling = ceiling
        self.max_concurrency = max_concurrency
        #: Requests that may go back to back until the first 429 (after it: one at a time).
        self.burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._rate = ceiling if ceiling is not None else self.policy.start
        self._ramping = True
        self._limit: float | None = None  # the accepted rate measured at the last 429
        if learned is not None:  # what an earlier client of this run found: start there
            self._rate = min(learned.rate, ceiling) if ceiling is not None else learned.rate
            self._limit = learned.limit
            self._ramping = learned.limit is None
        self._started = clock()
        self._last_step = self._started
        self._sends_since_step = 0
        self._episode_start = float("-inf")  # first 429 of the current episode
        self._episode_accepted = 0
        self._last_429 = float("-inf")
        self._accepted: deque[float] = deque()
        self._latency: float | None = None
        self._last_cut = float("-inf")
        self._hold_until = float("-inf")
        self._strikes = 0
        self._cuts = 0
        self._logged = self._rate

    @property
    def rate(self) -> float:
        """The rate aimed at now (requests per second)."""
        with self._lock:
            return self._rate

    def state(self) -> RateState:
        """A snapshot for display."""
        with self._lock:
            return RateState(self._rate, self.ceiling, self._clock() < self._hold_until,
                             self._cuts)

    def memo(self) -> RateMemo:
        """What this controller found, for the next client to start from."""
        with self._lock:
            return RateMemo(self._rate, self._limit)

    def sent(self) -> float:
        """A request is being sent now; returns its send time (pass it to :meth:`answered`)."""
        with self._lock:
            self._sends_since_step += 1
            return self._clock()

    def answered(self, sent_at: float, *, throttled: bool, retry_after: float | None = None
                 ) -> RateDecision:
        """An answer arrived (``throttled``: a 429) for the request sent at ``sent_at``."""
        with self._lock:
            now = self._clock()
            pause = 0.0
            if throttled:
                measured = self._mark_429(now)
                if sent_at >= self._last_cut:
                    pause = self._cut(now, retry_after, measured)
            else:
                self._accept(now, now - sent_at)
                self._grow(now)
            burst = self.burst if self._cuts == 0 else 1
            return RateDecision(self._rate, self._concurrency(), burst, pause)

    # --- the rules ---------------------------------------------------------------------------

    def _mark_429(self, now: float) -> float | None:
        """Note a 429; the limit measured over the episode so far (None: too short yet)."""
        policy = self.policy
        if now - self._last_429 > policy.episode_gap:
            self._episode_start, self._episode_accepted = now, 0
        self._last_429 = now
        span = now - self._episode_start
        if span < policy.episode_span or self._episode_accepted < policy.episode_answers:
            return None
        return self._episode_accepted / span

    def _accept(self, now: float, latency: float) -> None:
        self._accepted.append(now)
        self._episode_accepted += 1
        weight = self.policy.latency_weight
        self._latency = latency if self._latency is None else \
            (1 - weight) * self._latency + weight * latency

    def _accepted_rate(self, now: float) -> float | None:
        """Answers accepted per second over the last window (None: too little seen yet)."""
        window = self.policy.window
        while self._accepted and self._accepted[0] <= now - window:
            self._accepted.popleft()
        span = min(window, now - self._started)
        if span < window / 2 or len(self._accepted) < 4:
            return None  # too few answers to say what the service accepts
        return len(self._accepted) / span

    def _cut(self, now: float, retry_after: float | None, measured: float | None) -> float:
        policy = self.policy
        before = self._rate
        accepted = measured if measured is not None else self._accepted_rate(now)
        if measured is not None or (accepted is not None and
                                    len(self._accepted) >= policy.trusted_answers):
            target = min(accepted * policy.margin, before * policy.min_cut)  # type: ignore[operator]
        else:
            target = accepted * policy.margin if accepted is not None else before * 0.7
            target = max(min(target, before * policy.min_cut), before * policy.max_cut)
        target = max(target, policy.floor)
        recent = now - self._last_cut < max(policy.hold, retry_after or 0.0) + policy.window
        self._strikes = self._strikes + 1 if recent else 1
        self._rate = target
        if accepted is not None:
            self._limit = accepted
            self._ramping = False  # else nothing was measured: the ramp goes on after the hold
        self._last_cut = now
        self._cuts += 1
        wait = max(policy.hold, retry_after or 0.0)
        self._hold_until = now + wait
        pause = (retry_after or policy.hold) if self._strikes >= policy.strikes_to_pause else 0.0
        self._reset_step(now)
        log.info("Partner Center throttled (429): request rate %.1f → %.1f/s (accepted %s/s), "
                 "holding %.1f s%s.", before, target,
                 f"{accepted:.1f}" if accepted is not None else "?", wait,
                 f", every call waits {pause:.1f} s" if pause else "")
        self._logged = target
        return pause

    def _grow(self, now: float) -> None:
        policy = self.policy
        if now < self._hold_until:
            return
        elapsed = now - self._last_step
        if elapsed < max(self._step(), policy.step_sends / self._rate):
            return
        used = self._sends_since_step / elapsed
        self._reset_step(now)
        if used < policy.used * self._rate:
            return  # latency or parallelism holds the run back, not the rate
        far_below = self._limit is not None and self._rate < policy.near * self._limit
        # Probing speeds up the longer no 429 came (the limit may have risen).
        quiet = 1 + (now - self._last_cut) / policy.rediscover
        grown = self._rate * policy.growth if self._ramping or far_below else \
            self._rate * (1 + policy.probe * quiet * elapsed)
        if self._limit is not None and far_below:
            grown = min(grown, policy.margin * self._limit)
        if self.ceiling is not None:
            grown = min(grown, self.ceiling)
        self._rate = grown
        if abs(grown - self._logged) >= policy.log_change * self._logged:
            log.info("Request rate now %.1f/s (%s).", grown,
                     "ramping up" if self._ramping else "probing after a 429")
            self._logged = grown

    def _step(self) -> float:
        """Seconds between steps: a few round trips (a fast service ramps fast), at most
        ``step``."""
        if self._latency is None:
            return self.policy.step
        return min(self.policy.step, max(self.policy.min_step,
                                         self.policy.step_round_trips * self._latency))

    def _reset_step(self, now: float) -> None:
        self._last_step = now
        self._sends_since_step = 0

    def _concurrency(self) -> int:
        if self._latency is None or self._cuts == 0:
            return self.max_concurrency  # nothing refused yet: no reason to hold calls back
        wanted = math.ceil(self.policy.headroom * self._rate * self._latency) + 1
        return max(1, min(self.max_concurrency, wanted))
