"""``reconciler report``: migration progress for people (journey.md §5)."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.common import details_url_option, manifests, manifests_option
from reconciler.cli.progress import progress_line
from reconciler.render import report as rendered
from reconciler.settings import Settings
from reconciler.workflow import make_report


@click.command("report")
@manifests_option
@click.option("--format", "fmt", type=click.Choice(("html", "markdown", "json")),
              default="html", show_default=True,
              help="html: one self-contained page for people; markdown for a CI job summary; "
                   "json for scripts.")
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the report to FILE instead of stdout.")
@click.option("--refresh", is_flag=True, default=False,
              help="Ask Partner Center first (the reads plan makes), to tell which customers "
                   "are blocked. Without it the report makes no call at all.")
@details_url_option
@click.pass_obj
def report_command(settings: Settings, manifest_paths: tuple[Path, ...], fmt: str,
                   out: Path | None, refresh: bool, details_url: str | None) -> int:
    """Migration progress from the manifests, state and history. Never writes state."""
    with progress_line("Refreshing") as progress:
        result = make_report(settings, manifests(settings, manifest_paths), refresh=refresh,
                             progress=progress)
    text = rendered.render(result, fmt, details_url=details_url)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"Saved the report to {out}.")
    return 0
