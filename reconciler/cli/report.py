"""``reconciler report``: migration progress for people (journey.md §5)."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.ci import active, manifest_errors_annotated, no_ci_option, summarize
from reconciler.cli.common import (
    details_url_option,
    manifests,
    manifests_option,
    timeout_option,
)
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
@timeout_option
@details_url_option
@no_ci_option
@click.pass_obj
def report_command(settings: Settings, manifest_paths: tuple[Path, ...], fmt: str,
                   out: Path | None, refresh: bool, details_url: str | None,
                   no_ci: bool) -> int:
    """Migration progress from the manifests, state and history. Never writes state."""
    system = active(settings, no_ci)
    with manifest_errors_annotated(system), progress_line("Refreshing") as progress:
        result = make_report(settings, manifests(settings, manifest_paths), refresh=refresh,
                             progress=progress)
    text = rendered.render(result, fmt, details_url=details_url)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"Saved the report to {out}.")
    # In CI the markdown also goes to the run summary, so one run (one refresh) gives both
    # the page for the artifact and the numbers on the run's page.
    summarize(system, lambda: rendered.as_markdown(result, details_url=details_url), "report")
    return 0
