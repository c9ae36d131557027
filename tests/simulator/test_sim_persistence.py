"""The world file: loaded on start, saved atomically after each change and on stop."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import requests

from reconciler.errors import StateError
from reconciler.simulator import Simulator, SimulatorConfig, World
from reconciler.simulator.persistence import load_world
from tests.simulator.helpers import Api, make_sim, new_id


def _api(sim: Simulator) -> Api:
    return Api(sim, requests.Session())


def test_world_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / ".reconciler" / "simulator.json"
    customer, refused = new_id(), new_id()
    with make_sim(world_path=path) as first:
        first.world.add_customer(customer, "Contoso")
        first.world.add_customer(refused, error=(403, 20002, "No relationship."))
        upgrade_id = _api(first).upgrade(customer)
    with make_sim(world_path=path) as second:
        api = _api(second)
        assert api.eligibility(customer).json()["upgradeId"] == upgrade_id
        assert api.status(upgrade_id, customer).json()["status"] == "InProgress"
        assert api.eligibility(refused).json()["code"] == 20002
        assert second.world.customer(customer).name == "Contoso"  # type: ignore[union-attr]


def test_completion_time_carries_over(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    customer = new_id()
    with make_sim(world_path=path, completion_delay_seconds=0.05) as first:
        first.world.add_customer(customer)
        upgrade_id = _api(first).upgrade(customer)
    time.sleep(0.08)
    with make_sim(world_path=path, completion_delay_seconds=0.05) as second:
        assert _api(second).status(upgrade_id, customer).json()["status"] == "Completed"


def test_replay_after_restart_returns_the_original_answer(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    customer, request_id = new_id(), new_id()
    with make_sim(world_path=path) as first:
        first.world.add_customer(customer)
        location = _api(first).create(customer, request_id=request_id).headers["Location"]
    with make_sim(world_path=path) as second:
        replay = _api(second).create(customer, request_id=request_id)
        assert replay.status_code == 202
        assert replay.headers["Location"] == location


def test_saved_after_each_mutation_without_stop(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    sim = make_sim(world_path=path).start()
    try:
        customer = new_id()
        sim.world.add_customer(customer)
        upgrade_id = _api(sim).upgrade(customer)
        seen = World()  # read while running: a crash would leave this
        assert load_world(seen, path)
        assert [c.id for c in seen.customers()] == [customer]
        assert [u.id for u in seen.upgrades_for(customer)] == [upgrade_id]
        sim.world.revert(customer)
        reverted = World()
        assert load_world(reverted, path)
        assert reverted.upgrades_for(customer) == []
    finally:
        sim.stop()
    # no temporary files left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["world.json", "world.json.log"]


def test_seeded_ids_do_not_collide_with_a_loaded_world(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    ids = []
    for _ in range(2):
        with make_sim(world_path=path, seed=1) as running:
            customer = new_id()
            running.world.add_customer(customer)
            ids.append(_api(running).upgrade(customer))
    assert ids[0] != ids[1]


def test_unreadable_world_file_is_a_state_error(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    path.write_text("{not json")
    with pytest.raises(StateError, match=r"world\.json"):
        Simulator(SimulatorConfig(world_path=path), World()).start()
    path.write_text(json.dumps({"format_version": 99}))
    with pytest.raises(StateError, match="format_version"):
        Simulator(SimulatorConfig(world_path=path), World()).start()


def test_no_world_path_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with make_sim() as running:
        running.world.add_customer(new_id())
    assert list(tmp_path.iterdir()) == []


def test_concurrent_creates_and_polls_with_a_world_file(tmp_path: Path) -> None:
    """Saves from many threads at once neither deadlock nor lose an upgrade."""
    path = tmp_path / "world.json"
    with make_sim(world_path=path, completion_delay_seconds=0.01) as sim:
        customers = [new_id() for _ in range(24)]
        for customer in customers:
            sim.world.add_customer(customer)
        errors: list[BaseException] = []

        def work(customer: str) -> None:
            try:
                with requests.Session() as session:
                    api = Api(sim, session)
                    upgrade_id = api.upgrade(customer)
                    for _ in range(3):
                        api.status(upgrade_id, customer)
                        api.eligibility(customer)
            except BaseException as exc:  # collected and re-raised in the test thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(c,)) for c in customers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not any(t.is_alive() for t in threads)
        assert errors == []
    doc = json.loads(path.read_text())
    assert len(doc["upgrades"]) == 24
    assert len(doc["responses"]) == 24
