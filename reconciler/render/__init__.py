"""Pure functions from values (plans, drift reports, apply results, state) to text."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.drift import DriftReport
    from reconciler.plan import Plan

#: The formats ``plan``, ``show`` and ``drift`` print.
FORMATS = ("text", "json", "markdown")


def plan_as(plan: Plan, fmt: str, *, color: bool = False) -> str:
    """The plan in one of :data:`FORMATS`."""
    from reconciler.render import json, markdown, text

    if fmt == "json":
        return json.render(plan)
    if fmt == "markdown":
        return markdown.render(plan)
    return text.render(plan, color=color)


def drift_as(report: DriftReport, fmt: str, *, color: bool = False) -> str:
    """The drift report in one of :data:`FORMATS`."""
    from reconciler.render import drift

    if fmt == "json":
        return drift.render_json(report)
    if fmt == "markdown":
        return drift.render_markdown(report)
    return drift.render_text(report, color=color)
