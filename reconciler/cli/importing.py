"""``reconciler import``: record an upgrade made outside the tool."""

from __future__ import annotations

import click

from reconciler import workflow
from reconciler.apply import Result
from reconciler.cli.common import lock_options, timeout_option
from reconciler.errors import UsageError
from reconciler.settings import Settings
from reconciler.words import sentence


@click.command("import")
@click.argument("customer_id")
@click.option("--family", default="Azure", show_default=True, help="Product family.")
@timeout_option
@lock_options
@click.pass_obj
def import_command(settings: Settings, customer_id: str, family: str,
                   lock_timeout: float) -> int:
    """Look up a customer's existing upgrade and record it in state (no POST)."""
    outcome = workflow.import_upgrade(settings, customer_id, family, lock_timeout=lock_timeout)
    if outcome.result is Result.FAILED:
        raise UsageError(sentence(outcome.message))
    click.echo(sentence(outcome.message))
    return 0
