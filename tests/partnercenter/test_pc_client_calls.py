"""The four calls against the simulator over real HTTP: shapes, headers and error mapping."""

from __future__ import annotations

import pytest

from reconciler import __version__
from reconciler.partnercenter import (
    AttemptInfo,
    AuthenticationError,
    ClientConfig,
    CreateKind,
    InvalidEndpointError,
    InvalidRequestError,
    NotEligibleError,
    PartnerCenterClient,
    StaticToken,
    UpgradeNotFoundError,
    UpgradeOwnershipError,
)
from reconciler.simulator import Simulator

from .conftest import ClientFactory, SimFactory, new_id

REQUIRED_HEADERS = (
    "Authorization", "Accept", "Content-Type", "MS-RequestId", "MS-CorrelationId", "X-Locale",
    "MS-PartnerCenter-Application",
)


def test_every_call_sends_every_header(make_sim: SimFactory, make_client: ClientFactory) -> None:
    sim = make_sim(fresh=True)
    client = make_client(sim)
    customer = new_id()
    sim.world.add_customer(customer)
    sim.world.add_customer(new_id())
    created = client.create(customer, "Azure", new_id())
    assert created.upgrade_id is not None
    client.eligibility(customer)
    client.status(created.upgrade_id, customer)
    list(client.customers(page_size=1))
    requests = sim.requests
    assert len(requests) == 5
    for req in requests:
        for name in REQUIRED_HEADERS:
            assert req.header(name), f"{name} missing on {req.method} {req.path}"
        assert req.header("Authorization") == f"Bearer {sim.token}"
        assert req.header("Accept") == "application/json"
        assert req.header("Content-Type") == "application/json"
        assert req.header("X-Locale") == "en-US"
        assert req.header("MS-PartnerCenter-Application") == (
            f"partnercenter-reconciler/{__version__}"
        )
    assert len({r.header("MS-CorrelationId") for r in requests}) == 5


def test_read_calls_use_a_fresh_request_id_per_call(
    sim: Simulator, client: PartnerCenterClient, customer: str
) -> None:
    client.eligibility(customer)
    client.eligibility(customer)
    ids = [r.header("MS-RequestId") for r in sim.requests]
    assert len(set(ids)) == 2


def test_create_uses_the_callers_request_id(
    sim: Simulator, client: PartnerCenterClient, customer: str
) -> None:
    request_id = new_id()
    result = client.create(customer, "Azure", request_id)
    assert result.kind is CreateKind.CREATED
    assert result.request_id == request_id
    assert result.http_status == 202
    assert sim.requests[0].header("MS-RequestId") == request_id
    [upgrade] = sim.world.upgrades_for(customer)
    assert result.upgrade_id == upgrade.id
    assert upgrade.request_id == request_id
    assert result.correlation_id == sim.requests[0].header("MS-CorrelationId")


def test_absolute_location_is_parsed(make_sim: SimFactory, make_client: ClientFactory) -> None:
    sim = make_sim(location_style="absolute")
    cid = new_id()
    sim.world.add_customer(cid)
    result = make_client(sim).create(cid, "azure", new_id())
    assert result.upgrade_id == sim.world.upgrades_for(cid)[0].id


def test_eligibility_eligible(client: PartnerCenterClient, customer: str) -> None:
    answer = client.eligibility(customer, "Azure")
    assert answer.is_eligible
    assert answer.customer_id == customer
    assert answer.product_family == "Azure"
    assert (answer.upgrade_id, answer.reason, answer.error_code) == (None, None, None)
    assert answer.correlation_id


def test_eligibility_reveals_an_existing_upgrade(
    sim: Simulator, client: PartnerCenterClient, customer: str
) -> None:
    upgrade_id = sim.world.upgrade_out_of_band(customer)
    answer = client.eligibility(customer)
    assert not answer.is_eligible
    assert answer.upgrade_id == upgrade_id
    assert answer.reason


@pytest.mark.parametrize("style", ["200", "error"])
def test_ineligible_is_the_same_value_either_way(
    make_sim: SimFactory, make_client: ClientFactory, style: str
) -> None:
    sim = make_sim(ineligible_as=style)
    cid = new_id()
    sim.world.add_customer(cid, eligible=False, reason="Customer has no Azure subscriptions.")
    answer = make_client(sim).eligibility(cid)
    assert not answer.is_eligible
    assert answer.upgrade_id is None
    assert answer.reason == "Customer has no Azure subscriptions."
    if style == "error":
        assert (answer.http_status, answer.error_code) == (403, "900120")
    else:
        assert (answer.http_status, answer.error_code) == (200, None)
    assert len(sim.requests) == 1  # an eligibility fault is not retried


@pytest.mark.parametrize(
    ("status", "code"),
    [(403, 900105), (403, 900108), (400, 900107), (403, 900119), (403, 900130), (403, 20002),
     (404, 60003)],
)
def test_eligibility_faults_are_not_eligible(
    sim: Simulator, client: PartnerCenterClient, status: int, code: int
) -> None:
    cid = new_id()
    sim.world.add_customer(cid, error=(status, code, "Blocked for a reason."))
    answer = client.eligibility(cid)
    assert not answer.is_eligible
    assert (answer.error_code, answer.reason, answer.http_status) == (
        str(code), "Blocked for a reason.", status,
    )


def test_unknown_and_invalid_customers_are_not_eligible(client: PartnerCenterClient) -> None:
    assert client.eligibility(new_id()).error_code == "60003"
    assert client.eligibility("not-a-guid").error_code == "900118"


def test_create_for_ineligible_customer_raises_not_eligible(
    sim: Simulator, client: PartnerCenterClient
) -> None:
    cid = new_id()
    sim.world.add_customer(cid, error=(403, 900105, "Suspended subscriptions."))
    with pytest.raises(NotEligibleError, match="900105") as caught:
        client.create(cid, "Azure", new_id())
    assert caught.value.code == "900105"
    assert caught.value.correlation_id
    assert caught.value.correlation_id in str(caught.value)


@pytest.mark.parametrize(("completed", "code"), [(False, "900109"), (True, "900110")])
def test_create_when_an_upgrade_exists_is_already_exists(
    sim: Simulator, client: PartnerCenterClient, customer: str, completed: bool, code: str
) -> None:
    existing = sim.world.upgrade_out_of_band(
        customer, status="Completed" if completed else "InProgress"
    )
    result = client.create(customer, "Azure", new_id())
    assert result.kind is CreateKind.ALREADY_EXISTS
    assert result.error_code == code
    assert result.upgrade_id == existing
    assert result.http_status == (400 if completed else 409)
    assert len(sim.requests) == 1


def test_status_in_flight_and_completed(
    sim: Simulator, client: PartnerCenterClient, customer: str
) -> None:
    created = client.create(customer, "Azure", new_id())
    assert created.upgrade_id
    running = client.status(created.upgrade_id, customer)
    assert running.id == created.upgrade_id
    assert not running.is_terminal
    sim.world.complete_upgrade(created.upgrade_id)
    done = client.status(created.upgrade_id, customer, "Azure")
    assert done.is_completed
    assert done.is_terminal
    assert not done.is_failed
    assert done.product_family
    assert done.product_family.lower() == "azure"
    assert done.line_items
    item = done.line_items[0]
    assert item.source_product.id
    assert item.target_product.id
    assert item.upgraded_date


@pytest.mark.parametrize("style", ["message", "description", "both"])
def test_failed_status_reads_error_details_in_any_spelling(
    make_sim: SimFactory, make_client: ClientFactory, style: str
) -> None:
    sim = make_sim(error_details_style=style)
    cid = new_id()
    sim.world.add_customer(cid)
    upgrade_id = sim.world.upgrade_out_of_band(cid)
    sim.world.fail_upgrade(upgrade_id, code="900200", message="Subscription transfer failed.")
    status = make_client(sim).status(upgrade_id, cid)
    assert status.is_failed
    assert status.is_terminal
    assert status.error_code == "900200"
    assert status.error_message == "Subscription transfer failed."


def test_status_of_unknown_upgrade_is_upgrade_not_found(
    sim: Simulator, client: PartnerCenterClient, customer: str
) -> None:
    with pytest.raises(UpgradeNotFoundError) as caught:
        client.status(new_id(), customer)
    assert caught.value.code == "900106"
    assert caught.value.http_status == 404
    assert len(sim.requests) == 1


def test_status_of_another_customers_upgrade_is_ownership_error(
    sim: Simulator, client: PartnerCenterClient, customer: str
) -> None:
    other = new_id()
    upgrade_id = sim.world.upgrade_out_of_band(other)
    with pytest.raises(UpgradeOwnershipError) as caught:
        client.status(upgrade_id, customer)
    assert caught.value.code == "900111"
    assert not isinstance(caught.value, UpgradeNotFoundError)


def test_status_with_invalid_customer_is_invalid_request(client: PartnerCenterClient) -> None:
    with pytest.raises(InvalidRequestError, match="900118"):
        client.status(new_id(), "nope")


def test_customers_follow_continuation_pages(
    make_sim: SimFactory, make_client: ClientFactory
) -> None:
    sim = make_sim(fresh=True)
    client = make_client(sim)
    ids = [new_id() for _ in range(7)]
    for n, cid in enumerate(ids):
        sim.world.add_customer(cid, name=f"Customer {n}")
    found = list(client.customers(page_size=3))
    assert [c.id for c in found] == ids
    assert found[2].company_name == "Customer 2"
    gets = [r for r in sim.requests if r.method == "GET"]
    assert len(gets) == 3
    assert gets[0].header("MS-ContinuationToken") is None
    assert gets[1].header("MS-ContinuationToken")
    assert gets[2].header("MS-ContinuationToken")
    assert len({r.header("MS-RequestId") for r in gets}) == 3


def test_empty_customer_list(make_sim: SimFactory, make_client: ClientFactory) -> None:
    assert list(make_client(make_sim(fresh=True)).customers()) == []


def test_wrong_token_is_an_auth_error_without_retry(
    sim: Simulator, make_client: ClientFactory, customer: str
) -> None:
    client = make_client(sim, token_provider=StaticToken("wrong-token"))
    with pytest.raises(AuthenticationError, match="401") as caught:
        client.eligibility(customer)
    assert caught.value.code == "800002"
    assert caught.value.correlation_id
    assert caught.value.correlation_id in str(caught.value)
    assert len(sim.requests) == 1
    assert "wrong-token" not in str(caught.value)


class RotatingProvider:
    """Hands out a stale token first and the good one on refresh (like an early expiry)."""

    def __init__(self, good: str) -> None:
        self.good = good
        self.current = "stale-token"
        self.refreshes = 0

    def get_token(self) -> str:
        return self.current

    def refresh(self, rejected: str) -> str | None:
        self.refreshes += 1
        self.current = self.good
        return self.current


def test_a_401_refreshes_the_token_once(
    sim: Simulator, make_client: ClientFactory, customer: str
) -> None:
    provider = RotatingProvider(sim.token)
    client = make_client(sim, token_provider=provider)
    assert client.eligibility(customer).is_eligible
    assert provider.refreshes == 1
    assert [r.status for r in sim.requests] == [401, 200]
    client.eligibility(customer)
    assert provider.refreshes == 1


def test_a_second_401_is_not_refreshed_again(
    sim: Simulator, make_client: ClientFactory, customer: str
) -> None:
    provider = RotatingProvider("also-wrong")
    client = make_client(sim, token_provider=provider)
    with pytest.raises(AuthenticationError):
        client.eligibility(customer)
    assert provider.refreshes == 1
    assert [r.status for r in sim.requests] == [401, 401]


def test_on_attempt_reports_every_attempt(
    sim: Simulator, make_client: ClientFactory, customer: str
) -> None:
    seen: list[AttemptInfo] = []
    client = make_client(sim, on_attempt=seen.append)
    request_id = new_id()
    client.create(customer, "Azure", request_id)
    [info] = seen
    assert (info.method, info.path, info.status, info.operation) == (
        "POST", "/v1/productUpgrades", 202, "create",
    )
    assert (info.request_id, info.customer_id, info.attempt, info.error) == (
        request_id, customer, 1, None,
    )
    assert info.correlation_id == sim.requests[0].header("MS-CorrelationId")
    assert info.duration >= 0


def test_http_endpoint_off_loopback_is_refused() -> None:
    with pytest.raises(InvalidEndpointError):
        ClientConfig(endpoint="http://api.partnercenter.microsoft.com")
    assert ClientConfig(endpoint="http://localhost:1/").endpoint == "http://localhost:1"


def test_stats_count_requests(client: PartnerCenterClient, customer: str) -> None:
    client.eligibility(customer)
    stats = client.stats()
    assert (stats.requests, stats.throttled, stats.retries) == (1, 0, 0)
    assert stats.concurrency == stats.max_concurrency == 4
    assert stats.in_flight == 0
