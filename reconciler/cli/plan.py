"""``reconciler plan`` and ``reconciler show``."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler import planfile, workflow
from reconciler.cli.ci import (
    active,
    manifest_errors_annotated,
    no_ci_option,
    summarize,
    warn_blocked,
)
from reconciler.cli.common import (
    batch_option,
    details_url_option,
    format_option,
    lock_options,
    manifests,
    manifests_option,
    no_lock_option,
    parallelism_option,
    refresh_all_option,
    timeout_option,
    use_color,
    warn_untargeted,
)
from reconciler.cli.progress import progress_line
from reconciler.render import markdown, plan_as
from reconciler.settings import Settings


@click.command()
@manifests_option
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="Save the plan to FILE for a later 'apply FILE'.")
@format_option
@details_url_option
@click.option("--detailed-exitcode", is_flag=True, default=False,
              help="Exit 2 when the plan has changes (0: none, 1: error).")
@click.option("--refresh/--no-refresh", default=True, show_default=True,
              help="Ask Partner Center for eligibility and progress first.")
@refresh_all_option
@click.option("--target", "targets", multiple=True, metavar="CUSTOMER_ID",
              help="Plan only this customer (repeatable).")
@parallelism_option
@batch_option
@timeout_option
@lock_options
@no_lock_option
@no_ci_option
@click.pass_obj
def plan(settings: Settings, manifest_paths: tuple[Path, ...], out: Path | None, fmt: str,
         details_url: str | None, detailed_exitcode: bool, refresh: bool, refresh_all: bool,
         targets: tuple[str, ...], parallelism: int | None, batch: int | None,
         lock_timeout: float, no_lock: bool, no_ci: bool) -> int:
    """Show what apply would do. Never changes Partner Center or state."""
    system = active(settings, no_ci)
    options = workflow.PlanOptions(refresh=refresh, targets=targets, parallelism=parallelism,
                                   batch=batch or settings.batch, refresh_all=refresh_all)
    state = workflow.brief_read(settings, "plan", lock=not no_lock, timeout=lock_timeout)
    with manifest_errors_annotated(system), progress_line("Refreshing") as progress:
        inputs = workflow.load_inputs(settings, manifests(settings, manifest_paths), state,
                                      reads=options.reads, parallelism=parallelism,
                                      progress=progress)
    warn_untargeted(inputs.desired, options.targets)
    result = workflow.make_plan(inputs, options.targets, options.batch)
    if out is not None:
        planfile.write(result, out)
    click.echo(plan_as(result, fmt, color=use_color(settings), details_url=details_url),
               nl=False)
    if out is not None and fmt == "text":
        # On stderr: the summary line stays the last line of the plan's text (journey.md §4).
        click.echo(f"Saved the plan to {out}. To carry it out: reconciler apply {out}",
                   err=True)
    summarize(system, lambda: markdown.render(result, details_url=details_url), "plan")
    warn_blocked(system, result)
    return 2 if detailed_exitcode and result.has_changes else 0


@click.command()
@click.argument("plan_file", type=click.Path(path_type=Path))
@format_option
@details_url_option
@click.pass_obj
def show(settings: Settings, plan_file: Path, fmt: str, details_url: str | None) -> int:
    """Render a saved plan."""
    click.echo(plan_as(planfile.read(plan_file), fmt, color=use_color(settings),
                       details_url=details_url), nl=False)
    return 0
