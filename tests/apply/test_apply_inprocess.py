"""The apply path in-process: the library conductor against the simulator over loopback and a
temporary local backend. Fast (seconds), beside the subprocess crash tests, which stay."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler import workflow
from reconciler.apply import ApplyResult, Outcome, Result
from reconciler.backends import StateBackend, opened
from reconciler.errors import PlanError
from reconciler.settings import LocalBackendSettings, Settings
from reconciler.simulator import Simulator, SimulatorConfig
from reconciler.state import RecordStatus, State
from tests.e2e.conftest import customer


@dataclass
class Fleet:
    """Manifests and state in a temporary directory, wired to an in-process simulator."""

    root: Path
    sim: Simulator
    settings: Settings

    def manifest(self, numbers: list[int]) -> None:
        lines = ["apiVersion: reconciler/v1", "kind: ProductUpgrades", "metadata:",
                 "  name: wave-1", "spec:", "  productFamily: Azure", "  customers:"]
        for n in numbers:
            lines += [f"    - id: {customer(n)}", f"      name: Customer {n}"]
            self.sim.world.ensure_customer(customer(n), f"Customer {n}")
        (self.root / "manifests").mkdir(exist_ok=True)
        (self.root / "manifests" / "wave-1.yaml").write_text("\n".join(lines) + "\n")

    def apply(self, *, saved: workflow.Prepared | None = None,
              options: workflow.ApplyOptions | None = None,
              hooks: workflow.ApplyHooks | None = None) -> ApplyResult:
        with opened(self.settings.backend, lock="apply") as backend:
            prepared = saved or self._prepare(backend)
            return workflow.apply_plan(self.settings, backend, prepared,
                                       options or workflow.ApplyOptions(), hooks)

    def prepare(self) -> workflow.Prepared:
        with opened(self.settings.backend, lock="plan") as backend:
            return self._prepare(backend)

    def _prepare(self, backend: StateBackend) -> workflow.Prepared:
        return workflow.prepare(self.settings, backend, self.settings.manifests, saved=None,
                                max_plan_age=3600, options=workflow.PlanOptions())

    def state(self) -> State:
        state = workflow.recorded(self.settings).state
        assert state is not None
        return state

    def upgrades(self, n: int) -> int:
        return len(self.sim.world.upgrades_for(customer(n)))


@contextlib.contextmanager
def open_fleet(root: Path, monkeypatch: pytest.MonkeyPatch, config: SimulatorConfig, *,
               parallelism: int = 4) -> Iterator[Fleet]:
    """A simulator with ``config`` and settings (local state under ``root``) pointed at it."""
    with Simulator(config) as sim:
        monkeypatch.setenv("PARTNER_CENTER_ACCESS_TOKEN", sim.token)
        settings = Settings(manifests=(root / "manifests",),
                            backend=LocalBackendSettings(root / "state.json"),
                            endpoint=sim.url, parallelism=parallelism,
                            max_requests_per_minute=100_000)
        yield Fleet(root, sim, settings)


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    config = SimulatorConfig(completion_delay_seconds=0.3, seed=1, latency_ms=5)
    with open_fleet(tmp_path, monkeypatch, config) as opened_fleet:
        yield opened_fleet


def test_apply_starts_each_upgrade_once_and_records_it(fleet: Fleet) -> None:
    fleet.manifest(list(range(1, 9)))
    result = fleet.apply()
    assert result.ok
    assert result.counts()["started"] == 8
    assert all(fleet.upgrades(n) == 1 for n in range(1, 9))
    records = list(fleet.state().sorted_records())
    assert [r.status for r in records] == [RecordStatus.IN_PROGRESS] * 8
    assert all(r.upgrade_id for r in records)
    again = fleet.prepare()
    assert not again.plan.has_changes  # every one is in progress: wait
    assert fleet.apply().outcomes == ()


def test_an_interrupt_starts_nothing_new_and_the_next_run_resumes(fleet: Fleet) -> None:
    fleet.manifest(list(range(1, 13)))
    hooks = workflow.ApplyHooks()

    def stop_after_first(outcome: Outcome) -> None:
        hooks.stop.set()

    hooks = workflow.ApplyHooks(stop=hooks.stop, on_outcome=stop_after_first)
    first = fleet.apply(options=workflow.ApplyOptions(parallelism=1), hooks=hooks)
    assert first.interrupted
    assert not first.ok
    assert first.counts()["started"] == 1
    assert first.counts()["skipped"] == 11
    assert sum(fleet.upgrades(n) for n in range(1, 13)) == 1
    second = fleet.apply()
    assert second.ok
    assert second.counts()["started"] == 11
    assert all(fleet.upgrades(n) == 1 for n in range(1, 13))


def test_a_refused_create_fails_that_customer_only(fleet: Fleet) -> None:
    fleet.manifest([1, 2, 3])
    prepared = fleet.prepare()
    fleet.sim.world.add_customer(customer(2), eligible=False, error=(403, 900108, "No subs"))
    result = fleet.apply(saved=prepared)
    by_customer = {o.change.customer_id: o for o in result.outcomes}
    assert by_customer[customer(2)].result is Result.REFUSED
    assert by_customer[customer(2)].correlation_id
    assert {by_customer[customer(n)].result for n in (1, 3)} == {Result.STARTED}
    assert not result.ok
    record = fleet.state().get(by_customer[customer(2)].key)
    assert record is not None
    assert record.status is RecordStatus.FAILED
    assert record.error is not None
    assert record.error.code == "900108"


def test_a_lost_answer_is_resumed_with_the_same_request_id(fleet: Fleet) -> None:
    from reconciler.simulator import Fault

    fleet.manifest([1])
    fleet.sim.add_fault(Fault(route="create", kind="drop_after"))
    first = fleet.apply()
    assert first.outcomes[0].result is Result.UNKNOWN
    pending = next(fleet.state().sorted_records())
    assert pending.status is RecordStatus.PENDING
    assert pending.request_id
    fleet.sim.clear_faults()
    assert fleet.prepare().plan.changes[0].action.value == "update"  # found via eligibility
    second = fleet.apply()
    assert second.ok
    assert fleet.upgrades(1) == 1
    assert next(fleet.state().sorted_records()).request_id == pending.request_id


def test_wait_polls_until_completed(fleet: Fleet) -> None:
    fleet.manifest([1, 2])
    result = fleet.apply(options=workflow.ApplyOptions(wait=True, wait_timeout=30))
    assert result.ok
    assert result.counts()["completed"] == 2
    assert {r.status for r in fleet.state().sorted_records()} == {RecordStatus.COMPLETED}
    # --wait also checks the end state, so the next plan has nothing to record.
    assert all(r.verified for r in fleet.state().sorted_records())
    assert "verified: Azure plan" in result.outcomes[0].message
    assert not fleet.prepare().plan.has_changes


def test_a_stale_saved_plan_is_refused_before_any_call(fleet: Fleet) -> None:
    fleet.manifest([1])
    prepared = fleet.prepare()
    fleet.apply()
    calls = len(fleet.sim.requests)
    with opened(fleet.settings.backend, lock="apply") as backend, \
            pytest.raises(PlanError, match="stale"):
        workflow.prepare(fleet.settings, backend, fleet.settings.manifests,
                         saved=prepared.plan, max_plan_age=3600,
                         options=workflow.PlanOptions())
    assert len(fleet.sim.requests) == calls


def test_history_holds_every_call_and_transition(fleet: Fleet) -> None:
    fleet.manifest([1])
    fleet.apply()
    entries, _ = workflow.read_history(fleet.settings, customer(1))
    kinds = [(e["kind"], e.get("operation") or e.get("action")) for e in entries]
    assert ("transition", "intent") in kinds
    assert ("call", "create") in kinds
    assert ("transition", "started") in kinds
    assert kinds.index(("transition", "intent")) < kinds.index(("call", "create"))


def test_import_records_an_upgrade_made_elsewhere(fleet: Fleet) -> None:
    fleet.manifest([1])
    upgrade = fleet.sim.world.upgrade_out_of_band(customer(1))
    outcome = workflow.import_upgrade(fleet.settings, customer(1).upper(), "azure")
    assert outcome.result is Result.RECORDED
    assert outcome.upgrade_id == upgrade
    again = workflow.import_upgrade(fleet.settings, customer(1), "Azure")
    assert again.result is Result.FOUND
    missing = workflow.import_upgrade(fleet.settings, customer(9), "Azure")
    assert missing.result is Result.FAILED
    record = fleet.state().get(outcome.key)
    assert record is not None
    assert record.upgrade_id == upgrade


def test_worker_threads_record_concurrently_without_losing_a_change(fleet: Fleet) -> None:
    fleet.manifest(list(range(1, 41)))
    seen: list[str] = []
    lock = threading.Lock()

    def collect(outcome: Outcome) -> None:
        with lock:
            seen.append(outcome.change.customer_id)

    result = fleet.apply(options=workflow.ApplyOptions(parallelism=8),
                         hooks=workflow.ApplyHooks(on_outcome=collect))
    assert result.ok
    assert len(seen) == 40
    state = fleet.state()
    assert len(state) == 40
    assert state.serial == 80  # an intent and a start per customer, none lost


def test_a_definitive_4xx_on_create_spends_the_intent(fleet: Fleet) -> None:
    fleet.manifest([1, 2])
    prepared = fleet.prepare()
    fleet.sim.world.add_customer(customer(1), error=(400, 600123, "The request was malformed."))
    result = fleet.apply(saved=prepared)
    failed = next(o for o in result.outcomes if o.change.customer_id == customer(1))
    assert failed.result is Result.FAILED
    record = fleet.state().get(failed.key)
    assert record is not None
    assert record.status is RecordStatus.FAILED  # not left pending under a spent request id
    assert record.error is not None
    assert record.error.code == "600123"
    assert record.error.correlation_id == failed.correlation_id
    fleet.sim.world.add_customer(customer(1))  # fixed on Partner Center's side
    again = fleet.prepare()
    retry = next(c for c in again.plan.changes if c.customer_id == customer(1))
    assert retry.action.value == "retry"
    second = fleet.apply(saved=again)
    assert second.ok
    assert fleet.state().get(failed.key).request_id != record.request_id  # type: ignore[union-attr]


def test_the_refresh_reads_of_an_apply_are_in_the_history_and_only_if_it_goes_ahead(
        fleet: Fleet) -> None:
    fleet.manifest([1])
    fleet.prepare()  # made, then not carried out (as a cancelled or refused apply)
    assert workflow.read_history(fleet.settings, None)[0] == []
    fleet.apply()
    entries, _ = workflow.read_history(fleet.settings, customer(1))
    kinds = [(e["kind"], e.get("operation") or e.get("action")) for e in entries]
    assert kinds.index(("call", "eligibility")) < kinds.index(("transition", "intent"))
    assert all(e["time"] <= entries[-1]["time"] for e in entries)
