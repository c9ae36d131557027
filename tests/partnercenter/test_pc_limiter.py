"""Rate limiter and adaptive concurrency, with a fake clock."""

from __future__ import annotations

import threading
import time

import pytest

from reconciler.partnercenter.limiter import AdaptiveConcurrency, RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_rate_limiter_spaces_requests_after_the_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, burst=3, clock=clock, sleep=clock.sleep)
    assert [limiter.reserve() for _ in range(5)] == [0.0, 0.0, 0.0, 1.0, 2.0]


def test_rate_limiter_refills_with_time() -> None:
    clock = FakeClock()
    limiter = RateLimiter(120, burst=1, clock=clock, sleep=clock.sleep)
    assert limiter.reserve() == 0.0
    assert limiter.reserve() == 0.5
    clock.now += 10
    assert limiter.reserve() == 0.0
    assert limiter.reserve() == 0.5


def test_acquire_sleeps_the_reserved_delay() -> None:
    clock = FakeClock()
    limiter = RateLimiter(300, burst=1, clock=clock, sleep=clock.sleep)
    for _ in range(4):
        limiter.acquire()
    assert clock.slept == pytest.approx([0.2, 0.2, 0.2])


def test_unlimited_never_waits_but_defer_holds_everyone_back() -> None:
    clock = FakeClock()
    limiter = RateLimiter(None, clock=clock, sleep=clock.sleep)
    assert [limiter.reserve() for _ in range(100)] == [0.0] * 100
    limiter.defer(2.0)
    limiter.defer(1.0)  # a shorter deferral never shortens a longer one
    assert limiter.reserve() == 2.0
    clock.now += 2.0
    assert limiter.reserve() == 0.0


def test_defer_combines_with_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, burst=1, clock=clock, sleep=clock.sleep)
    assert limiter.reserve() == 0.0
    limiter.defer(5.0)
    assert limiter.reserve() == 5.0
    assert limiter.reserve() == 6.0


@pytest.mark.parametrize("kwargs", [{"per_minute": 0}, {"per_minute": 10, "burst": 0}])
def test_rate_limiter_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        RateLimiter(**kwargs)  # type: ignore[arg-type]


def test_rate_limiter_is_shared_safely_between_threads() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, burst=1, clock=clock, sleep=lambda s: None)
    delays: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(50):
            d = limiter.reserve()
            with lock:
                delays.append(d)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(delays) == [float(i) for i in range(400)]


def test_concurrency_halves_on_429_once_per_cooldown() -> None:
    clock = FakeClock()
    conc = AdaptiveConcurrency(8, recover_after=3, cooldown=5.0, clock=clock)
    conc.on_throttled()
    conc.on_throttled()  # same burst: ignored
    assert conc.limit == 4
    clock.now += 5.0
    conc.on_throttled()
    assert conc.limit == 2
    clock.now += 5.0
    conc.on_throttled()
    clock.now += 5.0
    conc.on_throttled()
    assert conc.limit == 1


def test_concurrency_recovers_slowly() -> None:
    clock = FakeClock()
    conc = AdaptiveConcurrency(4, recover_after=3, cooldown=5.0, clock=clock)
    conc.on_throttled()
    assert conc.limit == 2
    for _ in range(10):
        conc.on_success()
    assert conc.limit == 2  # still within the cooldown
    clock.now += 5.0
    conc.on_success()
    assert conc.limit == 3
    conc.on_success()
    conc.on_success()
    conc.on_success()
    assert conc.limit == 3  # each step waits out a cooldown too
    clock.now += 5.0
    for _ in range(3):
        conc.on_success()
    assert conc.limit == 4
    clock.now += 50.0
    for _ in range(30):
        conc.on_success()
    assert conc.limit == 4  # never above the maximum


def test_a_429_resets_the_success_run() -> None:
    clock = FakeClock()
    conc = AdaptiveConcurrency(4, minimum=2, recover_after=2, cooldown=1.0, clock=clock)
    conc.on_throttled()
    clock.now += 1.0
    conc.on_success()
    clock.now += 0.5
    conc.on_throttled()  # within cooldown: no cut, but the run restarts
    assert conc.limit == 2
    clock.now += 1.0
    conc.on_success()
    assert conc.limit == 2
    conc.on_success()
    assert conc.limit == 3


def test_concurrency_limits_threads_in_flight() -> None:
    conc = AdaptiveConcurrency(2)
    peak = 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal peak
        with conc.slot():
            with lock:
                peak = max(peak, conc.in_flight)
            time.sleep(0.01)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 2
    assert conc.in_flight == 0


def test_concurrency_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="minimum"):
        AdaptiveConcurrency(2, minimum=3)
