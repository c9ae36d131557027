"""Decoding the Azure Blob backend's two blobs into a State, with errors that say what to do.

The formats are the local backend's (:mod:`snapshot`, :mod:`journal`); only the advice
differs: a damaged blob is restored from a previous blob version, not from a backup file.
"""

from __future__ import annotations

from reconciler.backends import journal, snapshot
from reconciler.errors import StateError
from reconciler.state import State, fold


def decode_snapshot(data: bytes, location: str) -> State | None:
    """The snapshot, or None for no blob or the empty placeholder a first lock creates."""
    if not data:
        return None
    try:
        return snapshot.decode(data, f"Azure blob {location}")
    except snapshot.SnapshotDamage as exc:
        raise StateError(
            f"The state in Azure blob {location} is corrupt: {exc}. Restore a previous version "
            "of the blob (blob versioning; see docs/backends.md), then run plan.",
            hint="restore the state blob from a previous version",
        ) from None


def decode_journal(data: bytes, location: str) -> journal.JournalContents:
    """The journal's changes; StateError when a complete entry is damaged."""
    if not data:
        return journal.JournalContents(None, (), 0, 0)
    try:
        return journal.decode(data)
    except journal.JournalDamage as exc:
        raise StateError(
            f"The state journal {location}.journal is damaged at {exc}; restore a previous "
            "version of it (see docs/backends.md), then run plan.",
            hint="repair the state journal",
        ) from None


def fold_journal(base: State | None, contents: journal.JournalContents,
                 location: str) -> State | None:
    """The snapshot with the journal's changes applied (None when both are empty)."""
    if base is None and not contents.changes:
        return None
    if base is None:
        assert contents.lineage is not None
        base = State(contents.lineage, 0)
    elif contents.lineage not in (None, base.lineage):
        raise StateError(
            f"The journal {location}.journal belongs to a different state (lineage "
            f"{contents.lineage}, the snapshot's is {base.lineage})."
        )
    try:
        return fold(base, contents.changes)
    except ValueError as exc:
        raise StateError(
            f"The journal of Azure blob {location} cannot be applied to its snapshot: {exc}; "
            "a change is missing."
        ) from None
