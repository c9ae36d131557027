"""Recorded state for people and scripts: ``state list`` (table or JSON) and ``state show``."""

from __future__ import annotations

import json
from collections.abc import Iterable

from reconciler.backends import snapshot as snapshot_format
from reconciler.backends.codec import record_to_dict
from reconciler.render.safe import visible
from reconciler.state import FORMAT_VERSION, Record, RecordStatus, State


def render_json(recorded: State | None, records: Iterable[Record]) -> str:
    """The records as the documented state JSON (``schemas/state.schema.json``)."""
    doc = {
        "format_version": FORMAT_VERSION,
        "kind": "state",
        "lineage": recorded.lineage if recorded else None,
        "serial": recorded.serial if recorded else None,
        "records": [record_to_dict(r) for r in records],
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False)


def table(records: Iterable[Record]) -> str:
    """One aligned row per record, source last (it may be long)."""
    rows = [("CUSTOMER ID", "FAMILY", "STATUS", "UPGRADE ID", "UPDATED", "SOURCE")]
    rows += [
        (
            r.key.customer_id,
            r.key.product_family,
            r.status.value,
            r.upgrade_id or "-",
            r.updated_at,
            visible(r.source) or "-",
        )
        for r in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
        for row in rows
    )


def details(record: Record) -> str:
    """Everything recorded about one upgrade, field by field, then its line items."""
    remote = f" (Partner Center: {record.remote_status})" if record.remote_status else ""
    fields = [
        ("status", f"{record.status.value}{remote}"),
        ("customer name", visible(record.customer_name)),
        ("upgrade id", record.upgrade_id),
        ("request id", record.request_id),
        ("attempts", str(record.attempts)),
        ("source", record.source),
        ("created", record.created_at),
        ("updated", record.updated_at),
        ("in progress since", record.in_progress_since),
    ]
    if record.verification is not None:
        checked = record.verification
        fields.append(("end state", f"{checked.describe()} (checked {checked.checked_at})"))
    elif record.status is RecordStatus.COMPLETED:
        fields.append(("end state", "not verified yet: the next refresh reads the "
                                    "subscriptions"))
    if record.error is not None:
        error = record.error
        corr = f" (MS-CorrelationId {error.correlation_id})" if error.correlation_id else ""
        fields.append(("error", f"{visible(error.code) or 'error'}: {visible(error.message)}"
                                f"{corr}"))
    lines = [str(record.key)] + [f"  {name + ':':<19} {value}" for name, value in fields if value]
    if record.line_items:
        lines.append("  line items:")
    for item in record.line_items:
        target = f" -> {item.target_product_id} ({visible(item.target_product_name)})"
        done = f" on {item.upgraded_date}" if item.upgraded_date else ""
        fault = f" [{visible(item.error_code)}: {visible(item.error_message)}]" \
            if item.error_code else ""
        lines.append(
            f"    {item.source_product_id} ({visible(item.source_product_name)}){target}: "
            f"{item.status or 'unknown'}{done}{fault}"
        )
    return "\n".join(lines)


def snapshot(state: State) -> str:
    """The whole state in the snapshot format, checksum included (``state pull``)."""
    return snapshot_format.encode(state).decode("utf-8")
