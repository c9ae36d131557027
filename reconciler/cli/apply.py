"""``reconciler apply`` and ``reconciler import``."""

from __future__ import annotations

import os
import signal
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import click

from reconciler import manifest, planfile, workflow
from reconciler.apply import Applier, ApplyResult, Outcome, Result, started_upgrades
from reconciler.backends import StateBackend, StateRecorder, open_backend
from reconciler.backends.errored import finish_run, watch_lock
from reconciler.cli.ci import active, manifest_errors_annotated, no_ci_option, summarize
from reconciler.cli.common import (
    lock_options,
    manifests_option,
    parse_duration_option,
    resolve_manifests,
    settings_of,
)
from reconciler.cli.plan import render
from reconciler.cli.progress import Progress
from reconciler.connect import open_client
from reconciler.durations import format_duration
from reconciler.errors import PlanError, UsageError
from reconciler.history import OperationLog, history_path
from reconciler.model import Desired, UpgradeKey
from reconciler.plan import Plan
from reconciler.render import markdown
from reconciler.settings import Settings
from reconciler.state import State
from reconciler.waiting import wait_for

_SYMBOL = {Result.STARTED: "+", Result.FOUND: "<", Result.RECORDED: "~", Result.FORGOTTEN: "-",
           Result.COMPLETED: "✓", Result.UNKNOWN: "?", Result.REFUSED: "!", Result.FAILED: "✗",
           Result.SKIPPED: "…"}


def check_fresh(plan: Plan, state: State | None, digest: str, max_age: float,
                now: datetime) -> None:
    """Refuse a saved plan made from other state, other manifests, or too long ago."""
    lineage = state.lineage if state else None
    serial = state.serial if state else None
    if (plan.lineage, plan.serial) != (lineage, serial):
        raise PlanError(f"Saved plan is stale: it was made from state lineage {plan.lineage} "
                        f"serial {plan.serial}, but the state is now lineage {lineage} serial "
                        f"{serial}. Nothing was done; run plan again.")
    if plan.manifest_digest != digest:
        raise PlanError("Saved plan is stale: the manifests changed since it was made. Nothing "
                        "was done; run plan again.")
    made = datetime.strptime(plan.created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    age = (now - made).total_seconds()
    if age > max_age:
        raise PlanError(f"Saved plan is {format_duration(int(age))} old, older than "
                        f"--max-plan-age {format_duration(max_age)}. Nothing was done; run plan "
                        "again.")


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


def _approve(ctx: click.Context, plan: Plan, auto_approve: bool) -> None:
    click.echo(render(ctx, plan, "text"), nl=False)
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise UsageError("apply needs confirmation: run it on a terminal, pass --auto-approve, "
                         "or apply a saved plan file. Nothing was done.")
    click.echo("\nDo you want to perform these actions? Only 'yes' will be accepted.")
    if click.prompt("Enter a value", default="", show_default=False).strip() != "yes":
        raise click.ClickException("Apply cancelled.")


class _Printer:
    """Prints each outcome as it happens, with a progress line below them on a TTY."""

    def __init__(self, total: int) -> None:
        self.lock = threading.Lock()
        self.progress = Progress("Applying")
        self.done, self.total = 0, total

    def __call__(self, outcome: Outcome) -> None:
        change = outcome.change
        name = f" ({change.customer_name})" if change.customer_name else ""
        cid = f" [MS-CorrelationId {outcome.correlation_id}]" if outcome.correlation_id and \
            not outcome.result.ok else ""
        with self.lock:
            # Clear the live progress line first, or the outcome would be printed into it.
            self.progress.finish()
            click.echo(f"  {_SYMBOL[outcome.result]} {change.customer_id}{name} "
                       f"{change.product_family}: {outcome.result.value}: {outcome.message}{cid}")
            self.done += 1
            self.progress(min(self.done, self.total), self.total)


def _markdown(result: ApplyResult) -> str:
    """The apply's outcome for a CI run summary: the summary line and anything not done."""
    columns = ("customer", "name", "family", "result", "message")
    rows = tuple(markdown.row(f"`{o.change.customer_id}`", markdown.cell(o.change.customer_name),
                              o.change.product_family, o.result.value,
                              markdown.cell(o.message))
                 for o in result.outcomes if not o.result.ok)
    return markdown.fit(["### reconciler apply", "", f"**{_summary(result)}**", ""],
                        [markdown.Table("Not done", columns, rows, "rows")], [],
                        max_chars=markdown.MAX_CHARS, full="the full output")


def _summary(result: ApplyResult) -> str:
    counts = result.counts()
    parts = ", ".join(f"{counts[r.value]} {r.value}" for r in Result if counts[r.value])
    if result.interrupted:
        return f"Apply interrupted: {parts or 'nothing done'}."
    if result.aborted:
        return f"Apply stopped: {result.aborted}. {parts}."
    if result.ok:
        return f"Apply complete: {parts or 'nothing to do'}."
    return f"Apply finished with errors: {parts}. Run plan to see what is left."


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to carry out the changes."""

    parallelism: int
    wait: bool
    wait_timeout: float


def _execute(settings: Settings, backend: StateBackend, state: State | None,
             plan: Plan, desired: Desired, options: RunOptions) -> ApplyResult:
    stop = threading.Event()
    printer = _Printer(sum(1 for c in plan.changes if c.action.is_change))
    recorder = StateRecorder(backend, state)
    watch_lock(backend, stop.set)  # a lost remote lock: start no new upgrades
    journal = OperationLog(history_path(settings.backend.path), str(uuid.uuid4()))
    parallelism = options.parallelism
    try:
        with interrupts(stop), open_client(settings, desired=desired, parallelism=parallelism,
                                           on_attempt=journal.call) as client:
            printer.progress.watch(client.stats)
            applier = Applier(client, recorder, journal=journal, stop=stop, on_outcome=printer)
            result = applier.run(plan, parallelism)
            if options.wait and not stop.is_set():
                waited = wait_for(client, recorder, started_upgrades(result.outcomes),
                                  timeout=options.wait_timeout,
                                  stop_requested=stop.is_set, journal=journal,
                                  on_outcome=printer)
                result = _merge(result, waited, stop.is_set())
    finally:
        printer.progress.finish()
        finish_run(recorder, backend)  # with a lost lock: saves an errored state file
        journal.close()
    return result


def _merge(result: ApplyResult, waited: list[Outcome], interrupted: bool) -> ApplyResult:
    final: dict[UpgradeKey, Outcome] = {o.key: o for o in waited}
    outcomes = tuple(final.get(o.key, o) for o in result.outcomes)
    return ApplyResult(outcomes, interrupted or result.interrupted, result.aborted)


@click.command()
@click.argument("plan_file", required=False, type=click.Path(path_type=Path))
@manifests_option
@click.option("--auto-approve", is_flag=True, default=False,
              help="Apply without asking (needed without a TTY unless a plan file is given).")
@click.option("--parallelism", type=click.IntRange(1, 64), default=None,
              help="Concurrent Partner Center calls (default: settings, 4).")
@click.option("--wait/--no-wait", default=False, show_default=True,
              help="Poll started upgrades until they complete or fail.")
@click.option("--wait-timeout", default="30m", show_default=True, metavar="DURATION",
              callback=parse_duration_option)
@click.option("--max-upgrades", type=click.IntRange(0), default=None,
              help="Refuse a plan that would start more upgrades than N.")
@click.option("--max-plan-age", default="24h", show_default=True, metavar="DURATION",
              callback=parse_duration_option)
@click.option("--target", "targets", multiple=True, metavar="CUSTOMER_ID",
              help="Apply only to this customer (repeatable; not with a plan file).")
@lock_options
@no_ci_option
@click.pass_context
def apply(ctx: click.Context, plan_file: Path | None, manifest_paths: tuple[Path, ...],
          auto_approve: bool, parallelism: int | None, wait: bool, wait_timeout: float,
          max_upgrades: int | None, max_plan_age: float, targets: tuple[str, ...],
          lock_timeout: float, no_ci: bool) -> int:
    """Carry out a saved plan, or plan and carry out. Records every step in state."""
    settings = settings_of(ctx)
    system = active(ctx, no_ci)
    if plan_file is not None and targets:
        raise UsageError("--target cannot be combined with a saved plan file; targets are "
                         "chosen when the plan is made.")
    paths = resolve_manifests(ctx, manifest_paths)
    saved = planfile.read(plan_file) if plan_file is not None else None
    backend = open_backend(settings.backend)
    try:
        with workflow.locked(backend, "apply", lock_timeout):
            state = backend.read()
            if saved is not None:
                check_fresh(saved, state, manifest.digest_of(list(paths)), max_plan_age,
                            datetime.now(UTC))
            with manifest_errors_annotated(system):
                desired = workflow.load_desired(settings, paths)
            plan = saved or _plan_now(ctx, settings, desired, state, targets, parallelism,
                                      auto_approve)
            if plan is None:
                return 0
            _check_blast_radius(plan, max_upgrades)
            options = RunOptions(parallelism or settings.parallelism, wait, wait_timeout)
            result = _execute(settings, backend, state, plan, desired, options)
    finally:
        backend.close()
    click.echo(_summary(result))
    summarize(system, lambda: _markdown(result), "apply")
    return 130 if result.interrupted else 0 if result.ok else 1


def _plan_now(ctx: click.Context, settings: Settings, desired: Desired, state: State | None,
              targets: tuple[str, ...], parallelism: int | None,
              auto_approve: bool) -> Plan | None:
    progress = Progress("Refreshing")
    try:
        plan = workflow.make_plan(settings, desired, state, workflow.PlanOptions(
            targets=targets, parallelism=parallelism), progress)
    finally:
        progress.finish()
    if not plan.has_changes:
        click.echo(render(ctx, plan, "text"), nl=False)
        return None
    _approve(ctx, plan, auto_approve)
    return plan


def _check_blast_radius(plan: Plan, max_upgrades: int | None) -> None:
    started = plan.upgrades_started()
    if max_upgrades is not None and started > max_upgrades:
        raise PlanError(f"The plan would start {started} upgrades, more than --max-upgrades "
                        f"{max_upgrades}. Nothing was done; narrow it with --target or raise the "
                        "limit.")

