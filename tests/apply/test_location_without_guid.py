"""A 202 whose Location names no upgrade id (issue 19, item 4): the id comes from eligibility,
never from whatever the last path segment happens to be."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.apply import Result
from reconciler.simulator import SimulatorConfig
from reconciler.state import RecordStatus
from tests.apply.test_apply_inprocess import open_fleet
from tests.e2e.conftest import customer


def test_a_location_without_a_guid_is_resolved_through_eligibility(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = SimulatorConfig(completion_delay_seconds=30, seed=1, location_style="no-guid")
    with open_fleet(tmp_path, monkeypatch, config, parallelism=2) as fleet:
        sim = fleet.sim
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
