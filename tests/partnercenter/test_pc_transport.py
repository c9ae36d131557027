"""The retry loop with injected sleep and randomness (exact delays, no real waiting), the
request options set on every call, and the package's import boundary."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import requests

import reconciler.partnercenter as pc
from reconciler.partnercenter import ClientConfig, PartnerCenterClient, StaticToken
from reconciler.simulator import Fault, Simulator

from .conftest import FAST, SimFactory, new_id


class RecordingSession(requests.Session):
    """A real session that remembers the options of every request."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[dict[str, Any]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.calls.append(kwargs)
        return super().send(request, **kwargs)


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def client_for(sim: Simulator, **kwargs: Any) -> tuple[PartnerCenterClient, list[float]]:
    slept: list[float] = []
    settings = {**FAST, "base_delay": 0.5, "max_delay": 8.0, "retry_after_cap": 60.0}
    client = PartnerCenterClient(
        ClientConfig(endpoint=sim.url, **settings),
        StaticToken(sim.token),
        sleep=slept.append,
        rand=lambda: 0.5,
        **kwargs,
    )
    return client, slept


def test_server_errors_back_off_exponentially(sim: Simulator, customer: str) -> None:
    sim.add_fault(Fault(route="eligibility", kind="500", count=3))
    client, slept = client_for(sim)
    assert client.eligibility(customer).is_eligible
    assert slept == [0.25, 0.5, 1.0]


def test_retry_after_is_slept_plus_jitter_and_defers_other_workers(make_sim: SimFactory) -> None:
    sim = make_sim(retry_after_seconds=1)
    customer = new_id()
    sim.world.add_customer(customer)
    sim.add_fault(Fault(route="create", kind="429", count=1))
    slept: list[float] = []
    held: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        held.append(client._transport.limiter.try_take())  # what another worker would meet
        clock.now += seconds

    clock = FakeClock()
    settings = {**FAST, "base_delay": 0.5, "max_delay": 8.0, "retry_after_cap": 60.0}
    client = PartnerCenterClient(ClientConfig(endpoint=sim.url, **settings),
                                 StaticToken(sim.token), sleep=sleep, clock=clock,
                                 rand=lambda: 0.5)
    assert client.create(customer, "Azure", new_id()).upgrade_id
    # 1 s Retry-After + 0.25 jitter for this worker...
    assert slept == [1.25]
    # ...and without a rate controller the shared limiter holds every other worker back for
    # the Retry-After too.
    assert held == [1.0]


def test_every_request_has_timeouts_and_never_follows_redirects(
    sim: Simulator, customer: str
) -> None:
    session = RecordingSession()
    sim.add_fault(Fault(route="eligibility", kind="500", count=1))
    client = PartnerCenterClient(
        ClientConfig(endpoint=sim.url, connect_timeout=3.0, read_timeout=7.0,
                     requests_per_minute=None, base_delay=0.0),
        StaticToken(sim.token),
        session=session,
    )
    created = client.create(customer, "Azure", new_id())
    assert created.upgrade_id
    client.eligibility(customer)
    client.status(created.upgrade_id, customer)
    list(client.customers(page_size=500))
    assert len(session.calls) == 5
    for options in session.calls:
        assert options["timeout"] == (3.0, 7.0)
        assert options["allow_redirects"] is False


class CountingProvider:
    def __init__(self, token: str) -> None:
        self.token = token
        self.calls = 0

    def get_token(self) -> str:
        self.calls += 1
        return self.token

    def refresh(self, rejected: str) -> str | None:
        return None


def test_token_is_asked_for_on_every_attempt(sim: Simulator, customer: str) -> None:
    provider = CountingProvider(sim.token)
    sim.add_fault(Fault(route="eligibility", kind="500", count=2))
    client = PartnerCenterClient(
        ClientConfig(endpoint=sim.url, **{**FAST, "base_delay": 0.0}), provider
    )
    client.eligibility(customer)
    assert provider.calls == 3


def test_package_imports_nothing_else_from_reconciler() -> None:
    package = Path(pc.__file__).parent
    for source in package.glob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module.split(".")[0] == "reconciler":
                    assert node.module == "reconciler", source
                    assert [a.name for a in node.names] == ["__version__"], source
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 1, f"{source}: relative import leaves the package"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] != "reconciler", source


def test_public_api_is_exported() -> None:
    for name in pc.__all__:
        assert hasattr(pc, name), name
