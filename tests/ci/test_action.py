"""The GitHub action (``action.yml``): its structure, its comment script against a fake GitHub
API on loopback, and whole runs of it against the simulator (``tests/ci/github_actions.py``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ci.conftest import PULL_REQUEST, ROOT, TOKEN
from tests.ci.fake_github import REPOSITORY, FakeGitHub
from tests.ci.github_actions import Job, run_action

ACTION = ROOT / "action.yml"
MARKER = "<!-- partnercenter-reconciler:plan -->"


def action() -> dict[str, Any]:
    return dict(yaml.safe_load(ACTION.read_text()))


# --- structure -----------------------------------------------------------------------------

def test_action_yml_is_a_composite_action_with_every_required_key() -> None:
    document = action()
    assert {"name", "description", "inputs", "outputs", "runs"} <= set(document)
    assert document["runs"]["using"] == "composite"
    for step in document["runs"]["steps"]:
        assert step.get("name"), step
        assert ("run" in step) != ("uses" in step), step
        if "run" in step:
            assert step.get("shell") == "bash", f"composite run steps need a shell: {step}"
            # Values reach scripts through env: an expression pasted into a script could inject.
            assert "${{" not in step["run"], step["name"]


def test_every_input_used_is_declared_and_every_declared_input_is_used() -> None:
    document = action()
    text = ACTION.read_text()
    used = set(re.findall(r"\binputs\.([A-Za-z0-9_-]+)", text))
    declared = set(document["inputs"])
    assert used == declared
    for name, spec in document["inputs"].items():
        assert spec.get("description"), name
        assert spec.get("required") or "default" in spec, name
    ids = [step.get("id") for step in document["runs"]["steps"]]
    assert set(re.findall(r"\bsteps\.([A-Za-z0-9_-]+)\.outputs", text)) <= set(ids)
    for name, spec in document["outputs"].items():
        assert spec.get("description"), name
        assert spec["value"].startswith("${{ steps."), name


def test_credentials_are_no_inputs_and_the_scripts_exist() -> None:
    document = action()
    for name in document["inputs"]:
        assert name == "github-token" or not re.search(r"token|secret|password|key", name)
    for script in re.findall(r"\$GITHUB_ACTION_PATH/([\w./-]+)", ACTION.read_text()):
        path = ROOT / script
        assert path.is_file(), script
        assert os.access(path, os.X_OK), f"{script} is not executable"
    for script in (ROOT / "action").glob("*.sh"):
        assert "set -x" not in script.read_text()  # would echo credentials from the env


def test_the_sdist_ships_the_action() -> None:
    import tomllib

    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"][
        "targets"]["sdist"]["include"]
    assert "action.yml" in include
    assert "action" in include


# --- the comment script --------------------------------------------------------------------

def comment(github: FakeGitHub, tmp_path: Path, body: str, *, token: str = TOKEN,
            api: str | None = None) -> subprocess.CompletedProcess[str]:
    body_file = tmp_path / "body.md"
    body_file.write_text(body)
    output = tmp_path / "output"
    env = {"PATH": os.environ["PATH"], "GITHUB_TOKEN": token, "PR_NUMBER": str(PULL_REQUEST),
           "BODY_FILE": str(body_file), "GITHUB_REPOSITORY": REPOSITORY,
           "GITHUB_API_URL": api or github.url, "GITHUB_OUTPUT": str(output)}
    return subprocess.run([sys.executable, str(ROOT / "action" / "comment.py")], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_comment_is_created_then_found_on_a_later_page_and_updated(
        fake_github: FakeGitHub, tmp_path: Path) -> None:
    for n in range(120):
        fake_github.add(PULL_REQUEST, f"discussion {n}")
    fake_github.add(PULL_REQUEST, "An aside that mentions " + MARKER)  # not at the start
    created = comment(fake_github, tmp_path, f"{MARKER}\nfirst plan\n")
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("Plan comment created: https://github.com/")
    for n in range(120, 250):
        fake_github.add(PULL_REQUEST, f"discussion {n}")
    updated = comment(fake_github, tmp_path, f"{MARKER}\nsecond plan\n")
    assert updated.returncode == 0, updated.stderr
    assert "Plan comment updated" in updated.stdout
    mine = [c for c in fake_github.comments[PULL_REQUEST] if c["body"].startswith(MARKER)]
    assert [c["body"] for c in mine] == [f"{MARKER}\nsecond plan\n"]
    assert f"id={mine[0]['id']}" in (tmp_path / "output").read_text()
    pages = [path for method, path in fake_github.requests if method == "GET"]
    assert len(pages) == 2 + 3  # 122 comments: 2 pages; then 252: 3 pages


def test_an_unchanged_comment_is_not_edited(fake_github: FakeGitHub, tmp_path: Path) -> None:
    assert comment(fake_github, tmp_path, f"{MARKER}\nsame\n").returncode == 0
    again = comment(fake_github, tmp_path, f"{MARKER}\nsame\n")
    assert "Plan comment unchanged" in again.stdout
    assert [m for m, _ in fake_github.requests] == ["GET", "POST", "GET"]


@pytest.mark.parametrize(("setup", "expected"), [
    ("refuse", "GitHub answered 403 to POST /issues/7/comments: Resource not accessible by "
               "integration. Give the workflow 'permissions: pull-requests: write'"),
    ("bad-token", "GitHub answered 401 to GET"),
    ("no-marker", "must start with reconciler's marker line"),
    ("plain-http", "GITHUB_API_URL must be an https:// URL, not http://"),
])
def test_comment_failures_are_sentences_that_never_show_the_token(
        fake_github: FakeGitHub, tmp_path: Path, setup: str, expected: str) -> None:
    fake_github.refuse = setup == "refuse"
    body = "no marker\n" if setup == "no-marker" else f"{MARKER}\nplan\n"
    token = "ghs_wrong-token" if setup == "bad-token" else TOKEN
    api = "http://api.github.example" if setup == "plain-http" else None
    result = comment(fake_github, tmp_path, body, token=token, api=api)
    assert result.returncode == 1
    assert result.stderr.startswith("::error title=Plan comment not posted::")
    assert expected in result.stderr
    assert token not in result.stdout + result.stderr
    if setup == "plain-http":
        assert fake_github.requests == []


# --- whole runs ----------------------------------------------------------------------------

def run(job: Job, **inputs: str) -> tuple[str, dict[str, str], str]:
    """Run the action; its outcome, outputs and log (every step's output)."""
    before = len(job.log)
    outcome, outputs = run_action(job, ROOT, inputs)
    log = "\n".join(f"--- {r.name}: {r.outcome}\n{r.stdout}{r.stderr}"
                    for r in job.log[before:])
    return outcome, outputs, log


def plan_comments(github: FakeGitHub) -> list[str]:
    return [c["body"] for c in github.comments.get(PULL_REQUEST, [])
            if c["body"].startswith(MARKER)]


def test_one_sticky_comment_follows_the_pull_request_and_says_why_a_plan_failed(
        github_job: Job, fake_github: FakeGitHub, workspace: Path) -> None:
    outcome, outputs, log = run(github_job, command="plan")
    assert (outcome, outputs["exit-code"]) == ("success", "2"), log
    assert outputs["comment-url"].startswith(f"https://github.com/{REPOSITORY}/pull/7#")
    assert "Plan: 6 to create" in plan_comments(fake_github)[0]

    manifest = workspace / "manifests" / "emea-wave-1.yaml"
    manifest.write_text(manifest.read_text().replace(
        "4c721420-72ad-4708-a0a7-371a2f7b0969", "not-a-guid"))
    outcome, outputs, log = run(github_job, command="plan")
    assert (outcome, outputs["exit-code"]) == ("failure", "1")
    (body,) = plan_comments(fake_github)  # the same comment, replaced
    assert "### reconciler plan failed" in body
    assert "manifests/emea-wave-1.yaml:13:11: spec.customers[0].id" in body
    assert "::error file=manifests/emea-wave-1.yaml,line=13" in log  # annotated on the line
    assert "reconciler plan exited with code 1" in log
    assert "### reconciler plan failed" in Path(github_job.env["GITHUB_STEP_SUMMARY"]).read_text()
    assert outputs["plan-file"] == ""  # no plan was made, so none is offered
    assert TOKEN not in log


def test_outside_a_pull_request_or_with_comment_off_nothing_is_posted(
        github_job: Job, fake_github: FakeGitHub) -> None:
    github_job.github = {**github_job.github, "event_name": "push", "event": {}}
    outcome, outputs, log = run(github_job, command="plan")
    assert (outcome, outputs["exit-code"]) == ("success", "2"), log
    assert outputs["artifact-url"].endswith("/artifacts/1")
    github_job.github["event"] = {"pull_request": {"number": PULL_REQUEST}}
    outcome, _, log = run(github_job, command="plan", comment="false")
    assert outcome == "success", log
    assert fake_github.requests == []


def test_apply_then_drift_with_extra_arguments(github_job: Job, workspace: Path) -> None:
    outcome, outputs, log = run(github_job, command="apply", args="--max-upgrades 2")
    assert (outcome, outputs["exit-code"]) == ("failure", "1")
    assert "more than --max-upgrades 2. Nothing was done" in log
    assert not (workspace / ".reconciler" / "state.json").exists()
    outcome, outputs, log = run(github_job, command="apply", **{"lock-timeout": "1m"})
    assert (outcome, outputs["exit-code"]) == ("success", "0"), log
    assert Path(outputs["plan-file"]).name == "plan.json"
    outcome, outputs, log = run(github_job, command="drift", args="--no-lock")
    assert (outcome, outputs["exit-code"]) == ("success", "0"), log
    assert Path(outputs["junit-file"]).exists()
    assert Path(outputs["markdown-file"]).read_text().startswith(
        "<!-- partnercenter-reconciler:drift -->")


def test_an_unknown_command_fails_the_action(github_job: Job) -> None:
    outcome, outputs, log = run(github_job, command="destroy")
    assert outcome == "failure"
    assert "The input 'command' must be plan, apply or drift." in log
    assert outputs["exit-code"] == ""


def test_a_plan_too_long_for_a_comment_links_to_the_artifact_and_the_log_keeps_it_all(
        github_job: Job, fake_github: FakeGitHub, workspace: Path) -> None:
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(1, 401)]
    lines = ["apiVersion: reconciler/v1", "kind: ProductUpgrades", "metadata:", "  name: big",
             "spec:", "  productFamily: Azure", "  customers:"]
    for n, customer in enumerate(ids):
        lines += [f"    - id: {customer}", f"      name: Customer {n} {'with a long name ' * 7}"]
    (workspace / "manifests" / "big.yaml").write_text("\n".join(lines) + "\n")
    outcome, outputs, log = run(github_job, command="plan")
    assert (outcome, outputs["exit-code"]) == ("success", "2"), log[-3000:]
    (body,) = plan_comments(fake_github)
    assert len(body) < 65_536
    assert "rows left out to keep this comment under GitHub's size limit; see " \
        f"[the full plan]({outputs['artifact-url']})" in body
    assert all(customer in log for customer in ids)  # the job log has the whole text plan
    text = (workspace / "artifacts" / "reconciler-plan" / "plan.txt").read_text()
    assert all(customer in text for customer in ids)
