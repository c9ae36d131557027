"""Markdown for pull-request comments: counts first, a table per action, a hard size cap.

A hidden marker (one per kind: plan, drift) lets a workflow find and update its previous
comment. Sections longer than a few rows are folded in ``<details>``. The whole comment stays
below GitHub's 65,536-character limit: rows that do not fit are left out and the comment says
how many. :func:`fit` is the shared machinery; :func:`render` is the plan's comment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.plan import Action, Change, Plan
from reconciler.render import safe
from reconciler.render.text import closing_line, summary_line
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
    """A table cell of untrusted text (names, reasons, messages): plain text on one line that
    stays inside its cell (see :func:`reconciler.render.safe.markdown`)."""
    return safe.markdown(text)


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


def link(text: str, url: str) -> str:
    """A markdown link to ``url`` (an http(s) URL, checked by the CLI): parentheses and spaces
    are percent-encoded, as either would end the link early."""
    target = url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")
    return f"[{text}]({target})"


def _section(table: Table, budget: int, where: str) -> tuple[list[str], int]:
    """A table's lines within ``budget`` characters, and how many rows were left out;
    ``where`` says where the rest is ("the full plan in the job log", or a link)."""
    header = [row(*table.columns), "|" + "---|" * len(table.columns)]
    title = f"{table.title} ({len(table.rows)})"
    folded = len(table.rows) > FOLD_AFTER
    opening = [f"<details><summary><b>{title}</b></summary>", ""] if folded \
        else [f"#### {title}", ""]
    closing = ["", "</details>"] if folded else []
    lines = [*opening, *header]
    used = _size([*lines, *closing, ""])
    if used + _size(table.rows) > budget:
        # Not all rows fit: keep room for the note saying how many did not, measured at its
        # longest (every row left out), so the rows kept never push the section over.
        used += _size([_left_out_note(len(table.rows), table.noun, where)])
    kept = 0
    for line in table.rows:
        if used + len(line) + 1 > budget:
            break
        lines.append(line)
        used += len(line) + 1
        kept += 1
    left_out = len(table.rows) - kept
    if left_out:
        lines.append(_left_out_note(left_out, table.noun, where))
    return [*lines, *closing, ""], left_out


def _left_out_note(count: int, noun: str, where: str) -> str:
    return (f"\n_{plural(count, 'more ' + noun)} left out to keep this comment under GitHub's "
            f"size limit; see {where}._")


def fit(head: list[str], tables: Sequence[Table], foot: list[str], *, max_chars: int,
        full: str, details_url: str | None = None) -> str:
    """Join head, tables and foot into a comment of at most ``max_chars`` characters.

    Tables are cut (never the head or foot) and the comment says how many rows were left out;
    ``full`` names the complete output (e.g. "the full plan"): a link to ``details_url`` when
    given (e.g. the workflow artifact holding it), else "in the job log".
    """
    where = link(full, details_url) if details_url else f"{full} in the job log"
    lines = list(head)
    used = _size(lines) + len(where)
    omitted = 0
    shown = [table for table in tables if table.rows]
    for index, table in enumerate(shown):
        # Keep room for a one-line note for every table still to come.
        budget = max_chars - used - _RESERVE - (_NOTE + len(where)) * (len(shown) - index - 1)
        section, left_out = _section(table, max(0, budget), where)
        if _size(section) > budget or left_out == len(table.rows):
            left_out = len(table.rows)
            section = [f"_{table.title}: {_all(left_out, table.noun)} left out to keep this "
                       "comment under GitHub's size limit._", ""]
        omitted += left_out
        lines += section
        used += _size(section)
    if omitted:
        lines += [f"_{plural(omitted, 'row')} in all {'was' if omitted == 1 else 'were'} "
                  f"left out of this comment; see {where}._", ""]
    elif details_url:
        lines += [f"See {where}.", ""]
    lines += foot
    text = "\n".join(lines) + "\n"
    # The budget above is exact for rows; this guards the cap against an oversized head/foot.
    return text if len(text) <= max_chars else text[: max_chars - 2] + "…\n"


def _all(count: int, noun: str) -> str:
    """``the 1 create row`` or ``all 3 create rows``."""
    return f"the {plural(count, noun)}" if count == 1 else f"all {plural(count, noun)}"


def _plan_row(change: Change) -> str:
    return row(f"`{change.customer_id}`", cell(change.customer_name), cell(change.product_family),
               cell(change.reason), cell(change.source))


def _counts(plan: Plan) -> list[str]:
    summary = plan.summary()
    lines = ["| action | count |", "|---|---:|"]
    lines += [f"| {action.symbol.strip() or '='} {action.value} | {summary[action.value]} |"
              for action in Action if summary[action.value]]
    return lines


def render(plan: Plan, *, max_chars: int = MAX_CHARS, details_url: str | None = None) -> str:
    """The plan as a pull-request comment no longer than ``max_chars``, linking to
    ``details_url`` for the full plan when given."""
    head = [MARKER, "### reconciler plan", "", f"**{summary_line(plan)}**", ""]
    if not plan.refreshed:
        head += ["> Refresh was off: Partner Center was not consulted.", ""]
    head += [*_counts(plan), ""]
    closing = closing_line(plan)
    if closing is not None:
        head += [closing, ""]
    tables = [Table(action.facts.title, _PLAN_COLUMNS,
                    tuple(_plan_row(c) for c in plan.changes if c.action is action),
                    f"{action.value} row")
              for action in Action if action.facts.listed]
    foot = [f"<sub>{state_stamp(plan.lineage, plan.serial)} · "
            f"manifests `{plan.manifest_digest[:19]}…` · {plan.created_at}</sub>"]
    return fit(head, tables, foot, max_chars=max_chars, full="the full plan",
               details_url=details_url)


#: C0 and C1 control characters other than tab and newline: nothing a reader needs, and a
#: terminal escape sequence copied into a comment is noise at best.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _fence(text: str) -> str:
    """A backtick fence longer than any backtick run in ``text``, so nothing in it can close
    the block (CommonMark): inside, links, images, mentions and HTML are inert."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def failure(marker: str, heading: str, lead: str, error: str, *,
            max_chars: int = MAX_CHARS) -> str:
    """The comment for a command that failed: ``lead``, then ``error`` verbatim in a code block
    (so every ``path:line`` stays as printed), cut at a line when it would pass ``max_chars``."""
    head = [marker, f"### {heading}", "", f"**{lead}**", ""]
    lines = _CONTROL.sub("", error).rstrip("\n").split("\n")
    budget = max_chars - _size(head) - _RESERVE
    kept: list[str] = []
    for line in lines:
        budget -= len(line) + 1
        if budget < 0:
            break
        kept.append(line)
    left_out = len(lines) - len(kept)
    fence = _fence("\n".join(kept))
    body = [*head, f"{fence}text", *kept, fence, ""]
    if left_out:
        body += [f"_{left_out} more lines left out to keep this comment under GitHub's size "
                 "limit; see the job log._", ""]
    body.append("<sub>exit code 1 · the job log has the whole output</sub>")
    return "\n".join(body) + "\n"
