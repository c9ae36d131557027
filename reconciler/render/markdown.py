"""Markdown for pull-request comments: counts first, a table per action, a hard size cap.

A hidden marker lets a workflow find and update its previous comment. Sections longer than a
few rows are folded in ``<details>``. The whole comment stays below GitHub's 65,536-character
limit: rows that do not fit are left out and the comment says how many.
"""

from __future__ import annotations

from reconciler.plan import Action, Change, Plan
from reconciler.render.text import summary_line

MARKER = "<!-- partnercenter-reconciler:plan -->"
#: Below GitHub's 65,536-character comment limit, with room for a workflow's own header.
MAX_CHARS = 60_000
FOLD_AFTER = 10
_TITLES = {
    Action.CREATE: "Create", Action.ADOPT: "Adopt", Action.RESUME: "Resume",
    Action.RETRY: "Retry", Action.UPDATE: "Update", Action.FORGET: "Forget",
    Action.BLOCKED: "Blocked", Action.WAIT: "In progress", Action.NOOP: "Unchanged",
}


def _cell(text: str | None) -> str:
    """Escape a table cell: pipes and newlines would break the table."""
    return (text or "").replace("|", "\\|").replace("\n", " ")


def _row(change: Change) -> str:
    return (f"| `{change.customer_id}` | {_cell(change.customer_name)} | "
            f"{change.product_family} | {_cell(change.reason)} | {_cell(change.source)} |")


def _counts(plan: Plan) -> list[str]:
    summary = plan.summary()
    lines = ["| action | count |", "|---|---:|"]
    lines += [f"| {action.symbol.strip() or '='} {action.value} | {summary[action.value]} |"
              for action in Action if summary[action.value]]
    return lines


def _section(action: Action, rows: list[Change], budget: int) -> tuple[list[str], int]:
    """A section's lines within ``budget`` characters, and how many rows were left out."""
    header = ["| customer | name | family | reason | source |", "|---|---|---|---|---|"]
    title = f"{_TITLES[action]} ({len(rows)})"
    folded = len(rows) > FOLD_AFTER
    opening = [f"<details><summary><b>{title}</b></summary>", ""] if folded \
        else [f"#### {title}", ""]
    closing = ["", "</details>"] if folded else []
    lines = [*opening, *header]
    used = sum(len(line) + 1 for line in lines + closing) + 80
    kept = 0
    for change in rows:
        row = _row(change)
        if used + len(row) + 1 > budget:
            break
        lines.append(row)
        used += len(row) + 1
        kept += 1
    left_out = len(rows) - kept
    if left_out:
        lines.append(f"\n_{left_out} more {action.value} rows left out to keep this comment "
                     "under GitHub's size limit; see the full plan in the job log._")
    return [*lines, *closing, ""], left_out


def render(plan: Plan, *, max_chars: int = MAX_CHARS) -> str:
    """The plan as a pull-request comment no longer than ``max_chars``."""
    lines = [MARKER, "### reconciler plan", "", f"**{summary_line(plan)}**", ""]
    if not plan.refreshed:
        lines += ["> Refresh was off: Partner Center was not consulted.", ""]
    lines += [*_counts(plan), ""]
    if not plan.has_changes:
        lines += ["No changes. Recorded state matches the manifests.", ""]
    used = sum(len(line) + 1 for line in lines)
    omitted = 0
    for action in Action:
        if action is Action.NOOP:
            continue
        rows = [c for c in plan.changes if c.action is action]
        if not rows:
            continue
        section, left_out = _section(action, rows, max(0, max_chars - used - 400))
        omitted += left_out
        lines += section
        used += sum(len(line) + 1 for line in section)
    if omitted:
        lines.append(f"_{omitted} rows in all were left out of this comment._")
    lines.append(f"<sub>lineage `{plan.lineage}` · serial {plan.serial} · "
                 f"manifests `{plan.manifest_digest[:19]}…` · {plan.created_at}</sub>")
    return "\n".join(lines) + "\n"
