"""A mixed fleet for the report: every standing, in two manifests, against the simulator.

The state is written directly (records as each standing leaves them) and the simulator holds
the matching upgrades, so a refresh agrees with the records except where only it knows better
(the blocked customer).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.backends import opened
from reconciler.model import UpgradeKey
from reconciler.settings import LocalBackendSettings, Settings
from reconciler.simulator import Simulator, SimulatorConfig
from reconciler.state import ErrorDetail, Record, RecordStatus, State, Verification
from tests.e2e.conftest import customer

HOSTILE = "<script>alert(1)</script> \"Quote\" & 'Apostrophe'"
HOSTILE_REASON = "<img src=x onerror=alert(1)> refused & \"done\""
DAY1, DAY2 = "2026-11-01", "2026-11-02"

#: customer number → (wave, standing without --refresh, standing with it).
EXPECTED = {
    1: ("wave-1", "verified", "verified"),
    2: ("wave-1", "completed_unverified", "completed_unverified"),
    3: ("wave-1", "in_progress", "in_progress"),
    4: ("wave-1", "failed", "failed"),
    5: ("wave-1", "pending", "pending"),
    6: ("wave-2", "not_started", "not_started"),
    7: ("wave-2", "not_started", "blocked"),
    8: ("wave-2", "in_progress", "in_progress"),
    9: ("wave-2", "failed", "failed"),
    10: ("wave-3", "deferred", "deferred"),
    11: ("wave-3", "deferred", "deferred"),
}


@dataclass
class Mixed:
    root: Path
    sim: Simulator
    settings: Settings

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    def cli_args(self) -> list[str]:
        return ["--state", str(self.state_file), "--endpoint", self.sim.url, "report",
                "-m", str(self.root / "manifests")]


def _manifest(root: Path, name: str, numbers: list[int], names: dict[int, str], *,
              not_before: str | None = None) -> None:
    lines = ["apiVersion: reconciler/v1", "kind: ProductUpgrades", "metadata:",
             f"  name: {name}", "spec:", "  productFamily: Azure", "  customers:"]
    if not_before is not None:
        lines.insert(-1, f"  notBefore: {json.dumps(not_before)}")
    for n in numbers:
        shown = json.dumps(names.get(n, f"Customer {n}"))  # JSON strings are YAML strings
        lines += [f"    - id: {customer(n)}", f"      name: {shown}"]
    (root / "manifests").mkdir(exist_ok=True)
    (root / "manifests" / f"{name}.yaml").write_text("\n".join(lines) + "\n")


def _record(n: int, status: RecordStatus, **fields: object) -> Record:
    base: dict[str, object] = {
        "request_id": str(uuid.uuid4()), "upgrade_id": None, "remote_status": None,
        "source": "manifests/x.yaml:1", "customer_name": f"Customer {n}",
        "created_at": f"{DAY1}T08:00:00Z", "updated_at": f"{DAY1}T08:00:00Z"}
    return Record(UpgradeKey(customer(n), "Azure"), status, **{**base, **fields})  # type: ignore[arg-type]


def _history(settings: Settings) -> None:
    entries = [
        {"time": f"{DAY1}T08:00:00Z", "kind": "transition", "action": "started",
         "customer_id": customer(1), "from": None, "to": "in_progress"},
        {"time": f"{DAY1}T08:01:00Z", "kind": "transition", "action": "started",
         "customer_id": customer(2), "from": None, "to": "in_progress"},
        {"time": f"{DAY2}T09:00:00Z", "kind": "transition", "action": "started",
         "customer_id": customer(3), "from": None, "to": "in_progress"},
        {"time": f"{DAY2}T10:00:00Z", "kind": "transition", "action": "updated",
         "customer_id": customer(1), "from": "in_progress", "to": "completed"},
        {"time": f"{DAY2}T10:00:00Z", "kind": "call", "customer_id": customer(8),
         "correlation_id": "corr-from-history-8"},
    ]
    data = "".join(json.dumps(e) + "\n" for e in entries).encode()
    with opened(settings.backend) as backend:
        backend.append_history(data)


@pytest.fixture
def mixed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mixed]:
    config = SimulatorConfig(completion_delay_seconds=3600, seed=3, latency_ms=0)
    with Simulator(config) as sim:
        monkeypatch.setenv("PARTNER_CENTER_ACCESS_TOKEN", sim.token)
        settings = Settings(manifests=(tmp_path / "manifests",),
                            backend=LocalBackendSettings(tmp_path / "state.json"),
                            endpoint=sim.url, parallelism=4, max_requests_per_minute=100_000)
        names = {9: HOSTILE}
        _manifest(tmp_path, "wave-1", [1, 2, 3, 4, 5], names)
        _manifest(tmp_path, "wave-2", [6, 7, 8, 9], names)
        # Scheduled for later: one never attempted, one whose earlier attempt failed.
        _manifest(tmp_path, "wave-3", [10, 11], names, not_before="2999-01-01T00:00:00Z")
        world = sim.world
        for n in EXPECTED:
            world.ensure_customer(customer(n), names.get(n, f"Customer {n}"))
        world.add_customer(customer(7), "Customer 7", eligible=False,
                           reason="Customer has active reserved instances")
        world.set_end_state(customer(2), legacy_active=True)
        ids = {n: world.start_upgrade(customer(n), None).id for n in (1, 2, 3, 8)}
        for n in (1, 2):
            world.complete_upgrade(ids[n])
        checked = f"{DAY2}T10:00:00Z"
        records = [
            _record(1, RecordStatus.COMPLETED, upgrade_id=ids[1], remote_status="Completed",
                    verification=Verification(True, checked, "Azure plan x active")),
            _record(2, RecordStatus.COMPLETED, upgrade_id=ids[2], remote_status="Completed",
                    verification=Verification(False, checked, "legacy subscription still "
                                                              "active")),
            _record(3, RecordStatus.IN_PROGRESS, upgrade_id=ids[3], remote_status="InProgress",
                    in_progress_since=f"{DAY2}T09:00:00Z"),
            _record(4, RecordStatus.FAILED, error=ErrorDetail("900108", "No subscriptions",
                                                              "corr-4")),
            _record(5, RecordStatus.PENDING),
            _record(8, RecordStatus.IN_PROGRESS, upgrade_id=ids[8], remote_status="InProgress",
                    in_progress_since=f"{DAY1}T07:00:00Z"),
            _record(9, RecordStatus.FAILED, customer_name=HOSTILE,
                    error=ErrorDetail("900100", HOSTILE_REASON, None)),
            _record(11, RecordStatus.FAILED, error=ErrorDetail("900108", "No subscriptions")),
        ]
        with opened(settings.backend, lock="test") as backend:
            backend.write(State.of(str(uuid.uuid4()), len(records), records))
        _history(settings)
        sim.clear_requests()
        yield Mixed(tmp_path, sim, settings)
