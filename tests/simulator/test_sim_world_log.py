"""The world file's change log: a change is appended (not the whole world rewritten) before its
response is sent; loading replays it, tolerating only an unfinished last line; compaction folds
it into the snapshot without losing anything; a SIGKILLed simulator loses no answered change."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests

from reconciler.errors import StateError
from reconciler.simulator import World
from reconciler.simulator.persistence import WorldFile, load_world, log_path, world_to_json
from tests.simulator.helpers import Api, make_sim, new_id

REPO = Path(__file__).resolve().parents[2]


def _loaded(path: Path) -> World:
    world = World()
    assert load_world(world, path)
    return world


def _doc(world: World) -> str:
    return json.dumps(world_to_json(world), sort_keys=True)


def test_a_change_is_appended_and_the_snapshot_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    customer = new_id()
    with make_sim(world_path=path) as sim, requests.Session() as session:
        sim.world.add_customer(customer)
        snapshot = path.stat()
        log_size = log_path(path).stat().st_size
        upgrade_id = Api(sim, session).upgrade(customer)
        after = path.stat()
        # The answered create is on disk, and not by rewriting the whole world.
        assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
            snapshot.st_ino, snapshot.st_size, snapshot.st_mtime_ns)
        assert log_path(path).stat().st_size > log_size
        running = _loaded(path)
        assert [u.id for u in running.upgrades_for(customer)] == [upgrade_id]
        assert len(world_to_json(running)["responses"]) == 1
    assert _doc(_loaded(path)) == _doc(running)


def test_an_unfinished_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    kept, lost = new_id(), new_id()
    sim = make_sim(world_path=path).start()
    try:
        sim.world.add_customer(kept)
        log = log_path(path)
        lines = log.read_bytes()
        sim.world.add_customer(lost)
        torn = log.read_bytes()[len(lines):]
        assert torn.endswith(b"\n")
        log.write_bytes(lines + torn[:-1])  # the last write without its newline: never answered
        assert [c.id for c in _loaded(path).customers()] == [kept]
        log.write_bytes(lines + torn[: len(torn) // 2])
        assert [c.id for c in _loaded(path).customers()] == [kept]
    finally:
        sim.stop()
    # The simulator that held both still writes both on stop.
    assert sorted(c.id for c in _loaded(path).customers()) == sorted([kept, lost])


def test_a_damaged_line_before_the_end_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    sim = make_sim(world_path=path).start()
    try:
        for _ in range(3):
            sim.world.add_customer(new_id())
        log = log_path(path)
        lines = log.read_bytes().split(b"\n")
        assert len(lines) == 5  # header, three changes, the empty piece after the last newline
        lines[2] = lines[2][:-5]
        log.write_bytes(b"\n".join(lines))
        with pytest.raises(StateError, match=rf"{log.name}:3 is damaged"):
            load_world(World(), path)
        with pytest.raises(StateError, match=rf"{log.name}:3"):
            make_sim(world_path=path).start()
    finally:
        sim.stop()


def test_compaction_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    world = World(seed=3)
    handle = WorldFile(world, path, compact_at_bytes=2_000)
    assert not handle.attach()
    world.add_listener(handle.append)
    customers = [new_id() for _ in range(40)]
    generations = set()
    for n, customer in enumerate(customers):
        world.add_customer(customer, f"Customer {n}")
        upgrade = world.start_upgrade(customer, new_id())
        if n % 3 == 0:
            world.fail_upgrade(upgrade.id, "800002", "Nope.")
        if n % 5 == 0:
            world.revert(customer)
        generations.add(json.loads(path.read_text())["generation"])
        assert _doc(_loaded(path)) == _doc(world)
    assert len(generations) > 3  # compacted along the way, as the log outgrew the threshold
    handle.close()
    assert log_path(path).read_text().count("\n") == 1  # only the header is left
    assert _doc(_loaded(path)) == _doc(world)


def test_a_log_older_than_the_snapshot_is_ignored(tmp_path: Path) -> None:
    """A crash between writing the new snapshot and resetting the log leaves the old log."""
    path = tmp_path / "world.json"
    customer = new_id()
    sim = make_sim(world_path=path).start()
    sim.world.add_customer(customer)
    stale = log_path(path).read_bytes()
    sim.world.revert(customer)  # a change the snapshot will hold and the stale log contradicts
    sim.world.set_end_state(customer, plan_missing=True)
    sim.stop()
    log_path(path).write_bytes(stale)
    assert _loaded(path).customer(customer).azure_plan_missing  # type: ignore[union-attr]


def test_a_snapshot_without_a_log_or_generation_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    world = World()
    customer = new_id()
    world.add_customer(customer, "Old")
    doc = world_to_json(world)
    del doc["generation"]
    path.write_text(json.dumps(doc))
    with make_sim(world_path=path) as sim:
        assert sim.world.customer(customer).name == "Old"  # type: ignore[union-attr]
        sim.world.add_customer(new_id())
    assert len(_loaded(path).customers()) == 2


CREATOR = textwrap.dedent(
    """
    import sys, uuid
    from pathlib import Path
    import requests
    from reconciler.simulator import Simulator, SimulatorConfig
    config = SimulatorConfig(world_path=Path(sys.argv[1]), completion_delay_seconds=3600)
    sim = Simulator(config).start()
    session = requests.Session()
    headers = {"Authorization": f"Bearer {sim.token}"}
    print("ready", flush=True)
    while True:
        customer = str(uuid.uuid4())
        sim.world.add_customer(customer)
        body = {"customerId": customer, "productFamily": "Azure"}
        request_id = str(uuid.uuid4())
        answer = session.post(sim.url + "/v1/productUpgrades", json=body, timeout=10,
                              headers={**headers, "MS-RequestId": request_id})
        assert answer.status_code == 202, answer.text
        upgrade_id = answer.headers["Location"].rsplit("/", 1)[-1]
        print(customer, upgrade_id, request_id, flush=True)
    """
)


def test_a_sigkilled_simulator_remembers_every_answered_create(tmp_path: Path) -> None:
    path = tmp_path / ".reconciler" / "simulator.json"
    answered: list[list[str]] = []
    for _ in range(3):  # each run continues the world the killed one left
        proc = subprocess.Popen([sys.executable, "-c", CREATOR, str(path)], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n", proc.stderr.read() if proc.stderr else ""
        for _ in range(40):  # kill it mid-stream, after 40 answered creates
            answered.append(proc.stdout.readline().split())
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        answered.extend(line.split() for line in out.splitlines())
    world = _loaded(path)
    for customer, upgrade_id, request_id in answered:
        assert [u.id for u in world.upgrades_for(customer)] == [upgrade_id]
        stored = world.remembered(request_id, None)
        assert stored is not None
        assert upgrade_id in dict(stored.headers)["Location"]


def _manifest(root: Path, customers: list[str]) -> None:
    (root / "manifests").mkdir()
    rows = "".join(f"    - id: {c}\n      name: Customer {n}\n" for n, c in enumerate(customers))
    (root / "manifests" / "wave.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: ProductUpgrades\nmetadata:\n  name: wave\nspec:\n"
        f"  productFamily: Azure\n  customers:\n{rows}")
    (root / "reconciler.yaml").write_text("# defaults\n")


def test_simulate_apply_sigkilled_mid_run_then_rerun_makes_one_upgrade_each(
        tmp_path: Path) -> None:
    customers = [new_id() for _ in range(150)]
    _manifest(tmp_path, customers)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RECONCILER_", "PARTNER_CENTER_", "GITHUB_", "TF_BUILD"))}
    command = [sys.executable, "-m", "reconciler", "--simulate", "apply", "--auto-approve"]
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    started: list[str] = []
    while len(started) < 20:  # killed mid-creation, after 20 reported upgrades
        line = proc.stdout.readline()
        assert line, "apply ended before it was killed"
        if ": started: upgrade " in line:
            started.append(line.split()[-1])
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    reported = {u.id for u in _loaded(tmp_path / ".reconciler" / "simulator.json").snapshot()[1]}
    assert set(started) <= reported  # what the simulator answered, it remembers
    rerun = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    world = _loaded(tmp_path / ".reconciler" / "simulator.json")
    assert all(len(world.upgrades_for(c)) == 1 for c in customers)
    assert set(started) <= {u.id for u in world.snapshot()[1]}


def test_a_log_without_its_snapshot_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    with make_sim(world_path=path) as sim:
        sim.world.add_customer(new_id())
    path.unlink()
    with pytest.raises(StateError, match=r"world\.json\.log exists but its snapshot"):
        make_sim(world_path=path).start()


def test_a_damaged_last_line_is_ignored_whole(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    kept, half = new_id(), new_id()
    with make_sim(world_path=path) as sim:
        sim.world.add_customer(kept)
        sim.world.revert(kept)  # nothing to revert: only the customer is written again
    log = log_path(path)
    line = {"customers": [{"id": half, "name": "Half"}], "upgrades": [{"id": "x"}]}
    log.write_text(log.read_text() + json.dumps(line) + "\n")
    assert [c.id for c in _loaded(path).customers()] == [kept]
