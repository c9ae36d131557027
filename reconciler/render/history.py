"""``state history`` lines: one per recorded call or state transition."""

from __future__ import annotations

from collections.abc import Mapping


def line(entry: Mapping[str, object]) -> str:
    """One history entry as text (ids and statuses only: the history holds no secret)."""
    if entry.get("kind") == "call":
        status = entry.get("http_status") or entry.get("error")
        return (f"{entry['time']}  {entry.get('customer_id') or '-'}  call {entry['operation']} "
                f"{entry['method']} {entry['path']} → {status}  "
                f"request {entry['request_id']}  correlation {entry['correlation_id']}")
    upgrade = f"  upgrade {entry['upgrade_id']}" if entry.get("upgrade_id") else ""
    request = f"  request {entry['request_id']}" if entry.get("request_id") else ""
    return (f"{entry['time']}  {entry['customer_id']}  {entry['action']}: "
            f"{entry.get('from') or '-'} → {entry.get('to') or '-'}{upgrade}{request}")
