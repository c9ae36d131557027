"""Rollout as a pipeline runs it: --max-failures exit codes, --batch rules, blocked customers
visible in GitHub Actions and Azure Pipelines."""

from __future__ import annotations

from tests.e2e.conftest import Project, customer


def test_max_failures_exits_1_and_says_why(project: Project) -> None:
    for n in range(1, 7):
        project.sim.world.add_customer(customer(n), f"Customer {n}")
    project.manifest(list(range(1, 7)))
    project.run("plan", "--out", "plan.json")
    for n in range(1, 7):
        project.sim.world.add_customer(customer(n), f"Customer {n}",
                                       error=(403, 900120, "Cannot process Azure upgrade."))
    result = project.run("apply", "plan.json", "--parallelism", "1", "--max-failures", "3")
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.count(": refused: ") == 3
    assert "  … 3 customers skipped: the failure budget is exhausted" in result.stdout
    assert result.stdout.splitlines()[-1].startswith(
        "Apply stopped: the failure budget is exhausted (3 changes of 3 failed; "
        "--max-failures 3).")
    bad = project.run("apply", "plan.json", "--max-failures", "lots")
    assert bad.returncode == 1
    assert "--max-failures 'lots' is neither a number" in bad.stderr


def test_batch_with_a_saved_plan_is_a_usage_error(project: Project) -> None:
    project.sim.world.add_customer(customer(1))
    project.manifest([1])
    project.run("plan", "--batch", "1", "--out", "plan.json")
    refused = project.run("apply", "plan.json", "--batch", "2")
    assert refused.returncode == 1
    assert "a saved plan carries the batch it was made with" in refused.stderr


def test_blocked_customers_are_warnings_in_ci(project: Project) -> None:
    project.sim.world.add_customer(customer(1), "Customer 1")
    project.sim.world.add_customer(customer(2), "Customer 2", eligible=False,
                                   reason="Azure subscriptions were purchased recently.")
    project.manifest([1, 2])
    project.env["GITHUB_ACTIONS"] = "true"
    shown = project.run("plan")
    assert shown.returncode == 0
    assert (f"::warning file=manifests/wave-1.yaml,line=10,title=Blocked customer::Customer "
            f"{customer(2)} (Customer 2) is blocked: not eligible: Azure subscriptions were "
            "purchased recently.") in shown.stderr
    assert "Note: 1 customer blocked (the ! rows say why)." in shown.stdout
    applied = project.run("apply", "--auto-approve")
    assert "::warning " in applied.stderr
    assert "Note: 1 customer blocked, not part of this apply; `reconciler plan` shows why." \
        in applied.stdout
    del project.env["GITHUB_ACTIONS"]
    project.env["TF_BUILD"] = "True"
    azure = project.run("plan")
    assert "##vso[task.logissue type=warning;sourcepath=" in azure.stderr
    assert azure.stderr.rstrip().endswith("##vso[task.complete result=SucceededWithIssues;]")
