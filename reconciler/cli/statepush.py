"""``state push FILE [--force]``: put a saved state (e.g. an errored state file) back.

Terraform's rules: a state of another lineage, or one older than the recorded state, is refused
unless ``--force``. With ``--force`` the file's records replace the recorded ones as the next
serial of the recorded lineage, so saved plans made before the push are refused as stale.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler import workflow
from reconciler.backends import open_backend, snapshot
from reconciler.cli.common import lock_options
from reconciler.errors import StateError, UsageError
from reconciler.settings import Settings
from reconciler.state import State


def read_state_file(path: Path) -> State:
    """A state file in the snapshot format; UsageError when it is not one."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror}.") from None
    try:
        return snapshot.decode(raw, str(path))
    except snapshot.SnapshotDamage as exc:
        raise UsageError(f"{path} is not a reconciler state file: {exc}.") from None


def to_push(pushed: State, current: State | None, force: bool, where: str) -> State | None:
    """The state to write for ``state push``, None when ``current`` already is ``pushed``."""
    if current is None:
        return pushed
    if pushed.lineage != current.lineage:
        problem = (f"it is state lineage {pushed.lineage}, but {where} holds lineage "
                   f"{current.lineage}")
    elif pushed.serial < current.serial:
        problem = (f"its serial {pushed.serial} is older than the recorded serial "
                   f"{current.serial} in {where}")
    elif pushed.serial == current.serial:
        if dict(pushed.records) == dict(current.records):
            return None
        problem = f"it differs from the state in {where} at the same serial {current.serial}"
    else:
        return pushed
    if not force:
        raise StateError(f"Refusing to push: {problem}. Check which state is right (state list "
                         "on both); pass --force to replace the recorded state anyway.",
                         hint="check the states, then push with --force")
    return State(current.lineage, current.serial + 1, pushed.records, current.format_version)


@click.command("push")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--force", is_flag=True, default=False,
              help="Replace the recorded state even with another lineage or an older serial.")
@lock_options
@click.pass_obj
def push_command(settings: Settings, file: Path, force: bool, lock_timeout: float) -> None:
    """Replace the recorded state with FILE (e.g. errored.reconciler-state.json)."""
    pushed = read_state_file(file)
    backend = open_backend(settings.backend)
    try:
        with workflow.locked(backend, "state push", lock_timeout):
            target = to_push(pushed, backend.read(), force, backend.describe())
            if target is not None:
                backend.write(target)
    finally:
        backend.close()
    if target is None:
        click.echo(f"{backend.describe()} already holds this state; nothing was pushed.")
    else:
        click.echo(f"Pushed {file} to {backend.describe()} (lineage {target.lineage}, serial "
                   f"{target.serial}, {len(target)} records).")
