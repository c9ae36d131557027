"""What apply prints: one line per outcome, the closing summary, and the CI run summary."""

from __future__ import annotations

from collections import Counter

from reconciler.apply import ApplyResult, Outcome, Result
from reconciler.plan import Action, Plan
from reconciler.render import markdown
from reconciler.render.safe import visible
from reconciler.words import plural


def outcome_line(outcome: Outcome) -> str:
    """E.g. ``  + 4c72… (Contoso) Azure: started: upgrade 5e1d…``: the result, then what it
    was about (a message never repeats the result)."""
    change = outcome.change
    name = f" ({visible(change.customer_name)})" if change.customer_name else ""
    cid = f" [MS-CorrelationId {outcome.correlation_id}]" if outcome.correlation_id and \
        not outcome.result.ok else ""
    return (f"  {outcome.result.symbol} {change.customer_id}{name} {change.product_family}: "
            f"{outcome.result.value}: {visible(outcome.message)}{cid}")


def grouped(result: ApplyResult, plan: Plan | None = None) -> list[str]:
    """Skipped and deferred customers as one line per reason with a count (an interrupt or a
    batch of 5 out of 2,000 must not print a line per customer; the ids are in -v output)."""
    skipped = Counter(o.message for o in result.outcomes if o.result is Result.SKIPPED)
    lines = [f"  {Result.SKIPPED.symbol} {plural(n, 'customer')} skipped: {why}"
             for why, n in skipped.items()]
    if plan is not None:
        deferred = Counter(c.reason for c in plan.changes if c.action is Action.DEFER)
        lines += [f"  {Action.DEFER.symbol} {plural(n, 'customer')} deferred: {why}"
                  for why, n in deferred.items()]
    return lines


def blocked_note(plan: Plan) -> str | None:
    """Blocked customers are not part of an apply, but must not pass silently."""
    blocked = plan.summary()[Action.BLOCKED.value]
    if not blocked:
        return None
    return (f"Note: {plural(blocked, 'customer')} blocked, not part of this apply; "
            "`reconciler plan` shows why.")


def summary(result: ApplyResult, plan: Plan | None = None) -> str:
    """The closing line, e.g. ``Apply complete: 3 started, 1 recorded.``; with the plan,
    deferred customers are counted too."""
    counts = result.counts()
    parts = ", ".join(f"{counts[r.value]} {r.value}" for r in Result if counts[r.value])
    deferred = plan.summary()[Action.DEFER.value] if plan is not None else 0
    if deferred:
        parts = ", ".join(p for p in (parts, f"{deferred} deferred") if p)
    if result.interrupted:
        return f"Apply interrupted: {parts or 'nothing done'}."
    if result.aborted:
        return f"Apply stopped: {result.aborted}. {parts}."
    if result.ok:
        return f"Apply complete: {parts or 'nothing to do'}."
    if all(o.result.ok or o.result is Result.IN_PROGRESS for o in result.outcomes):
        return (f"Apply done, but the wait was not met: {parts}. Later plans and applies pick "
                "up their progress.")
    return f"Apply finished with errors: {parts}. Run plan to see what is left."


def render_markdown(result: ApplyResult) -> str:
    """The apply's outcome for a CI run summary: the summary line and anything not done."""
    columns = ("customer", "name", "family", "result", "message")
    rows = tuple(markdown.row(f"`{o.change.customer_id}`", markdown.cell(o.change.customer_name),
                              o.change.product_family, o.result.value,
                              markdown.cell(o.message))
                 for o in result.outcomes if not o.result.ok)
    return markdown.fit(["### reconciler apply", "", f"**{summary(result)}**", ""],
                        [markdown.Table("Not done", columns, rows, "row")], [],
                        max_chars=markdown.MAX_CHARS, full="the full output")
