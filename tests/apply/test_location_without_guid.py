"""A 202 whose Location names no upgrade id (issue 19, item 4): the id comes from eligibility,
never from whatever the last path segment happens to be."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.apply import Result
from reconciler.settings import LocalBackendSettings, Settings
from reconciler.simulator import Simulator, SimulatorConfig
from reconciler.state import RecordStatus
from tests.apply.test_apply_inprocess import Fleet
from tests.e2e.conftest import customer


def test_a_location_without_a_guid_is_resolved_through_eligibility(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = SimulatorConfig(completion_delay_seconds=30, seed=1, location_style="no-guid")
    with Simulator(config) as sim:
        monkeypatch.setenv("PARTNER_CENTER_ACCESS_TOKEN", sim.token)
        settings = Settings(manifests=(tmp_path / "manifests",),
                            backend=LocalBackendSettings(tmp_path / "state.json"),
                            endpoint=sim.url, parallelism=2, max_requests_per_minute=100_000)
        fleet = Fleet(tmp_path, sim, settings)
        fleet.manifest([1, 2])
        result = fleet.apply()
        assert result.ok
        assert {o.result for o in result.outcomes} == {Result.FOUND}
        for n in (1, 2):
            (upgrade,) = sim.world.upgrades_for(customer(n))
            record = fleet.state().records[next(k for k in fleet.state().records
                                               if k.customer_id == customer(n))]
            assert record.upgrade_id == upgrade.id
            assert record.status is RecordStatus.IN_PROGRESS
            assert fleet.upgrades(n) == 1
