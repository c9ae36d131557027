"""The world model: out-of-band upgrades, reverts, forced failures, observability."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests

from reconciler.simulator import COMPLETED, FAILED, IN_PROGRESS, Lifecycle, Simulator, World
from tests.simulator.helpers import Api, new_id


def test_out_of_band_upgrade_is_found_through_eligibility(
    sim: Simulator, api: Api, customer: str
) -> None:
    upgrade_id = sim.world.upgrade_out_of_band(customer)
    doc = api.eligibility(customer).json()
    assert doc["isEligible"] is False
    assert doc["upgradeId"] == upgrade_id
    assert api.status(upgrade_id, customer).json()["status"] == "InProgress"
    [upgrade] = sim.world.upgrades_for(customer)
    assert upgrade.request_id is None
    assert upgrade.out_of_band


def test_out_of_band_completed_and_unknown_customer(sim: Simulator, api: Api) -> None:
    customer = new_id()
    upgrade_id = sim.world.upgrade_out_of_band(customer, status=COMPLETED)
    assert api.status(upgrade_id, customer).json()["status"] == "Completed"
    assert api.create(customer).json()["code"] == 900110


def test_revert_is_drift(sim: Simulator, api: Api, customer: str) -> None:
    upgrade_id = api.upgrade(customer)
    sim.world.complete_upgrade(upgrade_id)
    assert sim.world.revert(customer) == [upgrade_id]
    assert api.status(upgrade_id, customer).json()["code"] == 900106
    assert api.eligibility(customer).json()["isEligible"] is True
    subs = api.get(f"/v1/customers/{customer}/subscriptions").json()["items"]
    assert [(s["offerId"], s["status"]) for s in subs] == [("MS-AZR-0145P", "active")]
    assert sim.world.upgrades_for(customer) == []


def test_revert_makes_an_ineligible_customer_eligible(sim: Simulator, api: Api) -> None:
    customer = new_id()
    sim.world.add_customer(customer, eligible=False, reason="no")
    sim.world.revert(customer)
    assert api.eligibility(customer).json()["isEligible"] is True


def test_ensure_customer_adds_once(sim: Simulator) -> None:
    customer = new_id()
    first = sim.world.ensure_customer(customer, "Fabrikam")
    second = sim.world.ensure_customer(customer.upper(), "Other name")
    assert first == second
    assert first.name == "Fabrikam"
    assert first.eligible
    assert len(sim.world.customers()) == 1


def test_upgrade_fields(sim: Simulator, api: Api, customer: str) -> None:
    before = datetime.now(UTC)
    upgrade_id = api.upgrade(customer)
    [upgrade] = sim.world.upgrades_for(customer)
    assert (upgrade.id, upgrade.customer_id, upgrade.status) == (upgrade_id, customer, IN_PROGRESS)
    assert before - timedelta(seconds=1) <= upgrade.created_at <= datetime.now(UTC)
    sim.world.fail_upgrade(upgrade_id, code="X1", message="broken")
    failed = sim.world.upgrade(upgrade_id)
    assert failed is not None
    assert (failed.status, failed.error_code, failed.error_message) == (FAILED, "X1", "broken")


def test_time_driven_lifecycle_with_an_injected_clock() -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    world = World(lifecycle=Lifecycle(completion_delay_seconds=10), clock=lambda: now[0])
    world.add_customer("C")
    upgrade = world.start_upgrade("C", "r1")
    now[0] += timedelta(seconds=9)
    assert world.upgrades_for("c")[0].status == IN_PROGRESS
    now[0] += timedelta(seconds=1)
    done = world.upgrades_for("c")[0]
    assert done.status == COMPLETED
    assert done.completed_at == upgrade.created_at + timedelta(seconds=10)


def test_every_request_is_recorded(sim: Simulator, api: Api, customer: str) -> None:
    request_id = new_id()
    api.eligibility(customer, request_id=request_id)
    api.get("/v1/customers?size=5")
    api.eligibility(customer, auth=False)
    first, second, third = sim.requests
    assert (first.method, first.path, first.status) == (
        "POST",
        "/v1/productUpgrades/eligibility",
        200,
    )
    assert first.body == {"customerId": customer, "productFamily": "Azure"}
    assert first.header("ms-requestid") == request_id
    assert first.headers["MS-RequestId"] == request_id
    assert (second.method, second.path, second.body) == ("GET", "/v1/customers?size=5", b"")
    assert third.status == 401
    assert first.time <= second.time <= third.time
    sim.clear_requests()
    assert sim.requests == []


def test_non_json_bodies_are_recorded_as_bytes(sim: Simulator) -> None:
    requests.post(sim.url + "/v1/productUpgrades", data=b"\x00raw", timeout=5)
    assert sim.requests[-1].body == b"\x00raw"


def test_stats_reset(sim: Simulator, api: Api, customer: str) -> None:
    api.upgrade(customer)
    api.create(customer)
    assert sim.stats.duplicates == 1
    sim.stats.reset()
    assert (sim.stats.duplicates, sim.stats.throttled, sim.stats.replays) == (0, 0, 0)
