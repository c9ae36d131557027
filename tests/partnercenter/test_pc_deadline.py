"""Bounded calls: per-attempt timeouts, a cap on timed-out attempts, the run's deadline, and
the one notice a long wait on Partner Center gets (issue 19, item 12). Nothing here sleeps
for long: timeouts are fractions of a second and long waits go through a fake clock."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from reconciler.partnercenter import (
    ClientConfig,
    Deadline,
    DeadlineExceeded,
    Failure,
    PartnerCenterClient,
    StaticToken,
    TransportError,
)
from reconciler.simulator import Fault, Simulator

from .conftest import FAST, ClientFactory, SimFactory, new_id

NOTICES = "reconciler.partnercenter.notice"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _one_customer(make_sim: SimFactory, *, hang: str | None = None) -> tuple[Simulator, str]:
    """A fresh simulator with one customer; with ``hang``, that route never answers."""
    sim = make_sim(fresh=True)
    customer = new_id()
    sim.world.add_customer(customer)
    if hang is not None:
        sim.add_fault(Fault(route=hang, kind="hang"))
    return sim, customer


def test_a_server_that_never_answers_costs_at_most_max_timeouts_read_timeouts(
        make_sim: SimFactory, make_client: ClientFactory) -> None:
    sim, customer = _one_customer(make_sim, hang="eligibility")
    client = make_client(sim, read_timeout=0.3, max_attempts=5, max_timeouts=2)
    started = time.monotonic()
    with pytest.raises(TransportError, match=r"ReadTimeout; attempts made: 2"):
        client.eligibility(customer)
    assert time.monotonic() - started < 1.5  # two read timeouts, not five
    assert sim.stats.hung == 2


def test_the_deadline_clips_the_read_timeout_and_says_stopped(
        make_sim: SimFactory, make_client: ClientFactory) -> None:
    sim, customer = _one_customer(make_sim, hang="eligibility")
    deadline = Deadline(time.monotonic() + 0.4, "--timeout of 0.4s")
    client = make_client(sim, read_timeout=30.0, max_attempts=5, deadline=deadline)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as raised:
        client.eligibility(customer)
    assert time.monotonic() - started < 2.0  # 0.4 s, not the 30 s read timeout
    assert raised.value.message == "Stopped: the run reached its --timeout of 0.4s."
    assert sim.stats.hung == 1  # no attempt after the deadline


def test_no_call_starts_after_the_deadline(make_sim: SimFactory,
                                           make_client: ClientFactory) -> None:
    sim, customer = _one_customer(make_sim)
    client = make_client(sim, deadline=Deadline(time.monotonic() - 1, "--timeout of 1s"))
    with pytest.raises(DeadlineExceeded, match=r"^Stopped: the run reached its --timeout"):
        client.create(customer, "Azure", new_id())
    assert sim.requests == []
    assert sim.world.upgrades_for(customer) == []


def test_a_create_the_deadline_cuts_is_an_unknown_outcome_not_an_error(
        make_sim: SimFactory, make_client: ClientFactory) -> None:
    sim, customer = _one_customer(make_sim, hang="create")
    client = make_client(sim, read_timeout=30.0,
                         deadline=Deadline(time.monotonic() + 0.3, "--timeout of 0.3s"))
    result = client.create(customer, "Azure", new_id())
    assert result.kind.name == "OUTCOME_UNKNOWN"  # resolved through eligibility next run


def _throttled_client(make_sim: SimFactory, *, count: int | None, deadline_in: float | None,
                      advance: bool) -> tuple[PartnerCenterClient, str, list[float]]:
    sim = make_sim(retry_after_seconds=86400)
    customer = new_id()
    sim.world.add_customer(customer)
    sim.add_fault(Fault(route="eligibility", kind="429", count=count))
    clock = FakeClock()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if advance:
            clock.now += seconds

    deadline = Deadline(clock.now + deadline_in, f"--timeout of {deadline_in:g}s", clock) \
        if deadline_in is not None else None
    config = ClientConfig(endpoint=sim.url, **{**FAST, "retry_after_cap": 120.0,
                                               "base_delay": 0.5, "max_attempts": 5},
                          deadline=deadline)
    client = PartnerCenterClient(config, StaticToken(sim.token), sleep=sleep, clock=clock,
                                 rand=lambda: 0.5)
    return client, customer, slept


class Notices(logging.Handler):
    """The notice logger's records (it may not propagate: the CLI prints it itself)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def notices() -> Iterator[list[str]]:
    handler = Notices()
    logger = logging.getLogger(NOTICES)
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)


def test_a_long_retry_after_is_announced_once_per_episode(
        make_sim: SimFactory, notices: list[str]) -> None:
    client, customer, slept = _throttled_client(make_sim, count=2, deadline_in=None,
                                                advance=True)
    assert client.eligibility(customer).is_eligible
    assert slept[0] == 120.01  # the Retry-After, capped, plus jitter
    assert notices[0].startswith(
        "Partner Center asked to wait 86400s (Retry-After); waiting 120s, until ")
    assert notices[0].endswith(" UTC.")
    # Every worker told to wait at about the same time is one episode: one notice.
    notices.clear()
    transport = client._transport
    for _ in range(16):
        transport._announce(Failure.THROTTLED, 86400.0, 120.0, None)
    assert len(notices) == 1


def test_a_retry_after_past_the_deadline_is_clipped_and_says_the_run_will_stop(
        make_sim: SimFactory, notices: list[str]) -> None:
    client, customer, slept = _throttled_client(make_sim, count=None, deadline_in=10.0,
                                                advance=True)
    with pytest.raises(DeadlineExceeded, match="reached its --timeout of 10s"):
        client.eligibility(customer)
    assert slept == [10.0]  # not 120 s, not 86400 s
    assert len(notices) == 1, notices
    assert notices[0].startswith(
        "Partner Center asked to wait 86400s (Retry-After), longer than is left of the run's "
        "--timeout of 10s; the run will stop at ")


def test_short_waits_are_not_announced(make_sim: SimFactory,
                                       notices: list[str]) -> None:
    sim = make_sim(retry_after_seconds=1)
    customer = new_id()
    sim.world.add_customer(customer)
    sim.add_fault(Fault(route="eligibility", kind="429", count=1))
    client = PartnerCenterClient(ClientConfig(endpoint=sim.url, **FAST),
                                 StaticToken(sim.token), sleep=lambda s: None)
    assert client.eligibility(customer).is_eligible
    assert notices == []


def test_a_long_backoff_without_retry_after_is_announced_too(
        make_client: ClientFactory, notices: list[str]) -> None:
    client = make_client(None)
    client._transport._announce(Failure.SERVER, None, 12.4, None)
    assert len(notices) == 1
    assert notices[0].startswith("Partner Center failed with a server error; waiting 12s, "
                                 "until ")
