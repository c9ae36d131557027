"""A failed ``plan``/``drift --format markdown`` still prints the body a workflow posts.

Without it, the example workflow posted an empty comment and the previous plan stayed on the
pull request as if it were still true (issue 16, item 7). JSON output stays a plan document
or nothing: a failure prints nothing on stdout there, so ``> plan.json`` never holds a
non-plan.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.backends import LocalBackend, LockInfo
from reconciler.render import failure_as_markdown, markdown
from reconciler.simulator import SimulatorConfig
from tests.e2e.conftest import Project, customer, make_project

PLAN_MARKER = "<!-- partnercenter-reconciler:plan -->"


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    yield from make_project(tmp_path, SimulatorConfig(completion_delay_seconds=3600, seed=1))


def invalid_manifest(project: Project) -> None:
    (project.root / "manifests").mkdir(exist_ok=True)
    (project.root / "manifests" / "bad.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: ProductUpgrades\nmetadata:\n  name: bad\nspec:\n"
        "  productFamily: Azure\n  customers:\n    - id: not-a-guid\n")


def body_of(stdout: str, marker: str = PLAN_MARKER) -> str:
    assert stdout.startswith(marker + "\n"), stdout
    assert "failed" in stdout.splitlines()[1]
    return stdout


@pytest.mark.parametrize("spelling", [["--format", "markdown"], ["--format=markdown"]])
def test_invalid_manifests_give_a_markdown_body_naming_file_and_line(
        project: Project, spelling: list[str]) -> None:
    invalid_manifest(project)
    result = project.run("plan", "--detailed-exitcode", *spelling)
    assert result.returncode == 1
    body = body_of(result.stdout)
    assert "manifests/bad.yaml:8:11: spec.customers[0].id" in body
    assert "The plan could not be made" in body
    assert "manifests/bad.yaml:8:11" in result.stderr  # the job log keeps the error too


def test_invalid_settings_before_the_command_runs_give_a_body(project: Project) -> None:
    (project.root / "reconciler.yaml").write_text("bogus: 1\n")
    result = project.run("--no-color", "plan", "--format", "markdown")
    assert result.returncode == 1
    assert "reconciler.yaml:1:1: the document: unknown field 'bogus'" in body_of(result.stdout)


def test_a_held_lock_gives_a_body_naming_the_holder(project: Project) -> None:
    project.sim.world.ensure_customer(customer(1))
    project.manifest([1])
    assert project.run("apply", "--auto-approve").returncode == 0
    held = LocalBackend(project.root / ".reconciler" / "state.json").lock(LockInfo.new("apply"))
    result = project.run("plan", "--format", "markdown")
    assert result.returncode == 1
    assert f"ID {held.id}" in body_of(result.stdout)


def test_a_partner_center_error_gives_a_body(project: Project) -> None:
    project.sim.world.ensure_customer(customer(1))
    project.manifest([1])
    project.env["PARTNER_CENTER_ACCESS_TOKEN"] = "not-the-simulator-token"
    result = project.run("plan", "--format", "markdown")
    assert result.returncode == 1
    body = body_of(result.stdout)
    assert result.stderr.strip().splitlines()[0] in body
    assert "not-the-simulator-token" not in body + result.stderr


def test_a_bad_option_gives_a_body(project: Project) -> None:
    result = project.run("plan", "--format", "markdown", "--target", "nope")
    assert result.returncode == 1
    assert "--target 'nope' is not a customer id" in body_of(result.stdout)


def test_drift_failures_give_a_drift_body(project: Project) -> None:
    invalid_manifest(project)
    result = project.run("drift", "--format", "markdown")
    assert result.returncode == 1
    assert "manifests/bad.yaml:8:11" in body_of(result.stdout,
                                                "<!-- partnercenter-reconciler:drift -->")


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_other_formats_print_nothing_on_stdout_when_failing(project: Project, fmt: str) -> None:
    invalid_manifest(project)
    result = project.run("plan", "--format", fmt)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "manifests/bad.yaml:8:11" in result.stderr


def test_the_body_is_inert_markdown_and_capped() -> None:
    hostile = ("Error: x\n```\n@someone ![img](https://example.invalid/a.png) <b>\x1b[31mred\n"
               + "\n".join(f"m.yaml:{n}:1: problem {n}" for n in range(1, 10_000)))
    body = markdown.failure(markdown.MARKER, "reconciler plan failed", "Lead.", hostile,
                            max_chars=20_000)
    assert len(body) <= 20_000
    assert "\x1b" not in body
    lines = body.splitlines()
    fence = lines[5].removesuffix("text")
    assert fence == "````"  # longer than the ``` inside, which therefore cannot close it
    assert lines.count(fence) == 1  # the closing fence, after the last line kept
    assert lines.count("```") == 1  # the one from the error, shown as text
    assert "more lines left out to keep this comment under GitHub's size limit" in body
    assert failure_as_markdown("show", "Error: x") is None
