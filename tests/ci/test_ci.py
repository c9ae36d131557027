"""CI integration: detection, exact workflow/logging commands, escaping, the annotation cap, and
the CLI's output with the GitHub Actions / Azure DevOps environment variables set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler import ci
from reconciler.ci import Annotation, CiSystem
from reconciler.simulator import SimulatorConfig
from tests.e2e.conftest import Project, customer, make_project


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    yield from make_project(tmp_path, SimulatorConfig(completion_delay_seconds=3600, seed=1))


@pytest.mark.parametrize(("env", "expected"), [
    ({"GITHUB_ACTIONS": "true"}, CiSystem.GITHUB),
    ({"TF_BUILD": "True"}, CiSystem.AZURE),
    ({"GITHUB_ACTIONS": "true", "RECONCILER_NO_CI_INTEGRATION": "1"}, None),
    ({"GITHUB_ACTIONS": "false"}, None),
    ({"CI": "true"}, None),
    ({}, None),
])
def test_detect(env: dict[str, str], expected: CiSystem | None) -> None:
    assert ci.detect(env) is expected


def test_github_annotation_escapes_data_and_properties() -> None:
    line = ci.error_lines(CiSystem.GITHUB, [Annotation("100% bad\nreally\r", "dir,a:b.yaml", 3,
                                                       7, "Invalid manifest")])
    assert line == ["::error file=dir%2Ca%3Ab.yaml,line=3,col=7,title=Invalid manifest"
                    "::100%25 bad%0Areally%0D"]
    assert ci.error_lines(CiSystem.GITHUB, [Annotation("plain")]) == ["::error::plain"]


def test_azure_logissue_escapes() -> None:
    line = ci.error_lines(CiSystem.AZURE, [Annotation("a;b]c\n50%", "m/x.yaml", 3, 1, "Bad")])
    assert line == ["##vso[task.logissue type=error;sourcepath=m/x.yaml;linenumber=3;"
                    "columnnumber=1]Bad: a%3Bb%5Dc%0A50%AZP25"]


def test_problem_parsing() -> None:
    parsed = ci.problem_annotation("manifests/a b.yaml:12:5: duplicate customer: x (first at "
                                   "manifests/c.yaml:3)")
    assert (parsed.path, parsed.line, parsed.column) == ("manifests/a b.yaml", 12, 5)
    assert parsed.message.startswith("duplicate customer")
    assert ci.problem_annotation("no location").path is None


def test_annotations_are_capped_with_an_overflow_note() -> None:
    many = [Annotation(f"problem {n}", "m.yaml", n) for n in range(1, 121)]
    lines = ci.error_lines(CiSystem.GITHUB, many)
    assert len(lines) == ci.MAX_ANNOTATIONS + 1
    assert "Not annotated: 70 more errors;" in lines[-1]


def test_publish_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    assert ci.publish_summary(CiSystem.GITHUB, env, "# one", "plan") == []
    assert summary.read_text() == "earlier step\n# one\n"
    lines = ci.publish_summary(CiSystem.AZURE, {"AGENT_TEMPDIRECTORY": str(tmp_path)}, "# two",
                               "drift")
    assert lines == [f"##vso[task.uploadsummary]{tmp_path / 'reconciler-drift.md'}"]
    assert (tmp_path / "reconciler-drift.md").read_text() == "# two"


def bad_manifests(project: Project, count: int) -> None:
    lines = ["apiVersion: reconciler/v1", "kind: ProductUpgrades", "metadata:", "  name: bad",
             "spec:", "  productFamily: Azure", "  customers:"]
    lines += [f"    - id: not-a-guid-{n}" for n in range(count)]
    (project.root / "manifests").mkdir(exist_ok=True)
    (project.root / "manifests" / "bad.yaml").write_text("\n".join(lines) + "\n")


def github(project: Project) -> Path:
    summary = project.root / "step-summary.md"
    project.env.update({"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    return summary


@pytest.mark.parametrize("command", ["validate", "plan", "drift"])
def test_manifest_errors_become_github_annotations(project: Project, command: str) -> None:
    github(project)
    bad_manifests(project, 60)
    result = project.run(command)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("::error ")]
    assert len(errors) == 51
    assert errors[0].startswith("::error file=manifests/bad.yaml,line=8,col=11,"
                                "title=Invalid manifest::")
    assert "Not annotated: 10 more errors;" in errors[-1]


def test_azure_devops_annotations_and_summary(project: Project) -> None:
    project.env.update({"TF_BUILD": "True", "AGENT_TEMPDIRECTORY": str(project.root)})
    bad_manifests(project, 1)
    failed = project.run("validate")
    assert "##vso[task.logissue type=error;sourcepath=manifests/bad.yaml;linenumber=8;" \
        in failed.stderr
    (project.root / "manifests" / "bad.yaml").unlink()
    project.sim.world.ensure_customer(customer(1))
    project.manifest([1])
    planned = project.run("plan")
    assert planned.returncode == 0, planned.stderr
    path = project.root / "reconciler-plan.md"
    assert f"##vso[task.uploadsummary]{path}" in planned.stderr
    assert "<!-- partnercenter-reconciler:plan -->" in path.read_text()


def test_github_step_summary_for_plan_drift_and_apply(project: Project) -> None:
    summary = github(project)
    project.sim.world.ensure_customer(customer(1))
    project.manifest([1])
    assert project.run("plan", "--format", "json").returncode == 0
    assert project.run("apply", "--auto-approve").returncode == 0
    project.sim.world.revert(customer(1))
    drift = project.run("drift")
    assert drift.returncode == 2
    assert "::error title=Drift%3A Reverted::" in drift.stderr
    text = summary.read_text()
    for marker in ("<!-- partnercenter-reconciler:plan -->", "### reconciler apply",
                   "<!-- partnercenter-reconciler:drift -->"):
        assert marker in text


@pytest.mark.parametrize("where", ["root", "command"])
def test_no_ci_integration_turns_it_off(project: Project, where: str) -> None:
    summary = github(project)
    bad_manifests(project, 2)
    args = ["--no-ci-integration", "validate"] if where == "root" \
        else ["validate", "--no-ci-integration"]
    result = project.run(*args)
    assert result.returncode == 1
    assert "::error" not in result.stderr + result.stdout
    assert not summary.exists()


def test_an_unwritable_summary_does_not_fail_the_command(project: Project) -> None:
    project.env.update({"GITHUB_ACTIONS": "true",
                        "GITHUB_STEP_SUMMARY": str(project.root / "missing" / "summary.md")})
    project.sim.world.ensure_customer(customer(1))
    project.manifest([1])
    result = project.run("plan")
    assert result.returncode == 0, result.stderr
    assert "could not write the CI run summary" in result.stderr
