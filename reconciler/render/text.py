"""Human-readable plan output in Terraform's spirit: symbol, customer, family, reason.

Unchanged keys are counted, not listed (a converged plan of 100,000 customers is one line).
Colour is applied only when the caller says the output is a TTY.
"""

from __future__ import annotations

from collections.abc import Iterable

import click

from reconciler.plan import Action, Change, Plan

_NAME_WIDTH = 32


def summary_line(plan: Plan) -> str:
    """The spec's one-line summary of a plan."""
    counts = plan.summary()
    changes = ", ".join(f"{counts[a.value]} {a.facts.tally}" for a in Action if a.is_change)
    others = ", ".join(f"{counts[a.value]} {a.facts.tally}" for a in Action if not a.is_change)
    return f"Plan: {changes}; {others}."


def name_width(names: Iterable[str | None]) -> int:
    """The width of a name column: the longest name, but at most 32 characters."""
    return min(_NAME_WIDTH, max((len(name or "") for name in names), default=0))


def name_cell(name: str | None, width: int) -> str:
    """A customer name padded (or cut, with "…") to ``width``."""
    name = name or ""
    if len(name) > width:
        name = name[: width - 1] + "…"
    return name.ljust(width)


def _line(change: Change, width: int, color: bool) -> str:
    head = f"{change.action.symbol} {change.action.value:<7}"
    if color:
        head = click.style(head, fg=change.action.facts.colour, bold=change.action.is_change)
    return (f"  {head}  {change.customer_id}  {name_cell(change.customer_name, width)}  "
            f"{change.product_family}  {change.reason}").rstrip()


def render(plan: Plan, *, color: bool = False) -> str:
    """The plan as text, ending with the summary line."""
    shown = [c for c in plan.changes if c.action.facts.listed]
    width = name_width(c.customer_name for c in shown)
    lines: list[str] = []
    if not plan.refreshed:
        lines += ["Note: refresh was off; Partner Center was not consulted, so eligibility and "
                  "upgrade progress are as last recorded.", ""]
    if plan.targets:
        lines += [f"Note: planning only the targeted customers: {', '.join(plan.targets)}.", ""]
    if shown:
        lines.append("reconciler will perform the following actions:")
        lines.append("")
        lines += [_line(change, width, color) for change in shown]
        lines.append("")
    lines.append(summary_line(plan))
    if not plan.has_changes:
        lines.append("No changes. Recorded state matches the manifests.")
    return "\n".join(lines) + "\n"
