"""What a new user trips over (issue 16): mistyped ids, None in output, a wait that runs out,
confirmation without a terminal."""

from __future__ import annotations

from pathlib import Path

from reconciler.drift import DriftReport
from reconciler.plan import Plan
from reconciler.render import markdown
from reconciler.render.drift import render_markdown
from reconciler.simulator import SimulatorConfig
from tests.e2e.conftest import Project, customer, make_project


def test_a_target_that_is_not_a_guid_stops_plan_and_apply(project: Project) -> None:
    project.sim.world.add_customer(customer(1))
    project.manifest([1])
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = project.run(*command, "--target", "bogus")
        assert result.returncode == 1, result.stdout
        assert "--target 'bogus' is not a customer id" in result.stderr
        newline = project.run(*command, "--target", customer(1) + "\n")  # matched whole
        assert newline.returncode == 1
    assert project.sim.requests == []


def test_a_target_in_no_manifest_is_a_warning_naming_it(project: Project) -> None:
    project.sim.world.add_customer(customer(1))
    project.manifest([1])
    result = project.run("plan", "--target", customer(2).upper())
    assert result.returncode == 0, result.stderr
    assert f"Warning: --target {customer(2)} is in no manifest" in result.stderr


def test_import_and_history_name_an_id_that_is_not_a_guid(project: Project) -> None:
    imported = project.run("import", "nope")
    assert imported.returncode == 1
    assert "'nope' is not a customer id" in imported.stderr
    history = project.run("state", "history", "nope")
    assert history.returncode == 1
    assert "'nope' is not a customer id" in history.stderr
    unknown = project.run("state", "history", customer(5))
    assert unknown.returncode == 0
    assert "No operations are recorded in the history of local state file " in unknown.stdout
    assert f"for customer {customer(5)}" in unknown.stdout


def test_no_python_none_reaches_markdown_or_the_stale_plan_error(project: Project) -> None:
    plan = Plan((), "2026-11-25T10:00:00Z", None, None, "sha256:" + "ab" * 32, True)
    assert "None" not in markdown.render(plan)
    assert "no state recorded yet" in markdown.render(plan)
    report = DriftReport((), 0, "2026-11-25T10:00:00Z")
    assert "None" not in render_markdown(report)
    project.sim.world.add_customer(customer(1))
    project.manifest([1])
    assert project.run("plan", "--out", "p.json").returncode == 0
    assert project.run("apply", "--auto-approve").returncode == 0
    stale = project.run("apply", "p.json")
    assert stale.returncode == 1
    assert "made before any state was recorded, but the state is now lineage" in stale.stderr
    assert "None" not in stale.stderr


def test_apply_without_a_terminal_refuses_before_any_call(project: Project) -> None:
    project.sim.world.add_customer(customer(1))
    project.manifest([1])
    result = project.run("apply")
    assert result.returncode == 1
    assert "Error: Apply needs confirmation" in result.stderr
    assert project.sim.requests == []


def test_a_wait_that_runs_out_reports_upgrades_in_progress(tmp_path: Path) -> None:
    for project in make_project(tmp_path, SimulatorConfig(completion_delay_seconds=3600)):
        _wait_runs_out(project)


def _wait_runs_out(project: Project) -> None:
    for n in (1, 2, 3):
        project.sim.world.add_customer(customer(n))
    project.manifest([1, 2, 3])
    result = project.run("apply", "--auto-approve", "--wait", "--wait-timeout", "1s")
    assert result.returncode == 1
    assert "failed" not in result.stdout
    lines = [line for line in result.stdout.splitlines() if "in progress:" in line]
    assert len(lines) == 3, result.stdout
    assert all("--wait-timeout ran out" in line for line in lines)
    assert "Apply done, but the wait was not met: 3 in progress." in result.stdout


def test_apply_says_each_thing_once_and_counts_agree(tmp_path: Path) -> None:
    for project in make_project(tmp_path, SimulatorConfig(completion_delay_seconds=3600)):
        project.sim.world.add_customer(customer(1))
        project.manifest([1])
        capped = project.run("apply", "--auto-approve", "--max-upgrades", "0")
        assert "The plan would start 1 upgrade, more than --max-upgrades 0." in capped.stderr
        started = project.run("apply", "--auto-approve")
        upgrade = project.sim.world.upgrades_for(customer(1))[0].id
        assert f"  + {customer(1)} (Customer 1) Azure: started: upgrade {upgrade}\n" \
            in started.stdout
        project.sim.world.complete_upgrade(upgrade)
        recorded = project.run("apply", "--auto-approve")
        assert "Azure  in progress → Completed; verified: Azure plan " in recorded.stdout
        assert f"Azure: recorded: upgrade {upgrade} is completed (verified: Azure plan " \
            in recorded.stdout
        assert "Apply complete: 1 recorded.\n" in recorded.stdout
        assert project.run("drift").stdout == ("Drift: none in 1 managed upgrade.\n"
                                               "No drift. Partner Center matches the recorded "
                                               "state.\n")


def test_an_error_is_sentences_without_a_doubled_full_stop(project: Project) -> None:
    project.sim.world.add_customer(customer(1))
    project.manifest([1])
    project.env["PARTNER_CENTER_ACCESS_TOKEN"] = "not-the-token"
    result = project.run("plan")
    assert result.returncode == 1
    error, hint = result.stderr.splitlines()
    assert error.startswith("Error: Partner Center: POST /v1/productUpgrades/eligibility")
    assert "Authorization token is invalid or expired. The token was refused" in error
    assert ".." not in error
    assert hint == "Check the credentials."


def test_apply_asks_for_yes_and_says_why_y_is_not_enough(project: Project) -> None:
    project.sim.world.add_customer(customer(1))
    project.manifest([1])
    code, shown = project.on_terminal("apply", answer=b"y\n")
    assert code == 1
    assert "Do you want to perform these actions?\r\n" \
           "  reconciler will perform the actions described above.\r\n" \
           "  Only 'yes' will be accepted to approve.\r\n" in shown
    assert "Error: Apply cancelled. Only 'yes', spelt out in lower case, approves; the " \
           "answer was 'y'. Nothing was done.\r\n" in shown
    code, shown = project.on_terminal("apply", answer=b"no\n")
    assert code == 1
    assert shown.endswith("Error: Apply cancelled. Nothing was done.\r\n")
    assert project.upgrades(1) == 0
    code, shown = project.on_terminal("apply", answer=b"yes\n")
    assert code == 0, shown
    assert "Apply complete: 1 started." in shown
    assert project.upgrades(1) == 1


def test_ctrl_c_at_the_prompt_ends_the_line_and_exits_as_an_interrupt(project: Project) -> None:
    project.sim.world.add_customer(customer(1))
    project.manifest([1])
    code, shown = project.on_terminal("apply", answer=None)
    assert code == 130
    assert shown.endswith("  Enter a value: \r\nInterrupted.\r\n")
    assert project.upgrades(1) == 0
    # The lock was released on the way out.
    assert project.run("apply", "--auto-approve").returncode == 0
