"""``reconciler plan`` and ``reconciler show``."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler import planfile, workflow
from reconciler.backends import open_backend
from reconciler.ci import CiSystem
from reconciler.cli.ci import active, manifest_errors_annotated, no_ci_option, summarize
from reconciler.cli.common import (
    lock_options,
    manifests_option,
    no_lock_option,
    resolve_manifests,
    settings_of,
    use_color,
)
from reconciler.cli.progress import Progress
from reconciler.model import Desired
from reconciler.plan import Plan
from reconciler.render import json as render_json
from reconciler.render import markdown, text
from reconciler.state import State

FORMATS = click.Choice(["text", "json", "markdown"])


def render(ctx: click.Context, plan: Plan, fmt: str) -> str:
    """The plan in the chosen format."""
    if fmt == "json":
        return render_json.render(plan)
    if fmt == "markdown":
        return markdown.render(plan)
    return text.render(plan, color=use_color(ctx))


def load_inputs(ctx: click.Context, manifest_paths: tuple[Path, ...], operation: str,
                system: CiSystem | None, *, lock: bool,
                lock_timeout: float) -> tuple[Desired, State | None]:
    """The manifests (errors annotated for CI) and the state, read briefly under the lock."""
    settings = settings_of(ctx)
    with manifest_errors_annotated(system):
        desired = workflow.load_desired(settings, resolve_manifests(ctx, manifest_paths))
    backend = open_backend(settings.backend)
    try:
        state = workflow.read_state(backend, operation=operation, lock=lock,
                                    timeout=lock_timeout)
    finally:
        backend.close()
    return desired, state


@click.command()
@manifests_option
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="Save the plan to FILE for a later 'apply FILE'.")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option("--detailed-exitcode", is_flag=True, default=False,
              help="Exit 2 when the plan has changes (0: none, 1: error).")
@click.option("--refresh/--no-refresh", default=True, show_default=True,
              help="Ask Partner Center for eligibility and progress first.")
@click.option("--target", "targets", multiple=True, metavar="CUSTOMER_ID",
              help="Plan only this customer (repeatable).")
@click.option("--parallelism", type=click.IntRange(1, 64), default=None,
              help="Concurrent Partner Center calls (default: settings, 4).")
@lock_options
@no_lock_option
@no_ci_option
@click.pass_context
def plan(ctx: click.Context, manifest_paths: tuple[Path, ...], out: Path | None, fmt: str,
         detailed_exitcode: bool, refresh: bool, targets: tuple[str, ...],
         parallelism: int | None, lock_timeout: float, no_lock: bool, no_ci: bool) -> int:
    """Show what apply would do. Never changes Partner Center or state."""
    settings = settings_of(ctx)
    system = active(ctx, no_ci)
    desired, state = load_inputs(ctx, manifest_paths, "plan", system, lock=not no_lock,
                                 lock_timeout=lock_timeout)
    options = workflow.PlanOptions(refresh=refresh, targets=targets, parallelism=parallelism)
    progress = Progress("Refreshing")
    try:
        result = workflow.make_plan(settings, desired, state, options, progress)
    finally:
        progress.finish()
    if out is not None:
        planfile.write(result, out)
    click.echo(render(ctx, result, fmt), nl=False)
    if out is not None and fmt == "text":
        click.echo(f"\nSaved the plan to {out}. To carry it out: reconciler apply {out}")
    summarize(system, lambda: markdown.render(result), "plan")
    return 2 if detailed_exitcode and result.has_changes else 0


@click.command()
@click.argument("plan_file", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.pass_context
def show(ctx: click.Context, plan_file: Path, fmt: str) -> int:
    """Render a saved plan."""
    click.echo(render(ctx, planfile.read(plan_file), fmt), nl=False)
    return 0
