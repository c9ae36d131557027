"""The example pipelines in examples/ci cannot rot: every step that calls ``reconciler`` is run.

GitHub workflows run through a small runner (``tests/ci/github_actions.py``): their steps that
call ``reconciler`` and every step of this repository's action, which they use. Azure
Pipelines files are parsed here: the steps whose script (``script:``, ``bash:`` or an
AzureCLI@2 ``inlineScript``) invokes ``reconciler`` are executed in order with bash, with the
environment the pipeline gives them. Both run in a copy of the repository's manifests and the
example ``reconciler.yaml``, with the substitutions ``tests/ci/conftest.py`` documents
(the simulator instead of Partner Center, a local state file instead of Azure Blob Storage).
Steps that only talk to GitHub, Azure DevOps or Key Vault are not run.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.ci.conftest import EXAMPLES, PULL_REQUEST, ROOT, base_env
from tests.ci.fake_github import FakeGitHub
from tests.ci.github_actions import CALLS_RECONCILER, Job, run_job

#: Values the CI system fills in at run time (secrets, variables): not available here.
EXPRESSION = re.compile(r"\$\{\{|\$\(")


@dataclass(frozen=True)
class Step:
    name: str
    script: str
    env: dict[str, str]


def _literal_env(values: object) -> dict[str, str]:
    if not isinstance(values, Mapping):
        return {}
    return {str(k): str(v) for k, v in values.items() if not EXPRESSION.search(str(v))}


def _script(node: Mapping[str, Any]) -> str | None:
    for key in ("run", "script", "bash"):
        if isinstance(node.get(key), str):
            return str(node[key])
    inputs = node.get("inputs")
    if isinstance(inputs, Mapping) and isinstance(inputs.get("inlineScript"), str):
        return str(inputs["inlineScript"])
    return None


def steps(node: object, env: dict[str, str] | None = None) -> Iterator[Step]:
    """Every step that has a script, in document order, with the environment it inherits."""
    env = dict(env or {})
    if isinstance(node, list):
        for item in node:
            yield from steps(item, env)
        return
    if not isinstance(node, Mapping):
        return
    scope = {**env, **_literal_env(node.get("variables")), **_literal_env(node.get("env"))}
    script = _script(node)
    if script is not None:
        name = str(node.get("name") or node.get("displayName") or script.splitlines()[0])
        yield Step(name, script, scope)
        return
    for key, value in node.items():
        if key not in ("env", "variables"):
            yield from steps(value, scope)


def reconciler_steps(path: Path) -> list[Step]:
    document = yaml.safe_load(path.read_text())
    return [s for s in steps(document) if CALLS_RECONCILER.search(s.script)]


@dataclass
class AzureRunner:
    """Runs Azure Pipelines steps as the agent would, against the simulator."""

    root: Path
    env: dict[str, str]

    def run_pipeline(self, name: str) -> list[subprocess.CompletedProcess[str]]:
        found = reconciler_steps(EXAMPLES / "azure-pipelines" / name)
        assert found, f"azure-pipelines/{name} has no step that calls reconciler"
        results = []
        for step in found:
            result = subprocess.run(["bash", "--noprofile", "--norc", "-c", step.script],
                                    cwd=self.root, env={**self.env, **step.env},
                                    capture_output=True, text=True, timeout=180, check=False)
            assert result.returncode == 0, (name, step.name, result.stdout, result.stderr)
            results.append(result)
        return results

    @staticmethod
    def exit_code(results: list[subprocess.CompletedProcess[str]]) -> str:
        """The reconciler exit code the last step that set one handed to later steps."""
        found = re.findall(r"##vso\[task\.setvariable variable=exitCode;isOutput=true\](\d)",
                           "".join(result.stdout for result in results))
        return str(found[-1])


def forget_first_customer(root: Path, env: dict[str, str]) -> str:
    """Forget one customer behind the tool's back: its upgrade is now out of band, i.e. drift,
    which a pipeline must hand on (exit code 2) without failing its drift step."""
    customers = yaml.safe_load((ROOT / "manifests" / "emea-wave-1.yaml").read_text())
    first = str(customers["spec"]["customers"][0]["id"])
    removed = subprocess.run(["reconciler", "state", "rm", first], cwd=root, env=env,
                             capture_output=True, text=True, check=False)
    assert removed.returncode == 0, removed.stderr
    return first


def test_the_azure_pipelines_run_against_the_simulator(workspace: Path) -> None:
    env = {**base_env(), "TF_BUILD": "True", "AGENT_TEMPDIRECTORY": str(workspace)}
    runner = AzureRunner(workspace, env)
    plan = runner.run_pipeline("plan.yml")
    assert runner.exit_code(plan) == "2"  # changes: every example customer is to be upgraded
    assert (workspace / "plan.md").read_text().startswith(
        "<!-- partnercenter-reconciler:plan -->")

    runner.run_pipeline("apply.yml")
    assert (workspace / ".reconciler" / "state.json").exists()

    clean = runner.run_pipeline("drift.yml")
    assert runner.exit_code(clean) == "0"
    assert (workspace / "reports" / "drift.xml").exists()

    first = forget_first_customer(workspace, env)
    drifted = runner.run_pipeline("drift.yml")
    assert runner.exit_code(drifted) == "2"
    assert first in (workspace / "drift.md").read_text()
    summaries = "".join(result.stderr for result in drifted)
    assert f"##vso[task.uploadsummary]{workspace / 'reconciler-drift.md'}" in summaries
    assert f"##vso[task.uploadsummary]{workspace / 'reconciler-report.md'}" in summaries
    assert "Migration progress" in (workspace / "reconciler-report.md").read_text()
    assert "<svg" in (workspace / "reports" / "report.html").read_text()


def run_workflow(job: Job, name: str) -> tuple[dict[str, dict[str, str]], str]:
    """Run the one job of examples/ci/github/NAME; its steps' outputs and its log."""
    before = len(job.log)
    workflow = EXAMPLES / "github" / name
    (job_name,) = yaml.safe_load(workflow.read_text())["jobs"]
    scope = run_job(job, workflow, job_name)
    log = "\n".join(f"--- {r.name}: {r.outcome}\n{r.stdout}{r.stderr}"
                    for r in job.log[before:])
    assert not scope.failed, log
    return {step: value["outputs"] for step, value in scope.steps.items()}, log


def test_the_github_workflows_run_against_the_simulator(github_job: Job, workspace: Path,
                                                        fake_github: FakeGitHub) -> None:
    fake_github.add(PULL_REQUEST, "Looks good to me.")
    outputs, log = run_workflow(github_job, "plan.yml")
    assert outputs["plan"]["exit-code"] == "2"  # changes: every example customer is new
    assert "Plan: 6 to create" in log  # the job log keeps the full text plan
    comments = [c["body"] for c in fake_github.comments[PULL_REQUEST]]
    assert len(comments) == 2
    assert comments[1].startswith("<!-- partnercenter-reconciler:plan -->")
    url = "https://github.com/contoso/partner-manifests/actions/runs/4242/artifacts/1"
    assert f"See [the full plan]({url})." in comments[1]
    artifact = workspace / "artifacts" / "reconciler-plan"
    assert sorted(p.name for p in artifact.iterdir()) == ["plan.json", "plan.md", "plan.txt"]

    outputs, log = run_workflow(github_job, "apply.yml")
    assert (workspace / ".reconciler" / "state.json").exists()
    assert "Apply complete" in log
    assert (workspace / "artifacts" / "reconciler-apply" / "plan.json").exists()

    outputs, _ = run_workflow(github_job, "drift.yml")
    assert outputs["drift"]["exit-code"] == "0"
    assert Path(outputs["drift"]["junit-file"]).exists()

    first = forget_first_customer(workspace, github_job.env)
    outputs, _ = run_workflow(github_job, "drift.yml")
    assert outputs["drift"]["exit-code"] == "2"
    assert first in Path(outputs["drift"]["markdown-file"]).read_text()
    summary = Path(github_job.env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "<!-- partnercenter-reconciler:drift -->" in summary
    assert "## Migration progress" in summary  # the report's numbers, as the job summary
    report = workspace / "artifacts" / "reconciler-report" / "report.html"
    assert "<svg" in report.read_text()


def test_the_examples_are_complete() -> None:
    for system in ("github", "azure-pipelines"):
        names = sorted(p.name for p in (EXAMPLES / system).glob("*.yml"))
        assert names == ["apply.yml", "drift.yml", "plan.yml"]
    for name in ("apply.yml", "drift.yml", "plan.yml"):
        assert reconciler_steps(EXAMPLES / "azure-pipelines" / name), name
        workflow = yaml.safe_load((EXAMPLES / "github" / name).read_text())
        uses = [step.get("uses", "") for job in workflow["jobs"].values()
                for step in job["steps"]]
        assert "partnercenter-reconciler/partnercenter-reconciler@v1" in uses, name
    apply = yaml.safe_load((EXAMPLES / "github" / "apply.yml").read_text())
    assert apply["concurrency"] == {"group": "reconciler-apply", "cancel-in-progress": False}
