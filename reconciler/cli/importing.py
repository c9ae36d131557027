"""``reconciler import`` (adopt an existing upgrade) and ``reconciler state history``."""

from __future__ import annotations

import json
import uuid

import click

from reconciler import history, workflow
from reconciler.apply import status_of
from reconciler.backends import StateRecorder, open_backend
from reconciler.cli.common import lock_options, settings_of
from reconciler.connect import open_client
from reconciler.errors import UsageError
from reconciler.model import UpgradeKey
from reconciler.refresh import read_eligibility, read_status
from reconciler.state import Record, utc_now


@click.command("import")
@click.argument("customer_id")
@click.option("--family", default="Azure", show_default=True, help="Product family.")
@lock_options
@click.pass_context
def import_command(ctx: click.Context, customer_id: str, family: str,
                   lock_timeout: float) -> int:
    """Look up a customer's existing upgrade and record it in state (no POST)."""
    settings = settings_of(ctx)
    canonical = {f.casefold(): f for f in settings.allowed_families}.get(family.casefold())
    if canonical is None:
        raise UsageError(f"Unknown product family {family!r}; allowed: "
                         f"{', '.join(settings.allowed_families)}.")
    key = UpgradeKey(customer_id.lower(), canonical)
    backend = open_backend(settings.backend)
    journal = history.OperationLog(history.history_path(settings.backend.path),
                                   str(uuid.uuid4()))
    try:
        with workflow.locked(backend, "import", lock_timeout):
            state = backend.read()
            existing = state.get(key) if state else None
            with open_client(settings, on_attempt=journal.call) as client:
                seen = read_eligibility(client, key)
                if seen.upgrade_id is None:
                    raise UsageError(f"Customer {key.customer_id} has no {canonical} upgrade in "
                                     "Partner Center; nothing to import.")
                if existing is not None and existing.upgrade_id == seen.upgrade_id:
                    click.echo(f"Upgrade {seen.upgrade_id} of customer {key.customer_id} is "
                               "already recorded.")
                    return 0
                status = read_status(client, key, seen.upgrade_id)
            now = utc_now()
            record = Record(key=key, status=status_of(status.status), request_id=None,
                            upgrade_id=seen.upgrade_id, remote_status=status.status,
                            source=existing.source if existing else None,
                            customer_name=existing.customer_name if existing else None,
                            created_at=existing.created_at if existing else now,
                            updated_at=now, line_items=status.line_items,
                            in_progress_since=now)
            recorder = StateRecorder(backend, state)
            recorder.put(record)
            journal.transition(key.customer_id, canonical, "imported",
                               existing.status.value if existing else None,
                               record.status.value, upgrade_id=seen.upgrade_id)
            recorder.flush()
    finally:
        journal.close()
        backend.close()
    click.echo(f"Imported upgrade {seen.upgrade_id} of customer {key.customer_id} "
               f"({status.status or 'status unknown'}).")
    return 0


@click.command("history")
@click.argument("customer_id", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.pass_context
def history_command(ctx: click.Context, customer_id: str | None, fmt: str) -> int:
    """Show the operation journal (API calls and state transitions), optionally one customer's."""
    settings = settings_of(ctx)
    path = history.history_path(settings.backend.path)
    entries = list(history.read(path, customer_id))
    if fmt == "json":
        click.echo(json.dumps(entries, indent=2))
        return 0
    if not entries:
        click.echo(f"No operations are recorded in {path}"
                   f"{' for customer ' + customer_id if customer_id else ''}.")
    for entry in entries:
        click.echo(_line(entry))
    return 0


def _line(entry: dict[str, object]) -> str:
    if entry.get("kind") == "call":
        status = entry.get("http_status") or entry.get("error")
        return (f"{entry['time']}  {entry.get('customer_id') or '-'}  call {entry['operation']} "
                f"{entry['method']} {entry['path']} → {status}  "
                f"request {entry['request_id']}  correlation {entry['correlation_id']}")
    upgrade = f"  upgrade {entry['upgrade_id']}" if entry.get("upgrade_id") else ""
    request = f"  request {entry['request_id']}" if entry.get("request_id") else ""
    return (f"{entry['time']}  {entry['customer_id']}  {entry['action']}: "
            f"{entry.get('from') or '-'} → {entry.get('to') or '-'}{upgrade}{request}")
