"""``state list|show|rm`` and ``force-unlock``: inspect and edit recorded state.

Thin commands: resolve the backend from the Settings in ``ctx.obj``, call the backend, render.
User errors are raised as :mod:`reconciler.errors` exceptions; the root group turns them into a
message and exit code 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

import click

from reconciler.backends import LockInfo, StateBackend, open_backend
from reconciler.durations import parse_duration
from reconciler.errors import LockError, UsageError
from reconciler.model import UpgradeKey
from reconciler.settings import Settings
from reconciler.state import FORMAT_VERSION, Record, State, as_record_map, record_to_dict

_FORMAT = click.Choice(["text", "json"])


@click.group("state")
def state() -> None:
    """Inspect or edit recorded state."""


@state.command("list")
@click.option("--format", "fmt", type=_FORMAT, default="text", show_default=True)
@click.pass_obj
def list_command(settings: Settings, fmt: str) -> None:
    """List every recorded upgrade."""
    backend = open_backend(settings.backend)
    recorded = backend.read()
    if fmt == "json":
        click.echo(_json(recorded, recorded.sorted_records() if recorded else ()))
    elif recorded is None or not recorded.records:
        click.echo(f"No upgrades are recorded in {backend.describe()}.")
    else:
        click.echo(_table(recorded.sorted_records()))
        click.echo(
            f"{len(recorded)} recorded (lineage {recorded.lineage}, serial {recorded.serial})."
        )


@state.command("show")
@click.argument("customer_id")
@click.option("--format", "fmt", type=_FORMAT, default="text", show_default=True)
@click.pass_obj
def show_command(settings: Settings, customer_id: str, fmt: str) -> None:
    """Show everything recorded about one customer."""
    backend = open_backend(settings.backend)
    recorded = backend.read()
    records = recorded.by_customer(customer_id) if recorded else []
    if not records:
        raise UsageError(f"Customer {customer_id} is not recorded in {backend.describe()}.")
    if fmt == "json":
        click.echo(_json(recorded, records))
    else:
        click.echo("\n\n".join(_details(r) for r in records))


@state.command("rm")
@click.argument("customer_ids", metavar="CUSTOMER_ID...", nargs=-1, required=True)
@click.option("--lock-timeout", default="0s", show_default=True, help="How long to wait.")
@click.pass_obj
def rm_command(settings: Settings, customer_ids: tuple[str, ...], lock_timeout: str) -> None:
    """Stop tracking customers. Their upgrades in Partner Center are not touched."""
    timeout = parse_duration(lock_timeout, "--lock-timeout")
    backend = open_backend(settings.backend)
    if backend.read() is None:  # nothing to remove: do not create a lock (or its directory)
        raise UsageError(f"No upgrades are recorded in {backend.describe()}; nothing was removed.")
    info = backend.lock(LockInfo.new("state rm"), timeout)
    try:
        removed = _remove(backend, customer_ids)
    finally:
        backend.close()
        backend.unlock(info.id)
    for key in removed:
        click.echo(f"Stopped tracking {key}; the upgrade itself is untouched.")


def _remove(backend: StateBackend, customer_ids: Iterable[str]) -> list[UpgradeKey]:
    """Remove every record of the customers, all or nothing; returns the removed keys."""
    recorded = backend.read()
    keys: list[UpgradeKey] = []
    missing: list[str] = []
    for customer_id in dict.fromkeys(c.lower() for c in customer_ids):
        found = [r.key for r in recorded.by_customer(customer_id)] if recorded else []
        keys.extend(found)
        if not found:
            missing.append(customer_id)
    if missing or recorded is None:
        raise UsageError(
            f"Not recorded in {backend.describe()}: {', '.join(missing)}. Nothing was removed."
        )
    records = as_record_map(recorded.records).replaced((k, None) for k in keys)
    serial = recorded.serial + len(keys)
    backend.write(State(recorded.lineage, serial, records, recorded.format_version))
    return keys


@click.command("force-unlock")
@click.argument("lock_id")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def force_unlock(settings: Settings, lock_id: str, force: bool) -> None:
    """Release a lock left behind by a run that died."""
    backend = open_backend(settings.backend)
    current = backend.current_lock()
    if current is None:
        raise LockError(f"The {backend.describe()} is not locked.")
    if current.id != lock_id:
        raise LockError(f"Lock ID {lock_id} does not match the current lock: {current.describe()}.")
    stale = current.holder_is_dead()
    if not force:
        if not _stdin_is_tty():
            raise UsageError(
                "force-unlock asks for confirmation, and there is no terminal to ask on; "
                "pass --force to release the lock anyway."
            )
        click.echo(f"Lock {current.describe()}.")
        click.echo(_holder_note(stale))
        if not click.confirm("Release this lock?", default=False):
            raise UsageError("Force-unlock cancelled; the lock is still held.")
    released = backend.force_unlock(lock_id)
    click.echo(f"Released lock {released.id} ({released.who}, {released.operation}).")


def _holder_note(stale: bool) -> str:
    if stale:
        return "Its process is no longer running on this host, so releasing it is safe."
    return (
        "Its process may still be running. Releasing the lock of a live run lets two runs "
        "change state at once: only do it if you know that run is gone."
    )


def _stdin_is_tty() -> bool:
    return sys.stdin.isatty()


def _json(recorded: State | None, records: Iterable[Record]) -> str:
    doc = {
        "format_version": FORMAT_VERSION,
        "kind": "state",
        "lineage": recorded.lineage if recorded else None,
        "serial": recorded.serial if recorded else None,
        "records": [record_to_dict(r) for r in records],
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False)


def _table(records: Iterable[Record]) -> str:
    rows = [("CUSTOMER ID", "FAMILY", "STATUS", "UPGRADE ID", "UPDATED", "SOURCE")]
    rows += [
        (
            r.key.customer_id,
            r.key.product_family,
            r.status.value,
            r.upgrade_id or "-",
            r.updated_at,
            r.source or "-",
        )
        for r in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
        for row in rows
    )


def _details(record: Record) -> str:
    remote = f" (Partner Center: {record.remote_status})" if record.remote_status else ""
    fields = [
        ("status", f"{record.status.value}{remote}"),
        ("customer name", record.customer_name),
        ("upgrade id", record.upgrade_id),
        ("request id", record.request_id),
        ("attempts", str(record.attempts)),
        ("source", record.source),
        ("created", record.created_at),
        ("updated", record.updated_at),
        ("in progress since", record.in_progress_since),
    ]
    if record.error is not None:
        error = record.error
        corr = f" (MS-CorrelationId {error.correlation_id})" if error.correlation_id else ""
        fields.append(("error", f"{error.code or 'error'}: {error.message}{corr}"))
    lines = [str(record.key)] + [f"  {name + ':':<19} {value}" for name, value in fields if value]
    if record.line_items:
        lines.append("  line items:")
    for item in record.line_items:
        target = f" -> {item.target_product_id} ({item.target_product_name})"
        done = f" on {item.upgraded_date}" if item.upgraded_date else ""
        fault = f" [{item.error_code}: {item.error_message}]" if item.error_code else ""
        lines.append(
            f"    {item.source_product_id} ({item.source_product_name}){target}: "
            f"{item.status or 'unknown'}{done}{fault}"
        )
    return "\n".join(lines)
