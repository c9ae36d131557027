"""Rolling out in waves (issue 17): spec.notBefore, --batch, --max-failures, honest summaries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler import manifest, planfile, workflow
from reconciler.apply import FailureBudget, Result
from reconciler.backends import opened
from reconciler.plan import Action
from reconciler.render import apply as render_apply
from reconciler.render import text as render_text
from reconciler.simulator import SimulatorConfig
from tests.apply.test_apply_inprocess import Fleet, open_fleet
from tests.e2e.conftest import customer


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    monkeypatch.chdir(tmp_path)
    config = SimulatorConfig(completion_delay_seconds=3600, seed=4)
    with open_fleet(tmp_path, monkeypatch, config, parallelism=1) as opened_fleet:
        yield opened_fleet


def write(fleet: Fleet, name: str, numbers: list[int], not_before: str | None = None) -> Path:
    lines = ["apiVersion: reconciler/v1", "kind: ProductUpgrades", "metadata:",
             f"  name: {name}", "spec:", "  productFamily: Azure"]
    if not_before is not None:
        lines.append(f"  notBefore: {not_before}")
    lines.append("  customers:")
    for n in numbers:
        lines.append(f"    - id: {customer(n)}")
        fleet.sim.world.ensure_customer(customer(n), f"Customer {n}")
    path = fleet.root / "manifests" / f"{name}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def plan_of(fleet: Fleet, batch: int | None = None) -> workflow.Prepared:
    with opened(fleet.settings.backend, lock="plan") as backend:
        return workflow.prepare(fleet.settings, backend, fleet.settings.manifests, saved=None,
                                max_plan_age=3600, options=workflow.PlanOptions(batch=batch))


def creates(fleet: Fleet) -> int:
    return sum(1 for r in fleet.sim.requests
               if r.method == "POST" and r.path.lower().rstrip("/") == "/v1/productupgrades")


def test_a_future_not_before_defers_and_costs_no_create(fleet: Fleet) -> None:
    write(fleet, "later", [1, 2], not_before="2999-01-04T00:00:00Z")   # unquoted: a timestamp
    prepared = plan_of(fleet)
    assert [c.action for c in prepared.plan.changes] == [Action.DEFER, Action.DEFER]
    assert prepared.plan.changes[0].reason == "scheduled: not before 2999-01-04T00:00:00Z"
    assert not prepared.plan.has_changes  # --detailed-exitcode 0
    text = render_text.render(prepared.plan)
    assert text.splitlines()[-1].startswith("Plan: 0 to create")
    assert "2 deferred, 0 unchanged." in text.splitlines()[-1]
    assert "No changes. 2 deferred." in text
    result = fleet.apply(saved=prepared)
    assert result.outcomes == ()
    assert creates(fleet) == 0


def test_a_past_not_before_runs_and_offsets_and_quotes_parse(fleet: Fleet) -> None:
    write(fleet, "early", [1], not_before="2020-01-04T00:00:00+02:00")
    write(fleet, "quoted", [2], not_before='"2020-01-04T01:00:00Z"')
    actions = {c.customer_id: c.action for c in plan_of(fleet).plan.changes}
    assert actions == {customer(1): Action.CREATE, customer(2): Action.CREATE}
    desired = manifest.load([fleet.root / "manifests"])
    assert {u.not_before for u in desired.upgrades} == {"2020-01-03T22:00:00Z",
                                                        "2020-01-04T01:00:00Z"}


@pytest.mark.parametrize("value", ["2027-13-04T00:00:00Z", "2027-01-04T00:00:00",
                                   "tomorrow", "2027-01-04"])
def test_a_bad_not_before_is_a_manifest_error_with_its_line(fleet: Fleet, value: str) -> None:
    path = write(fleet, "bad", [1], not_before=value)
    _, problems = manifest.check([path])
    assert problems
    assert problems[0].line == 7  # the notBefore line
    assert "notBefore" in problems[0].message


def test_a_timestamp_anywhere_else_is_still_refused(fleet: Fleet) -> None:
    path = write(fleet, "labelled", [1])
    path.write_text(path.read_text().replace("  name: labelled",
                                             "  name: labelled\n  labels: {since: 2027-01-04}"))
    _, problems = manifest.check([path])
    assert any("tag" in p.message for p in problems)


def test_batch_starts_the_canary_file_first_then_the_next_ones(fleet: Fleet) -> None:
    write(fleet, "10-wave", [11, 12, 13, 14, 15, 16])
    write(fleet, "00-canary", [1, 2])
    first = plan_of(fleet, batch=5)
    started = {c.customer_id for c in first.plan.changes if c.action is Action.CREATE}
    # Files in path order (the canary's 00- first), then position in the file.
    assert started == {customer(1), customer(2), customer(11), customer(12), customer(13)}
    assert first.plan.summary()["defer"] == 3
    result = fleet.apply(saved=first)
    assert result.counts()["started"] == 5
    assert creates(fleet) == 5
    assert render_apply.summary(result, first.plan) == "Apply complete: 5 started, 3 deferred."
    assert render_apply.grouped(result, first.plan) == [
        "  > 3 customers deferred: batch: this run starts the first 5 upgrades in manifest "
        "order (--batch 5)"]
    second = plan_of(fleet, batch=5)
    assert {c.customer_id for c in second.plan.changes if c.action is Action.CREATE} == \
        {customer(14), customer(15), customer(16)}


def test_a_saved_plan_carries_its_batch_and_stays_checked(fleet: Fleet, tmp_path: Path) -> None:
    write(fleet, "wave", [1, 2, 3])
    saved = plan_of(fleet, batch=1)
    planfile.write(saved.plan, tmp_path / "plan.json")
    again = planfile.read(tmp_path / "plan.json")
    assert again.batch == 1
    assert [c.action for c in again.changes].count(Action.DEFER) == 2
    result = fleet.apply(saved=workflow.Prepared(saved.inputs, again))
    assert result.counts()["started"] == 1


def test_max_failures_stops_after_three_refusals(fleet: Fleet) -> None:
    write(fleet, "wave", list(range(1, 9)))
    for n in range(1, 9):
        fleet.sim.world.add_customer(customer(n), f"Customer {n}")
    prepared = plan_of(fleet)
    for n in range(1, 9):  # every create is refused from now on
        fleet.sim.world.add_customer(customer(n), f"Customer {n}",
                                     error=(403, 900120, "Cannot process Azure upgrade."))
    result = fleet.apply(saved=prepared, options=workflow.ApplyOptions(
        parallelism=1, max_failures=FailureBudget.parse("3")))
    counts = result.counts()
    assert counts["refused"] == 3
    assert counts["skipped"] == 5
    assert not result.ok
    assert result.aborted is not None
    assert "failure budget is exhausted (3 changes of 3 failed; --max-failures 3)" in \
        result.aborted
    assert creates(fleet) == 3
    assert render_apply.grouped(result)[0].startswith("  … 5 customers skipped: the failure "
                                                      "budget is exhausted")


def test_a_percentage_applies_only_after_twenty_attempts() -> None:
    budget = FailureBudget.parse("10%")
    assert not budget.exhausted(failed=5, attempted=19)
    assert budget.exhausted(failed=2, attempted=20)
    assert not budget.exhausted(failed=1, attempted=20)
    assert FailureBudget.parse("3").exhausted(failed=3, attempted=3)
    for bad in ("0", "-1", "0%", "101%", "three", "5 %%"):
        with pytest.raises(ValueError, match="--max-failures"):
            FailureBudget.parse(bad)
    assert str(FailureBudget.parse("12.5%")) == "12.5%"


def test_no_changes_says_what_is_under_way(fleet: Fleet) -> None:
    write(fleet, "wave", [1, 2])
    assert fleet.apply().ok
    plan = plan_of(fleet).plan
    lines = render_text.render(plan).splitlines()
    assert lines[-2] == "No changes. 2 upgrades in progress."
    assert lines[-1].startswith("Plan: 0 to create")
    fleet.sim.world.add_customer(customer(3), "Customer 3", eligible=False, reason="Nope.")
    write(fleet, "wave", [1, 2, 3])
    lines = render_text.render(plan_of(fleet).plan).splitlines()
    assert lines[-2] == ("No changes. 2 upgrades in progress, 1 customer blocked (the ! rows "
                         "say why).")
    assert Result.SKIPPED.symbol == "…"
