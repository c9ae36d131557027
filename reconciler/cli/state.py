"""``state list|show|rm|history|pull|push`` and ``force-unlock``: inspect and edit state."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from reconciler import workflow
from reconciler.backends.base import LockInfo
from reconciler.cli.common import confirm, lock_options
from reconciler.errors import UsageError
from reconciler.render import history as render_history
from reconciler.render import state as render_state
from reconciler.settings import Settings
from reconciler.words import plural

_format_option = click.option("--format", "fmt", type=click.Choice(["text", "json"]),
                              default="text", show_default=True,
                              help="text for people, json for scripts.")


@click.group("state")
def state() -> None:
    """Inspect or edit recorded state."""


@state.command("list")
@_format_option
@click.pass_obj
def list_command(settings: Settings, fmt: str) -> None:
    """List every recorded upgrade."""
    found = workflow.recorded(settings)
    recorded = found.state
    if fmt == "json":
        click.echo(render_state.render_json(recorded,
                                            recorded.sorted_records() if recorded else ()))
    elif recorded is None or not recorded.records:
        click.echo(f"No upgrades are recorded in {found.where}.")
    else:
        click.echo(render_state.table(recorded.sorted_records()))
        click.echo(
            f"{len(recorded)} recorded (lineage {recorded.lineage}, serial {recorded.serial})."
        )


@state.command("show")
@click.argument("customer_id")
@_format_option
@click.pass_obj
def show_command(settings: Settings, customer_id: str, fmt: str) -> None:
    """Show everything recorded about one customer."""
    found = workflow.recorded(settings)
    records = found.state.by_customer(customer_id) if found.state else []
    if not records:
        raise UsageError(f"Customer {customer_id} is not recorded in {found.where}.")
    if fmt == "json":
        click.echo(render_state.render_json(found.state, records))
    else:
        click.echo("\n\n".join(render_state.details(r) for r in records))


@state.command("rm")
@click.argument("customer_ids", metavar="CUSTOMER_ID...", nargs=-1, required=True)
@lock_options
@click.pass_obj
def rm_command(settings: Settings, customer_ids: tuple[str, ...], lock_timeout: float) -> None:
    """Stop tracking customers. Their upgrades in Partner Center are not touched."""
    for key in workflow.remove_customers(settings, customer_ids, lock_timeout=lock_timeout):
        click.echo(f"Stopped tracking {key}; the upgrade itself is untouched.")


@state.command("history")
@click.argument("customer_id", required=False)
@_format_option
@click.pass_obj
def history_command(settings: Settings, customer_id: str | None, fmt: str) -> None:
    """Show the operation history (API calls and state transitions), optionally one customer's."""
    entries, where = workflow.read_history(settings, customer_id)
    if fmt == "json":
        click.echo(json.dumps(entries, indent=2))
        return
    if not entries:
        click.echo(f"No operations are recorded in the history of {where}"
                   f"{' for customer ' + customer_id if customer_id else ''}.")
    for entry in entries:
        click.echo(render_history.line(entry))


@state.command("pull")
@click.pass_obj
def pull_command(settings: Settings) -> None:
    """Print the recorded state in the state file format (what ``state push`` takes)."""
    found = workflow.recorded(settings, behind_history=True)
    if found.state is None:
        raise UsageError(f"No state is recorded in {found.where}; there is nothing to pull.")
    click.echo(render_state.snapshot(found.state), nl=False)


@state.command("push")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--force", is_flag=True, default=False,
              help="Replace the recorded state even with another lineage or an older serial.")
@lock_options
@click.pass_obj
def push_command(settings: Settings, file: Path, force: bool, lock_timeout: float) -> None:
    """Replace the recorded state with FILE (e.g. errored.reconciler-state.json)."""
    pushed = workflow.push_state(settings, file, force=force, lock_timeout=lock_timeout)
    if pushed.state is None:
        click.echo(f"The {pushed.where} already holds this state; nothing was pushed.")
    else:
        click.echo(f"Pushed {file} to {pushed.where} (lineage {pushed.state.lineage}, serial "
                   f"{pushed.state.serial}, {plural(len(pushed.state), 'record')}).")


@click.command("force-unlock")
@click.argument("lock_id")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def force_unlock(settings: Settings, lock_id: str, force: bool) -> None:
    """Release a lock left behind by a run that died."""
    current = workflow.lock_to_release(settings, lock_id)
    if not force:
        if not _stdin_is_tty():
            raise UsageError(
                "Force-unlock asks for confirmation, and there is no terminal to ask on; "
                "pass --force to release the lock anyway."
            )
        confirm("Do you really want to force-unlock?",
                [f"Lock {current.describe()}.", _holder_note(current.holder_is_dead())],
                cancelled="Force-unlock cancelled.", unchanged="The lock is still held.")
    released = workflow.release_lock(settings, lock_id)
    click.echo(f"Released lock {released.id} ({released.who}, {released.operation}).")
    if released.holder_is_alive_here():
        click.echo(_live_holder_warning(released), err=True)


def _live_holder_warning(holder: LockInfo) -> str:
    # Loud because it is almost always a mistake: the holder was only stopped or slow.
    return (f"Warning: the lock's holder, process {holder.pid} on {holder.host}, is still "
            "running. It will find its lock gone at its next write, stop starting upgrades "
            "and save what it recorded as an errored state file instead of the state.")


def _holder_note(stale: bool) -> str:
    if stale:
        return "Its process is no longer running on this host, so releasing it is safe."
    return (
        "Its process may still be running. Releasing the lock of a live run lets two runs "
        "change state at once: only do it if you know that run is gone."
    )


def _stdin_is_tty() -> bool:
    return sys.stdin.isatty()
