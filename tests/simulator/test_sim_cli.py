"""``simulator serve``: in-process with CliRunner and as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from reconciler.cli.simulator import is_loopback, simulator

SERVE = "from reconciler.cli.simulator import simulator; simulator()"
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise AssertionError("server never came up")


def _eligibility(url: str, token: str, customer: str) -> requests.Response:
    return requests.post(
        url + "/v1/productUpgrades/eligibility",
        json={"customerId": customer, "productFamily": "Azure"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )


def test_serve_in_process_prints_url_and_token_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    world = tmp_path / "world.json"
    seen: list[int] = []

    def client() -> None:
        _wait_for(port)
        answer = requests.get(
            f"http://127.0.0.1:{port}/v1/customers",
            headers={"Authorization": "Bearer T0K"},
            timeout=5,
        )
        seen.append(answer.status_code)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=client)
    thread.start()
    result = CliRunner().invoke(
        simulator,
        [
            "serve",
            "--port",
            str(port),
            "--token",
            "T0K",
            "--world",
            str(world),
            "--demo-customers",
            "3",
        ],
    )
    thread.join()
    assert result.exit_code == 0, result.output
    assert f"Listening on http://127.0.0.1:{port}\n" in result.output
    assert "Token: T0K\n" in result.output
    assert seen == [200]
    assert len(json.loads(world.read_text())["customers"]) == 3


def test_serve_subprocess_saves_world_on_signal(tmp_path: Path) -> None:
    world = tmp_path / "sim.json"
    for signum in (signal.SIGTERM, signal.SIGINT):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                SERVE,
                "serve",
                "--port",
                "0",
                "--world",
                str(world),
                "--completion-delay",
                "0.05",
                "--fault",
                "status:500:0",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            listening = proc.stdout.readline().strip()
            token = proc.stdout.readline().strip().removeprefix("Token: ")
            assert listening.startswith("Listening on http://127.0.0.1:")
            url = listening.removeprefix("Listening on ")
            customer = f"6f1b2c3d-0000-4000-8000-{signum:012d}"
            # An unknown customer: 404/60003, served by the real process.
            assert _eligibility(url, token, customer).json()["code"] == 60003
        finally:
            proc.send_signal(signum)
            _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert json.loads(world.read_text())["format_version"] == 1


def test_world_written_by_serve_is_loaded_again(tmp_path: Path) -> None:
    world = tmp_path / "sim.json"
    from reconciler.simulator import Simulator, SimulatorConfig

    with Simulator(SimulatorConfig(world_path=world)) as sim:
        sim.world.add_customer("6f1b2c3d-0000-4000-8000-000000000001")
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, "serve", "--world", str(world), "--token", "t"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().removeprefix("Listening on ")
        answer = _eligibility(url, "t", "6f1b2c3d-0000-4000-8000-000000000001")
        assert answer.json()["isEligible"] is True
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0


def test_non_loopback_host_needs_an_explicit_option() -> None:
    result = CliRunner().invoke(simulator, ["serve"], default_map={"serve": {"host": "0.0.0.0"}})
    assert result.exit_code == 1
    assert "Refusing to bind 0.0.0.0" in result.output


def test_bad_fault_is_a_usage_error_exit_1() -> None:
    result = CliRunner().invoke(simulator, ["serve", "--fault", "create:teapot"])
    assert result.exit_code == 1
    assert "Unknown fault kind" in result.output


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.1", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_port_in_use_is_a_clean_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(simulator, ["serve", "--port", str(port)])
    assert result.exit_code == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in result.output


def test_unreadable_world_is_a_clean_error(tmp_path: Path) -> None:
    world = tmp_path / "world.json"
    world.write_text("{broken")
    result = CliRunner().invoke(simulator, ["serve", "--world", str(world)])
    assert result.exit_code == 1
    assert "world.json is unreadable" in result.output


def test_serve_flags_reach_the_simulator(tmp_path: Path) -> None:
    from reconciler.simulator import World
    from reconciler.simulator.persistence import WorldFile

    eligible, ineligible = (f"6f1b2c3d-0000-4000-8000-00000000000{n}" for n in (1, 2))
    world = World()
    world.add_customer(eligible)
    world.add_customer(ineligible, eligible=False, reason="Shared services.")
    path = tmp_path / "world.json"
    WorldFile(world, path).save()
    port = _free_port()
    seen: dict[str, object] = {}

    def client() -> None:
        try:
            _wait_for(port)
            url, auth = f"http://127.0.0.1:{port}", {"Authorization": "Bearer T"}
            with requests.Session() as s:
                s.headers.update(auth)
                began = time.perf_counter()
                seen["customers"] = s.get(url + "/v1/customers", timeout=5).status_code
                seen["latency"] = time.perf_counter() - began
                body = {"customerId": eligible, "productFamily": "Azure"}
                create = url + "/v1/productUpgrades"
                first = s.post(create, json=body, headers={"MS-RequestId": "r1"}, timeout=5)
                replay = s.post(create, json=body, headers={"MS-RequestId": "r1"}, timeout=5)
                seen["create"] = (first.status_code, replay.json()["code"])
                refused = s.post(
                    url + "/v1/productUpgrades/eligibility",
                    timeout=5,
                    json={"customerId": ineligible, "productFamily": "Azure"},
                )
                seen["ineligible"] = refused.json()["code"]
                upgrade_id = first.headers["Location"].rsplit("/", 1)[1]
                status = s.post(
                    f"{url}/v1/productUpgrades/{upgrade_id}/status", json=body, timeout=5
                )
                seen["status"] = status.json()["status"]
                eligibility = url + "/v1/productUpgrades/eligibility"
                seen["limited"] = [
                    s.post(eligibility, json=body, timeout=5).status_code for _ in range(2)
                ]
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=client)
    thread.start()
    result = CliRunner().invoke(simulator, [
        "serve", "--port", str(port), "--token", "T", "--world", str(path), "--no-dedup",
        "--rate-limit", "6", "--latency", "50", "--fault", "customers:503",
        "--ineligible-as", "error", "--completion-delay", "0", "--seed", "1",
    ])  # fmt: skip
    thread.join()
    assert result.exit_code == 0, result.output
    assert seen["customers"] == 503  # --fault
    assert isinstance(seen["latency"], float)
    assert seen["latency"] >= 0.05  # --latency
    assert seen["create"] == (202, 900110)  # --no-dedup: the replay is a new create
    assert seen["ineligible"] == 900120  # --ineligible-as error
    assert seen["status"] == "Completed"  # --completion-delay 0
    assert seen["limited"] == [200, 429]  # --rate-limit 6: the seventh request is throttled
