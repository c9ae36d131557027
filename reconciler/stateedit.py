"""Hand edits of recorded state (``state rm``, ``state push``) as pure decisions.

Each function takes the state as read under the lock and returns the state to write (or raises
a :class:`~reconciler.errors.ReconcilerError` saying why not); the conductor in
:mod:`reconciler.workflow` does the locking and writing.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from reconciler.backends import snapshot
from reconciler.errors import StateError, UsageError
from reconciler.model import UpgradeKey, canonical_id
from reconciler.state import State


def read_state_file(path: Path) -> State:
    """A state file in the snapshot format; UsageError when it is not one."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror}.") from None
    try:
        return snapshot.decode(raw, str(path))
    except snapshot.SnapshotDamage as exc:
        raise UsageError(f"{path} is not a reconciler state file: {exc}.") from None


def without_customers(recorded: State | None, customer_ids: Iterable[str],
                      where: str) -> tuple[State, list[UpgradeKey]]:
    """The state without every record of the customers, all or nothing; and the keys removed."""
    keys: list[UpgradeKey] = []
    missing: list[str] = []
    for customer_id in dict.fromkeys(canonical_id(c) for c in customer_ids):
        found = [r.key for r in recorded.by_customer(customer_id)] if recorded else []
        keys.extend(found)
        if not found:
            missing.append(customer_id)
    if missing or recorded is None:
        raise UsageError(f"Not recorded in {where}: {', '.join(missing)}. Nothing was removed.")
    return recorded.without(*keys), keys


def to_push(pushed: State, current: State | None, force: bool, where: str) -> State | None:
    """The state to write for ``state push``, None when ``current`` already is ``pushed``.

    Terraform's rules: a state of another lineage, or one older than the recorded state, is
    refused unless ``force``; forced, the file's records become the next serial of the recorded
    lineage, so saved plans made before the push are refused as stale.
    """
    if current is None:
        return pushed
    if pushed.lineage != current.lineage:
        problem = (f"it is state lineage {pushed.lineage}, but {where} holds lineage "
                   f"{current.lineage}")
    elif pushed.serial < current.serial:
        problem = (f"its serial {pushed.serial} is older than the recorded serial "
                   f"{current.serial} in {where}")
    elif pushed.serial == current.serial:
        if dict(pushed.records) == dict(current.records):
            return None
        problem = f"it differs from the state in {where} at the same serial {current.serial}"
    else:
        return pushed
    if not force:
        raise StateError(f"Refusing to push: {problem}. Check which state is right (state list "
                         "on both); pass --force to replace the recorded state anyway.",
                         hint="check the states, then push with --force")
    return current.replaced_by(pushed)
