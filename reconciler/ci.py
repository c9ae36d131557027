"""CI integration: GitHub Actions workflow commands and Azure DevOps logging commands.

Detection and every line emitted are pure functions of an environment mapping and values, so
tests check the exact output; only :func:`publish_summary` touches files (the step summary).

* GitHub Actions (``GITHUB_ACTIONS=true``): ``::error file=…,line=…,col=…::message`` annotations
  and a markdown summary appended to the file named by ``$GITHUB_STEP_SUMMARY``.
* Azure DevOps (``TF_BUILD=True``): ``##vso[task.logissue type=error;…]message`` and a markdown
  file attached to the run with ``##vso[task.uploadsummary]path``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from reconciler.render.safe import defuse_ci
from reconciler.words import plural

#: Annotations beyond this many are summarised in one note (GitHub shows at most 10 per step
#: and 50 per job anyway; a wall of them hides the first, most useful ones).
MAX_ANNOTATIONS = 50
#: Set to 1/true to turn CI integration off without a flag.
DISABLE_ENV = "RECONCILER_NO_CI_INTEGRATION"

_PROBLEM = re.compile(r"^(?P<path>[^\n]+?):(?P<line>\d+):(?P<col>\d+): (?P<message>.*)$", re.S)


class CiSystem(StrEnum):
    """The CI systems whose logging conventions we speak."""

    GITHUB = "github"
    AZURE = "azure"


@dataclass(frozen=True, slots=True)
class Annotation:
    """One error to show on the run page (and, with a file, next to the line in review)."""

    message: str
    path: str | None = None
    line: int | None = None
    column: int | None = None
    title: str | None = None
    #: ``error`` or ``warning`` (both systems know these two).
    level: str = "error"


def detect(env: Mapping[str, str]) -> CiSystem | None:
    """The CI system this process runs in, or None (also when turned off by the environment)."""
    if env.get(DISABLE_ENV, "").strip().lower() in {"1", "true", "yes"}:
        return None
    if env.get("GITHUB_ACTIONS", "").lower() == "true":
        return CiSystem.GITHUB
    if env.get("TF_BUILD", "").lower() == "true":
        return CiSystem.AZURE
    return None


def problem_annotation(problem: str, title: str = "Invalid manifest") -> Annotation:
    """An annotation from a ``path:line:column: message`` problem (or any other text)."""
    match = _PROBLEM.match(problem)
    if match is None:
        return Annotation(problem, title=title)
    return Annotation(match["message"], match["path"], int(match["line"]), int(match["col"]),
                      title)


def error_lines(system: CiSystem, annotations: Sequence[Annotation],
                limit: int = MAX_ANNOTATIONS) -> list[str]:
    """The logging commands for ``annotations``: at most ``limit``, then one overflow note."""
    render = _github if system is CiSystem.GITHUB else _azure
    lines = [render(a) for a in annotations[:limit]]
    extra = len(annotations) - limit
    if extra > 0:
        lines.append(render(Annotation(f"Not annotated: {plural(extra, 'more error')}; see "
                                       "the job log for the full list.", title="More errors")))
    return lines


def warning_lines(system: CiSystem, annotations: Sequence[Annotation],
                  limit: int = MAX_ANNOTATIONS) -> list[str]:
    """Warnings for ``annotations`` (at most ``limit``, then a count); on Azure Pipelines the
    step also ends "succeeded with issues", so a run with warnings is not shown all green."""
    if not annotations:
        return []
    render = _github if system is CiSystem.GITHUB else _azure
    lines = [render(a) for a in annotations[:limit]]
    extra = len(annotations) - limit
    if extra > 0:
        lines.append(render(Annotation(f"Not annotated: {plural(extra, 'more warning')}; see "
                                       "the job log for the full list.", title="More warnings",
                                       level="warning")))
    if system is CiSystem.AZURE:
        lines.append("##vso[task.complete result=SucceededWithIssues;]")
    return lines


def blocked_annotation(customer_id: str, name: str | None, reason: str,
                       source: str | None) -> Annotation:
    """A warning for a customer Partner Center will not upgrade now, at its manifest line."""
    path, _, line = (source or "").rpartition(":")
    who = f"{customer_id} ({name})" if name else customer_id
    return Annotation(f"Customer {who} is blocked: {reason}", path or None,
                      int(line) if path and line.isdigit() else None, None, "Blocked customer",
                      "warning")


def github_escape_data(text: str) -> str:
    """Escape a workflow command's message (as @actions/core does)."""
    return defuse_ci(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_escape_property(text: str) -> str:
    """Escape a workflow command property value: also ``:`` and ``,``, which delimit them."""
    return github_escape_data(text).replace(":", "%3A").replace(",", "%2C")


def azure_escape(text: str) -> str:
    """Escape a logging command value or message as the Azure Pipelines agent expects."""
    return (defuse_ci(text).replace("%", "%AZP25").replace("\r", "%0D").replace("\n", "%0A")
            .replace("]", "%5D").replace(";", "%3B"))


def _github(a: Annotation) -> str:
    props = [("file", a.path), ("line", _opt(a.line)), ("col", _opt(a.column)),
             ("title", a.title)]
    given = ",".join(f"{k}={github_escape_property(v)}" for k, v in props if v is not None)
    return f"::{a.level} {given}::{github_escape_data(a.message)}" if given \
        else f"::{a.level}::{github_escape_data(a.message)}"


def _azure(a: Annotation) -> str:
    props = [("type", a.level), ("sourcepath", a.path), ("linenumber", _opt(a.line)),
             ("columnnumber", _opt(a.column))]
    given = ";".join(f"{k}={azure_escape(v)}" for k, v in props if v is not None)
    message = f"{a.title}: {a.message}" if a.title else a.message
    return f"##vso[task.logissue {given}]{azure_escape(message)}"


def _opt(value: int | None) -> str | None:
    return None if value is None else str(value)


def publish_summary(system: CiSystem, env: Mapping[str, str], markdown: str,
                    name: str) -> list[str]:
    """Attach ``markdown`` to the run; return the logging commands to print for that.

    GitHub: appended to ``$GITHUB_STEP_SUMMARY`` (nothing to print; no file, no summary).
    Azure DevOps: written to ``<agent temp dir>/reconciler-<name>.md`` and uploaded by the
    returned ``##vso[task.uploadsummary]`` command.
    """
    if system is CiSystem.GITHUB:
        target = env.get("GITHUB_STEP_SUMMARY")
        if target:
            with open(target, "a", encoding="utf-8") as summary:
                summary.write(markdown if markdown.endswith("\n") else markdown + "\n")
        return []
    folder = Path(env.get("AGENT_TEMPDIRECTORY") or env.get("RUNNER_TEMP") or ".")
    path = (folder / f"reconciler-{name}.md").resolve()
    path.write_text(markdown, encoding="utf-8")
    return [f"##vso[task.uploadsummary]{azure_escape(str(path))}"]
