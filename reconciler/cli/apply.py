"""``reconciler apply``: confirm, carry out, report."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import click

from reconciler import planfile, workflow
from reconciler.apply import FailureBudget, Outcome, Result
from reconciler.backends import opened
from reconciler.cli.ci import (
    active,
    manifest_errors_annotated,
    no_ci_option,
    summarize,
    warn_blocked,
)
from reconciler.cli.common import (
    batch_option,
    confirm,
    lock_options,
    manifests,
    manifests_option,
    parallelism_option,
    parse_duration_option,
    refresh_all_option,
    timeout_option,
    use_color,
    warn_untargeted,
)
from reconciler.cli.progress import Progress, progress_line
from reconciler.errors import UsageError
from reconciler.plan import Plan
from reconciler.render import apply as render_apply
from reconciler.render import plan_as
from reconciler.settings import Settings


@contextmanager
def interrupts(stop: threading.Event) -> Iterator[None]:
    """First SIGINT/SIGTERM: start nothing new. Second: exit at once (the intents make it safe)."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            click.echo("\nSecond interrupt: exiting now. Recorded intents let the next run "
                       "resume safely.", err=True)
            os._exit(130)
        stop.set()
        click.echo("\nInterrupt received: starting nothing new, finishing calls in flight. "
                   "Interrupt again to exit at once.", err=True)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


log = logging.getLogger(__name__)


def _approve(plan: Plan, color: bool, auto_approve: bool) -> None:
    """Show the plan and, unless ``auto_approve``, ask for ``yes`` (the command has already
    refused to run without a terminal to ask on)."""
    click.echo(plan_as(plan, "text", color=color), nl=False)
    if auto_approve:
        return
    confirm("Do you want to perform these actions?",
            ["reconciler will perform the actions described above."],
            cancelled="Apply cancelled.", unchanged="Nothing was done.")


class _Printer:
    """Prints each outcome as it happens, with a progress line below them on a TTY."""

    def __init__(self, total: int) -> None:
        self.lock = threading.Lock()
        self.progress = Progress("Applying")
        self.done, self.total = 0, total

    def __call__(self, outcome: Outcome) -> None:
        with self.lock:
            if outcome.result is Result.SKIPPED:
                # Counted in the closing lines instead: one interrupt must not print a line
                # for each of 2,000 customers. The ids are in -v output.
                log.info("%s", render_apply.outcome_line(outcome).strip())
            else:
                # Clear the live progress line first, or the outcome would be printed into it.
                self.progress.finish()
                click.echo(render_apply.outcome_line(outcome))
            self.done += 1
            self.progress(min(self.done, self.total), self.total)


def _budget(text: str | None) -> FailureBudget | None:
    if text is None:
        return None
    try:
        return FailureBudget.parse(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


@click.command()
@click.argument("plan_file", required=False, type=click.Path(path_type=Path))
@manifests_option
@click.option("--auto-approve", is_flag=True, default=False,
              help="Apply without asking (needed without a TTY unless a plan file is given).")
@parallelism_option
@click.option("--wait/--no-wait", default=False, show_default=True,
              help="Poll started upgrades until they complete or fail.")
@click.option("--wait-timeout", default="30m", show_default=True, metavar="DURATION",
              callback=parse_duration_option,
              help="With --wait: stop waiting after this long (upgrades still running are "
                   "reported in progress, exit 1).")
@click.option("--max-upgrades", type=click.IntRange(0), default=None,
              help="Refuse a plan that would start more upgrades than N.")
@click.option("--max-plan-age", default="24h", show_default=True, metavar="DURATION",
              callback=parse_duration_option,
              help="Refuse a saved plan older than this.")
@click.option("--target", "targets", multiple=True, metavar="CUSTOMER_ID",
              help="Apply only to this customer (repeatable; not with a plan file).")
@batch_option
@click.option("--max-failures", default=None, metavar="N|P%",
              help="Stop starting upgrades once N changes failed, or P% of the creates "
                   "attempted once at least 20 were; exit 1 (default: the settings' "
                   "apply.max_failures, else continue on error).")
@refresh_all_option
@timeout_option
@lock_options
@no_ci_option
@click.pass_obj
def apply(settings: Settings, plan_file: Path | None, manifest_paths: tuple[Path, ...],
          auto_approve: bool, parallelism: int | None, wait: bool, wait_timeout: float,
          max_upgrades: int | None, max_plan_age: float, targets: tuple[str, ...],
          refresh_all: bool, batch: int | None, max_failures: str | None,
          lock_timeout: float, no_ci: bool) -> int:
    """Carry out a saved plan, or plan and carry out. Records every step in state."""
    system = active(settings, no_ci)
    if plan_file is not None and targets:
        raise UsageError("--target cannot be combined with a saved plan file; targets are "
                         "chosen when the plan is made.")
    if plan_file is not None and refresh_all:
        raise UsageError("--refresh-all cannot be combined with a saved plan file; a saved "
                         "plan's refresh was made when the plan was.")
    if plan_file is None and not auto_approve and not sys.stdin.isatty():
        # Refuse before refreshing every customer only to refuse afterwards.
        raise UsageError("Apply needs confirmation: run it on a terminal, pass --auto-approve, "
                         "or apply a saved plan file. Nothing was done.")
    if plan_file is not None and batch:
        raise UsageError("--batch cannot be combined with a saved plan file; a saved plan "
                         "carries the batch it was made with.")
    budget = _budget(max_failures or settings.max_failures)
    saved = planfile.read(plan_file) if plan_file is not None else None
    options = workflow.PlanOptions(targets=targets, parallelism=parallelism,
                                   batch=None if saved else batch or settings.batch,
                                   refresh_all=refresh_all)
    color = use_color(settings)
    with opened(settings.backend, lock="apply", timeout=lock_timeout) as backend:
        with manifest_errors_annotated(system), progress_line("Refreshing") as progress:
            prepared = workflow.prepare(settings, backend, manifests(settings, manifest_paths),
                                        saved=saved, max_plan_age=max_plan_age,
                                        options=options, progress=progress)
        warn_untargeted(prepared.inputs.desired, options.targets)
        plan = prepared.plan
        if saved is None and not plan.has_changes:
            click.echo(plan_as(plan, "text", color=color), nl=False)
            warn_blocked(system, plan)
            return 0
        if saved is None:
            _approve(plan, color, auto_approve)
        plan.check_max_upgrades(max_upgrades)
        printer = _Printer(sum(1 for c in plan.changes if c.action.is_change))
        hooks = workflow.ApplyHooks(on_outcome=printer, progress=printer.progress)
        try:
            with interrupts(hooks.stop):
                result = workflow.apply_plan(settings, backend, prepared,
                                             workflow.ApplyOptions(parallelism, wait,
                                                                   wait_timeout, budget),
                                             hooks)
        finally:
            printer.progress.finish()
    deadline = settings.deadline()
    if deadline is not None and result.aborted == deadline.reason:
        click.echo(deadline.message, err=True)  # "Stopped: the run reached its --timeout of …"
    for line in render_apply.grouped(result, plan):
        click.echo(line)
    click.echo(render_apply.summary(result, plan))
    blocked = render_apply.blocked_note(plan)
    if blocked is not None:
        click.echo(blocked)
    for problem in result.problems:
        click.echo(f"Error: {problem}", err=True)
    summarize(system, lambda: render_apply.render_markdown(result), "apply")
    warn_blocked(system, plan)
    return 130 if result.interrupted else 0 if result.ok else 1
