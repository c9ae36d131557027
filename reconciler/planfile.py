"""Saved plan files: writing, reading back (refusing anything malformed or from a newer
version), and refusing a plan that no longer fits the state and manifests it was made from."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from reconciler.backends.codec import line_items_from_list, verification_from_dict
from reconciler.durations import format_duration
from reconciler.errors import PlanError
from reconciler.model import Desired, UpgradeKey
from reconciler.plan import FORMAT_VERSION, Action, Change, Plan
from reconciler.planbinding import first_unbound
from reconciler.render.json import render
from reconciler.schemacheck import validator_for
from reconciler.state import State


def write(plan: Plan, path: Path) -> None:
    """Write a plan file (the JSON document; it never contains a secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(render(plan), encoding="utf-8")
    temporary.replace(path)


def read(path: Path) -> Plan:
    """Read and validate a saved plan, raising PlanError with a sentence naming the file."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanError(f"Cannot read the plan file {path}: {exc.strerror}.") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanError(f"The plan file {path} is not a plan (not valid JSON: {exc}).") from exc
    if isinstance(document, dict) and document.get("format_version") not in (None,
                                                                              FORMAT_VERSION):
        raise PlanError(f"The plan file {path} has format {document.get('format_version')!r}, "
                        "which this version of reconciler cannot read; re-run plan.")
    errors = sorted(validator_for("plan.schema.json").iter_errors(document),
                    key=lambda e: list(map(str, e.path)))
    if errors:
        first = errors[0]
        where = "/".join(map(str, first.absolute_path)) or "the document"
        raise PlanError(f"The plan file {path} is not a valid plan: {where}: {first.message}.")
    return from_dict(cast(dict[str, Any], document))


def from_dict(document: dict[str, Any]) -> Plan:
    """Rebuild a Plan from its (schema-valid) JSON form."""
    changes = tuple(
        Change(Action(c["action"]), UpgradeKey(c["customer_id"], c["product_family"]),
               c["reason"], c.get("source"), c.get("customer_name"), c.get("upgrade_id"),
               c.get("before"), c.get("remote_status"),
               verification_from_dict(c.get("verification")),
               line_items_from_list(c.get("line_items", [])))
        for c in document["changes"]
    )
    return Plan(changes=changes, created_at=document["created_at"],
                lineage=document["lineage"], serial=document["serial"],
                manifest_digest=document["manifest_digest"], refreshed=document["refreshed"],
                targets=tuple(document.get("targets", ())), batch=document.get("batch"))


def check_fresh(plan: Plan, state: State | None, digest: str, max_age: float,
                now: datetime) -> None:
    """Refuse a saved plan made from other state, other manifests, or too long ago."""
    lineage = state.lineage if state else None
    serial = state.serial if state else None
    if (plan.lineage, plan.serial) != (lineage, serial):
        raise PlanError(f"Saved plan is stale: it was made {_from(plan.lineage, plan.serial)}, "
                        f"but {_now(lineage, serial)}. Nothing was done; run plan again.")
    if plan.manifest_digest != digest:
        raise PlanError("Saved plan is stale: the manifests changed since it was made. Nothing "
                        "was done; run plan again.")
    made = datetime.strptime(plan.created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    age = (now - made).total_seconds()
    if age > max_age:
        raise PlanError(f"Saved plan is {format_duration(int(age))} old, older than "
                        f"--max-plan-age {format_duration(max_age)}. Nothing was done; run plan "
                        "again.")


def check_bound(saved: Plan, desired: Desired, state: State | None, now: datetime) -> None:
    """Refuse a saved plan with a change the offline plan does not allow (see planbinding)."""
    unbound = first_unbound(saved, desired, state, now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if unbound is None:
        return
    change, why = unbound
    raise PlanError(f"The saved plan does not match what plan shows for the same state and "
                    f"manifests: it would {change.action.value} {change.product_family} for "
                    f"customer {change.customer_id}, but {why}. Nothing was done; run plan "
                    "again and review it.")


def _from(lineage: str | None, serial: int | None) -> str:
    return "before any state was recorded" if lineage is None else \
        f"from state lineage {lineage} serial {serial}"


def _now(lineage: str | None, serial: int | None) -> str:
    return "no state is recorded now" if lineage is None else \
        f"the state is now lineage {lineage} serial {serial}"
