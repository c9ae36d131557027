"""Shared fixtures: a running simulator, an HTTP helper, a customer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from reconciler.simulator import Simulator, World
from tests.simulator.helpers import Api, make_sim, new_id


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """A running simulator whose upgrades stay in flight for a minute unless told otherwise."""
    with make_sim() as running:
        yield running


@pytest.fixture
def api(sim: Simulator) -> Iterator[Api]:
    """An HTTP helper for the ``sim`` fixture."""
    with requests.Session() as session:
        yield Api(sim, session)


@pytest.fixture
def customer(sim: Simulator) -> str:
    """An eligible customer known to ``sim``."""
    customer_id = new_id()
    sim.world.add_customer(customer_id, "Contoso")
    return customer_id


@pytest.fixture
def make_api() -> Iterator[Any]:
    """Start simulators with a given config; each is stopped after the test."""
    started: list[tuple[Simulator, requests.Session]] = []

    def factory(world: World | None = None, **config: Any) -> Api:
        running = make_sim(**config)
        if world is not None:
            running = Simulator(running.config, world=world)
        running.start()
        session = requests.Session()
        started.append((running, session))
        return Api(running, session)

    yield factory
    for running, session in started:
        session.close()
        running.stop()
