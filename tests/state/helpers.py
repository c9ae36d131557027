"""Builders shared by the state tests (and usable by the benchmark)."""

from __future__ import annotations

from reconciler.model import UpgradeKey
from reconciler.state import ErrorDetail, LineItem, Record, RecordStatus


def customer(i: int) -> str:
    """A deterministic, GUID-shaped customer id."""
    return f"{i:08x}-0000-4000-8000-000000000000"


def make_record(
    i: int,
    *,
    attempts: int = 1,
    status: RecordStatus = RecordStatus.COMPLETED,
    family: str = "Azure",
    failed: bool = False,
) -> Record:
    """A realistic record: one line item, every field filled."""
    return Record(
        key=UpgradeKey(customer(i), family),
        status=RecordStatus.FAILED if failed else status,
        request_id="5b6c5c5e-1c0a-4c33-9c2b-0d2b4f1f8a11",
        upgrade_id="c0ffee00-1111-2222-3333-444455556666",
        remote_status="Failed" if failed else "Completed",
        source="manifests/emea.yaml:14",
        customer_name=f"Contoso {i} Ltd",
        created_at="2026-11-25T10:00:00Z",
        updated_at="2026-11-25T10:05:00Z",
        line_items=(
            LineItem(
                "MS-AZR-0145P",
                "Microsoft Azure",
                "DZH318Z0BCZM",
                "Azure plan",
                "2026-11-25T10:05:00Z",
                "Completed",
                None,
                None,
            ),
        ),
        error=ErrorDetail("E42", "Subscription is disabled", "corr-1") if failed else None,
        attempts=attempts,
        in_progress_since="2026-11-25T10:00:30Z",
    )
