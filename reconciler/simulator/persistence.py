"""Saving and loading the world as JSON, so ``--simulate`` remembers between runs.

The file holds customers, upgrades and the responses remembered for MS-RequestId replays: a
reconciler that crashed mid-create and restarts its embedded simulator must still get its
original 202 back when it retries with the same request id.

Two files: the snapshot (``simulator.json``, the whole world, replaced atomically) and beside it
a change log (``simulator.json.log``), one JSON line per change with the changed records as they
now are. A change is appended (one ``write``, no fsync: it survives the death of the process,
as the atomic rename always did) before the response that reports it is sent, so the world file
is as durable as what the simulator answered, at a cost that does not grow with the world.
Loading reads the snapshot, then replays the log. The log is folded into a new snapshot
("compaction") when the world file is attached, when the log outgrows the snapshot, and on stop.

The log starts with a header line naming the snapshot ``generation`` it continues; a log whose
generation is older than the snapshot's (a crash between writing the new snapshot and resetting
the log) is already inside the snapshot and is ignored. A last line without its newline (a
write the process did not finish, so never acknowledged) or with invalid JSON is ignored;
damage anywhere else is an error naming the file and line.

One process owns a world file at a time: there is no cross-process locking (as before the log:
two simulators sharing a file overwrite each other's snapshots).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from reconciler.errors import StateError
from reconciler.simulator.world import (
    ApiError,
    Changes,
    Customer,
    StoredResponse,
    Upgrade,
    World,
)

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
#: The log is compacted once it is bigger than the snapshot and at least this big.
COMPACT_AT_BYTES = 1 << 20


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


def world_to_json(world: World, generation: int = 0) -> dict[str, Any]:
    """The whole world as a JSON-able document."""
    customers, upgrades, responses = world.snapshot()
    return {
        "format_version": FORMAT_VERSION,
        "generation": generation,
        "customers": [_customer_to_json(c) for c in customers],
        "upgrades": [_upgrade_to_json(u) for u in upgrades],
        "responses": {k: _response_to_json(v) for k, v in sorted(responses.items())},
    }


def changes_to_json(changes: Changes) -> dict[str, Any]:
    """One log line's document: the changed records, and the upgrades that vanished."""
    doc: dict[str, Any] = {}
    if changes.customers:
        doc["customers"] = [_customer_to_json(c) for c in changes.customers]
    if changes.upgrades:
        doc["upgrades"] = [_upgrade_to_json(u) for u in changes.upgrades]
    if changes.gone_upgrades:
        doc["gone_upgrades"] = list(changes.gone_upgrades)
    if changes.responses:
        doc["responses"] = {k: _response_to_json(v) for k, v in changes.responses.items()}
    return doc


def log_path(path: Path) -> Path:
    """The change log kept beside the snapshot ``path``."""
    return path.with_name(path.name + ".log")


@dataclass
class _Loaded:
    """Records read from a snapshot and its log, to be merged into a world at once."""

    generation: int = 0
    customers: dict[str, Customer] = field(default_factory=dict)
    upgrades: dict[str, Upgrade] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    responses: dict[str, StoredResponse] = field(default_factory=dict)

    def apply(self, doc: dict[str, Any]) -> None:
        """Add one document's records (all parsed first: a bad one changes nothing)."""
        customers = [_customer_from_json(c) for c in doc.get("customers", [])]
        upgrades = [_upgrade_from_json(u) for u in doc.get("upgrades", [])]
        gone = [str(upgrade_id) for upgrade_id in doc.get("gone_upgrades", [])]
        responses = {str(k): _response_from_json(v) for k, v in doc.get("responses", {}).items()}
        self.customers.update((c.id, c) for c in customers)
        for upgrade in upgrades:
            self.upgrades[upgrade.id] = upgrade
            self.gone.discard(upgrade.id)
        for upgrade_id in gone:
            self.upgrades.pop(upgrade_id, None)
            self.gone.add(upgrade_id)
        self.responses.update(responses)


def _read_snapshot(path: Path) -> _Loaded | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        doc = cast(dict[str, Any], json.loads(text))
        if doc.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unsupported format_version {doc.get('format_version')!r}")
        loaded = _Loaded(generation=int(doc.get("generation", 0)))
        loaded.apply(doc)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise StateError(f"The simulator world file {path} is unreadable: {exc}.") from exc
    return loaded


def _read_log(path: Path, loaded: _Loaded) -> None:
    """Replay the log of ``loaded``'s generation into it (see the module's docstring)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    lines = data.split(b"\n")
    complete = lines[:-1]  # the last piece is empty, or a line whose write was not finished
    if lines[-1]:
        logger.warning("ignoring an unfinished last line in %s", path)
    for number, raw in enumerate(complete, start=1):
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict):
                raise ValueError("not a JSON object")
            if number == 1:
                generation = int(doc["generation"])
                if generation < loaded.generation:
                    return  # already folded into the snapshot
                if generation > loaded.generation:
                    raise ValueError(f"generation {generation} is newer than the snapshot's "
                                     f"{loaded.generation}")
            else:
                loaded.apply(doc)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            if number == len(complete):
                logger.warning("ignoring a damaged last line in %s:%d: %s", path, number, exc)
                break
            raise StateError(
                f"The simulator world log {path}:{number} is damaged: {exc}.") from exc


def _read(path: Path) -> _Loaded | None:
    loaded = _read_snapshot(path)
    if loaded is not None:
        _read_log(log_path(path), loaded)
    elif log_path(path).exists():  # a compaction writes the snapshot first: not a crash
        raise StateError(f"The simulator world log {log_path(path)} exists but its snapshot "
                         f"{path} does not: restore {path.name}, or remove both to start "
                         "with a new world.")
    return loaded


def _merge(world: World, loaded: _Loaded) -> None:
    world.restore(list(loaded.customers.values()), list(loaded.upgrades.values()),
                  loaded.responses, loaded.gone)


def load_world(world: World, path: Path) -> bool:
    """Fill ``world`` from ``path`` and its log; False (world untouched) when there is no file."""
    loaded = _read(path)
    if loaded is None:
        return False
    _merge(world, loaded)
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


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class WorldFile:
    """A world kept in a snapshot file plus an append-only change log beside it.

    :meth:`attach` loads both and starts tracking changes; :meth:`append` (a world listener)
    writes what changed as one log line; :meth:`save` compacts; :meth:`close` compacts and
    closes the log. The lock keeps appends and compactions in the order of the changes.
    """

    def __init__(self, world: World, path: Path, *, compact_at_bytes: int = COMPACT_AT_BYTES
                 ) -> None:
        self.world = world
        self.path = path
        self.log = log_path(path)
        self.compact_at_bytes = compact_at_bytes
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._generation = 0
        self._log_bytes = 0
        self._snapshot_bytes = 0

    def attach(self) -> bool:
        """Load the files into the world (False: there were none), track changes, compact.

        The compaction proves the files writable before any client call.
        """
        with self._lock:
            loaded = _read(self.path)
            if loaded is not None:
                _merge(self.world, loaded)
                self._generation = loaded.generation
                logger.info("loaded simulator world from %s", self.path)
            self.world.track_changes()
            self.world.take_changes()  # what was merged is in the snapshot written now
            self._compact()
        return loaded is not None

    def append(self) -> None:
        """Write what changed since the last call as one log line (compacting when due)."""
        with self._lock:
            changes = self.world.take_changes()
            if not changes:
                return
            line = json.dumps(changes_to_json(changes), sort_keys=True).encode() + b"\n"
            _write_all(self._log_fd(), line)
            self._log_bytes += len(line)
            if self._log_bytes > max(self._snapshot_bytes, self.compact_at_bytes):
                self._compact()

    def save(self) -> None:
        """Fold everything into a new snapshot now."""
        with self._lock:
            self.world.take_changes()  # the snapshot holds them
            self._compact()

    def close(self) -> None:
        """Compact and close the log (a later change opens it again)."""
        with self._lock:
            self.world.take_changes()
            self._compact()
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _log_fd(self) -> int:
        if self._fd is None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        return self._fd

    def _reset_log(self) -> None:
        """Empty the log in place and start it with the header of the current generation."""
        fd = self._log_fd()
        os.ftruncate(fd, 0)
        header = json.dumps({"generation": self._generation}).encode() + b"\n"
        _write_all(fd, header)
        self._log_bytes = len(header)

    def _compact(self) -> None:
        """Write the whole world as the next generation's snapshot, then reset the log.

        A crash between the two leaves a log of the older generation, which loading ignores.
        """
        generation = self._generation + 1
        doc = world_to_json(self.world, generation)
        text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
        write_atomically(self.path, text)
        self._generation = generation
        self._snapshot_bytes = len(text)
        self._reset_log()
