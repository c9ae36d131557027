"""apply and the run's deadline, in-process (issue 19, item 12): at the deadline nothing new
starts, the creates in flight are recorded as pending (an unknown outcome), and the next run
resumes them under the same MS-RequestId — one upgrade per customer, never a duplicate."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler import workflow
from reconciler.apply import Result
from reconciler.backends import opened
from reconciler.partnercenter import DeadlineExceeded
from reconciler.simulator import Fault, SimulatorConfig
from reconciler.state import RecordStatus

from .test_apply_inprocess import Fleet, open_fleet

REASON = "the run reached its --timeout of 1s"


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    config = SimulatorConfig(completion_delay_seconds=0.3, seed=1)
    with open_fleet(tmp_path, monkeypatch, config, parallelism=3) as opened_fleet:
        yield opened_fleet


def _with_timeout(fleet: Fleet, seconds: float) -> None:
    fleet.settings = dataclasses.replace(fleet.settings, timeout=seconds,
                                         started=time.monotonic())


def test_the_deadline_stops_apply_and_the_next_run_resumes_without_a_duplicate(
        fleet: Fleet) -> None:
    numbers = list(range(1, 11))
    fleet.manifest(numbers)
    prepared = fleet.prepare()  # the refresh answers; then every create hangs
    fleet.sim.add_fault(Fault(route="create", kind="hang"))
    untimed = fleet.settings
    _with_timeout(fleet, 1.0)
    started = time.monotonic()
    result = fleet.apply(saved=prepared)
    assert time.monotonic() - started < 5
    assert result.aborted == REASON
    assert not result.interrupted
    assert not result.ok
    counts = result.counts()
    assert counts["unknown"] == 3  # the creates in flight (parallelism 3)
    assert counts["skipped"] == 7
    assert {o.message for o in result.outcomes if o.result is Result.SKIPPED} == {REASON}
    cut = {o.change.customer_id for o in result.outcomes if o.result is Result.UNKNOWN}
    records = {r.key.customer_id: r for r in fleet.state().sorted_records()}
    assert set(records) == cut
    assert all(r.status is RecordStatus.PENDING for r in records.values())
    assert all(r.request_id for r in records.values())
    first_ids = {cid: r.request_id for cid, r in records.items()}

    fleet.sim.clear_faults()
    fleet.settings = untimed
    again = fleet.apply()
    assert again.ok, again
    assert all(fleet.upgrades(n) == 1 for n in numbers)
    assert fleet.sim.stats.duplicates == 0
    creates = [r for r in fleet.sim.requests if r.method == "POST" and r.path ==
               "/v1/productUpgrades" and r.status == 202]
    resumed = {str(r.body["customerId"]) if isinstance(r.body, dict) else "": r.header(
        "MS-RequestId") for r in creates}
    for cid, request_id in first_ids.items():
        assert resumed[cid] == request_id  # the same MS-RequestId, not a new create


def test_a_refresh_that_reaches_the_deadline_stops_with_a_sentence(fleet: Fleet) -> None:
    fleet.manifest([1, 2])
    fleet.sim.add_fault(Fault(route="eligibility", kind="hang"))
    _with_timeout(fleet, 1.0)
    with opened(fleet.settings.backend, lock="plan") as backend, \
            pytest.raises(DeadlineExceeded) as raised:
        workflow.prepare(fleet.settings, backend, fleet.settings.manifests, saved=None,
                         max_plan_age=3600, options=workflow.PlanOptions())
    assert raised.value.message == f"Stopped: {REASON}."


def test_wait_ends_at_the_deadline_and_says_so(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    config = SimulatorConfig(completion_delay_seconds=600, seed=1)
    with open_fleet(tmp_path, monkeypatch, config) as fleet:
        fleet.manifest([1, 2])
        _with_timeout(fleet, 1.5)
        started = time.monotonic()
        result = fleet.apply(options=workflow.ApplyOptions(wait=True, wait_timeout=1800))
        assert time.monotonic() - started < 6  # not the 30 min --wait-timeout
    assert result.aborted == "the run reached its --timeout of 1.5s"
    assert [o.result for o in result.outcomes] == [Result.IN_PROGRESS] * 2
    assert all(o.message.endswith("was still running when the run reached its --timeout of "
                                  "1.5s; later plans pick up its progress")
               for o in result.outcomes)
