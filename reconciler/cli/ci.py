"""The CLI side of CI integration: the ``--no-ci-integration`` flag and printing the commands.

Logging commands go to stderr: both GitHub's runner and the Azure Pipelines agent read them
there, and stdout stays clean for ``--format json`` redirected to a file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import click

from reconciler import ci
from reconciler.errors import ManifestError
from reconciler.plan import Action, Plan
from reconciler.settings import Settings

F = TypeVar("F", bound=Callable[..., object])


def no_ci_option(func: F) -> F:
    """``--no-ci-integration`` on a command (the root group accepts it too)."""
    return click.option("--no-ci-integration", "no_ci", is_flag=True, default=False,
                        help="No GitHub Actions / Azure DevOps annotations or summaries, even "
                             "when those environments are detected.")(func)


def active(settings: Settings, no_ci: bool) -> ci.CiSystem | None:
    """The CI system to integrate with, or None when off (either ``--no-ci-integration``) or
    not in CI."""
    if no_ci or not settings.ci_integration:
        return None
    return ci.detect(os.environ)


def emit(lines: Sequence[str]) -> None:
    """Print logging commands where the CI agent reads them."""
    for line in lines:
        click.echo(line, err=True)


def annotate(system: ci.CiSystem | None, problems: Sequence[str]) -> None:
    """Annotate manifest problems (``path:line:column: message``) on the run."""
    if system is not None and problems:
        emit(ci.error_lines(system, [ci.problem_annotation(p) for p in problems]))


@contextlib.contextmanager
def manifest_errors_annotated(system: ci.CiSystem | None) -> Iterator[None]:
    """Annotate a ManifestError raised in the block, then let it propagate (exit 1)."""
    try:
        yield
    except ManifestError as exc:
        annotate(system, exc.problems)
        raise


def warn_blocked(system: ci.CiSystem | None, plan: Plan) -> None:
    """Blocked customers as CI warnings, so they do not pass a green run silently."""
    if system is None:
        return
    emit(ci.warning_lines(system, [
        ci.blocked_annotation(c.customer_id, c.customer_name, c.reason, c.source)
        for c in plan.changes if c.action is Action.BLOCKED]))


def summarize(system: ci.CiSystem | None, markdown: Callable[[], str], name: str) -> None:
    """Attach a markdown summary to the run (rendered only when in CI)."""
    if system is None:
        return
    try:
        emit(ci.publish_summary(system, os.environ, markdown(), name))
    except OSError as exc:
        # The command itself succeeded; a summary that cannot be written must not fail it.
        click.echo(f"Warning: could not write the CI run summary: {exc}.", err=True)
