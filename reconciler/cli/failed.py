"""What a failed command still prints on stdout: the markdown body cli.md asks for.

A workflow posts ``plan --format markdown`` as a pull-request comment it edits in place (and
``drift --format markdown`` as an issue body). With nothing on stdout it would post an empty
comment or leave the previous plan standing as if it were still true, so a failure prints a
body that says so, with the error as the job log shows it. The exit code stays 1.
"""

from __future__ import annotations

import click

from reconciler.render import failure_as_markdown


def requested_markdown(group: click.Group, args: list[str]) -> str | None:
    """The command whose markdown ``args`` ask for (``--format markdown``), else None.

    click parses the arguments again, without running anything and ignoring what it cannot
    parse, so every spelling counts (``--format=markdown``, global options anywhere) and a
    failure in any step — settings, options, manifests, state, Partner Center — is covered.
    """
    try:
        root = group.make_context("reconciler", list(args), resilient_parsing=True)
        given = [*root.protected_args, *root.args]
        if not given:
            return None
        name, command, rest = group.resolve_command(root, given)
        if command is None or name is None:
            return None
        parsed = command.make_context(name, rest, parent=root, resilient_parsing=True)
    except (click.ClickException, click.exceptions.Exit):
        return None
    return name if parsed.params.get("fmt") == "markdown" else None


def print_markdown_failure(group: click.Group, args: list[str], error: str) -> None:
    """Print the failure body on stdout when the command's markdown was asked for."""
    command = requested_markdown(group, args)
    body = failure_as_markdown(command, error) if command else None
    if body is not None:
        click.echo(body, nl=False)
