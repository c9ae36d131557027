"""End-to-end fixtures: a simulator in this process, the CLI as a real subprocess.

The simulator runs in the test process so tests can inspect its world (upgrades per customer,
requests) while the CLI, started with ``--endpoint`` and ``PARTNER_CENTER_ACCESS_TOKEN``, talks to
it over real HTTP and can be killed with SIGKILL at any instant.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from reconciler.simulator import Simulator, SimulatorConfig

CUSTOMER = "00000000-0000-4000-8000-{:012d}"


def customer(n: int) -> str:
    return CUSTOMER.format(n)


@dataclass
class Project:
    """A working directory with manifests and settings, wired to a simulator."""

    root: Path
    sim: Simulator
    env: dict[str, str] = field(default_factory=dict)

    def manifest(self, numbers: list[int], name: str = "wave-1",
                 file: str = "wave-1.yaml") -> Path:
        lines = ["apiVersion: reconciler/v1", "kind: ProductUpgrades", "metadata:",
                 f"  name: {name}", "spec:", "  productFamily: Azure", "  customers:"]
        for n in numbers:
            lines += [f"    - id: {customer(n)}", f"      name: Customer {n}"]
        if not numbers:
            lines[-1] = "  customers: []"
        path = self.root / "manifests" / file
        path.parent.mkdir(exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
        return path

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "reconciler", *args], cwd=self.root,
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True)

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=self.root,
                              env=self.env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False)

    def on_terminal(self, *args: str, answer: bytes | None, timeout: float = 60
                    ) -> tuple[int, str]:
        """Run the CLI on a pseudo-terminal and answer its prompt: type ``answer``, or with
        None press Ctrl-C (SIGINT, what the terminal sends). Returns the exit code and all
        the terminal showed (stdout and stderr, with the terminal's \\r\\n line ends)."""
        main, secondary = pty.openpty()
        proc = subprocess.Popen([sys.executable, "-m", "reconciler", *args], cwd=self.root,
                                env=self.env, stdin=secondary, stdout=secondary,
                                stderr=secondary)
        os.close(secondary)
        try:
            shown = _read_terminal(main, until=b"Enter a value: ", timeout=timeout)
            if answer is None:
                proc.send_signal(signal.SIGINT)
            else:
                os.write(main, answer)
            shown += _read_terminal(main, until=None, timeout=timeout)
            return proc.wait(timeout=timeout), shown.decode()
        finally:
            proc.kill()
            proc.wait()
            os.close(main)

    def plan_json(self, *args: str) -> dict[str, object]:
        result = self.run("plan", "--format", "json", *args)
        assert result.returncode in (0, 2), result.stderr
        return dict(json.loads(result.stdout))

    def actions(self, *args: str) -> dict[str, str]:
        """customer number → planned action."""
        changes = self.plan_json(*args)["changes"]
        assert isinstance(changes, list)
        return {c["customer_id"]: c["action"] for c in changes}

    def upgrades(self, n: int) -> int:
        return len(self.sim.world.upgrades_for(customer(n)))


def _read_terminal(fd: int, *, until: bytes | None, timeout: float) -> bytes:
    """What the terminal shows until ``until`` appears (None: until the program ends)."""
    deadline = time.monotonic() + timeout
    shown = b""
    while until is None or until not in shown:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise AssertionError(f"the terminal showed no {until!r} in time: {shown!r}")
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: every writer has closed the terminal
            chunk = b""
        if not chunk:
            if until is None:
                return shown
            raise AssertionError(f"the program ended before showing {until!r}: {shown!r}")
        shown += chunk
    return shown


def make_project(tmp_path: Path, config: SimulatorConfig) -> Iterator[Project]:
    sim = Simulator(config).start()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RECONCILER_", "PARTNER_CENTER_", "GITHUB_", "TF_BUILD"))}
    env.update({"PARTNER_CENTER_ACCESS_TOKEN": sim.token, "PARTNER_CENTER_ENDPOINT": sim.url,
                "NO_COLOR": "1"})
    (tmp_path / "reconciler.yaml").write_text(
        "apply:\n  parallelism: 8\n  max_requests_per_minute: 100000\n")
    try:
        yield Project(tmp_path, sim, env)
    finally:
        sim.stop()


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    """A project against a fast simulator (upgrades complete after 0.5 s)."""
    yield from make_project(tmp_path, SimulatorConfig(completion_delay_seconds=0.5, seed=1))


@pytest.fixture
def slow_project(tmp_path: Path) -> Iterator[Project]:
    """A project whose simulator answers after 40 ms, so runs can be caught mid-flight."""
    yield from make_project(tmp_path, SimulatorConfig(completion_delay_seconds=0.5, seed=1,
                                                      latency_ms=40))
