"""Property tests: casing never matters, and a saved world loads back unchanged."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.simulator import Simulator, World
from reconciler.simulator.persistence import WorldFile, load_world, world_to_json
from tests.simulator.helpers import make_sim, new_id

CUSTOMER = "0b7e5c4a-9f1d-4c2e-8a3b-6d5f4e3c2b1a"


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[Simulator, requests.Session]]:
    with make_sim() as running, requests.Session() as session:
        running.world.add_customer(CUSTOMER)
        yield running, session


def any_case(text: str) -> st.SearchStrategy[str]:
    """``text`` with each letter upper- or lower-cased at random."""
    return st.lists(st.booleans(), min_size=len(text), max_size=len(text)).map(
        lambda flips: "".join(
            c.upper() if f else c.lower() for c, f in zip(text, flips, strict=True)
        )
    )


@settings(max_examples=60, deadline=None)
@given(
    path=any_case("/v1/productUpgrades/eligibility"),
    key_customer=any_case("customerId"),
    key_family=any_case("productFamily"),
    family=any_case("azure"),
    customer=any_case(CUSTOMER),
)
def test_casing_never_matters(
    shared: tuple[Simulator, requests.Session],
    path: str,
    key_customer: str,
    key_family: str,
    family: str,
    customer: str,
) -> None:
    sim, session = shared
    answer = session.post(
        sim.url + path,
        json={key_customer: customer, key_family: family},
        headers={"Authorization": f"Bearer {sim.token}"},
        timeout=5,
    )
    assert answer.status_code == 200
    assert answer.json()["isEligible"] is True


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.uuids().map(str),
            st.text(min_size=1, max_size=20),
            st.booleans(),
            st.sampled_from(["none", "upgraded", "failed", "refused"]),
        ),
        max_size=6,
        unique_by=lambda t: t[0],
    )
)
def test_saved_world_loads_back_unchanged(
    rows: list[tuple[str, str, bool, str]],
) -> None:
    world = World(seed=1)
    for customer_id, name, eligible, fate in rows:
        error = (403, 20002, "no") if fate == "refused" else None
        world.add_customer(customer_id, name, eligible=eligible, reason=None, error=error)
        if fate in ("upgraded", "failed"):
            upgrade = world.start_upgrade(customer_id, new_id())
            if fate == "failed":
                world.fail_upgrade(upgrade.id)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.json"
        WorldFile(world, path).save()
        loaded = World()
        assert load_world(loaded, path)
    assert json.dumps(world_to_json(loaded), sort_keys=True) == json.dumps(
        world_to_json(world), sort_keys=True
    )


def test_loading_keeps_customers_seeded_before_start(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    saved, seeded = new_id(), new_id()
    with make_sim(world_path=path) as first:
        first.world.add_customer(saved, "Saved")
    second = make_sim(world_path=path)
    second.world.ensure_customer(seeded)
    second.world.ensure_customer(saved, "Seeded name loses")
    with second:
        names = {c.id: c.name for c in second.world.customers()}
    assert names[saved] == "Saved"
    assert seeded in names
