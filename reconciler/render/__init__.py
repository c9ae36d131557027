"""Pure functions from values (plans, drift reports, apply results, state) to text."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.drift import DriftReport
    from reconciler.plan import Plan

#: The formats ``plan``, ``show`` and ``drift`` print.
FORMATS = ("text", "json", "markdown")


def plan_as(plan: Plan, fmt: str, *, color: bool = False,
            details_url: str | None = None) -> str:
    """The plan in one of :data:`FORMATS` (markdown links to ``details_url`` when given)."""
    from reconciler.render import json, markdown, text

    if fmt == "json":
        return json.render(plan)
    if fmt == "markdown":
        return markdown.render(plan, details_url=details_url)
    return text.render(plan, color=color)


def drift_as(report: DriftReport, fmt: str, *, color: bool = False,
             details_url: str | None = None) -> str:
    """The drift report in one of :data:`FORMATS` (markdown links to ``details_url``)."""
    from reconciler.render import drift

    if fmt == "json":
        return drift.render_json(report)
    if fmt == "markdown":
        return drift.render_markdown(report, details_url=details_url)
    return drift.render_text(report, color=color)


def failure_as_markdown(command: str, error: str) -> str | None:
    """The markdown body of a failed ``command``, or None if its markdown is not posted.

    A workflow posts the markdown of ``plan`` (a pull-request comment) and ``drift`` (an
    issue); cli.md wants a body even when they fail, with the same marker, so the workflow
    replaces the stale one. ``error`` is shown as the job log shows it.
    """
    from reconciler.render import drift, markdown

    posted = {
        "plan": (markdown.MARKER, "The plan could not be made, so there is no plan to review."),
        "drift": (drift.MARKER, "The drift check could not be completed, so whether anything "
                                "drifted is unknown."),
    }
    if command not in posted:
        return None
    marker, lead = posted[command]
    return markdown.failure(marker, f"reconciler {command} failed", lead, error)
