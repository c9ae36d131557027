"""A lock file next to the state file, with holder information and safe stale takeover.

The lock file holds the holder's :class:`LockInfo` as JSON. Every inspection or change of it
happens under a short OS-level mutex (``filelock`` on ``<lock>.mutex``, released by the kernel if
its process dies), so "check the holder, then replace or remove the file" is atomic: two
processes that both find a dead holder's lock cannot both take it over, and an unlock can never
remove a lock that someone else has since taken. The file itself is always written to a
temporary name, fsync'd and renamed, so a reader never sees half of it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import filelock

from reconciler.backends.base import LockInfo
from reconciler.backends.fsutil import atomic_write, fsync_directory
from reconciler.errors import LockError, StateError

log = logging.getLogger(__name__)

#: How long to wait for the mutex; it is only ever held for a few file operations.
_MUTEX_TIMEOUT = 10.0


class FileLock:
    """The lock of one local state file (``<state>.lock``)."""

    def __init__(self, path: Path, state_path: Path) -> None:
        self.path = path
        self.state_path = state_path
        self._mutex_path = path.with_name(path.name + ".mutex")

    def acquire(
        self,
        info: LockInfo,
        timeout: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> LockInfo:
        """Take the lock, retrying with capped exponential backoff for up to ``timeout`` s."""
        info = replace(info, path=str(self.state_path))
        deadline = time.monotonic() + max(timeout, 0.0)
        delay = 0.05
        while True:
            holder = self._try_acquire(info)
            if holder is None:
                return info
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _held_error(self.path, holder, timeout)
            # Jitter keeps several waiters from retrying in lockstep.
            sleep(min(remaining, delay * random.uniform(0.5, 1.0)))
            delay = min(delay * 2, 2.0)

    def release(self, lock_id: str) -> None:
        """Remove the lock if it is still ours; complain if someone else holds it now."""
        with self._mutex():
            current = self._read()
            if current is None:
                log.warning("The state lock %s was already gone (force-unlocked?).", lock_id)
                return
            if current.id != lock_id:
                raise LockError(
                    f"Cannot release lock {lock_id} on {self.state_path}: the lock is now "
                    f"{current.describe()}."
                )
            self._remove()

    def current(self) -> LockInfo | None:
        """The lock's holder, or None; raises LockError when the lock file is unreadable."""
        if not self.path.exists():
            return None
        with self._mutex():
            return self._read()

    def peek(self) -> LockInfo | None:
        """The lock's holder as the file says now, without the mutex (cheap, for every write).

        Safe without the mutex: the file is only ever replaced by a rename, never rewritten in
        place, so a reader sees a whole holder or none.
        """
        return self._read()

    def force_release(self, lock_id: str) -> LockInfo:
        """Remove the lock whatever its holder, but only if its ID is ``lock_id``."""
        with self._mutex():
            current = self._read()
            if current is None:
                raise LockError(f"The state {self.state_path} is not locked.")
            if current.id != lock_id:
                raise LockError(
                    f"Lock ID {lock_id} does not match the current lock on {self.state_path}: "
                    f"{current.describe()}."
                )
            self._remove()
            return current

    def _try_acquire(self, info: LockInfo) -> LockInfo | None:
        """Take the lock and return None, or return the live holder."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LockError(f"Cannot create {self.path.parent} for the state lock: {exc}.") from exc
        with self._mutex():
            current = self._read()
            if current is not None and not current.holder_is_dead():
                return current
            if current is not None:
                log.warning(
                    "Taking over a stale state lock: %s; that process is no longer running.",
                    current.describe(),
                )
            self._write(info)
            return None

    @contextlib.contextmanager
    def _mutex(self) -> Iterator[None]:
        # A fresh FileLock per use: filelock objects are re-entrant per thread, and we want
        # two backends in one process to exclude each other too. preserve_lock_file=True also
        # refuses filelock's "soft" fallback, whose marker a killed process would leave behind.
        mutex = filelock.FileLock(
            str(self._mutex_path), timeout=_MUTEX_TIMEOUT, preserve_lock_file=True
        )
        try:
            with mutex:
                yield
        except filelock.Timeout:
            raise LockError(
                f"Timed out waiting for {self._mutex_path}; another process is stuck while "
                "inspecting the lock."
            ) from None
        except OSError as exc:
            raise LockError(f"Cannot use the state lock {self.path}: {exc}.") from exc

    def _read(self) -> LockInfo | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            data = json.loads(raw)
            return LockInfo.from_dict(data)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise LockError(
                f"The lock file {self.path} is unreadable. If no reconciler run is active, "
                "delete it."
            ) from None

    def _write(self, info: LockInfo) -> None:
        data = json.dumps(info.to_dict(), indent=2, sort_keys=True).encode() + b"\n"
        try:
            atomic_write(self.path, [data])  # leaves no temporary file behind, even when full
        except OSError as exc:
            raise StateError(f"Cannot write the lock file {self.path}: "
                             f"{exc.strerror or exc}.") from None

    def _remove(self) -> None:
        self.path.unlink(missing_ok=True)
        fsync_directory(self.path.parent)


def _held_error(path: Path, holder: LockInfo, timeout: float) -> LockError:
    waited = f" after waiting {timeout:g}s" if timeout > 0 else ""
    return LockError(
        f"The state is locked{waited}: {holder.describe()}. Lock file: {path}. "
        f"If that run is dead, release it with: reconciler force-unlock {holder.id}",
        hint="wait for the other run, or force-unlock a dead holder's lock",
    )
