"""The example pipelines in examples/ci cannot rot: every step that calls ``reconciler`` is run.

Each pipeline's YAML is parsed; the steps whose script (GitHub ``run:``, Azure ``script:``,
``bash:`` or an AzureCLI@2 ``inlineScript``) invokes ``reconciler`` are executed in order with
bash, in a copy of the repository's manifests and the example ``reconciler.yaml``, with the
environment the pipeline gives them. Two documented substitutions make them run here:
``RECONCILER_SIMULATE=1`` (the embedded simulator instead of Partner Center, so no credentials)
and ``RECONCILER_STATE`` (a local state file instead of the example's Azure Blob container).
Steps that only talk to GitHub, Azure DevOps or Key Vault are not run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples" / "ci"
CALLS_RECONCILER = re.compile(r"(?:^|[\s;&|(`])reconciler\s", re.M)
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
class Runner:
    """Runs pipeline steps as the CI system would, against the simulator."""

    root: Path
    system: str
    env: dict[str, str]

    def run_pipeline(self, name: str) -> list[subprocess.CompletedProcess[str]]:
        found = reconciler_steps(EXAMPLES / self.system / name)
        assert found, f"{self.system}/{name} has no step that calls reconciler"
        results = []
        for step in found:
            shell = ["bash", "--noprofile", "--norc"]
            if self.system == "github":  # GitHub's default shell for run: steps
                shell += ["-eo", "pipefail"]
            result = subprocess.run([*shell, "-c", step.script], cwd=self.root,
                                    env={**self.env, **step.env}, capture_output=True,
                                    text=True, timeout=180, check=False)
            assert result.returncode == 0, (self.system, name, step.name, result.stdout,
                                            result.stderr)
            results.append(result)
        return results

    def exit_code(self, results: list[subprocess.CompletedProcess[str]]) -> str:
        """The reconciler exit code the last step handed to later steps."""
        if self.system == "github":
            outputs = (self.root / "github-output").read_text().splitlines()
            return [line for line in outputs if line.startswith("exit-code=")][-1][10:]
        found = re.findall(r"##vso\[task\.setvariable variable=exitCode;isOutput=true\](\d)",
                           results[-1].stdout)
        return str(found[-1])


@pytest.fixture(params=["github", "azure-pipelines"])
def runner(request: pytest.FixtureRequest, tmp_path: Path) -> Runner:
    shutil.copytree(ROOT / "manifests", tmp_path / "manifests")
    shutil.copy(EXAMPLES / "reconciler.yaml", tmp_path / "reconciler.yaml")
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("RECONCILER_", "PARTNER_CENTER_", "GITHUB_", "TF_BUILD",
                                 "AGENT_", "RUNNER_"))}
    env = {**base, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{base.get('PATH', '')}",
           "RECONCILER_SIMULATE": "1", "RECONCILER_STATE": ".reconciler/state.json",
           "RECONCILER_SIMULATE_COMPLETION": "0", "NO_COLOR": "1"}
    if request.param == "github":
        env.update({"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp_path / "github-output"),
                    "GITHUB_ENV": str(tmp_path / "github-env"), "RUNNER_TEMP": str(tmp_path),
                    "GITHUB_STEP_SUMMARY": str(tmp_path / "step-summary.md")})
    else:
        env.update({"TF_BUILD": "True", "AGENT_TEMPDIRECTORY": str(tmp_path)})
    return Runner(tmp_path, str(request.param), env)


def test_every_example_pipeline_runs_against_the_simulator(runner: Runner) -> None:
    plan = runner.run_pipeline("plan.yml")
    assert runner.exit_code(plan) == "2"  # changes: every example customer is to be upgraded
    assert (runner.root / "plan.md").read_text().startswith(
        "<!-- partnercenter-reconciler:plan -->")

    runner.run_pipeline("apply.yml")
    assert (runner.root / ".reconciler" / "state.json").exists()

    clean = runner.run_pipeline("drift.yml")
    assert runner.exit_code(clean) == "0"
    assert (runner.root / "reports" / "drift.xml").exists()

    # Forget one customer behind the tool's back: its upgrade is now out of band, i.e. drift,
    # which the pipeline must hand on (exit code 2) without failing the drift step itself.
    customer = yaml.safe_load((ROOT / "manifests" / "emea-wave-1.yaml").read_text())
    first = customer["spec"]["customers"][0]["id"]
    removed = subprocess.run(["reconciler", "state", "rm", first], cwd=runner.root,
                             env=runner.env, capture_output=True, text=True, check=False)
    assert removed.returncode == 0, removed.stderr
    drifted = runner.run_pipeline("drift.yml")
    assert runner.exit_code(drifted) == "2"
    assert first in (runner.root / "drift.md").read_text()
    if runner.system == "github":
        assert "<!-- partnercenter-reconciler:drift -->" in \
            (runner.root / "step-summary.md").read_text()
    else:
        assert "##vso[task.uploadsummary]" in drifted[-1].stderr


def test_the_examples_are_complete() -> None:
    for system in ("github", "azure-pipelines"):
        names = sorted(p.name for p in (EXAMPLES / system).glob("*.yml"))
        assert names == ["apply.yml", "drift.yml", "plan.yml"]
        for name in names:
            assert reconciler_steps(EXAMPLES / system / name), (system, name)
    github_plan = (EXAMPLES / "github" / "plan.yml").read_text()
    assert "<!-- partnercenter-reconciler:plan -->" in github_plan  # updated in place
    apply = yaml.safe_load((EXAMPLES / "github" / "apply.yml").read_text())
    assert apply["concurrency"] == {"group": "reconciler-apply", "cancel-in-progress": False}
