"""The stable JSON form of a plan (``plan --format json`` and saved plan files are the same)."""

from __future__ import annotations

import json
from typing import Any

from reconciler.backends.codec import line_items_to_list, verification_to_dict
from reconciler.plan import Change, Plan


def change_to_dict(change: Change) -> dict[str, Any]:
    """One change in the documented field order."""
    return {
        "action": change.action.value,
        "customer_id": change.customer_id,
        "product_family": change.product_family,
        "source": change.source,
        "reason": change.reason,
        "upgrade_id": change.upgrade_id,
        "customer_name": change.customer_name,
        "before": change.before,
        "remote_status": change.remote_status,
        "verification": verification_to_dict(change.verification),
        "line_items": line_items_to_list(change.line_items),
    }


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The whole plan document (``schemas/plan.schema.json``, the same as a saved plan file)."""
    return {
        "format_version": plan.format_version,
        "kind": "plan",
        "created_at": plan.created_at,
        "lineage": plan.lineage,
        "serial": plan.serial,
        "manifest_digest": plan.manifest_digest,
        "refreshed": plan.refreshed,
        "targets": list(plan.targets),
        "batch": plan.batch,
        "changes": [change_to_dict(change) for change in plan.changes],
        "summary": plan.summary(),
    }


def render(plan: Plan) -> str:
    """Pretty, deterministic JSON with a trailing newline."""
    return json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False) + "\n"
