"""``reconciler discover``: the partner's customer list, classified, and manifests for it."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.common import (
    manifests,
    manifests_option,
    parallelism_option,
    timeout_option,
)
from reconciler.cli.progress import progress_line
from reconciler.render import discovery as render
from reconciler.settings import Settings
from reconciler.workflow.discovering import DiscoverOptions, discover

_RENDER = {"text": render.render_text, "json": render.render_json, "csv": render.render_csv}


@click.command("discover")
@manifests_option
@click.option("--format", "fmt", type=click.Choice(tuple(_RENDER)), default="text",
              show_default=True,
              help="text for people, json (schemas/discovery.schema.json) or csv for "
                   "spreadsheets.")
@click.option("--write", "write_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, metavar="DIR",
              help="Write manifests for the legacy customers no manifest lists yet into DIR "
                   "(new files only; existing files are never changed).")
@click.option("--wave-size", type=click.IntRange(1), default=100, show_default=True,
              help="With --write: the most customers per manifest file.")
@click.option("--prefix", default="discovered", show_default=True, metavar="NAME",
              help="With --write: files are DIR/NAME-001.yaml, NAME-002.yaml, … (continuing "
                   "after the highest number already there).")
@timeout_option
@parallelism_option
@click.pass_obj
def discover_command(settings: Settings, manifest_paths: tuple[Path, ...], fmt: str,
                     write_dir: Path | None, wave_size: int, prefix: str,
                     parallelism: int | None) -> int:
    """List every customer and classify it: legacy, blocked, in progress, upgraded, none.

    Reads only: never creates an upgrade, never reads or writes state, takes no lock.
    """
    command = "reconciler discover" + (f" --write {write_dir}" if write_dir else "")
    options = DiscoverOptions(manifests(settings, manifest_paths), write_dir=write_dir,
                              wave_size=wave_size, prefix=prefix, parallelism=parallelism,
                              manifests_given=bool(manifest_paths), command=command)
    with progress_line("Discovering") as progress:
        found = discover(settings, options, progress=progress)
    click.echo(_RENDER[fmt](found.discovery), nl=False)
    if write_dir is not None:
        lines = render.written_lines(found.written, found.discovery, found.write_dir)
        # Keep stdout the document asked for: with json/csv the file list goes to stderr.
        click.echo("\n".join(lines), err=fmt != "text")
    return 1 if found.discovery.unread else 0
