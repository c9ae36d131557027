"""Every switch for what the docs leave open, over real HTTP."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from reconciler.simulator import SimulatorConfig
from tests.simulator.helpers import Api, new_id

MakeApi = Callable[..., Api]


def with_customer(api: Api, **kw: Any) -> str:
    customer = new_id()
    api.sim.world.add_customer(customer, **kw)
    return customer


# -- MS-RequestId dedup ------------------------------------------------------------------


def test_dedup_on_replays_the_original_202(make_api: MakeApi) -> None:
    api = make_api(dedup=True)
    customer = with_customer(api)
    request_id = new_id()
    first = api.create(customer, request_id=request_id)
    replay = api.create(customer, request_id=request_id)
    assert first.status_code == replay.status_code == 202
    assert replay.headers["Location"] == first.headers["Location"]
    assert replay.headers["MS-RequestId"] == request_id
    assert len(api.sim.world.upgrades_for(customer)) == 1
    assert api.sim.stats.replays == 1
    assert api.sim.stats.duplicates == 0


def test_dedup_replays_business_errors_too(make_api: MakeApi) -> None:
    api = make_api(dedup=True)
    customer = with_customer(api)
    api.upgrade(customer)
    request_id = new_id()
    assert api.create(customer, request_id=request_id).status_code == 409
    api.sim.world.revert(customer)
    # The first answer is what a replay gets, even though a new create would now succeed.
    assert api.create(customer, request_id=request_id).status_code == 409
    assert api.sim.stats.replays == 1


def test_dedup_off_replay_meets_900109(make_api: MakeApi) -> None:
    api = make_api(dedup=False)
    customer = with_customer(api)
    request_id = new_id()
    assert api.create(customer, request_id=request_id).status_code == 202
    replay = api.create(customer, request_id=request_id)
    assert replay.status_code == 409
    assert replay.json()["code"] == 900109
    assert api.sim.stats.replays == 0
    assert api.sim.stats.duplicates == 0  # same MS-RequestId: a retry, not a duplicate


def test_dedup_window_expires(make_api: MakeApi) -> None:
    api = make_api(dedup=True, dedup_window_seconds=0.05)
    customer = with_customer(api)
    request_id = new_id()
    assert api.create(customer, request_id=request_id).status_code == 202
    time.sleep(0.08)
    assert api.create(customer, request_id=request_id).status_code == 409


def test_new_request_id_is_a_real_duplicate(make_api: MakeApi) -> None:
    api = make_api(dedup=True)
    customer = with_customer(api)
    api.upgrade(customer)
    assert api.create(customer).status_code == 409
    assert api.sim.stats.duplicates == 1


# -- ineligibility -----------------------------------------------------------------------


def test_ineligible_as_200(make_api: MakeApi) -> None:
    api = make_api(ineligible_as="200")
    customer = with_customer(api, eligible=False, reason="Shared services.")
    answer = api.eligibility(customer)
    assert answer.status_code == 200
    assert answer.json()["isEligible"] is False
    assert answer.json()["reason"] == "Shared services."


def test_ineligible_as_error(make_api: MakeApi) -> None:
    api = make_api(ineligible_as="error", ineligible_error=(403, 900119))
    customer = with_customer(api, eligible=False, reason="Shared services.")
    answer = api.eligibility(customer)
    assert answer.status_code == 403
    assert answer.json()["code"] == 900119
    assert answer.json()["description"] == "Shared services."


def test_unknown_customer_error_switch(make_api: MakeApi) -> None:
    api = make_api(unknown_customer_error=(403, 20002, "No relationship."))
    answer = api.eligibility(new_id())
    assert answer.status_code == 403
    assert answer.json()["code"] == 20002


# -- latency -----------------------------------------------------------------------------


def test_latency_is_added(make_api: MakeApi) -> None:
    api = make_api(latency_ms=120)
    customer = with_customer(api)
    began = time.perf_counter()
    assert api.eligibility(customer).status_code == 200
    assert time.perf_counter() - began >= 0.12


# -- rate limits -------------------------------------------------------------------------


def test_partner_rate_limit(make_api: MakeApi) -> None:
    api = make_api(rate_limit_per_minute=3)
    customers = [with_customer(api) for _ in range(4)]
    answers = [api.eligibility(c) for c in customers]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    throttled = answers[-1]
    assert throttled.json() == {
        "statusCode": 429,
        "message": "Rate limit is exceeded. Try again in 20 seconds.",
    }
    assert throttled.headers["Retry-After"] == "20"
    assert api.sim.stats.throttled == 1


def test_customer_rate_limit_is_per_customer(make_api: MakeApi) -> None:
    api = make_api(customer_rate_limit_per_minute=2)
    busy, quiet = with_customer(api), with_customer(api)
    assert [api.eligibility(busy).status_code for _ in range(3)] == [200, 200, 429]
    assert api.eligibility(quiet).status_code == 200
    assert int(api.eligibility(busy).headers["Retry-After"]) >= 1


def test_rate_limit_refills(make_api: MakeApi) -> None:
    api = make_api(rate_limit_per_minute=300, rate_limit_burst=1)  # one token per 200 ms
    customer = with_customer(api)
    statuses = [api.eligibility(customer).status_code for _ in range(5)]
    assert statuses[0] == 200
    assert 429 in statuses  # robust to a slow machine: some request comes within 200 ms
    time.sleep(0.25)
    assert api.eligibility(customer).status_code == 200


def test_throttled_create_creates_nothing(make_api: MakeApi) -> None:
    api = make_api(rate_limit_per_minute=1)
    customer = with_customer(api)
    assert api.eligibility(customer).status_code == 200
    assert api.create(customer).status_code == 429
    assert api.sim.world.upgrades_for(customer) == []


# -- lifecycle ---------------------------------------------------------------------------


def test_completion_after_polls(make_api: MakeApi) -> None:
    api = make_api(completion_after_polls=2, completion_delay_seconds=0)
    customer = with_customer(api)
    upgrade_id = api.upgrade(customer)
    assert api.status(upgrade_id, customer).json()["status"] == "InProgress"
    assert api.status(upgrade_id, customer).json()["status"] == "Completed"


def test_zero_delay_completes_at_once(make_api: MakeApi) -> None:
    api = make_api(completion_delay_seconds=0)
    customer = with_customer(api)
    upgrade_id = api.upgrade(customer)
    assert api.status(upgrade_id, customer).json()["status"] == "Completed"


def test_fail_rate_one_fails_every_upgrade(make_api: MakeApi) -> None:
    api = make_api(fail_rate=1.0, completion_delay_seconds=0)
    customer = with_customer(api)
    doc = api.status(api.upgrade(customer), customer).json()
    assert doc["status"] == "Failed"
    assert set(doc["errorDetails"]) == {"code", "message"}


def test_fail_rate_draws_are_seeded(make_api: MakeApi) -> None:
    outcomes = []
    for _ in range(2):
        api = make_api(fail_rate=0.5, completion_delay_seconds=0, seed=42)
        statuses = []
        for _ in range(8):
            customer = with_customer(api)
            statuses.append(api.status(api.upgrade(customer), customer).json()["status"])
        outcomes.append(statuses)
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {"Completed", "Failed"}


def test_seed_makes_upgrade_ids_repeatable(make_api: MakeApi) -> None:
    ids = []
    for _ in range(2):
        api = make_api(seed=3)
        ids.append(api.upgrade(with_customer(api)))
    assert ids[0] == ids[1]


@pytest.mark.parametrize(
    ("style", "keys"),
    [
        ("message", {"code", "message"}),
        ("description", {"code", "description"}),
        ("both", {"code", "message", "description"}),
    ],
)
def test_error_details_style(make_api: MakeApi, style: str, keys: set[str]) -> None:
    api = make_api(error_details_style=style)
    customer = with_customer(api)
    upgrade_id = api.upgrade(customer)
    api.sim.world.fail_upgrade(upgrade_id)
    assert set(api.status(upgrade_id, customer).json()["errorDetails"]) == keys


def test_in_progress_spelling_switch(make_api: MakeApi) -> None:
    api = make_api(in_progress_status="Pending")
    customer = with_customer(api)
    assert api.status(api.upgrade(customer), customer).json()["status"] == "Pending"


def test_absolute_location_switch(make_api: MakeApi) -> None:
    api = make_api(location_style="absolute")
    customer = with_customer(api)
    location = api.create(customer).headers["Location"]
    assert re.fullmatch(re.escape(api.sim.url) + r"/v1/productUpgrades/[0-9a-f-]{36}", location)


def test_no_guid_location_switch(make_api: MakeApi) -> None:
    api = make_api(location_style="no-guid")
    customer = with_customer(api)
    answer = api.create(customer)
    assert answer.status_code == 202
    assert answer.headers["Location"] == "productUpgrades/blank"


def test_config_token_is_used(make_api: MakeApi) -> None:
    api = make_api(token="fixed-token")
    assert api.sim.token == "fixed-token"
    customer = with_customer(api)
    assert api.eligibility(customer).status_code == 200


def test_random_token_by_default() -> None:
    assert SimulatorConfig().token is None
