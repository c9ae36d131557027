"""Rate limiter and concurrency limit, with a fake clock."""

from __future__ import annotations

import threading
import time

import pytest

from reconciler.partnercenter.limiter import ConcurrencyLimit, RateLimiter


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


def test_set_rate_respaces_slots_taken_ahead() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, burst=1, clock=clock, sleep=clock.sleep)
    assert [limiter.reserve() for _ in range(3)] == [0.0, 1.0, 2.0]  # taken 3 s ahead
    limiter.set_rate(4.0)  # four times faster: what was taken ahead shrinks to 0.75 s
    assert limiter.reserve() == pytest.approx(0.75)
    limiter.set_rate(1.0, burst=3)
    clock.now += 10
    assert [limiter.reserve() for _ in range(4)] == [0.0, 0.0, 0.0, 1.0]


def test_try_take_claims_nothing_ahead() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, burst=1, clock=clock, sleep=clock.sleep)
    assert limiter.try_take() == 0.0
    assert limiter.try_take() == 1.0
    assert limiter.try_take() == 1.0  # asking again did not push the slot further out
    limiter.set_rate(4.0)
    assert limiter.try_take() == pytest.approx(0.25)
    limiter.defer(3.0)
    assert limiter.try_take() == 3.0


def test_concurrency_limit_resizes_within_its_maximum() -> None:
    conc = ConcurrencyLimit(8)
    conc.resize(3)
    assert conc.limit == 3
    conc.resize(100)
    assert conc.limit == 8
    conc.resize(0)
    assert conc.limit == 1


def test_growing_the_limit_wakes_waiting_threads() -> None:
    conc = ConcurrencyLimit(4)
    conc.resize(1)
    conc.acquire()
    entered = threading.Event()

    def worker() -> None:
        with conc.slot():
            entered.set()

    thread = threading.Thread(target=worker)
    thread.start()
    assert not entered.wait(0.05)
    conc.resize(2)
    assert entered.wait(2)
    thread.join()
    conc.release()


def test_concurrency_limits_threads_in_flight() -> None:
    conc = ConcurrencyLimit(2)
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
    with pytest.raises(ValueError, match="maximum"):
        ConcurrencyLimit(0)
