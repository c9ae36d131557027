"""Taking, inspecting, releasing and breaking the Azure Blob backend's lock (blob leases).

See :mod:`reconciler.backends.azurelease` for why the lock is a finite lease on the state and
journal blobs. Functions here raise LockError for lock conflicts and let other storage errors
through to the backend, which words them.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from reconciler.backends.azureclient import error_code
from reconciler.backends.azurelease import (
    LEASE_LOST_CODES,
    lock_from_metadata,
    lock_metadata,
    unknown_holder,
)
from reconciler.backends.base import LockInfo
from reconciler.errors import LockError

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient, BlobLeaseClient

log = logging.getLogger(__name__)

_HELD_STATES = ("leased", "breaking")


def lease_client(blob: BlobClient, lease_id: str) -> BlobLeaseClient:
    """A lease client for ``blob`` under ``lease_id``."""
    from azure.storage.blob import BlobLeaseClient

    return BlobLeaseClient(blob, lease_id=lease_id)


def ensure_blobs(state: BlobClient, journal: BlobClient) -> None:
    """Create the (empty) snapshot and journal blobs if missing: only a blob can be leased."""
    from azure.core import MatchConditions

    _create_if_missing(lambda: state.upload_blob(b"", overwrite=False))
    _create_if_missing(lambda: journal.create_append_blob(
        match_condition=MatchConditions.IfMissing))


def _create_if_missing(create: Callable[[], object]) -> None:
    from azure.core.exceptions import HttpResponseError, ResourceExistsError

    try:
        create()
    except ResourceExistsError:
        pass  # the usual case
    except HttpResponseError as exc:
        # "If none match *" failed (ConditionNotMet), or it exists and is leased (LeaseIdMissing)
        if error_code(exc) != "ConditionNotMet" and error_code(exc) not in LEASE_LOST_CODES:
            raise


def acquire(state: BlobClient, journal: BlobClient, info: LockInfo, seconds: int,
            timeout: float, location: str,
            sleep: Callable[[float], None] = time.sleep) -> None:
    """Lease both blobs under ``info.id`` and record ``info``; LockError naming the holder."""
    from azure.core.exceptions import HttpResponseError

    deadline = time.monotonic() + max(timeout, 0.0)
    delay = 0.05
    while True:
        try:
            lease_client(state, info.id).acquire(lease_duration=seconds)
            break
        except HttpResponseError as exc:
            if error_code(exc) not in ("LeaseAlreadyPresent", "LeaseIsBreakingAndCannotBeAcquired"):
                raise
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise held_error(location, _named_holder(state, sleep), timeout, seconds)
        sleep(min(remaining, delay * random.uniform(0.5, 1.0)))
        delay = min(delay * 2, 2.0)
    try:
        state.set_blob_metadata(lock_metadata(info), lease=info.id)
        _acquire_journal(journal, info.id, seconds, sleep)
    except BaseException:
        _quietly_release(state, info.id)
        raise


def _named_holder(state: BlobClient, sleep: Callable[[float], None]) -> LockInfo:
    """The holder, waiting a moment for one that has leased but not yet written who it is."""
    current = None
    for _ in range(10):
        current = holder(state)
        if current is None or current.id != "unknown":
            break
        sleep(0.2)  # it writes its metadata right after leasing
    return current or unknown_holder("leased")


def _acquire_journal(journal: BlobClient, lease_id: str, seconds: int,
                     sleep: Callable[[float], None]) -> None:
    """Lease the journal; a dead holder's journal lease ends moments after its state lease."""
    from azure.core.exceptions import HttpResponseError

    deadline = time.monotonic() + seconds + 5
    while True:
        try:
            lease_client(journal, lease_id).acquire(lease_duration=seconds)
            return
        except HttpResponseError as exc:
            if error_code(exc) != "LeaseAlreadyPresent" or time.monotonic() > deadline:
                raise
        sleep(0.5)


def _quietly_release(blob: BlobClient, lease_id: str) -> None:
    try:
        lease_client(blob, lease_id).release()
    except Exception as exc:  # the lease then simply expires
        log.debug("Could not release lease on %s: %s", blob.blob_name, exc)


def holder(state: BlobClient) -> LockInfo | None:
    """Who holds the lock now, or None when the state blob is not leased."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        props = state.get_blob_properties()
    except ResourceNotFoundError as exc:
        if error_code(exc) == "ContainerNotFound":
            raise
        return None
    lease_state = str(props.lease.state or "")
    if lease_state not in _HELD_STATES:
        return None
    return lock_from_metadata(props.metadata) or unknown_holder(lease_state)


def release(state: BlobClient, journal: BlobClient, lock_id: str, location: str) -> None:
    """Release our leases; LockError when someone else holds the lock now."""
    from azure.core.exceptions import HttpResponseError

    _quietly_release(journal, lock_id)
    try:
        # Clear the holder first: a lock that is free must not still name a holder.
        state.set_blob_metadata({}, lease=lock_id)
        lease_client(state, lock_id).release()
    except HttpResponseError as exc:
        if error_code(exc) not in LEASE_LOST_CODES:
            raise
        current = holder(state)
        if current is not None and current.id != lock_id:
            raise LockError(f"Cannot release lock {lock_id} on {location}: the lock is now "
                            f"{current.describe()}.") from None
        log.warning("The state lock %s was already gone (expired or force-unlocked).", lock_id)


def break_if(state: BlobClient, journal: BlobClient, lock_id: str, location: str) -> LockInfo:
    """Break the lock's leases if its ID is ``lock_id``; return who held it."""
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceNotFoundError
    from azure.storage.blob import BlobLeaseClient

    props = None
    try:
        props = state.get_blob_properties()
    except ResourceNotFoundError as exc:
        if error_code(exc) == "ContainerNotFound":
            raise
    lease_state = str(props.lease.state or "") if props is not None else ""
    if props is None or lease_state not in _HELD_STATES:
        raise LockError(f"The state {location} is not locked.")
    current = lock_from_metadata(props.metadata) or unknown_holder(lease_state)
    if current.id != lock_id:
        raise LockError(f"Lock ID {lock_id} does not match the current lock on {location}: "
                        f"{current.describe()}.")
    # The journal first: the state blob's lease is what the next run waits for.
    _quietly_break(journal)
    # Conditional on the ETag we inspected: a new holder writes its metadata (a new ETag)
    # right after leasing, so its lock is never broken by mistake.
    BlobLeaseClient(state).break_lease(lease_break_period=0, etag=props.etag,
                                       match_condition=MatchConditions.IfNotModified)
    return current


def _quietly_break(blob: BlobClient) -> None:
    from azure.storage.blob import BlobLeaseClient

    try:
        BlobLeaseClient(blob).break_lease(lease_break_period=0)
    except Exception as exc:  # no lease on it: nothing to break
        log.debug("No lease to break on %s: %s", blob.blob_name, exc)


def held_error(location: str, holder: LockInfo, timeout: float, lease_seconds: int) -> LockError:
    """The LockError for a lock someone else holds."""
    waited = f" after waiting {timeout:g}s" if timeout > 0 else ""
    return LockError(
        f"The state is locked{waited}: {holder.describe()}. State blob: {location}. Its lease "
        f"ends at most {lease_seconds}s after that run dies; wait with --lock-timeout, or if "
        f"that run is dead, release it with: reconciler force-unlock {holder.id}",
        hint="wait for the other run, or force-unlock a dead holder's lock",
    )
