"""Documented Partner Center behaviour, over real HTTP (partner-center.md)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime

import pytest
import requests

from reconciler.simulator import Simulator
from tests.simulator.helpers import CREATE, ELIGIBILITY, Api, new_id, status_path

GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def assert_fault(answer: requests.Response, status: int, code: int) -> dict[str, object]:
    """The answer is the documented ApiFault with this status and code."""
    assert answer.status_code == status, answer.text
    doc = answer.json()
    assert doc["code"] == code
    assert isinstance(doc["description"], str)
    assert doc["description"]
    assert doc["data"] == []
    assert doc["source"] == "PartnerFD"
    return dict(doc)


# -- eligibility -------------------------------------------------------------------------


def test_eligible_customer_gets_200_without_absent_fields(api: Api, customer: str) -> None:
    answer = api.eligibility(customer)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    # upgradeId and reason are absent, not null.
    assert answer.json() == {"customerId": customer, "productFamily": "Azure", "isEligible": True}


@pytest.mark.parametrize(
    "path",
    [
        "/v1/productupgrades/eligibility",
        "/V1/PRODUCTUPGRADES/ELIGIBILITY",
        "/v1/productUpgrades/eligibility/",
    ],
)
def test_paths_are_case_insensitive(api: Api, customer: str, path: str) -> None:
    answer = api.post(path, {"customerId": customer, "productFamily": "Azure"})
    assert answer.status_code == 200
    assert answer.json()["isEligible"] is True


@pytest.mark.parametrize("family", ["Azure", "azure", "AZURE"])
def test_product_family_in_any_case(api: Api, customer: str, family: str) -> None:
    answer = api.post(ELIGIBILITY, {"customerId": customer, "productFamily": family})
    assert answer.status_code == 200
    assert answer.json()["productFamily"] == "Azure"


def test_pascal_case_body_is_accepted(api: Api, customer: str) -> None:
    answer = api.post(ELIGIBILITY, {"CustomerId": customer, "ProductFamily": "Azure"})
    assert answer.status_code == 200
    assert answer.json()["isEligible"] is True
    created = api.post(CREATE, {"CustomerId": customer, "ProductFamily": "azure"})
    assert created.status_code == 202


def test_unknown_family_is_900107(api: Api, customer: str) -> None:
    answer = api.post(ELIGIBILITY, {"customerId": customer, "productFamily": "Office"})
    assert_fault(answer, 400, 900107)


@pytest.mark.parametrize(
    "bad", ["not-a-guid", "", 42, None, "0000000000000000000000000000000000000"]
)
def test_customer_id_must_be_a_guid(api: Api, bad: object) -> None:
    assert_fault(api.post(ELIGIBILITY, {"customerId": bad, "productFamily": "Azure"}), 400, 900118)
    assert_fault(api.post(CREATE, {"customerId": bad, "productFamily": "Azure"}), 400, 900118)


def test_non_json_body_is_400(api: Api) -> None:
    answer = api.session.post(
        api.sim.url + ELIGIBILITY,
        data=b"not json",
        headers={"Authorization": f"Bearer {api.sim.token}"},
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json()["source"] == "PartnerFD"


def test_upper_case_customer_id_matches(api: Api, customer: str) -> None:
    answer = api.eligibility(customer.upper())
    assert answer.status_code == 200
    assert answer.json()["isEligible"] is True


def test_unknown_customer_is_tenant_not_found(api: Api) -> None:
    assert_fault(api.eligibility(new_id()), 404, 60003)


@pytest.mark.parametrize(
    ("status", "code"),
    [(403, 900105), (403, 900108), (403, 900119), (403, 900120), (403, 900130), (403, 20002)],
)
def test_refused_customer_answers_its_fault_to_eligibility_and_create(
    sim: Simulator, api: Api, status: int, code: int
) -> None:
    customer = new_id()
    sim.world.add_customer(customer, error=(status, code, f"refused {code}"))
    doc = assert_fault(api.eligibility(customer), status, code)
    assert doc["description"] == f"refused {code}"
    assert_fault(api.create(customer), status, code)
    assert sim.world.upgrades_for(customer) == []


def test_ineligible_customer_gets_reason(sim: Simulator, api: Api) -> None:
    customer = new_id()
    sim.world.add_customer(customer, eligible=False, reason="Customer has no Azure subscriptions.")
    answer = api.eligibility(customer)
    assert answer.status_code == 200
    assert answer.json() == {
        "customerId": customer,
        "productFamily": "Azure",
        "isEligible": False,
        "reason": "Customer has no Azure subscriptions.",
    }
    # Create cannot answer isEligible: it refuses with an ApiFault.
    assert_fault(api.create(customer), 403, 900120)


# -- create and status -------------------------------------------------------------------


def test_create_is_202_with_relative_location_and_empty_body(
    sim: Simulator, api: Api, customer: str
) -> None:
    answer = api.create(customer)
    assert answer.status_code == 202
    assert answer.content == b""
    location = answer.headers["Location"]
    assert re.fullmatch(rf"productUpgrades/{GUID}", location)
    upgrade_id = location.rsplit("/", 1)[1]
    [upgrade] = sim.world.upgrades_for(customer)
    assert upgrade.id == upgrade_id
    assert upgrade.customer_id == customer
    assert upgrade.status == "InProgress"
    assert upgrade.request_id == answer.headers["MS-RequestId"]


def test_eligibility_reveals_the_upgrade_in_place(api: Api, customer: str) -> None:
    upgrade_id = api.upgrade(customer)
    doc = api.eligibility(customer).json()
    assert doc["isEligible"] is False
    assert doc["upgradeId"] == upgrade_id
    assert doc["reason"]


def test_second_create_while_in_progress_is_900109(sim: Simulator, api: Api, customer: str) -> None:
    upgrade_id = api.upgrade(customer)
    doc = assert_fault(api.create(customer), 409, 900109)
    assert upgrade_id in str(doc["description"])
    assert sim.stats.duplicates == 1
    assert len(sim.world.upgrades_for(customer)) == 1


def test_create_after_completion_is_900110(sim: Simulator, api: Api, customer: str) -> None:
    upgrade_id = api.upgrade(customer)
    sim.world.complete_upgrade(upgrade_id)
    doc = assert_fault(api.create(customer), 400, 900110)
    assert upgrade_id in str(doc["description"])


def test_status_in_progress(api: Api, customer: str) -> None:
    upgrade_id = api.upgrade(customer)
    answer = api.status(upgrade_id, customer)
    assert answer.status_code == 200
    doc = answer.json()
    assert doc["id"] == upgrade_id
    assert doc["productFamily"] == "Azure"
    assert doc["status"] == "InProgress"
    [item] = doc["lineItems"]
    assert item["status"] == "InProgress"
    assert "upgradedDate" not in item
    assert "errorDetails" not in doc
    assert "targetProduct" not in item
    assert set(item["sourceProduct"]) == {"id", "name"}


def test_status_completed_after_delay(make_api: Callable[..., Api]) -> None:
    api = make_api(completion_delay_seconds=0.05)
    customer = new_id()
    api.sim.world.add_customer(customer)
    upgrade_id = api.upgrade(customer)
    time.sleep(0.08)
    doc = api.status(upgrade_id, customer).json()
    assert doc["status"] == "Completed"
    [item] = doc["lineItems"]
    assert item["status"] == "Completed"
    assert set(item["targetProduct"]) == {"id", "name"}
    assert item["upgradedDate"].endswith("Z")
    datetime.fromisoformat(item["upgradedDate"].replace("Z", "+00:00"))
    assert api.eligibility(customer).json()["upgradeId"] == upgrade_id


def test_status_alias_route(api: Api, customer: str) -> None:
    upgrade_id = api.upgrade(customer)
    body = {"customerId": customer, "productFamily": "Azure"}
    alias = api.post(f"/v1/productupgrades/{upgrade_id}/upgradestatus", body)
    assert alias.status_code == 200
    assert alias.json()["id"] == upgrade_id


def test_status_accepts_upper_case_upgrade_id(api: Api, customer: str) -> None:
    upgrade_id = api.upgrade(customer)
    assert api.status(upgrade_id.upper(), customer).status_code == 200


def test_status_of_unknown_upgrade_is_900106(api: Api, customer: str) -> None:
    assert_fault(api.status(new_id(), customer), 404, 900106)
    assert_fault(api.status("not-a-guid", customer), 404, 900106)


def test_status_with_another_customer_is_900111(sim: Simulator, api: Api, customer: str) -> None:
    other = new_id()
    sim.world.add_customer(other)
    upgrade_id = api.upgrade(customer)
    assert_fault(api.status(upgrade_id, other), 400, 900111)


def test_failed_upgrade_status_and_eligibility(sim: Simulator, api: Api, customer: str) -> None:
    upgrade_id = api.upgrade(customer)
    sim.world.fail_upgrade(upgrade_id, code="900120", message="Cannot process Azure upgrade.")
    doc = api.status(upgrade_id, customer).json()
    assert doc["status"] == "Failed"
    assert doc["errorDetails"] == {"code": "900120", "message": "Cannot process Azure upgrade."}
    assert doc["lineItems"][0]["errorDetails"]["code"] == "900120"
    # A failed upgrade is not "in place": the customer may be upgraded again.
    assert api.eligibility(customer).json() == {
        "customerId": customer,
        "productFamily": "Azure",
        "isEligible": True,
    }
    assert api.create(customer).status_code == 202


def test_get_on_upgrade_routes_is_refused(api: Api) -> None:
    assert api.get(ELIGIBILITY).status_code == 405
    assert api.get("/v1/nothing-here").status_code == 404
    assert api.post(status_path(new_id()) + "/more", {}).status_code == 404


# -- headers and authentication ----------------------------------------------------------


def test_response_headers_echo_ids(api: Api, customer: str) -> None:
    request_id, correlation_id = new_id(), new_id()
    answer = api.eligibility(
        customer, headers={"MS-RequestId": request_id, "MS-CorrelationId": correlation_id}
    )
    assert answer.headers["MS-RequestId"] == request_id
    assert answer.headers["MS-CorrelationId"] == correlation_id
    assert answer.headers["MS-CV"]
    assert answer.headers["MS-ServerId"]
    assert answer.headers["Date"].endswith("GMT")


def test_ids_are_made_up_when_missing(sim: Simulator, customer: str) -> None:
    answer = requests.post(
        sim.url + ELIGIBILITY,
        json={"customerId": customer, "productFamily": "Azure"},
        headers={"Authorization": f"Bearer {sim.token}"},
        timeout=5,
    )
    assert re.fullmatch(GUID, answer.headers["MS-RequestId"])
    assert re.fullmatch(GUID, answer.headers["MS-CorrelationId"])


def test_missing_token_is_800001(api: Api, customer: str) -> None:
    assert_fault(api.eligibility(customer, auth=False), 401, 800001)
    assert_fault(
        api.eligibility(customer, auth=False, headers={"Authorization": "Basic abc"}), 401, 800001
    )


def test_wrong_token_is_800002(api: Api, customer: str) -> None:
    answer = api.eligibility(customer, headers={"Authorization": "Bearer wrong"})
    assert_fault(answer, 401, 800002)


def test_bearer_scheme_is_case_insensitive(api: Api, customer: str) -> None:
    answer = api.eligibility(customer, headers={"Authorization": f"bearer {api.sim.token}"})
    assert answer.status_code == 200


def test_unauthenticated_create_changes_nothing(sim: Simulator, api: Api, customer: str) -> None:
    assert api.create(customer, auth=False).status_code == 401
    assert sim.world.upgrades_for(customer) == []


# -- reading the truth -------------------------------------------------------------------


def test_customers_are_paged_with_continuation(sim: Simulator, api: Api) -> None:
    ids = [new_id() for _ in range(5)]
    for number, customer_id in enumerate(ids):
        sim.world.add_customer(customer_id, f"Customer {number}")
    seen: list[str] = []
    answer = api.get("/v1/customers?size=2")
    pages = 0
    while True:
        assert answer.status_code == 200
        doc = answer.json()
        pages += 1
        assert doc["totalCount"] == len(doc["items"])
        seen += [item["id"] for item in doc["items"]]
        assert all(item["companyProfile"]["tenantId"] == item["id"] for item in doc["items"])
        nxt = doc["links"].get("next")
        if nxt is None:
            break
        headers = {h["key"]: h["value"] for h in nxt["headers"]}
        assert "MS-ContinuationToken" in headers
        answer = api.get(nxt["uri"], headers=headers)
    assert seen == ids
    assert pages == 3


def test_bad_continuation_token_is_400(api: Api) -> None:
    assert api.get("/v1/customers", headers={"MS-ContinuationToken": "%%%"}).status_code == 400


def test_subscriptions_before_and_after_upgrade(sim: Simulator, api: Api, customer: str) -> None:
    before = api.get(f"/v1/customers/{customer}/subscriptions").json()["items"]
    assert [(s["offerId"], s["status"]) for s in before] == [("MS-AZR-0145P", "active")]
    upgrade_id = api.upgrade(customer)
    during = api.get(f"/v1/customers/{customer}/subscriptions").json()["items"]
    assert [(s["offerId"], s["status"]) for s in during] == [("MS-AZR-0145P", "active")]
    sim.world.complete_upgrade(upgrade_id)
    after = api.get(f"/v1/customers/{customer}/subscriptions").json()["items"]
    states = {s["offerId"]: s["status"] for s in after}
    assert states["MS-AZR-0145P"] == "suspended"
    [plan] = [offer for offer in states if offer.startswith("DZH318Z0BPS6:")]
    assert states[plan] == "active"


def test_subscriptions_of_unknown_or_malformed_customer(api: Api) -> None:
    assert_fault(api.get(f"/v1/customers/{new_id()}/subscriptions"), 404, 60003)
    assert_fault(api.get("/v1/customers/nope/subscriptions"), 400, 900118)


def test_customers_require_a_token(sim: Simulator) -> None:
    assert requests.get(sim.url + "/v1/customers", timeout=5).status_code == 401
