"""``reconciler drift``: re-read every managed upgrade and report where reality differs.

Exit 0 no drift · 1 error · 2 drift found. Never writes state or calls a mutating endpoint.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from reconciler import ci, drift, refresh, workflow
from reconciler.cli.ci import active, emit, no_ci_option, summarize
from reconciler.cli.common import (
    lock_options,
    manifests_option,
    no_lock_option,
    parse_duration_option,
    settings_of,
    use_color,
)
from reconciler.cli.plan import load_inputs
from reconciler.cli.progress import Progress
from reconciler.connect import open_client
from reconciler.drift import DriftReport
from reconciler.model import Desired
from reconciler.observed import Observed
from reconciler.render import drift as render_drift
from reconciler.render import junit
from reconciler.settings import Settings
from reconciler.state import State

FORMATS = click.Choice(["text", "json", "markdown"])


def observe(settings: Settings, desired: Desired, state: State | None,
            parallelism: int | None) -> Observed:
    """Read eligibility for every managed key and status for every recorded upgrade."""
    reads = refresh.needed_for_drift(desired, state)
    if not len(reads):
        return Observed(refreshed=True)
    parallelism = parallelism or settings.parallelism
    progress = Progress("Checking drift")
    try:
        with open_client(settings, desired=desired, parallelism=parallelism) as client:
            return refresh.refresh(client, reads, parallelism=parallelism, progress=progress)
    finally:
        progress.finish()


def render(ctx: click.Context, report: DriftReport, fmt: str) -> str:
    """The report in the chosen format."""
    if fmt == "json":
        return render_drift.render_json(report)
    if fmt == "markdown":
        return render_drift.render_markdown(report)
    return render_drift.render_text(report, color=use_color(ctx))


def _annotations(report: DriftReport) -> list[ci.Annotation]:
    return [ci.Annotation(f"{item.customer_id} ({item.customer_name or 'unnamed'}): "
                          f"{item.detail}", title=f"Drift: {item.kind.heading}")
            for item in report.items]


@click.command("drift")
@manifests_option
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option("--junit-xml", "junit_xml", type=click.Path(path_type=Path), default=None,
              metavar="FILE", help="Also write a JUnit report: one failed case per drifted "
                                   "customer.")
@click.option("--in-progress-threshold", "threshold", default="24h", show_default=True,
              metavar="DURATION", callback=parse_duration_option,
              help="Report upgrades in progress for longer than this.")
@click.option("--parallelism", type=click.IntRange(1, 64), default=None,
              help="Concurrent Partner Center calls (default: settings, 4).")
@lock_options
@no_lock_option
@no_ci_option
@click.pass_context
def drift_command(ctx: click.Context, manifest_paths: tuple[Path, ...], fmt: str,
                  junit_xml: Path | None, threshold: float, parallelism: int | None,
                  lock_timeout: float, no_lock: bool, no_ci: bool) -> int:
    """Report where Partner Center differs from recorded state.

    Re-reads every managed upgrade, completed ones too. Exit 0 when Partner Center matches
    the recorded state, 2 when something drifted, 1 on error. Never changes Partner Center or
    state.
    """
    settings = settings_of(ctx)
    system = active(ctx, no_ci)
    desired, state = load_inputs(ctx, manifest_paths, "drift", system, lock=not no_lock,
                                 lock_timeout=lock_timeout)
    observed = observe(settings, desired, state, parallelism)
    report = drift.classify(desired, state, observed, now=datetime.now(UTC),
                            created_at=workflow.utc_stamp(), in_progress_threshold=threshold)
    if junit_xml is not None:
        junit_xml.parent.mkdir(parents=True, exist_ok=True)
        junit_xml.write_text(junit.render(report), encoding="utf-8")
    click.echo(render(ctx, report, fmt), nl=False)
    if system is not None:
        emit(ci.error_lines(system, _annotations(report)))
        summarize(system, lambda: render_drift.render_markdown(report), "drift")
    return 2 if report.has_drift else 0
