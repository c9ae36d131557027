"""A virtual-time model of the client against a token-bucket server, for the rate controller.

The client's GCRA limiter, its concurrency limit, the retry rule and the rate controller are the
real objects; threads, sockets and sleeps are replaced by an event queue in virtual time, so a
1,000-request run under a 40 requests/s limit takes milliseconds and gives the same answer every
time. Each worker does what ``Transport.execute`` does: wait for a rate slot, wait for a
concurrency slot, send, and on a 429 sleep the retry delay (Retry-After plus jitter) and go
again. The server is the simulator's own token bucket, answering 429 when it is empty.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

from reconciler.partnercenter.limiter import POLL_SECONDS, ConcurrencyLimit, RateLimiter
from reconciler.partnercenter.retry import Failure, RetryPolicy, retry_delay
from reconciler.partnercenter.throttle import RateController, RatePolicy
from reconciler.simulator.ratelimit import TokenBucket

RESERVE, SEND, ANSWER = "reserve", "send", "answer"


@dataclass
class Outcome:
    """What the server saw, and the rate the client aimed at over time."""

    accepted: int = 0
    throttled: int = 0
    first: float | None = None
    last_accepted: float = 0.0
    rates: list[tuple[float, float]] = field(default_factory=list)
    peak_in_flight: int = 0

    @property
    def achieved(self) -> float:
        """Accepted requests per second between the first request and the last accepted one."""
        span = self.last_accepted - (self.first or 0.0)
        return self.accepted / span if span > 0 else 0.0

    @property
    def throttled_share(self) -> float:
        """429s as a share of every request sent."""
        total = self.accepted + self.throttled
        return self.throttled / total if total else 0.0


@dataclass
class Model:
    """``requests`` calls by ``parallelism`` workers against a server limited to ``limit``/s.

    ``burst`` is the server's bucket size (default: one second's worth); ``changes`` are
    (time, new limit) pairs that move the limit during the run.
    """

    limit: float | None
    latency: float = 0.05
    parallelism: int = 16
    burst: float | None = None
    ceiling: float | None = None
    retry_after: float = 1.0
    policy: RatePolicy = field(default_factory=RatePolicy)
    seed: int = 1
    changes: tuple[tuple[float, float], ...] = ()

    def run(self, requests: int) -> Outcome:
        """Run until every request was accepted once; return what happened."""
        self.now = 0.0
        self.controller = RateController(self.ceiling, self.parallelism, policy=self.policy,
                                         clock=lambda: self.now)
        self.limiter = RateLimiter(self.controller.rate * 60, burst=4, clock=lambda: self.now)
        self.slots = ConcurrencyLimit(self.parallelism)
        self.retry = RetryPolicy(max_attempts=1000)
        self.rand = random.Random(self.seed).random
        size = self.burst if self.burst is not None else (self.limit or 1.0)
        self.bucket = None if self.limit is None else TokenBucket(size, self.limit, size, 0.0)
        self.pending_changes = list(self.changes)
        self.outcome = Outcome()
        self.events: list[tuple[float, int, str, int, float, bool, int]] = []
        self.seq = 0
        self.parked: list[tuple[int, int]] = []
        self.in_flight = 0
        self.remaining = requests
        for worker in range(min(self.parallelism, requests)):
            self.remaining -= 1
            self._push(0.0, RESERVE, worker, attempt=0)
        while self.events:
            at, _, kind, worker, sent_at, refused, attempt = heapq.heappop(self.events)
            self.now = at
            self._apply_changes()
            if kind == RESERVE:
                wait = self.limiter.try_take()
                if wait > 0:
                    self._push(at + min(wait, POLL_SECONDS), RESERVE, worker, attempt=attempt)
                else:
                    self._send(worker, attempt)
            elif kind == SEND:
                self._send(worker, attempt)
            else:
                self._answer(worker, sent_at, refused, attempt)
        return self.outcome

    def _push(self, at: float, kind: str, worker: int, *, sent_at: float = 0.0,
              refused: bool = False, attempt: int) -> None:
        self.seq += 1
        heapq.heappush(self.events, (at, self.seq, kind, worker, sent_at, refused, attempt))

    def _apply_changes(self) -> None:
        while self.pending_changes and self.pending_changes[0][0] <= self.now:
            limit = self.pending_changes.pop(0)[1]
            if self.bucket is not None:
                self.bucket.per_second = limit

    def _send(self, worker: int, attempt: int) -> None:
        if self.in_flight >= self.slots.limit:
            self.parked.append((worker, attempt))
            return
        self.in_flight += 1
        self.outcome.peak_in_flight = max(self.outcome.peak_in_flight, self.in_flight)
        sent_at = self.controller.sent()
        if self.outcome.first is None:
            self.outcome.first = sent_at
        refused = self.bucket is not None and self.bucket.take(self.now) > 0
        self._push(self.now + self.latency, ANSWER, worker, sent_at=sent_at, refused=refused,
                   attempt=attempt)

    def _answer(self, worker: int, sent_at: float, refused: bool, attempt: int) -> None:
        self.in_flight -= 1
        decision = self.controller.answered(sent_at, throttled=refused,
                                            retry_after=self.retry_after if refused else None)
        self.limiter.set_rate(decision.rate, decision.burst)
        self.slots.resize(decision.concurrency)
        if decision.pause:
            self.limiter.defer(decision.pause)
        self.outcome.rates.append((self.now, decision.rate))
        if refused:
            self.outcome.throttled += 1
            wait = retry_delay(Failure.THROTTLED, attempt, self.retry_after, self.retry,
                               self.rand)
            self._push(self.now + wait, RESERVE, worker, attempt=attempt + 1)
        else:
            self.outcome.accepted += 1
            self.outcome.last_accepted = self.now
            if self.remaining > 0:
                self.remaining -= 1
                self._push(self.now, RESERVE, worker, attempt=0)
        while self.parked and self.in_flight < self.slots.limit:
            parked, parked_attempt = self.parked.pop(0)
            self._push(self.now, SEND, parked, attempt=parked_attempt)
