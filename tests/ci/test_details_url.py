"""``--details-url``: the markdown links to the full output (e.g. a workflow artifact)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.simulator import SimulatorConfig
from tests.e2e.conftest import Project, customer, make_project

URL = "https://github.com/o/r/actions/runs/7/artifacts/9"


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    yield from make_project(tmp_path, SimulatorConfig(completion_delay_seconds=3600, seed=1))


def test_plan_show_and_the_step_summary_link_to_the_details(project: Project) -> None:
    summary = project.root / "summary.md"
    project.env.update({"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    project.sim.world.ensure_customer(customer(1))
    project.manifest([1])
    planned = project.run("plan", "--out", "plan.json", "--format", "markdown",
                          "--details-url", URL)
    assert planned.returncode == 0, planned.stderr
    assert f"See [the full plan]({URL})." in planned.stdout
    assert f"See [the full plan]({URL})." in summary.read_text()
    shown = project.run("show", "plan.json", "--format", "markdown", "--details-url", URL)
    assert shown.stdout == planned.stdout
    drift = project.run("drift", "--format", "markdown", "--details-url", URL)
    assert f"See [the full drift report]({URL})." in drift.stdout


@pytest.mark.parametrize("bad", ["ftp://example.test/x", "not a url", "https://",
                                 "https://user:s3cret@example.test/x",
                                 "https://example.test/a b", "https://example.test/<b>"])
def test_a_bad_url_is_a_usage_error_that_echoes_no_credential(project: Project,
                                                              bad: str) -> None:
    project.manifest([])
    result = project.run("plan", "--format", "markdown", "--details-url", bad)
    assert result.returncode == 1
    assert "Invalid value for '--details-url': expected an http(s) URL" in result.stderr
    assert "s3cret" not in result.stdout + result.stderr
    assert result.stdout.startswith("<!-- partnercenter-reconciler:plan -->")
