"""Shared fixtures: a simulator on loopback and clients pointed at it with fast retries."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from reconciler.partnercenter import (
    AttemptInfo,
    ClientConfig,
    PartnerCenterClient,
    StaticToken,
    TokenProvider,
)
from reconciler.simulator import Simulator, SimulatorConfig

SimFactory = Callable[..., Simulator]
ClientFactory = Callable[..., PartnerCenterClient]

# Retries in tests are near-instant; a Retry-After is capped too, except where a test waits one
# out on purpose (it passes retry_after_cap explicitly).
FAST: dict[str, Any] = {
    "requests_per_minute": None,
    "max_concurrency": 4,
    "connect_timeout": 2.0,
    "read_timeout": 2.0,
    "max_attempts": 4,
    "base_delay": 0.01,
    "max_delay": 0.02,
    "retry_after_cap": 0.02,
}


def new_id() -> str:
    """A fresh lower-case GUID."""
    return str(uuid.uuid4())


@pytest.fixture(scope="session")
def _sim_pool() -> Iterator[dict[tuple[tuple[str, Any], ...], Simulator]]:
    # Stopping a simulator takes ~0.5 s (its serve_forever poll interval), so simulators are
    # shared per configuration and reset between tests; every test uses fresh customer ids.
    pool: dict[tuple[tuple[str, Any], ...], Simulator] = {}
    yield pool
    for sim in pool.values():
        sim.stop()


@pytest.fixture
def make_sim(_sim_pool: dict[tuple[tuple[str, Any], ...], Simulator]) -> Iterator[SimFactory]:
    """A simulator with these :class:`SimulatorConfig` fields, with no requests, faults or
    counters left from earlier tests. ``fresh=True`` gives a private one (empty world)."""
    private: list[Simulator] = []

    def factory(*, fresh: bool = False, **kwargs: Any) -> Simulator:
        kwargs.setdefault("seed", 7)
        if fresh:
            sim = Simulator(SimulatorConfig(**kwargs)).start()
            private.append(sim)
            return sim
        key = tuple(sorted(kwargs.items()))
        if key not in _sim_pool:
            _sim_pool[key] = Simulator(SimulatorConfig(**kwargs)).start()
        sim = _sim_pool[key]
        sim.clear_faults()
        sim.clear_requests()
        sim.stats.reset()
        return sim

    yield factory
    for sim in private:
        sim.stop()


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    """A default simulator (dedup on, ineligibility as 200)."""
    return make_sim()


@pytest.fixture
def make_client() -> Iterator[Callable[..., PartnerCenterClient]]:
    """Build clients for a simulator: ``make_client(sim, token_provider=..., **config)``."""
    clients: list[PartnerCenterClient] = []

    def factory(
        sim: Simulator | None = None,
        *,
        endpoint: str | None = None,
        token_provider: TokenProvider | None = None,
        on_attempt: Callable[[AttemptInfo], None] | None = None,
        **overrides: Any,
    ) -> PartnerCenterClient:
        settings = {**FAST, **overrides}
        url = endpoint or (sim.url if sim is not None else "http://127.0.0.1:9")
        provider = token_provider or StaticToken(sim.token if sim is not None else "t")
        client = PartnerCenterClient(
            ClientConfig(endpoint=url, **settings), provider, on_attempt=on_attempt
        )
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture
def client(sim: Simulator, make_client: ClientFactory) -> PartnerCenterClient:
    """A fast-retrying client for the default simulator."""
    return make_client(sim)


@pytest.fixture
def customer(sim: Simulator) -> str:
    """An eligible customer of the default simulator."""
    cid = new_id()
    sim.world.add_customer(cid, name="Contoso")
    return cid
