"""A drift report as text, JSON (``schemas/drift.schema.json``) or a pull-request comment.

Pure functions of a :class:`~reconciler.drift.DriftReport`; the markdown shares the plan
comment's size cap and folding (:func:`reconciler.render.markdown.fit`).
"""

from __future__ import annotations

import json
from typing import Any

import click

from reconciler.drift import DriftItem, DriftKind, DriftReport
from reconciler.render.markdown import MAX_CHARS, Table, cell, fit, row, state_stamp
from reconciler.render.safe import visible
from reconciler.render.text import name_cell, name_width
from reconciler.words import plural

MARKER = "<!-- partnercenter-reconciler:drift -->"
_COLUMNS = ("customer", "name", "family", "recorded", "observed", "detail", "source")


def summary_line(report: DriftReport) -> str:
    """E.g. ``Drift: 2 of 120 customers drifted (1 reverted, 1 failed).``"""
    checked = plural(report.checked, "managed upgrade")
    if not report.has_drift:
        return f"Drift: none in {checked}."
    parts = ", ".join(f"{n} {kind}" for kind, n in report.counts().items() if n)
    differ = "differs" if len(report.items) == 1 else "differ"
    return f"Drift: {len(report.items)} of {checked} {differ} from state ({parts})."


# --- JSON ----------------------------------------------------------------------------------

def item_to_dict(item: DriftItem) -> dict[str, Any]:
    """One drifted key in the documented field order, then the extra fields."""
    return {
        "customer_id": item.customer_id,
        "product_family": item.product_family,
        "recorded": item.recorded,
        "observed": item.observed,
        "upgrade_id": item.upgrade_id,
        "detail": item.detail,
        "kind": item.kind.value,
        "customer_name": item.customer_name,
        "source": item.source,
    }


def report_to_dict(report: DriftReport) -> dict[str, Any]:
    """The drift document (``schemas/drift.schema.json``; README, "drift")."""
    return {
        "format_version": report.format_version,
        "kind": "drift",
        "checked": report.checked,
        "drift": [item_to_dict(item) for item in report.items],
        "created_at": report.created_at,
        "lineage": report.lineage,
        "serial": report.serial,
        "summary": report.counts(),
    }


def render_json(report: DriftReport) -> str:
    """Pretty, deterministic JSON with a trailing newline."""
    return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False) + "\n"


# --- text ----------------------------------------------------------------------------------

_KIND_WIDTH = max(len(kind.value) for kind in DriftKind)


def _text_lines(item: DriftItem, color: bool, widths: tuple[int, int]) -> list[str]:
    """One drifted key in aligned columns (kind, customer, name, family, detail), then what
    to do about it."""
    name_width, family_width = widths
    head = f"! {item.kind.value:<{_KIND_WIDTH}}"
    if color:
        head = click.style(head, fg="red", bold=True)
    name = [name_cell(item.customer_name, name_width)] if name_width else []
    cells = [head, item.customer_id, *name, f"{item.product_family:<{family_width}}",
             visible(item.detail)]
    return ["  " + "  ".join(cells), f"      what to do: {item.remedy}"]


def render_text(report: DriftReport, *, color: bool = False) -> str:
    """The drifted keys, one per line, then the summary line."""
    lines: list[str] = []
    if report.has_drift:
        widths = (name_width(i.customer_name for i in report.items),
                  max(len(i.product_family) for i in report.items))
        lines += ["Partner Center differs from recorded state:", ""]
        lines += [line for item in report.items for line in _text_lines(item, color, widths)]
        lines.append("")
    lines.append(summary_line(report))
    if not report.has_drift:
        lines.append("No drift. Partner Center matches the recorded state.")
    return "\n".join(lines) + "\n"


# --- markdown ------------------------------------------------------------------------------

def _md_row(item: DriftItem) -> str:
    return row(f"`{item.customer_id}`", cell(item.customer_name), item.product_family,
               cell(item.recorded or "(not in state)"), cell(item.observed), cell(item.detail),
               cell(item.source))


def _md_counts(report: DriftReport) -> list[str]:
    lines = ["| drift | count | what to do |", "|---|---:|---|"]
    for kind in DriftKind:
        items = [item for item in report.items if item.kind is kind]
        if items:
            # One customer: its own commands; several: the commands with a placeholder.
            remedy = items[0].remedy if len(items) == 1 else kind.remedy("CUSTOMER_ID")
            lines.append(f"| {kind.heading} | {len(items)} | {cell(remedy)} |")
    return lines


def render_markdown(report: DriftReport, *, max_chars: int = MAX_CHARS,
                    details_url: str | None = None) -> str:
    """The drift report as a comment or issue body no longer than ``max_chars``, linking to
    ``details_url`` for the full report when given."""
    head = [MARKER, "### reconciler drift", "", f"**{summary_line(report)}**", ""]
    if report.has_drift:
        head += [*_md_counts(report), ""]
    else:
        head += ["No drift. Partner Center matches the recorded state.", ""]
    tables = [Table(kind.heading, _COLUMNS,
                    tuple(_md_row(i) for i in report.items if i.kind is kind),
                    f"{kind.value} row")
              for kind in DriftKind]
    foot = [f"<sub>{state_stamp(report.lineage, report.serial)} · {report.created_at}</sub>"]
    return fit(head, tables, foot, max_chars=max_chars, full="the full drift report",
               details_url=details_url)
