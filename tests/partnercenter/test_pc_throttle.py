"""The rate controller: exact rules with a fake clock, and whole runs against a simulated token
bucket in virtual time (tests/partnercenter/throttling_model.py), fast and deterministic."""

from __future__ import annotations

import pytest

from reconciler.partnercenter.throttle import RateController, RatePolicy

from .throttling_model import Model


class Clock:
    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


def answer(controller: RateController, clock: Clock, *, throttled: bool = False,
           latency: float = 0.05, retry_after: float | None = None) -> float:
    sent = controller.sent()
    clock.now += latency
    return controller.answered(sent, throttled=throttled, retry_after=retry_after).rate


def test_auto_starts_low_and_ramps_while_the_rate_is_what_limits() -> None:
    clock = Clock()
    controller = RateController(None, 16, clock=clock)
    assert controller.rate == RatePolicy().start
    for _ in range(60):  # one request per slot the rate allows: the rate is the bottleneck
        answer(controller, clock, latency=1 / controller.rate)
    assert controller.rate >= 16 * RatePolicy().start


def test_no_growth_when_latency_not_the_rate_holds_the_run_back() -> None:
    clock = Clock()
    controller = RateController(None, 16, clock=clock)
    for _ in range(20):
        clock.now += 2.0  # one request every two seconds: far below the rate allowed
        answer(controller, clock)
    assert controller.rate == RatePolicy().start


def test_a_ceiling_is_where_it_starts_and_never_exceeded() -> None:
    clock = Clock()
    controller = RateController(40.0, 16, clock=clock)
    assert controller.rate == 40.0
    for _ in range(400):
        clock.now += 0.02
        answer(controller, clock, latency=0.0)
    assert controller.rate == 40.0


def test_a_429_cuts_once_per_rate_and_holds_for_the_retry_after() -> None:
    clock = Clock()
    controller = RateController(20.0, 16, clock=clock)
    sent = [controller.sent() for _ in range(5)]  # five in flight at 20/s
    clock.now += 0.05
    first = controller.answered(sent[0], throttled=True, retry_after=3.0)
    assert first.rate < 20.0
    for late in sent[1:]:  # sent before the cut: they say nothing new
        assert controller.answered(late, throttled=True, retry_after=3.0).rate == first.rate
    assert controller.state().backing_off
    clock.now += 2.0
    assert answer(controller, clock) == first.rate  # still within the 3 s Retry-After
    assert controller.state().backing_off
    clock.now += 1.5
    assert not controller.state().backing_off


def test_back_offs_that_keep_failing_pause_everyone() -> None:
    clock = Clock()
    controller = RateController(50.0, 16, clock=clock)
    pauses = []
    for _ in range(3):
        sent = controller.sent()
        clock.now += 0.05
        pauses.append(controller.answered(sent, throttled=True, retry_after=2.0).pause)
    assert pauses == [0.0, 0.0, 2.0]


def test_concurrency_uses_the_ceiling_until_a_429_then_follows_rate_and_latency() -> None:
    clock = Clock()
    controller = RateController(10.0, 16, clock=clock)
    sent = controller.sent()
    clock.now += 0.1
    assert controller.answered(sent, throttled=False).concurrency == 16  # nothing refused yet
    sent = controller.sent()
    clock.now += 0.1
    decision = controller.answered(sent, throttled=True, retry_after=1.0)
    assert decision.concurrency == 3  # 2 x 9.5/s x 0.1 s + 1
    with pytest.raises(ValueError, match="ceiling"):
        RateController(0.0, 4)


@pytest.mark.parametrize(("limit", "requests", "at_least"), [(8, 300, 0.9), (40, 1000, 0.9),
                                                            (100, 1000, 0.8)])
def test_finds_the_limit_of_a_token_bucket(limit: float, requests: int, at_least: float) -> None:
    outcome = Model(limit, latency=0.05, parallelism=16).run(requests)
    assert outcome.achieved >= at_least * limit
    assert outcome.throttled_share <= 0.03


def test_a_ceiling_at_the_limit_is_never_throttled_and_one_above_recovers() -> None:
    at = Model(40, ceiling=40.0).run(1000)
    assert at.throttled == 0
    assert at.achieved >= 0.9 * 40
    above = Model(40, ceiling=50.0).run(1000)
    assert above.achieved >= 0.85 * 40
    assert above.throttled_share <= 0.03


def test_unlimited_ramps_until_latency_and_parallelism_are_the_limit() -> None:
    outcome = Model(None, latency=0.02, parallelism=16).run(2000)
    assert outcome.throttled == 0
    assert outcome.achieved > 300  # 16 in flight at 20 ms is 800/s; the ramp takes ~2 s


def test_a_lower_limit_later_in_the_run_is_found_again() -> None:
    outcome = Model(40, changes=((10.0, 20.0),)).run(1000)
    late = [rate for at, rate in outcome.rates if at > 20.0]
    assert late
    assert 17.0 < sum(late) / len(late) < 23.0
    assert outcome.throttled_share <= 0.03
