"""Saving and loading the world as JSON, atomically, so ``--simulate`` remembers between runs.

The file holds customers, upgrades and the responses remembered for MS-RequestId replays: a
reconciler that crashed mid-create and restarts its embedded simulator must still get its
original 202 back when it retries with the same request id.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from reconciler.errors import StateError
from reconciler.simulator.world import ApiError, Customer, StoredResponse, Upgrade, World

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1


def _customer_to_json(c: Customer) -> dict[str, Any]:
    error = None if c.error is None else [c.error.status, c.error.code, c.error.description]
    return {"id": c.id, "name": c.name, "eligible": c.eligible, "reason": c.reason, "error": error,
            "legacy": c.legacy, "legacy_active_again": c.legacy_active_again,
            "azure_plan_missing": c.azure_plan_missing}


def _customer_from_json(d: dict[str, Any]) -> Customer:
    error = d.get("error")
    return Customer(
        id=str(d["id"]),
        name=str(d.get("name", "Contoso")),
        eligible=bool(d.get("eligible", True)),
        legacy=bool(d.get("legacy", True)),
        legacy_active_again=bool(d.get("legacy_active_again", False)),
        azure_plan_missing=bool(d.get("azure_plan_missing", False)),
        reason=d.get("reason"),
        error=ApiError(int(error[0]), error[1], str(error[2])) if error else None,
    )


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _upgrade_to_json(u: Upgrade) -> dict[str, Any]:
    return {
        "id": u.id,
        "customer_id": u.customer_id,
        "status": u.status,
        "request_id": u.request_id,
        "created_at": _time(u.created_at),
        "product_family": u.product_family,
        "completed_at": _time(u.completed_at),
        "polls": u.polls,
        "will_fail": u.will_fail,
        "error_code": u.error_code,
        "error_message": u.error_message,
        "out_of_band": u.out_of_band,
    }


def _upgrade_from_json(d: dict[str, Any]) -> Upgrade:
    created = _parse_time(d["created_at"])
    assert created is not None
    return Upgrade(
        id=str(d["id"]),
        customer_id=str(d["customer_id"]),
        status=str(d["status"]),
        request_id=d.get("request_id"),
        created_at=created,
        product_family=str(d.get("product_family", "Azure")),
        completed_at=_parse_time(d.get("completed_at")),
        polls=int(d.get("polls", 0)),
        will_fail=bool(d.get("will_fail", False)),
        error_code=d.get("error_code"),
        error_message=d.get("error_message"),
        out_of_band=bool(d.get("out_of_band", False)),
    )


def _response_to_json(r: StoredResponse) -> dict[str, Any]:
    return {
        "status": r.status,
        "headers": [list(h) for h in r.headers],
        "body": r.body,
        "created_at": _time(r.created_at),
    }


def _response_from_json(d: dict[str, Any]) -> StoredResponse:
    created = _parse_time(d["created_at"])
    assert created is not None
    headers = [(str(k), str(v)) for k, v in d.get("headers", [])]
    return StoredResponse(int(d["status"]), headers, str(d.get("body", "")), created)


def world_to_json(world: World) -> dict[str, Any]:
    """The whole world as a JSON-able document."""
    customers, upgrades, responses = world.snapshot()
    return {
        "format_version": FORMAT_VERSION,
        "customers": [_customer_to_json(c) for c in customers],
        "upgrades": [_upgrade_to_json(u) for u in upgrades],
        "responses": {k: _response_to_json(v) for k, v in sorted(responses.items())},
    }


def load_world(world: World, path: Path) -> bool:
    """Fill ``world`` from ``path``; False (world untouched) when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    try:
        doc = cast(dict[str, Any], json.loads(text))
        if doc.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unsupported format_version {doc.get('format_version')!r}")
        world.restore(
            [_customer_from_json(c) for c in doc.get("customers", [])],
            [_upgrade_from_json(u) for u in doc.get("upgrades", [])],
            {k: _response_from_json(v) for k, v in doc.get("responses", {}).items()},
        )
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise StateError(f"The simulator world file {path} is unreadable: {exc}.") from exc
    logger.info("loaded simulator world from %s", path)
    return True


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader (or a crash) sees the old or the new file.

    No fsync: the rename already survives the crash of a process (what ``--simulate`` and the
    crash tests produce), and an fsync per create would make the simulator the bottleneck.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class WorldSaver:
    """Saves a world to one file; the lock keeps concurrent saves in snapshot order."""

    def __init__(self, world: World, path: Path) -> None:
        self.world = world
        self.path = path
        self._lock = threading.Lock()

    def save(self) -> None:
        """Snapshot and write now (the snapshot is taken under the lock, so the last wins)."""
        with self._lock:
            text = json.dumps(world_to_json(self.world), indent=2, sort_keys=True) + "\n"
            write_atomically(self.path, text)
