"""Fault injection by route, over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests

from reconciler.simulator import Fault, parse_fault
from tests.simulator.helpers import Api, new_id

MakeApi = Callable[..., Api]


@pytest.fixture
def api(make_api: MakeApi) -> Api:
    return make_api(retry_after_seconds=7)


@pytest.fixture
def customer(api: Api) -> str:
    customer_id = new_id()
    api.sim.world.add_customer(customer_id)
    return customer_id


def test_injected_500_is_an_api_fault_and_creates_nothing(api: Api, customer: str) -> None:
    api.sim.add_fault(Fault(route="create", kind="500"))
    answer = api.create(customer)
    assert answer.status_code == 500
    assert answer.json()["code"] == 800003
    assert api.sim.world.upgrades_for(customer) == []
    assert api.sim.stats.injected == 1


def test_injected_503_is_not_json(api: Api, customer: str) -> None:
    api.sim.add_fault(Fault(route="eligibility", kind="503"))
    answer = api.eligibility(customer)
    assert answer.status_code == 503
    assert answer.headers["Content-Type"].startswith("text/html")
    with pytest.raises(requests.JSONDecodeError):
        answer.json()


def test_injected_429_has_the_throttling_shape(api: Api, customer: str) -> None:
    api.sim.add_fault(Fault(route="status", kind="429"))
    upgrade_id = api.upgrade(customer)
    answer = api.status(upgrade_id, customer)
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"
    assert answer.json() == {
        "statusCode": 429,
        "message": "Rate limit is exceeded. Try again in 7 seconds.",
    }
    assert api.sim.stats.throttled == 1


def test_drop_before_processes_nothing(api: Api, customer: str) -> None:
    api.sim.add_fault(Fault(route="create", kind="drop_before", count=1))
    with pytest.raises(requests.ConnectionError):
        api.create(customer)
    assert api.sim.world.upgrades_for(customer) == []
    assert api.sim.requests[-1].status == 0
    assert api.sim.stats.dropped == 1
    assert api.create(customer).status_code == 202  # count=1: the next one goes through


def test_drop_after_commits_then_replay_gets_the_original(api: Api, customer: str) -> None:
    api.sim.add_fault(Fault(route="create", kind="drop_after", count=1))
    request_id = new_id()
    with pytest.raises(requests.ConnectionError):
        api.create(customer, request_id=request_id)
    [upgrade] = api.sim.world.upgrades_for(customer)  # committed although nobody heard
    assert upgrade.request_id == request_id
    replay = api.create(customer, request_id=request_id)
    assert replay.status_code == 202
    assert replay.headers["Location"].endswith(upgrade.id)
    assert api.sim.stats.replays == 1


def test_drop_after_without_dedup_makes_the_retry_meet_409(make_api: MakeApi) -> None:
    api = make_api(dedup=False)
    customer = new_id()
    api.sim.world.add_customer(customer)
    api.sim.add_fault(Fault(route="create", kind="drop_after", count=1))
    request_id = new_id()
    with pytest.raises(requests.ConnectionError):
        api.create(customer, request_id=request_id)
    # The same MS-RequestId again is a retry: refused with 409, but not a duplicate attempt.
    assert api.create(customer, request_id=request_id).json()["code"] == 900109
    assert api.sim.stats.duplicates == 0
    # A new MS-RequestId for a customer already being upgraded is a real duplicate attempt.
    assert api.create(customer, request_id=new_id()).json()["code"] == 900109
    assert api.sim.stats.duplicates == 1


def test_delay_fault_delays_and_lets_through(api: Api, customer: str) -> None:
    api.sim.add_fault(Fault(route="eligibility", kind="delay", delay_ms=100))
    began = time.perf_counter()
    assert api.eligibility(customer).status_code == 200
    assert time.perf_counter() - began >= 0.1


def test_faults_apply_to_their_route_only(api: Api, customer: str) -> None:
    api.sim.add_fault(Fault(route="status", kind="500"))
    assert api.eligibility(customer).status_code == 200
    assert api.get("/v1/customers").status_code == 200


def test_customers_route_covers_listing_and_subscriptions(api: Api, customer: str) -> None:
    api.sim.add_fault(Fault(route="customers", kind="503"))
    assert api.get("/v1/customers").status_code == 503
    assert api.get(f"/v1/customers/{customer}/subscriptions").status_code == 503
    assert api.eligibility(customer).status_code == 200


def test_wildcard_route_and_count(api: Api, customer: str) -> None:
    api.sim.add_fault(Fault(route="*", kind="500", count=2))
    statuses = [
        api.eligibility(customer).status_code,
        api.get("/v1/customers").status_code,
        api.eligibility(customer).status_code,
    ]
    assert statuses == [500, 500, 200]


def test_rate_zero_never_fires_and_partial_rate_sometimes(api: Api, customer: str) -> None:
    api.sim.add_fault(Fault(route="eligibility", kind="500", rate=0.0))
    assert all(api.eligibility(customer).status_code == 200 for _ in range(10))
    api.sim.clear_faults()
    api.sim.add_fault(Fault(route="eligibility", kind="500", rate=0.5))
    statuses = {api.eligibility(customer).status_code for _ in range(40)}
    assert statuses == {200, 500}


def test_clear_faults(api: Api, customer: str) -> None:
    api.sim.add_fault(Fault(route="*", kind="503"))
    assert api.eligibility(customer).status_code == 503
    api.sim.clear_faults()
    assert api.eligibility(customer).status_code == 200


def test_faults_come_before_authentication_for_drops(api: Api, customer: str) -> None:
    api.sim.add_fault(Fault(route="eligibility", kind="drop_before"))
    with pytest.raises(requests.ConnectionError):
        api.eligibility(customer, auth=False)


def test_injected_errors_come_after_authentication(api: Api, customer: str) -> None:
    api.sim.add_fault(Fault(route="eligibility", kind="500"))
    assert api.eligibility(customer, auth=False).status_code == 401


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("create:500", Fault("create", "500", 1.0)),
        ("status:429:0.25", Fault("status", "429", 0.25)),
        ("*:delay:1:150", Fault("*", "delay", 1.0, delay_ms=150)),
    ],
)
def test_parse_fault(spec: str, expected: Fault) -> None:
    assert parse_fault(spec) == expected


@pytest.mark.parametrize(
    "spec", ["create", "nowhere:500", "create:teapot", "create:500:2", "a:b:c:d:e"]
)
def test_parse_fault_rejects_nonsense(spec: str) -> None:
    with pytest.raises(ValueError, match=r"[Ff]ault"):
        parse_fault(spec)


def test_request_cut_off_mid_body_is_never_served_or_remembered(api: Api, customer: str) -> None:
    """A client killed while sending its body: the create is not processed, and a replay of
    its MS-RequestId is served as a fresh request (not with a remembered 400)."""
    import socket
    from urllib.parse import urlsplit

    request_id = new_id()
    body = f'{{"customerId": "{customer}", "productFamily": "Azure"}}'.encode()
    parts = urlsplit(api.sim.url)
    head = (f"POST /v1/productUpgrades HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: Bearer {api.sim.token}\r\nContent-Type: application/json\r\n"
            f"MS-RequestId: {request_id}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection((parts.hostname, parts.port)) as conn:
        conn.sendall(head + body[:10])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not api.sim.world.upgrades_for(customer):
        replay = api.create(customer, request_id=request_id)
        assert replay.status_code == 202, replay.text
    assert len(api.sim.world.upgrades_for(customer)) == 1


def test_hang_reads_the_request_and_never_answers_until_the_simulator_stops(
        make_api: MakeApi) -> None:
    api = make_api()
    customer_id = new_id()
    api.sim.world.add_customer(customer_id)
    api.sim.add_fault(parse_fault("create:hang"))
    with pytest.raises(requests.ReadTimeout):
        requests.post(api.sim.url + "/v1/productUpgrades", timeout=(2, 0.3),
                      json={"customerId": customer_id, "productFamily": "Azure"},
                      headers={"Authorization": f"Bearer {api.sim.token}"})
    assert api.sim.stats.hung == 1
    assert api.sim.world.upgrades_for(customer_id) == []  # nothing processed
    started = time.monotonic()
    api.sim.stop()  # lets the held request go: stopping does not wait for it
    assert time.monotonic() - started < 3


def test_hang_with_a_delay_answers_that_late(api: Api, customer: str) -> None:
    api.sim.add_fault(Fault(route="eligibility", kind="hang", delay_ms=300, count=1))
    started = time.monotonic()
    answer = api.eligibility(customer)
    assert answer.status_code == 200
    assert time.monotonic() - started >= 0.3
    assert api.sim.stats.hung == 1
