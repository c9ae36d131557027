"""``reconciler drift``: re-read every managed upgrade and report where reality differs.

Exit 0 no drift · 1 error · 2 drift found. Never writes state or calls a mutating endpoint.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from reconciler import ci, drift, refresh, workflow
from reconciler.cli.ci import active, emit, manifest_errors_annotated, no_ci_option, summarize
from reconciler.cli.common import (
    details_url_option,
    format_option,
    lock_options,
    manifests,
    manifests_option,
    no_lock_option,
    parallelism_option,
    parse_duration_option,
    timeout_option,
    use_color,
)
from reconciler.cli.progress import progress_line
from reconciler.drift import DriftReport
from reconciler.render import drift as render_drift
from reconciler.render import drift_as, junit
from reconciler.settings import Settings


def _annotations(report: DriftReport) -> list[ci.Annotation]:
    return [ci.Annotation(f"{item.customer_id} ({item.customer_name or 'unnamed'}): "
                          f"{item.detail}", title=f"Drift: {item.kind.heading}")
            for item in report.items]


@click.command("drift")
@manifests_option
@format_option
@details_url_option
@click.option("--junit-xml", "junit_xml", type=click.Path(path_type=Path), default=None,
              metavar="FILE", help="Also write a JUnit report: one failed case per drifted "
                                   "customer.")
@click.option("--in-progress-threshold", "threshold", default="24h", show_default=True,
              metavar="DURATION", callback=parse_duration_option,
              help="Report upgrades in progress for longer than this.")
@parallelism_option
@timeout_option
@lock_options
@no_lock_option
@no_ci_option
@click.pass_obj
def drift_command(settings: Settings, manifest_paths: tuple[Path, ...], fmt: str,
                  details_url: str | None, junit_xml: Path | None, threshold: float,
                  parallelism: int | None, lock_timeout: float, no_lock: bool,
                  no_ci: bool) -> int:
    """Report where Partner Center differs from recorded state.

    Re-reads every managed upgrade, completed ones too. Exit 0 when Partner Center matches
    the recorded state, 2 when something drifted, 1 on error. Never changes Partner Center or
    state.
    """
    system = active(settings, no_ci)
    state = workflow.brief_read(settings, "drift", lock=not no_lock, timeout=lock_timeout)
    with manifest_errors_annotated(system), progress_line("Checking drift") as progress:
        inputs = workflow.load_inputs(settings, manifests(settings, manifest_paths), state,
                                      reads=refresh.needed_for_drift, parallelism=parallelism,
                                      progress=progress)
    report = drift.classify(inputs.desired, inputs.state, inputs.observed,
                            now=datetime.now(UTC), created_at=workflow.utc_stamp(),
                            in_progress_threshold=threshold)
    if junit_xml is not None:
        junit_xml.parent.mkdir(parents=True, exist_ok=True)
        junit_xml.write_text(junit.render(report), encoding="utf-8")
    click.echo(drift_as(report, fmt, color=use_color(settings), details_url=details_url),
               nl=False)
    if system is not None:
        emit(ci.error_lines(system, _annotations(report)))
        summarize(system, lambda: render_drift.render_markdown(report, details_url=details_url),
                  "drift")
    return 2 if report.has_drift else 0
