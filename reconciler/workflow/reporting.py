"""``report``: manifests, recorded state (read only) and the history, folded into a Report.

Offline unless asked to refresh, and then it makes exactly the reads ``plan`` makes; it never
writes: no lock is taken (like ``plan --no-lock``), so a report can run beside an apply.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from reconciler import history, report
from reconciler.backends import opened
from reconciler.partnercenter import AttemptInfo
from reconciler.refresh import Progress
from reconciler.settings import Settings
from reconciler.workflow.inputs import PlanOptions, brief_read, load_inputs, make_plan, utc_stamp


def make_report(settings: Settings, paths: Collection[Path], *, refresh: bool = False,
                progress: Progress | None = None) -> report.Report:
    """The report of ``paths`` against the recorded state and history."""
    seen: dict[str, str] = {}

    def note(attempt: AttemptInfo) -> None:
        # The refresh's own MS-CorrelationIds: what support asks about a blocked customer.
        if attempt.customer_id and attempt.correlation_id:
            seen[attempt.customer_id] = attempt.correlation_id

    options = PlanOptions(refresh=refresh)
    inputs = load_inputs(settings, paths, brief_read(settings, "report", lock=False),
                         reads=options.reads, progress=progress, on_attempt=note)
    plan = make_plan(inputs)
    with opened(settings.backend) as backend:
        entries = list(history.read(backend))
    return report.build(inputs.desired, inputs.state, plan, entries, now=utc_stamp(),
                        correlation_ids=seen)
