"""The Azure Blob backend: state in a container, shared by every pipeline that can reach it.

Blobs, for ``key: reconciler/state.json``:

* ``reconciler/state.json``          the snapshot (a block blob, the local snapshot format),
                                     replaced whole by ``write``; its lease is the lock, its
                                     metadata says who holds it;
* ``reconciler/state.json.journal``  an append blob, one block per change since the snapshot,
                                     so recording a change is one small request however large
                                     the state is; leased together with the snapshot;
* ``reconciler/state.json.history``  the operation history, append blobs that every run adds
                                     to (see :mod:`reconciler.backends.azurehistory`).

Every write names the lease *and* the ETag this object last saw, so the service refuses it when
the lock was lost or the blob changed behind our back; the first is a LockError (and
:meth:`lock_lost` turns true), the second a StateError. Both blobs exist, possibly empty, from
the first lock on (a lease needs a blob); an empty snapshot with an empty journal reads as "no
state". An append blob holds at most 50,000 blocks, so before it fills up the journal is folded
into a new snapshot. Storage account versioning and soft delete keep the previous snapshots (see
docs/backends.md), so no backup blob is written.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from reconciler.backends import azureread, journal, snapshot
from reconciler.backends.azureclient import container_client, describe_error, error_code
from reconciler.backends.azurehistory import SUFFIX, BlobHistory
from reconciler.backends.azurelease import (
    DEFAULT_LEASE_SECONDS,
    LeaseKeeper,
    is_lease_lost,
    lock_metadata,
)
from reconciler.backends.base import LockInfo, check_writable, lost_message, refuse_behind_history
from reconciler.errors import LockError, StateError
from reconciler.state import State, StateChange, fold

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient, ContainerClient

log = logging.getLogger(__name__)

_READ_ATTEMPTS = 5
#: Fold the journal into a snapshot before the append blob reaches Azure's 50,000 blocks.
MAX_JOURNAL_BLOCKS = 49_000


@dataclass(frozen=True, slots=True)
class _Blob:
    data: bytes
    etag: str
    blocks: int  # an append blob's committed block count (0 for a block blob)


class AzureBlobBackend:
    """State in Azure Blob Storage; see the module docstring for the layout."""

    def __init__(self, account_url: str, container: str, key: str, *,
                 env: Mapping[str, str], lease_seconds: int = DEFAULT_LEASE_SECONDS,
                 renew_seconds: float | None = None,
                 max_journal_blocks: int = MAX_JOURNAL_BLOCKS) -> None:
        self.account_url = account_url.rstrip("/")
        self.container = container
        self.key = key
        self._env = env
        self._lease_seconds = lease_seconds
        self._renew_seconds = renew_seconds or lease_seconds / 3
        self._max_blocks = max_journal_blocks
        self._client: ContainerClient | None = None
        self._mutex = threading.RLock()  # worker threads of one run share this object
        self._held: LockInfo | None = None
        self._keeper: LeaseKeeper | None = None
        #: Set once the lock is lost; a run stops starting new work when it is.
        self.lost = threading.Event()
        self._history = BlobHistory(self._container, key)
        self._forget_remote()

    def _forget_remote(self) -> None:
        """Drop what this object knows of the blobs (after locking, or a failed write)."""
        self._state_etag: str | None = None
        self._journal_etag: str | None = None
        self._journal_length = 0
        self._journal_unterminated = False  # its last entry lacks the newline
        self._journal_blocks = 0
        self._known: State | None = None  # the state as of the last read or write
        self._since: list[StateChange] = []  # changes appended after it
        self._serial: int | None = None
        self._lineage: str | None = None
        self._snapshot_serial: int | None = None

    def describe(self) -> str:
        """E.g. "Azure blob https://acct.blob.core.windows.net/tfstate/reconciler.json"."""
        return f"Azure blob {self.location}"

    @property
    def location(self) -> str:
        """The state blob's URL (no credentials)."""
        return f"{self.account_url}/{self.container}/{self.key}"

    # --- blobs -----------------------------------------------------------------------------

    def _container(self) -> ContainerClient:
        if self._client is None:
            self._client = container_client(self.account_url, self.container, self._env)
        return self._client

    def _state_blob(self) -> BlobClient:
        return self._container().get_blob_client(self.key)

    def _journal_blob(self) -> BlobClient:
        return self._container().get_blob_client(self.key + ".journal")

    @contextmanager
    def _storage(self, what: str) -> Iterator[None]:
        """Turn a failed storage call into a StateError (or LockError) naming what failed."""
        from azure.core.exceptions import AzureError, ResourceModifiedError

        try:
            yield
        except (StateError, LockError):
            raise
        except ResourceModifiedError:
            self._forget_remote()
            raise StateError(
                f"Cannot {what}: the state in {self.describe()} was changed behind this run's "
                "back (its ETag no longer matches what this run read). Nothing was "
                "overwritten; run plan to see the state as it is now.",
                hint="run plan again",
            ) from None
        except AzureError as exc:
            if is_lease_lost(exc):
                self._lose(f"{what} was refused: {describe_error(exc)}")
                raise LockError(lost_message(self.describe(), what, self._lost_reason())) \
                    from None
            if error_code(exc) == "ContainerNotFound":  # type: ignore[arg-type]
                raise StateError(
                    f"The container {self.container} does not exist in {self.account_url}; "
                    "create it first (see docs/backends.md).",
                    hint="create the storage container",
                ) from None
            raise StateError(
                f"Cannot {what} in {self.describe()}: {describe_error(exc)}."
            ) from exc

    def _download(self, blob: BlobClient) -> _Blob | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            stream = blob.download_blob(lease=None)
        except ResourceNotFoundError as exc:
            if error_code(exc) == "ContainerNotFound":
                raise
            return None
        data = stream.readall()
        props = stream.properties
        return _Blob(data, str(props.etag), int(props.append_blob_committed_block_count or 0))

    # --- reading ---------------------------------------------------------------------------

    def read(self) -> State | None:
        """The snapshot with the journal folded in, or None; never creates anything."""
        with self._mutex, self._storage("read the state"):
            # The history first: it never runs ahead of the state (see history).
            witnessed = self._history.witnessed()
            # A reader without the lock (plan --no-lock) may see the snapshot replaced between
            # reading it and reading the journal; then the pair does not fit, so read again.
            for _ in range(_READ_ATTEMPTS):
                snap = self._download(self._state_blob())
                jour = self._download(self._journal_blob())
                if self._held is not None or snap is None or \
                        self._state_blob().get_blob_properties().etag == snap.etag:
                    break
            base = azureread.decode_snapshot(snap.data if snap else b"", self.location)
            contents = azureread.decode_journal(jour.data if jour else b"", self.location)
            state = azureread.fold_journal(base, contents, self.location)
            self._state_etag = snap.etag if snap else None
            self._journal_etag = jour.etag if jour else None
            self._journal_length = contents.valid_length
            self._journal_unterminated = contents.unterminated
            self._journal_blocks = max(jour.blocks if jour else 0, len(contents.changes))
            self._snapshot_serial = None if base is None else base.serial
            self._known, self._since = state, []
            self._lineage = state.lineage if state else None
            self._serial = state.serial if state else None
            refuse_behind_history(state, witnessed, where=self.location,
                                  journal=self.location + ".journal",
                                  history=self.location + SUFFIX)
            return state

    # --- writing ---------------------------------------------------------------------------

    def write(self, state: State) -> None:
        """Replace the snapshot (conditional on lease and ETag), then empty the journal."""
        with self._mutex:
            self._check_writable(state.lineage, state.serial, "write a snapshot")
            if (self._snapshot_serial, self._serial, self._lineage, self._journal_blocks) == (
                    state.serial, state.serial, state.lineage, 0):
                log.debug("%s is unchanged at serial %d.", self.location, state.serial)
                return
            self._replace_snapshot(state)

    def _replace_snapshot(self, state: State) -> None:
        from azure.core import MatchConditions
        from azure.storage.blob import ContentSettings

        from reconciler.backends.azurelock import lease_client

        held = self._held
        assert held is not None
        lease = lease_client(self._state_blob(), held.id)
        with self._storage("write the state snapshot"):
            result = self._state_blob().upload_blob(
                b"".join(snapshot.encode_chunks(state)), overwrite=True, lease=lease,
                etag=self._state_etag, match_condition=MatchConditions.IfNotModified,
                # A write replaces the metadata, so the lock information goes with each one.
                metadata=lock_metadata(held), max_concurrency=4,
                content_settings=ContentSettings(content_type="application/json"))
            self._state_etag = str(result["etag"])
            self._snapshot_serial = state.serial
            self._lineage, self._serial = state.lineage, state.serial
            self._known, self._since = state, []
            # Only now is every journalled change in the snapshot, so the journal may go.
            # (Were this lost, read skips entries the snapshot already holds.)
            emptied = self._journal_blob().create_append_blob(
                lease=held.id, etag=self._journal_etag,
                match_condition=MatchConditions.IfNotModified)
            self._journal_etag = str(emptied["etag"])
            self._journal_length = self._journal_blocks = 0
            self._journal_unterminated = False
        log.debug("Wrote %s (serial %d, %d records).", self.location, state.serial, len(state))

    def sync(self) -> None:
        """Every append is durable when it returns: nothing to wait for."""

    def append(self, change: StateChange, *, sync: bool = True) -> None:
        """Durably record one change: one append block, conditional on lease and ETag (always
        durable on return, whatever ``sync`` says)."""
        with self._mutex:
            if self._held is not None and self._serial is None:
                self.read()
            if self._lineage is None or self._serial is None:
                self._check_writable(None, change.serial, "record a change")
                raise StateError(
                    f"No state exists in {self.describe()} yet: write a snapshot before changes."
                )
            self._check_writable(self._lineage, change.serial, "record a change")
            if change.serial != self._serial + 1:
                raise StateError(
                    f"Change serial {change.serial} does not follow the state's serial "
                    f"{self._serial} in {self.describe()}."
                )
            if self._journal_blocks >= self._max_blocks and self._known is not None:
                self._replace_snapshot(fold(self._known, self._since))
            line = journal.encode(self._lineage, change)
            if self._journal_unterminated:
                line = b"\n" + line  # end a whole last entry that lost its newline
            self._append_line(line)
            self._journal_unterminated = False
            self._serial = change.serial
            self._since.append(change)

    def _append_line(self, line: bytes) -> None:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError

        blob = self._journal_blob()
        with self._storage("record a change"):
            try:
                result: dict[str, Any] = blob.append_block(
                    line, lease=self._lease_id(), etag=self._journal_etag,
                    match_condition=MatchConditions.IfNotModified)
            except ResourceModifiedError:
                # The SDK retries a call whose answer was lost; if the first try went through,
                # the retry finds our own line there. Anything else is a real conflict.
                if not self._is_our_line(blob, line):
                    raise
                result = dict(blob.get_blob_properties(lease=self._lease_id()))
                result["blob_committed_block_count"] = self._journal_blocks + 1
        self._journal_etag = str(result["etag"])
        self._journal_length += len(line)
        self._journal_blocks = int(result.get("blob_committed_block_count") or
                                   self._journal_blocks + 1)

    def _is_our_line(self, blob: BlobClient, line: bytes) -> bool:
        props = blob.get_blob_properties()
        if props.size != self._journal_length + len(line):
            return False
        tail = blob.download_blob(offset=self._journal_length, length=len(line)).readall()
        return bool(tail == line)

    def _check_writable(self, lineage: str | None, serial: int, what: str) -> None:
        if self._held is not None and not self.lost.is_set() and self._serial is None:
            self.read()
        known = (self._lineage, self._serial) if self._lineage is not None and \
            self._serial is not None else None
        check_writable(self.describe(), what, held=self._held is not None,
                       lost=self._lost_reason() if self.lost.is_set() else None,
                       known=known, lineage=lineage, serial=serial)

    # --- locking ---------------------------------------------------------------------------

    def lock(self, info: LockInfo, timeout: float = 0.0) -> LockInfo:
        """Lease the state and journal blobs under ``info.id``, waiting up to ``timeout`` s."""
        from reconciler.backends import azurelock

        info = replace(info, path=self.location)
        with self._mutex, self._storage("take the state lock"):
            azurelock.ensure_blobs(self._state_blob(), self._journal_blob())
            azurelock.acquire(self._state_blob(), self._journal_blob(), info,
                              self._lease_seconds, timeout, self.location)
            self._held = info
            self.lost = threading.Event()
            self._forget_remote()
            self._keeper = LeaseKeeper(
                [azurelock.lease_client(b, info.id)
                 for b in (self._state_blob(), self._journal_blob())],
                self._lease_seconds, self._renew_seconds)
            self._keeper.on_lost(self.lost.set)
            self._keeper.start()
        return info

    def lock_lost(self) -> bool:
        """True once the lease taken by :meth:`lock` was broken, taken or expired."""
        return self.lost.is_set()

    def lost_reason(self) -> str | None:
        """Why the lease was lost, once it was; else None."""
        return self._lost_reason() if self.lost.is_set() else None

    def on_lock_lost(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the lock held now is lost (e.g. to stop starting upgrades)."""
        if self._keeper is not None:
            self._keeper.on_lost(callback)

    def _lose(self, reason: str) -> None:
        log.error("Lost the state lock on %s: %s.", self.location, reason)
        self.lost.set()

    def _lost_reason(self) -> str:
        if self._keeper is not None and self._keeper.reason:
            return self._keeper.reason
        return "its lease was broken, taken or expired"

    def _lease_id(self) -> str:
        if self._held is None:
            raise StateError(f"Not holding the state lock on {self.describe()}.")
        return self._held.id

    def unlock(self, lock_id: str) -> None:
        """Release the leases (journal first, so a waiting run never waits for it)."""
        from reconciler.backends import azurelock

        with self._mutex:
            self._stop_keeper()
            self._held = None
            self._forget_remote()
            try:
                with self._storage("release the state lock"):
                    azurelock.release(self._state_blob(), self._journal_blob(), lock_id,
                                      self.location)
            except LockError:
                if not self.lost.is_set():
                    raise
                # Already reported (and the state saved locally): don't mask that error.
                log.warning("The lost state lock %s is held by another run now.", lock_id)

    def _stop_keeper(self) -> None:
        if self._keeper is not None:
            self._keeper.stop()

    def current_lock(self) -> LockInfo | None:
        """Who holds the lock now, or None (an expired or broken lease holds nothing)."""
        from reconciler.backends import azurelock

        with self._storage("read the state lock"):
            return azurelock.holder(self._state_blob())

    def force_unlock(self, lock_id: str) -> LockInfo:
        """Break the leases, but only if the lock's ID is ``lock_id``."""
        from reconciler.backends import azurelock

        with self._storage("release the state lock"):
            return azurelock.break_if(self._state_blob(), self._journal_blob(), lock_id,
                                      self.location)

    # --- history ---------------------------------------------------------------------------

    def append_history(self, data: bytes) -> None:
        """Append history lines as one block (not leased: see azurehistory)."""
        with self._storage("append to the operation history"):
            self._history.append(data)

    def read_history(self) -> bytes:
        """Every history segment's lines, oldest first."""
        with self._storage("read the operation history"):
            return self._history.read()

    def close(self) -> None:
        """Stop renewing (a held lock then expires by itself) and close connections."""
        with self._mutex:
            self._stop_keeper()
            if self._client is not None:
                self._client.close()
                self._client = None

