"""Builders for planner tests: desired sets, records and observations in one line each."""

from __future__ import annotations

from reconciler.model import Desired, DesiredUpgrade, SourceLocation, UpgradeKey
from reconciler.state import ErrorDetail, Record, RecordStatus, State

DIGEST = "sha256:" + "ab" * 32
NOW = "2026-11-25T10:00:00Z"


def guid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def key(n: int) -> UpgradeKey:
    return UpgradeKey(guid(n), "Azure")


def desired(*numbers: int, names: bool = True) -> Desired:
    upgrades = tuple(
        DesiredUpgrade(key(n), SourceLocation("manifests/m.yaml", 10 + n), "wave",
                       f"Customer {n}" if names else None)
        for n in sorted(numbers))
    return Desired(upgrades, DIGEST, ("manifests/m.yaml",))


def record(n: int, status: RecordStatus, *, upgrade_id: str | None = None,
           request_id: str | None = "11111111-1111-4111-8111-111111111111",
           remote: str | None = None, error: str | None = None) -> Record:
    return Record(
        key=key(n), status=status, request_id=request_id, upgrade_id=upgrade_id,
        remote_status=remote, source=f"manifests/m.yaml:{10 + n}", customer_name=f"Customer {n}",
        created_at="2026-11-24T09:00:00Z", updated_at="2026-11-24T09:05:00Z",
        error=ErrorDetail("900120", error) if error else None,
        in_progress_since="2026-11-24T09:05:00Z" if status is RecordStatus.IN_PROGRESS else None)


def state(*records: Record, serial: int = 7) -> State:
    return State.of("6f1c3c9e-1111-4c1c-9c1c-000000000001", serial, records)
