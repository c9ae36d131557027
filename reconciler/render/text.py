"""Human-readable plan output in Terraform's spirit: symbol, customer, family, reason.

Unchanged keys are counted, not listed (a converged plan of 100,000 customers is one line).
Colour is applied only when the caller says the output is a TTY.
"""

from __future__ import annotations

from collections.abc import Iterable

import click

from reconciler.plan import Action, Change, Plan
from reconciler.render.safe import visible
from reconciler.words import plural

_NAME_WIDTH = 32


def summary_line(plan: Plan) -> str:
    """The spec's one-line summary of a plan."""
    counts = plan.summary()
    changes = ", ".join(f"{counts[a.value]} {a.facts.tally}" for a in Action if a.is_change)
    others = ", ".join(f"{counts[a.value]} {a.facts.tally}" for a in Action if not a.is_change)
    return f"Plan: {changes}; {others}."


def closing_line(plan: Plan) -> str | None:
    """What the summary line's numbers mean for the reader, said once before it.

    Without changes, an honest "No changes." (with what is still under way, blocked or
    deferred); with changes, blocked customers are named so they do not pass silently.
    """
    counts = plan.summary()
    blocked = counts[Action.BLOCKED.value]
    why = f"{plural(blocked, 'customer')} blocked (the ! rows say why)" if blocked else None
    if plan.has_changes:
        return f"Note: {why}." if why else None
    notes = [plural(counts[Action.WAIT.value], "upgrade") + " in progress"
             if counts[Action.WAIT.value] else None, why,
             f"{counts[Action.DEFER.value]} deferred" if counts[Action.DEFER.value] else None]
    shown = [n for n in notes if n]
    if not shown:
        return "No changes. Recorded state matches the manifests."
    return f"No changes. {', '.join(shown)}."


def name_width(names: Iterable[str | None]) -> int:
    """The width of a name column: the longest name, but at most 32 characters."""
    return min(_NAME_WIDTH, max((len(visible(name)) for name in names), default=0))


def name_cell(name: str | None, width: int) -> str:
    """A customer name, made harmless, padded (or cut, with "…") to ``width``."""
    name = visible(name)
    if len(name) > width:
        name = name[: width - 1] + "…"
    return name.ljust(width)


def _line(change: Change, width: int, color: bool) -> str:
    head = f"{change.action.symbol} {change.action.value:<7}"
    if color:
        head = click.style(head, fg=change.action.facts.colour, bold=change.action.is_change)
    return (f"  {head}  {change.customer_id}  {name_cell(change.customer_name, width)}  "
            f"{visible(change.product_family)}  {visible(change.reason)}").rstrip()


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
    if plan.batch is not None:
        lines += [f"Note: --batch {plan.batch}: this run starts at most "
                  f"{plural(plan.batch, 'upgrade')}, in manifest order; the rest are deferred.",
                  ""]
    if shown:
        lines.append("reconciler will perform the following actions:")
        lines.append("")
        lines += [_line(change, width, color) for change in shown]
        lines.append("")
    closing = closing_line(plan)
    if closing is not None:
        lines.append(closing)
    lines.append(summary_line(plan))  # always the last line (journey.md §4)
    return "\n".join(lines) + "\n"
