"""Decoding the Azure Blob backend's two blobs into a State, with errors that say what to do.

The formats are the local backend's (:mod:`snapshot`, :mod:`journal`); only the advice
differs: a damaged blob is restored from a previous blob version, not from a backup file.
"""

from __future__ import annotations

from reconciler.backends import journal, snapshot
from reconciler.errors import StateError
from reconciler.state import State


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
    return journal.fold_into(base, contents, f"of Azure blob {location}",
                             f"Azure blob {location}")


