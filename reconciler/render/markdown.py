"""Markdown for pull-request comments: counts first, a table per action, a hard size cap.

A hidden marker (one per kind: plan, drift) lets a workflow find and update its previous
comment. Sections longer than a few rows are folded in ``<details>``. The whole comment stays
below GitHub's 65,536-character limit: rows that do not fit are left out and the comment says
how many. :func:`fit` is the shared machinery; :func:`render` is the plan's comment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.plan import Action, Change, Plan
from reconciler.render.text import summary_line
from reconciler.words import plural

MARKER = "<!-- partnercenter-reconciler:plan -->"
#: Below GitHub's 65,536-character comment limit, with room for a workflow's own header.
MAX_CHARS = 60_000
FOLD_AFTER = 10
#: Kept free for the closing lines (totals, footer) when tables are cut.
_RESERVE = 400
#: The most a "table left out" note takes (titles are short).
_NOTE = 160
_PLAN_COLUMNS = ("customer", "name", "family", "reason", "source")


@dataclass(frozen=True, slots=True)
class Table:
    """One titled table of a comment; ``noun`` names one of its rows in the "left out" note
    (singular: the note makes it agree with the count)."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[str, ...]
    noun: str


def cell(text: str | None) -> str:
    """Escape a table cell: pipes and newlines break the table, and GitHub would swallow
    ``<…>`` as an HTML tag (an error message quoting ``<id>`` would lose the id)."""
    return (text or "").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;") \
        .replace(">", "&gt;")


def state_stamp(lineage: str | None, serial: int | None) -> str:
    """Which state a comment was made from: ``lineage `…` · serial 7``, or that none existed."""
    if lineage is None:
        return "no state recorded yet"
    return f"lineage `{lineage}` · serial {serial}"


def row(*cells: str) -> str:
    """A table row from already escaped cells."""
    return "| " + " | ".join(cells) + " |"


def _size(lines: Sequence[str]) -> int:
    return sum(len(line) + 1 for line in lines)


def _section(table: Table, budget: int, full: str) -> tuple[list[str], int]:
    """A table's lines within ``budget`` characters, and how many rows were left out."""
    header = [row(*table.columns), "|" + "---|" * len(table.columns)]
    title = f"{table.title} ({len(table.rows)})"
    folded = len(table.rows) > FOLD_AFTER
    opening = [f"<details><summary><b>{title}</b></summary>", ""] if folded \
        else [f"#### {title}", ""]
    closing = ["", "</details>"] if folded else []
    lines = [*opening, *header]
    used = _size(lines + closing) + 80
    kept = 0
    for line in table.rows:
        if used + len(line) + 1 > budget:
            break
        lines.append(line)
        used += len(line) + 1
        kept += 1
    left_out = len(table.rows) - kept
    if left_out:
        lines.append(f"\n_{plural(left_out, 'more ' + table.noun)} left out to keep this "
                     f"comment under GitHub's size limit; see {full} in the job log._")
    return [*lines, *closing, ""], left_out


def fit(head: list[str], tables: Sequence[Table], foot: list[str], *, max_chars: int,
        full: str) -> str:
    """Join head, tables and foot into a comment of at most ``max_chars`` characters.

    Tables are cut (never the head or foot) and the comment says how many rows were left out;
    ``full`` names where the complete output is (e.g. "the full plan").
    """
    lines = list(head)
    used = _size(lines)
    omitted = 0
    shown = [table for table in tables if table.rows]
    for index, table in enumerate(shown):
        # Keep room for a one-line note for every table still to come.
        budget = max_chars - used - _RESERVE - _NOTE * (len(shown) - index - 1)
        section, left_out = _section(table, max(0, budget), full)
        if _size(section) > budget or left_out == len(table.rows):
            left_out = len(table.rows)
            section = [f"_{table.title}: {_all(left_out, table.noun)} left out to keep this "
                       "comment under GitHub's size limit._", ""]
        omitted += left_out
        lines += section
        used += _size(section)
    if omitted:
        lines.append(f"_{plural(omitted, 'row')} in all {'was' if omitted == 1 else 'were'} "
                     "left out of this comment._")
    lines += foot
    text = "\n".join(lines) + "\n"
    # The budget above is exact for rows; this guards the cap against an oversized head/foot.
    return text if len(text) <= max_chars else text[: max_chars - 2] + "…\n"


def _all(count: int, noun: str) -> str:
    """``the 1 create row`` or ``all 3 create rows``."""
    return f"the {plural(count, noun)}" if count == 1 else f"all {plural(count, noun)}"


def _plan_row(change: Change) -> str:
    return row(f"`{change.customer_id}`", cell(change.customer_name), change.product_family,
               cell(change.reason), cell(change.source))


def _counts(plan: Plan) -> list[str]:
    summary = plan.summary()
    lines = ["| action | count |", "|---|---:|"]
    lines += [f"| {action.symbol.strip() or '='} {action.value} | {summary[action.value]} |"
              for action in Action if summary[action.value]]
    return lines


def render(plan: Plan, *, max_chars: int = MAX_CHARS) -> str:
    """The plan as a pull-request comment no longer than ``max_chars``."""
    head = [MARKER, "### reconciler plan", "", f"**{summary_line(plan)}**", ""]
    if not plan.refreshed:
        head += ["> Refresh was off: Partner Center was not consulted.", ""]
    head += [*_counts(plan), ""]
    if not plan.has_changes:
        head += ["No changes. Recorded state matches the manifests.", ""]
    tables = [Table(action.facts.title, _PLAN_COLUMNS,
                    tuple(_plan_row(c) for c in plan.changes if c.action is action),
                    f"{action.value} row")
              for action in Action if action.facts.listed]
    foot = [f"<sub>{state_stamp(plan.lineage, plan.serial)} · "
            f"manifests `{plan.manifest_digest[:19]}…` · {plan.created_at}</sub>"]
    return fit(head, tables, foot, max_chars=max_chars, full="the full plan")
