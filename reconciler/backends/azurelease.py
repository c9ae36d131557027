"""The lock of the Azure Blob backend: finite blob leases, renewed in the background.

The lock is a lease on the state blob *and* one on its journal blob, both under one lease ID,
which is the lock ID. Leasing the blobs that hold the data (rather than a separate lock blob)
is what lets every write carry the lease: Azure itself refuses a write from a run that lost
its lock, however late that run notices. The leases are finite (60 s by default) and renewed
every third of that by a daemon thread; a runner killed mid-run stops renewing, so its lock
frees itself within a minute. An infinite lease would stay until someone broke it by hand,
which is Terraform's well-known stuck-lock problem on CI.

Who holds the lock is kept in the state blob's metadata (``reconcilerlock``: base64 JSON of
:meth:`LockInfo.to_dict`; base64 because metadata values must be ASCII).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from reconciler.backends.azureclient import describe_error, error_code
from reconciler.backends.base import LockInfo

if TYPE_CHECKING:
    from azure.storage.blob import BlobLeaseClient

log = logging.getLogger(__name__)

METADATA_KEY = "reconcilerlock"
DEFAULT_LEASE_SECONDS = 60

#: Storage error codes that mean "this lease is not (or no longer) ours": no retry helps.
LEASE_LOST_CODES = frozenset({
    "LeaseIdMismatchWithBlobOperation",
    "LeaseIdMismatchWithLeaseOperation",
    "LeaseNotPresentWithBlobOperation",
    "LeaseNotPresentWithLeaseOperation",
    "LeaseIdMissing",
    "LeaseIsBrokenAndCannotBeRenewed",
    "LeaseIsBreakingAndCannotBeAcquired",
    "LeaseLost",
})


def lock_metadata(info: LockInfo) -> dict[str, str]:
    """The blob metadata that records ``info``."""
    raw = json.dumps(info.to_dict(), sort_keys=True, separators=(",", ":")).encode()
    return {METADATA_KEY: base64.b64encode(raw).decode("ascii")}


def lock_from_metadata(metadata: dict[str, str] | None) -> LockInfo | None:
    """The LockInfo recorded in ``metadata``, or None when there is none or it is unreadable."""
    value = (metadata or {}).get(METADATA_KEY)
    if not value:
        return None
    try:
        return LockInfo.from_dict(json.loads(base64.b64decode(value, validate=True)))
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        return None


def unknown_holder(lease_state: str) -> LockInfo:
    """Stands for a holder that leased the blob but has not recorded who it is (yet)."""
    return LockInfo(id="unknown", operation="unknown", who="an unknown holder", version="",
                    created=f"(lease {lease_state}, no lock information recorded)")


def is_lease_lost(exc: BaseException) -> bool:
    """True when a storage error says our lease is gone (expired, broken or taken)."""
    from azure.core.exceptions import HttpResponseError

    return isinstance(exc, HttpResponseError) and error_code(exc) in LEASE_LOST_CODES


class LeaseKeeper:
    """Renews leases in a daemon thread; sets :attr:`lost` (and calls back) once they are gone.

    A renewal refused by the service (the lease was broken or taken) is a loss at once. Any
    other failure (network, throttling) is retried every couple of seconds until less than a
    third of the lease is left, since by then the lease cannot be shown to be ours any more.
    """

    def __init__(self, leases: Sequence[BlobLeaseClient], duration: float, every: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lost = threading.Event()
        self.reason = ""
        self._leases = list(leases)
        self._duration = duration
        self._every = every
        self._clock = clock
        self._stopped = threading.Event()
        self._callbacks: list[Callable[[], None]] = []
        self._mutex = threading.Lock()
        self._last = clock()
        self._thread = threading.Thread(target=self._run, name="lease-renewal", daemon=True)

    def start(self) -> None:
        """Start renewing (the leases were just acquired)."""
        self._last = self._clock()
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing; the leases stay until released or expired."""
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self._every + 1)

    def on_lost(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from the renewal thread) when the lease is lost."""
        with self._mutex:
            self._callbacks.append(callback)
            already = self.lost.is_set()
        if already:
            callback()

    def _run(self) -> None:
        wait = self._every
        while not self._stopped.wait(wait):
            started = self._clock()
            try:
                for lease in self._leases:
                    lease.renew()
            except Exception as exc:  # every failure is handled: this thread must not die
                if self._stopped.is_set():
                    return
                if is_lease_lost(exc):
                    self._lose(f"the lease was broken or taken ({describe_error(exc)})")
                    return
                if self._clock() - self._last >= self._duration * 2 / 3:
                    self._lose(f"it could not be renewed in time ({describe_error(exc)})")
                    return
                log.warning("Renewing the state lock failed (%s); retrying.", describe_error(exc))
                wait = min(2.0, self._every)
                continue
            self._last = started
            wait = self._every

    def _lose(self, reason: str) -> None:
        log.error("Lost the state lock: %s.", reason)
        with self._mutex:
            self.reason = reason
            self.lost.set()
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()
