"""Retries, idempotency and throttling against the simulator's fault injection."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from reconciler.partnercenter import (
    AttemptInfo,
    CreateKind,
    PartnerCenterClient,
    ServiceError,
    ThrottledError,
    TransportError,
)
from reconciler.partnercenter.throttle import RatePolicy
from reconciler.simulator import Fault, Simulator

from .conftest import ClientFactory, SimFactory, new_id


def creates(sim: Simulator) -> list[str | None]:
    return [r.header("MS-RequestId") for r in sim.requests if r.path.endswith("productUpgrades")]


def test_create_whose_answer_is_lost_is_retried_with_the_same_request_id(
    sim: Simulator, client: PartnerCenterClient, customer: str
) -> None:
    sim.add_fault(Fault(route="create", kind="drop_after", count=1))
    request_id = new_id()
    result = client.create(customer, "Azure", request_id)
    assert result.kind is CreateKind.CREATED
    assert result.attempts == 2
    assert creates(sim) == [request_id, request_id]
    [upgrade] = sim.world.upgrades_for(customer)
    assert result.upgrade_id == upgrade.id
    assert sim.stats.replays == 1
    assert sim.stats.duplicates == 0
    correlation_ids = {r.header("MS-CorrelationId") for r in sim.requests}
    assert len(correlation_ids) == 2


def test_without_server_dedup_a_lost_create_reports_already_exists(
    make_sim: SimFactory, make_client: ClientFactory
) -> None:
    sim = make_sim(dedup=False)
    cid = new_id()
    sim.world.add_customer(cid)
    sim.add_fault(Fault(route="create", kind="drop_after", count=1))
    request_id = new_id()
    result = make_client(sim).create(cid, "Azure", request_id)
    assert result.kind is CreateKind.ALREADY_EXISTS
    assert result.error_code == "900109"
    [upgrade] = sim.world.upgrades_for(cid)
    assert result.upgrade_id == upgrade.id
    assert creates(sim) == [request_id, request_id]


def test_create_lost_on_every_attempt_is_outcome_unknown(
    sim: Simulator, make_client: ClientFactory, customer: str
) -> None:
    sim.add_fault(Fault(route="create", kind="drop_after"))
    client = make_client(sim, max_attempts=3)
    request_id = new_id()
    result = client.create(customer, "Azure", request_id)
    assert result.kind is CreateKind.OUTCOME_UNKNOWN
    assert result.upgrade_id is None
    assert result.http_status is None
    assert result.attempts == 3
    assert creates(sim) == [request_id] * 3
    # The caller resolves it through eligibility, which reveals the upgrade.
    sim.clear_faults()
    answer = client.eligibility(customer)
    assert answer.upgrade_id == sim.world.upgrades_for(customer)[0].id


def test_create_dropped_before_processing_is_outcome_unknown_too(
    sim: Simulator, make_client: ClientFactory, customer: str
) -> None:
    # The client cannot tell a drop before from a drop after; both are unknown outcomes.
    sim.add_fault(Fault(route="create", kind="drop_before"))
    result = make_client(sim, max_attempts=2).create(customer, "Azure", new_id())
    assert result.kind is CreateKind.OUTCOME_UNKNOWN
    assert sim.world.upgrades_for(customer) == []


def test_create_after_server_errors_succeeds_with_the_same_request_id(
    sim: Simulator, client: PartnerCenterClient, customer: str
) -> None:
    sim.add_fault(Fault(route="create", kind="500", count=2))
    request_id = new_id()
    result = client.create(customer, "Azure", request_id)
    assert result.kind is CreateKind.CREATED
    assert creates(sim) == [request_id] * 3
    assert [r.status for r in sim.requests] == [500, 500, 202]


def test_create_failing_with_5xx_every_time_is_outcome_unknown(
    sim: Simulator, make_client: ClientFactory, customer: str
) -> None:
    # A 5xx may come after a commit, so the create is unknown rather than failed.
    sim.add_fault(Fault(route="create", kind="500"))
    result = make_client(sim, max_attempts=2).create(customer, "Azure", new_id())
    assert result.kind is CreateKind.OUTCOME_UNKNOWN
    assert result.http_status == 500
    assert result.error_code == "800003"


def test_read_call_retries_5xx_with_one_request_id(
    sim: Simulator, client: PartnerCenterClient, customer: str
) -> None:
    sim.add_fault(Fault(route="eligibility", kind="500", count=1))
    sim.add_fault(Fault(route="eligibility", kind="503", count=1))
    assert client.eligibility(customer).is_eligible
    assert [r.status for r in sim.requests] == [500, 503, 200]
    assert len({r.header("MS-RequestId") for r in sim.requests}) == 1
    assert len({r.header("MS-CorrelationId") for r in sim.requests}) == 3
    assert client.stats().retries == 2


def test_persistent_5xx_is_a_service_error_with_correlation_id(
    sim: Simulator, client: PartnerCenterClient, customer: str
) -> None:
    sim.add_fault(Fault(route="status", kind="503"))
    with pytest.raises(ServiceError, match="503") as caught:
        client.status(new_id(), customer)
    assert len(sim.requests) == 4
    assert caught.value.correlation_id == sim.requests[-1].header("MS-CorrelationId")
    assert f"MS-CorrelationId: {caught.value.correlation_id}" in str(caught.value)


def test_dropped_read_is_retried(
    sim: Simulator, client: PartnerCenterClient, customer: str
) -> None:
    sim.add_fault(Fault(route="eligibility", kind="drop_before", count=2))
    assert client.eligibility(customer).is_eligible
    assert len(sim.requests) == 3


def test_read_timeout_is_retried(
    sim: Simulator, make_client: ClientFactory, customer: str
) -> None:
    sim.add_fault(Fault(route="eligibility", kind="delay", delay_ms=600, count=1))
    seen: list[AttemptInfo] = []
    client = make_client(sim, read_timeout=0.2, on_attempt=seen.append)
    assert client.eligibility(customer).is_eligible
    assert [(a.status, a.error) for a in seen] == [(None, "ReadTimeout"), (200, None)]


def test_throttled_with_retry_after_is_waited_out(
    make_sim: SimFactory, make_client: ClientFactory
) -> None:
    sim = make_sim(retry_after_seconds=1)
    cid = new_id()
    sim.world.add_customer(cid)
    sim.add_fault(Fault(route="eligibility", kind="429", count=1))
    client = make_client(sim, retry_after_cap=5.0, base_delay=0.01, max_delay=0.01,
                         requests_per_minute="auto")
    started = time.monotonic()
    assert client.eligibility(cid).is_eligible
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 2.0
    times = [r.time for r in sim.requests]
    assert [r.status for r in sim.requests] == [429, 200]
    assert (times[1] - times[0]).total_seconds() >= 0.99
    stats = client.stats()
    assert stats.throttled == 1
    assert stats.rate is not None
    assert stats.rate < RatePolicy().start  # backed off from the first rate by the 429


def test_retry_after_is_capped(
    make_sim: SimFactory, make_client: ClientFactory
) -> None:
    sim = make_sim(retry_after_seconds=30)
    cid = new_id()
    sim.world.add_customer(cid)
    sim.add_fault(Fault(route="eligibility", kind="429", count=1))
    started = time.monotonic()
    assert make_client(sim).eligibility(cid).is_eligible
    assert time.monotonic() - started < 1.0


def test_persistent_429_is_a_throttled_error(
    sim: Simulator, make_client: ClientFactory, customer: str
) -> None:
    sim.add_fault(Fault(route="eligibility", kind="429"))
    with pytest.raises(ThrottledError, match="Rate limit") as caught:
        make_client(sim, max_attempts=2).eligibility(customer)
    assert caught.value.retry_after == 1.0
    assert caught.value.correlation_id


def test_create_throttled_every_time_raises_throttled(
    sim: Simulator, make_client: ClientFactory, customer: str
) -> None:
    # 429 is a definite "not processed": no reason to call the outcome unknown.
    sim.add_fault(Fault(route="create", kind="429"))
    with pytest.raises(ThrottledError):
        make_client(sim, max_attempts=2).create(customer, "Azure", new_id())
    assert sim.world.upgrades_for(customer) == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_is_retried_then_a_transport_error(
    make_client: ClientFactory,
) -> None:
    seen: list[AttemptInfo] = []
    client = make_client(endpoint=f"http://127.0.0.1:{_closed_port()}", on_attempt=seen.append)
    with pytest.raises(TransportError, match="No answer") as caught:
        client.create(new_id(), "Azure", new_id())  # never sent: not an unknown outcome
    assert len(seen) == 4
    assert all(a.status is None and a.error == "ConnectionError" for a in seen)
    assert caught.value.correlation_id == seen[-1].correlation_id


def test_client_side_rate_limit_paces_requests(
    sim: Simulator, make_client: ClientFactory, customer: str
) -> None:
    client = make_client(sim, requests_per_minute=600, burst=1)
    started = time.monotonic()
    for _ in range(4):
        client.eligibility(customer)
    assert time.monotonic() - started >= 0.29


def test_shared_client_across_threads_creates_each_upgrade_once(
    sim: Simulator, make_client: ClientFactory
) -> None:
    customers = [new_id() for _ in range(24)]
    for cid in customers:
        sim.world.add_customer(cid)
    sim.add_fault(Fault(route="create", kind="500", rate=0.3))
    sim.add_fault(Fault(route="create", kind="drop_after", rate=0.2))
    lock = threading.Lock()
    peak = 0

    def observe(info: AttemptInfo) -> None:
        nonlocal peak
        with lock:
            peak = max(peak, client.stats().in_flight + 1)

    client = make_client(sim, max_attempts=8, on_attempt=observe)
    request_ids = {cid: new_id() for cid in customers}
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda c: client.create(c, "Azure", request_ids[c]), customers))
    assert {r.kind for r in results} == {CreateKind.CREATED}
    for cid, result in zip(customers, results, strict=True):
        [upgrade] = sim.world.upgrades_for(cid)
        assert result.upgrade_id == upgrade.id
        assert upgrade.request_id == request_ids[cid]
    assert sim.stats.duplicates == 0
    assert peak <= 4


def test_the_rate_backs_off_under_a_server_rate_limit(
    make_sim: SimFactory, make_client: ClientFactory
) -> None:
    sim = make_sim(fresh=True, rate_limit_per_minute=600, rate_limit_burst=2,
                   retry_after_seconds=1)
    customers = [new_id() for _ in range(8)]
    for cid in customers:
        sim.world.add_customer(cid)
    # A ceiling of 100/s, ten times what the server takes: it adapts below the ceiling.
    client = make_client(sim, retry_after_cap=0.2, max_attempts=10, requests_per_minute=6000)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(client.eligibility, customers))
    assert all(a.is_eligible for a in answers)
    stats = client.stats()
    assert stats.throttled == sim.stats.throttled > 0
    assert stats.rate is not None
    assert stats.rate < 100.0
