"""``reconciler init``: a starter settings file and manifest in a new directory."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from reconciler.manifest import display_path
from reconciler.workflow.starting import init_project


@click.command("init")
@click.option("--dir", "directory", type=click.Path(path_type=Path, file_okay=False),
              default=Path(), show_default=".", metavar="DIR",
              help="Where to write the files (created if missing).")
def init_command(directory: Path) -> int:
    """Write a starter reconciler.yaml and manifests/example.yaml (never over a file).

    For a first try outside a repository (e.g. after pipx install): both files are valid, and
    `reconciler --simulate plan` then plans the example against the embedded simulator.
    Exit 1, writing nothing, when either file exists.
    """
    for path, starter in init_project(directory):
        click.echo(f"Wrote {display_path(path)} ({starter.about}).")
    into = "" if directory.resolve() == Path.cwd().resolve() \
        else f"cd {shlex.quote(display_path(directory))} && "
    click.echo(f"\nNext, plan the example against the embedded Partner Center simulator (no "
               f"credentials needed):\n  {into}reconciler --simulate plan")
    return 0
