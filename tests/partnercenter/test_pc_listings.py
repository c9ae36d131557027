"""Customer and subscription listings against the simulator: paging, the end of the list, 401s."""

from __future__ import annotations

import threading

import pytest

from reconciler.partnercenter import PartnerCenterError, Subscription
from reconciler.simulator import COMPLETED

from .conftest import ClientFactory, SimFactory, new_id


class RotatingToken:
    """A provider whose token Partner Center may revoke; refresh hands out the next one."""

    def __init__(self, first: str, second: str) -> None:
        self.tokens, self.current, self.refreshes = [first, second], first, 0
        self.lock = threading.Lock()

    def get_token(self) -> str:
        return self.current

    def refresh(self, rejected: str) -> str | None:
        with self.lock:
            self.refreshes += 1
            self.current = self.tokens[1]
            return self.current


def test_a_large_list_is_read_page_by_page_with_fewer_than_asked(
        make_sim: SimFactory, make_client: ClientFactory) -> None:
    sim = make_sim(fresh=True, max_page_size=300)
    ids = [new_id() for _ in range(1001)]
    with sim.world.batch():
        for n, cid in enumerate(ids):
            sim.world.add_customer(cid, name=f"Customer {n}")
    found = list(make_client(sim).customers())  # asks for 500, gets 300
    assert [c.id for c in found] == ids
    gets = [r for r in sim.requests if r.method == "GET"]
    assert len(gets) == 4
    assert all("size=500" in r.path or "size=300" in r.path for r in gets)


@pytest.mark.parametrize("size", [1, 3, 7])
def test_400_with_code_2000_after_the_last_page_ends_the_list(
        make_sim: SimFactory, make_client: ClientFactory, size: int) -> None:
    sim = make_sim(fresh=True, customers_end="error-2000")
    ids = [new_id() for _ in range(6)]
    for cid in ids:
        sim.world.add_customer(cid)
    assert [c.id for c in make_client(sim).customers(page_size=size)] == ids
    answers = [r.status for r in sim.requests if r.method == "GET"]
    assert answers[-1] == 400
    assert answers[:-1] == [200] * (len(answers) - 1)


def test_an_empty_partner_under_the_2000_switch_is_one_call(
        make_sim: SimFactory, make_client: ClientFactory) -> None:
    # An empty partner under the switch answers an empty first page, not 2000: the end is only
    # ever reached by following a link.
    sim = make_sim(fresh=True, customers_end="error-2000")
    assert list(make_client(sim).customers()) == []
    assert [r.status for r in sim.requests] == [200]


def test_a_401_in_the_middle_of_the_list_gets_one_token_refresh(
        make_sim: SimFactory, make_client: ClientFactory) -> None:
    sim = make_sim(fresh=True)
    for _ in range(5):
        sim.world.add_customer(new_id())
    sim.tokens.accept("first-token")
    sim.tokens.accept("second-token")
    provider = RotatingToken("first-token", "second-token")
    client = make_client(sim, token_provider=provider)
    listing = client.customers(page_size=2)
    seen = [next(listing).id]
    sim.tokens.revoke("first-token")  # expires while the listing is under way
    seen += [c.id for c in listing]
    assert len(seen) == 5
    assert provider.refreshes == 1
    assert [r.status for r in sim.requests] == [200, 401, 200, 200]


def test_subscriptions_before_and_after_an_upgrade(
        make_sim: SimFactory, make_client: ClientFactory) -> None:
    sim = make_sim(fresh=True)
    client = make_client(sim)
    legacy, upgraded, m365 = new_id(), new_id(), new_id()
    sim.world.add_customer(legacy)
    sim.world.add_customer(upgraded)
    sim.world.add_customer(m365, legacy=False)
    sim.world.upgrade_out_of_band(upgraded, status=COMPLETED)

    before = client.subscriptions(legacy)
    assert [(s.is_legacy, s.is_active, s.is_azure_plan) for s in before] == [(True, True, False)]
    after = client.subscriptions(upgraded)
    assert sorted((s.is_legacy, s.is_active, s.is_azure_plan) for s in after) == [
        (False, True, True), (True, False, False)]
    other = client.subscriptions(m365)
    assert len(other) == 1
    assert not other[0].is_legacy
    assert not other[0].is_azure_plan
    assert not client.eligibility(m365).is_eligible
    assert client.eligibility(m365).error_code == "900108"
    gets = [r for r in sim.requests if r.method == "GET"]
    assert gets[0].path == f"/v1/customers/{legacy}/subscriptions"


def test_subscriptions_of_an_unknown_customer_name_the_customer(
        make_sim: SimFactory, make_client: ClientFactory) -> None:
    customer = new_id()
    with pytest.raises(PartnerCenterError, match=customer):
        make_client(make_sim(fresh=True)).subscriptions(customer)


def test_offer_ids_and_statuses_compare_case_insensitively() -> None:
    assert Subscription("s", "ms-azr-0145p", "Active").is_legacy
    assert Subscription("s", "dzh318z0bps6:0003", "ACTIVE").is_azure_plan
    assert Subscription("s", "x", "ACTIVE").is_active
    assert not Subscription("s", "MS-AZR-0145PX", "suspended").is_legacy
