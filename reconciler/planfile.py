"""Saved plan files: reading one back, refusing anything malformed or from a newer version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from reconciler.errors import PlanError
from reconciler.model import UpgradeKey
from reconciler.plan import FORMAT_VERSION, Action, Change, Plan
from reconciler.render.json import render
from reconciler.schemacheck import validator_for


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
               c.get("before"), c.get("remote_status"))
        for c in document["changes"]
    )
    return Plan(changes=changes, created_at=document["created_at"],
                lineage=document["lineage"], serial=document["serial"],
                manifest_digest=document["manifest_digest"], refreshed=document["refreshed"],
                targets=tuple(document.get("targets", ())))
