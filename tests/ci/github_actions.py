"""Just enough of a GitHub Actions runner to execute the example workflows and action.yml here.

* Expressions: the contexts (``github``, ``inputs``, ``steps``, ``env``, ``vars``,
  ``secrets``, ``runner``), literals, ``.``/``[]`` access, ``!``, ``==``/``!=`` with GitHub's
  loose, case-insensitive equality, ``&&``/``||`` returning an operand, and the functions
  ``always() success() failure() cancelled() hashFiles() format() contains() startsWith()``.
* ``if:`` is ``success() && (…)`` unless it calls a status function, as on GitHub.
* ``run:`` steps run with bash as GitHub runs them (``bash -e`` by default, ``bash --noprofile
  --norc -eo pipefail`` for ``shell: bash``), with ``GITHUB_OUTPUT``, ``GITHUB_ENV``,
  ``GITHUB_PATH`` and ``GITHUB_STEP_SUMMARY`` honoured.
* ``uses:`` of this repository's action (``./`` or ``partnercenter-reconciler/…@ref``) runs
  ``action.yml`` as a composite action; ``actions/upload-artifact`` is a fake that copies the
  files into ``artifacts/NAME`` and answers an artifact URL. In a composite action every step
  must run; in a workflow, steps that need GitHub or Azure (other actions, scripts that do not
  call ``reconciler``) are skipped, since they cannot run here.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]
OWN_ACTION = re.compile(r"^(?:\./?|partnercenter-reconciler/partnercenter-reconciler@.+)$")
CALLS_RECONCILER = re.compile(r"(?:^|[\s;&|(`])reconciler\s", re.M)
STATUS_FUNCTIONS = re.compile(r"\b(?:always|success|failure|cancelled)\s*\(")
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+(?:\.\d+)?)"
                   r"|(?P<op>==|!=|&&|\|\||!|\(|\)|,|\.|\[|\]|\*)"
                   r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))")


# --- expressions ---------------------------------------------------------------------------

def _number(value: Any) -> float:
    if value is None or value is False:
        return 0.0
    if value is True:
        return 1.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip() or 0)
        except ValueError:
            return math.nan
    return math.nan


def loose_equal(a: Any, b: Any) -> bool:
    """GitHub's ``==``: strings case-insensitively, mixed types as numbers."""
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return a is b
    return _number(a) == _number(b)


def truthy(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (None, False, 0, "") and value != 0.0


def as_text(value: Any) -> str:
    """How ``${{ }}`` puts a value into a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


@dataclass
class Parser:
    """A recursive-descent evaluator over the tokens of one expression."""

    tokens: list[tuple[str, str]]
    context: Mapping[str, Any]
    functions: Mapping[str, Callable[..., Any]]
    at: int = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        assert value is None or token[1] == value, (value, token, self.tokens)
        self.at += 1
        return token

    def expression(self) -> Any:
        value = self.conjunction()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.conjunction()
            value = value if truthy(value) else right
        return value

    def conjunction(self) -> Any:
        value = self.comparison()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.comparison()
            value = right if truthy(value) else value
        return value

    def comparison(self) -> Any:
        value = self.unary()
        if self.peek() in (("op", "=="), ("op", "!=")):
            op = self.take()[1]
            equal = loose_equal(value, self.unary())
            return equal if op == "==" else not equal
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.postfix()

    def postfix(self) -> Any:
        value = self.primary()
        while self.peek() in (("op", "."), ("op", "[")):
            if self.take()[1] == ".":
                key: Any = self.take()[1]
            else:
                key = self.expression()
                self.take("]")
            value = _index(value, key)
        return value

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text)
        if text == "(":
            value = self.expression()
            self.take(")")
            return value
        assert kind == "name", (kind, text)
        if self.peek() == ("op", "("):
            self.take()
            args = []
            while self.peek() != ("op", ")"):
                args.append(self.expression())
                if self.peek() == ("op", ","):
                    self.take()
            self.take(")")
            return self.functions[text.casefold()](*args)
        literals = {"true": True, "false": False, "null": None}
        if text in literals:
            return literals[text]
        return self.context.get(text)


def _index(value: Any, key: Any) -> Any:
    if isinstance(value, dict):
        for name, item in value.items():
            if str(name).casefold() == str(key).casefold():
                return item
    return None


def evaluate(text: str, context: Mapping[str, Any],
             functions: Mapping[str, Callable[..., Any]]) -> Any:
    tokens = []
    position = 0
    while position < len(text.rstrip()):
        match = TOKEN.match(text, position)
        assert match is not None, text[position:]
        assert match.end() > position, text[position:]
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    parser = Parser(tokens, context, functions)
    value = parser.expression()
    assert parser.peek() == ("end", ""), (text, parser.peek())
    return value


# --- running -------------------------------------------------------------------------------

@dataclass
class StepRun:
    name: str
    outcome: str  # success, failure, skipped, not-run-here
    stdout: str = ""
    stderr: str = ""


@dataclass
class Job:
    """One job's workspace and environment, shared by its steps (and a composite's)."""

    workspace: Path
    env: dict[str, str]
    github: dict[str, Any]
    vars: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    input_overrides: dict[str, str] = field(default_factory=dict)
    log: list[StepRun] = field(default_factory=list)
    artifacts: int = 0

    @property
    def temp(self) -> Path:
        return Path(self.env["RUNNER_TEMP"])

    def functions(self, failed: Callable[[], bool]) -> dict[str, Callable[..., Any]]:
        def hash_files(*patterns: str) -> str:
            found = [p for pattern in patterns for p in self.workspace.glob(pattern)]
            return "hash" if found else ""

        return {
            "always": lambda: True, "success": lambda: not failed(),
            "failure": failed, "cancelled": lambda: False, "hashfiles": hash_files,
            "format": lambda fmt, *a: re.sub(r"\{(\d+)\}", lambda m: as_text(a[int(m[1])]), fmt),
            "contains": lambda a, b: (str(b).casefold() in str(a).casefold())
            if isinstance(a, str) else any(loose_equal(x, b) for x in a or []),
            "startswith": lambda a, b: str(a).casefold().startswith(str(b).casefold()),
        }

    def _files(self) -> tuple[Path, Path, Path]:
        paths = (self.temp / "_output", self.temp / "_env", self.temp / "_path")
        for path in paths:
            path.write_text("")
        return paths

    def run_script(self, name: str, script: str, shell: str | None, env: Mapping[str, str],
                   cwd: Path) -> tuple[StepRun, dict[str, str]]:
        """Run one ``run:`` step; its outputs; GITHUB_ENV/GITHUB_PATH applied to the job."""
        output, env_file, path_file = self._files()
        argv = ["bash", "--noprofile", "--norc", "-eo", "pipefail"] if shell == "bash" \
            else ["bash", "-e"]
        assert shell in (None, "bash"), shell
        full = {**self.env, **env, "GITHUB_OUTPUT": str(output), "GITHUB_ENV": str(env_file),
                "GITHUB_PATH": str(path_file)}
        result = subprocess.run([*argv, "-c", script], cwd=cwd, env=full, capture_output=True,
                                text=True, timeout=300, check=False, stdin=subprocess.DEVNULL)
        self.env.update(parse_key_values(env_file.read_text()))
        for line in path_file.read_text().splitlines():
            self.env["PATH"] = f"{line}:{self.env['PATH']}"
        run = StepRun(name, "success" if result.returncode == 0 else "failure", result.stdout,
                      result.stderr)
        return run, parse_key_values(output.read_text())

    def upload_artifact(self, inputs: Mapping[str, str]) -> dict[str, str]:
        """The fake ``actions/upload-artifact``: copy, and answer with an id and a URL."""
        self.artifacts += 1
        target = self.workspace / "artifacts" / inputs["name"]
        if target.exists():
            assert inputs.get("overwrite") == "true", f"artifact {inputs['name']} exists"
            shutil.rmtree(target)
        for line in inputs["path"].splitlines():
            source = self.workspace / line.strip()  # relative paths: to the workspace
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            elif source.exists():
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, target)
        url = (f"{self.github['server_url']}/{self.github['repository']}/actions/runs/"
               f"{self.github['run_id']}/artifacts/{self.artifacts}")
        return {"artifact-id": str(self.artifacts), "artifact-url": url}


def parse_key_values(text: str) -> dict[str, str]:
    """``KEY=VALUE`` lines and ``KEY<<DELIMITER`` blocks (GITHUB_OUTPUT, GITHUB_ENV)."""
    found: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            block = []
            for inner in lines:
                if inner == delimiter:
                    break
                block.append(inner)
            found[key] = "\n".join(block)
        elif "=" in line:
            key, value = line.split("=", 1)
            found[key] = value
    return found


@dataclass
class Scope:
    """Steps of one workflow job or one composite action: their outputs and status."""

    job: Job
    inputs: dict[str, str] = field(default_factory=dict)
    action_path: Path | None = None
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    failed: bool = False

    def context(self) -> dict[str, Any]:
        github = dict(self.job.github)
        if self.action_path is not None:
            github["action_path"] = str(self.action_path)
        return {"github": github, "inputs": self.inputs, "steps": self.steps,
                "env": {**self.job.env, **self.env}, "vars": self.job.vars,
                "secrets": self.job.secrets, "runner": {"temp": str(self.job.temp),
                                                        "os": "Linux"}}

    def value(self, text: str) -> Any:
        return evaluate(text, self.context(), self.job.functions(lambda: self.failed))

    def interpolate(self, text: object) -> str:
        """A YAML value as a string, its ``${{ }}`` evaluated (``true`` stays ``true``)."""
        return EXPRESSION.sub(lambda m: as_text(self.value(m[1])), as_text(text))

    def condition(self, step: Mapping[str, Any]) -> bool:
        text = str(step.get("if", "success()")).strip()
        match = re.fullmatch(r"\$\{\{(.*)\}\}", text, re.S)
        text = match[1] if match else text
        if not STATUS_FUNCTIONS.search(text):
            text = f"success() && ({text})"
        return truthy(self.value(text))

    def run_steps(self, steps: list[Mapping[str, Any]], *, every_step: bool) -> None:
        for step in steps:
            self.run_step(step, every_step=every_step)

    def run_step(self, step: Mapping[str, Any], *, every_step: bool) -> None:
        name = self.interpolate(step.get("name") or step.get("uses") or step.get("run"))
        outputs: dict[str, str] = {}
        if not self.condition(step):
            self.job.log.append(StepRun(name, "skipped"))
            outcome = "skipped"
        elif "uses" in step:
            outcome, outputs = self._uses(name, str(step["uses"]), step, every_step)
        elif not every_step and not CALLS_RECONCILER.search(str(step["run"])):
            self.job.log.append(StepRun(name, "not-run-here"))
            outcome = "skipped"
        else:
            env = {k: self.interpolate(v) for k, v in (step.get("env") or {}).items()}
            cwd = self.job.workspace / self.interpolate(step.get("working-directory", "."))
            if self.action_path is not None:
                env["GITHUB_ACTION_PATH"] = str(self.action_path)
            run, outputs = self.job.run_script(name, self.interpolate(step["run"]),
                                               step.get("shell"), {**self.env, **env}, cwd)
            self.job.log.append(run)
            outcome = run.outcome
        if outcome == "failure" and not step.get("continue-on-error"):
            self.failed = True
        if "id" in step:
            self.steps[str(step["id"])] = {"outputs": outputs, "outcome": outcome,
                                           "conclusion": outcome}

    def _uses(self, name: str, uses: str, step: Mapping[str, Any],
              every_step: bool) -> tuple[str, dict[str, str]]:
        given = {k: self.interpolate(v) for k, v in (step.get("with") or {}).items()}
        if OWN_ACTION.match(uses):
            env = {k: self.interpolate(v) for k, v in (step.get("env") or {}).items()}
            return run_action(self.job, ROOT, given, {**self.env, **env})
        if uses.startswith("actions/upload-artifact@"):
            self.job.log.append(StepRun(name, "success"))
            return "success", self.job.upload_artifact(given)
        assert not every_step, f"a composite step uses {uses}, which cannot run here"
        self.job.log.append(StepRun(name, "not-run-here"))
        return "skipped", {}


def run_action(job: Job, path: Path, given: Mapping[str, str],
               env: Mapping[str, str] | None = None) -> tuple[str, dict[str, str]]:
    """Run ``path/action.yml`` as GitHub runs a composite action, in the caller's environment
    ``env``; its outcome and outputs."""
    action = yaml.safe_load((path / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    scope = Scope(job, action_path=path, env=dict(env or {}))
    declared = action.get("inputs") or {}
    unknown = set(given) - set(declared)
    assert not unknown, f"inputs not declared in action.yml: {sorted(unknown)}"
    for name, spec in declared.items():
        default = scope.interpolate(spec.get("default", ""))
        scope.inputs[name] = {**given, **job.input_overrides}.get(name, default)
        assert scope.inputs[name] or not spec.get("required"), f"input {name} is required"
    scope.run_steps(action["runs"]["steps"], every_step=True)
    outputs = {name: scope.interpolate(spec["value"])
               for name, spec in (action.get("outputs") or {}).items()}
    return ("failure" if scope.failed else "success"), outputs


def run_job(job: Job, workflow: Path, name: str) -> Scope:
    """Run one job of a workflow file; the scope holds its steps' outputs and status."""
    document = yaml.safe_load(workflow.read_text())
    spec = document["jobs"][name]
    scope = Scope(job)
    for level in (document.get("env") or {}, spec.get("env") or {}):
        scope.env.update({k: scope.interpolate(v) for k, v in level.items()})
    scope.run_steps(spec["steps"], every_step=False)
    return scope
