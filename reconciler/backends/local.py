"""The local backend: a snapshot file, an append-only journal beside it, and a lock file.

Files, for a state at ``.reconciler/state.json``:

* ``state.json``          the snapshot, replaced atomically (temporary file, fsync, rename,
                          fsync of the directory); the previous one is kept as ``.backup``;
* ``state.json.journal``  one fsync'd line per change since the snapshot, so recording a change
                          costs one small append however many records the state holds;
* ``state.json.lock``     who holds the lock (see :mod:`reconciler.backends.lock`);
* ``state.json.history``  the operation history (:mod:`reconciler.history`), appended to by
                          every run and never rewritten.

``read`` folds the journal into the snapshot in memory (it never writes, so ``plan`` leaves no
trace); ``write`` folds it on disk. A crash between the snapshot's rename and the journal's
truncation is harmless: journal entries at or below the snapshot's serial are skipped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from reconciler import history
from reconciler.backends import journal, snapshot
from reconciler.backends.base import LockInfo, check_writable, refuse_behind_history
from reconciler.backends.fsutil import atomic_write, fsync_directory, sync_data, write_all
from reconciler.backends.lock import FileLock
from reconciler.errors import LockError, StateError
from reconciler.state import State, StateChange

log = logging.getLogger(__name__)

_READ_ATTEMPTS = 5


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file ``path`` names right now (inode, mtime), to notice a replacement."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


class LocalBackend:
    """State in local files; see the module docstring for the layout."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.backup_path = self.path.with_name(self.path.name + ".backup")
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self.history_path = self.path.with_name(self.path.name + ".history")
        self._history_fd: int | None = None
        # Its own lock: a history append must never wait for a state change's fsync.
        self._history_mutex = threading.Lock()
        # Group commit: changes written, changes known durable, and whether a thread is in
        # fdatasync right now (the others wait for it rather than queue their own).
        self._sync_cond = threading.Condition()
        self._written = 0
        self._synced = 0
        self._syncing = False
        self._lock = FileLock(self.path.with_name(self.path.name + ".lock"), self.path)
        self._mutex = threading.RLock()  # worker threads of one run share this object
        self._held: LockInfo | None = None
        # Why the lock taken by :meth:`lock` is no longer ours (None while it is), and who to
        # tell: a lock file is not a lease, but force-unlock can remove it under a live run.
        self._lost_reason: str | None = None
        self._on_lost: list[Callable[[], None]] = []
        self._journal_fd: int | None = None
        self._journal_size = 0  # its length after the last whole line written through it
        self._lineage: str | None = None
        self._serial: int | None = None  # the newest durable serial this object knows of
        self._valid_journal_length = 0
        self._journal_unterminated = False  # its last entry lacks the newline
        self._snapshot_serial: int | None = None  # the snapshot file's serial, as last seen

    def describe(self) -> str:
        """E.g. "local state file .reconciler/state.json"."""
        return f"local state file {self.path}"

    # --- reading ---------------------------------------------------------------------------

    def read(self) -> State | None:
        """The snapshot with the journal folded in, or None; never creates anything."""
        with self._mutex:
            # The history first: it never runs ahead of the state, so what it witnesses now is
            # at most what the state holds a moment later, even while another run writes.
            witnessed = self._witnessed_serials()
            # A reader without the lock (plan --no-lock) may see the snapshot replaced between
            # reading it and reading the journal; then the pair does not fit, so read again.
            for _ in range(_READ_ATTEMPTS - 1):
                before = _identity(self.path)
                base, contents = self._read_snapshot(), self._read_journal()
                if _identity(self.path) == before:
                    break
            else:
                base, contents = self._read_snapshot(), self._read_journal()
            if base is None:
                self._refuse_missing_snapshot(contents)
            state = journal.fold_into(base, contents, str(self.journal_path), str(self.path))
            self._snapshot_serial = None if base is None else base.serial
            if state is not None:
                self._lineage, self._serial = state.lineage, state.serial
            self._valid_journal_length = contents.valid_length
            self._journal_unterminated = contents.unterminated
            refuse_behind_history(state, witnessed, where=str(self.path),
                                  journal=str(self.journal_path), history=str(self.history_path))
            return state

    def _witnessed_serials(self) -> dict[str, int]:
        """The serial each lineage reached by the history's own account (see history)."""
        try:
            with open(self.history_path, "rb") as f:
                size = f.seek(0, os.SEEK_END)

                def read_range(start: int, end: int) -> bytes:
                    f.seek(start)
                    return f.read(end - start)

                return history.witnessed_serials(size, read_range)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StateError(f"Cannot read the operation history {self.history_path}: "
                             f"{exc.strerror}.") from None

    def _read_snapshot(self) -> State | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"Cannot read the state file {self.path}: {exc.strerror}.") from None
        try:
            return snapshot.decode(raw, str(self.path))
        except snapshot.SnapshotDamage as exc:
            raise StateError(
                f"The state file {self.path} is corrupt: {exc}. {self._backup_advice()}",
                hint="restore the state from its backup",
            ) from None

    def _refuse_missing_snapshot(self, contents: journal.JournalContents) -> None:
        """No snapshot, but a backup or a journal: the state was deleted, not never written.

        Reading that as "no upgrades recorded" would plan a create for every customer and
        start the serials again; a run always writes the snapshot before its first change.
        """
        if self.backup_path.exists():
            raise StateError(
                f"The state file {self.path} is missing, but its backup {self.backup_path} "
                f"exists: the state was deleted or moved. Check the backup, copy it to "
                f"{self.path}, and run plan to see what changed since.",
                hint="restore the state from its backup",
            )
        if contents.changes:
            raise StateError(
                f"The state file {self.path} is missing, but its journal {self.journal_path} "
                f"holds {len(contents.changes)} changes: the state was deleted or moved. "
                f"Restore {self.path} from your own copies; the journal alone is not a state.",
                hint="restore the state file",
            )

    def _backup_advice(self) -> str:
        if not self.backup_path.exists():
            return "There is no backup of it; restore it from your own copies."
        return (
            f"The previous snapshot is in {self.backup_path}; check it, copy it over "
            f"{self.path}, and run plan to see what changed since."
        )

    def _read_journal(self) -> journal.JournalContents:
        try:
            raw = self.journal_path.read_bytes()
        except FileNotFoundError:
            return journal.JournalContents(None, (), 0, 0)
        try:
            contents = journal.decode(raw)
        except journal.JournalDamage as exc:
            raise StateError(
                f"The state journal {self.journal_path} is damaged at {exc}. "
                f"The snapshot {self.path} does not contain those changes; repair or remove "
                "the damaged line, then run plan.",
                hint="repair the state journal",
            ) from None
        if contents.torn_tail:
            log.warning(
                "Ignoring an incomplete last line (%d bytes) in %s: a crash interrupted it "
                "before it was recorded.",
                contents.torn_tail,
                self.journal_path,
            )
        return contents

    # --- writing ---------------------------------------------------------------------------

    def write(self, state: State) -> None:
        """Atomically replace the snapshot (keeping ``.backup``) and empty the journal."""
        with self._mutex:
            if self._held is not None and self._serial is None:
                self.read()  # learn the lineage and serial this write must follow
            self._check_writable(state.lineage, state.serial, "write a snapshot")
            if self._is_on_disk(state):
                # Rewriting an unchanged snapshot would cost a full write and, worse, replace
                # the backup of the previous snapshot with a copy of this one.
                log.debug("%s is unchanged at serial %d; not rewritten.", self.path, state.serial)
                return
            try:
                self._replace_snapshot(state)
            except OSError as exc:
                raise StateError(
                    f"Cannot write the state file {self.path}: {exc.strerror or exc}. "
                    "The previous state is unchanged: its snapshot and journal still hold "
                    "every change recorded."
                ) from exc
            self._lineage, self._serial = state.lineage, state.serial
            log.debug("Wrote %s (serial %d, %d records).", self.path, state.serial, len(state))

    def _is_on_disk(self, state: State) -> bool:
        return (
            self._snapshot_serial == state.serial
            and self._serial == state.serial
            and self._lineage == state.lineage
            and self._valid_journal_length == 0
        )

    def _replace_snapshot(self, state: State) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        chunks = snapshot.encode_chunks(state)
        if self.path.exists():
            self._keep_backup()
        atomic_write(self.path, chunks)
        # Only now is every journalled change in the snapshot, so the journal may go. (Were
        # this lost in a crash, read skips entries the snapshot already holds.)
        if self._journal_fd is not None:
            os.ftruncate(self._journal_fd, 0)
            os.fsync(self._journal_fd)
        elif self.journal_path.exists():
            os.truncate(self.journal_path, 0)
        self._valid_journal_length = self._journal_size = 0
        self._journal_unterminated = False
        self._snapshot_serial = state.serial

    def _keep_backup(self) -> None:
        tmp = self.backup_path.with_name(f".{self.backup_path.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        try:
            try:
                # A hard link costs nothing, and the snapshot is only ever replaced, never
                # modified.
                os.link(self.path, tmp)
            except OSError:
                shutil.copyfile(self.path, tmp)
            os.replace(tmp, self.backup_path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a copy cut short by a full disk, say
            raise

    def append(self, change: StateChange, *, sync: bool = True) -> None:
        """Journal one change whose serial follows the last one; thread-safe.

        Durable on return, unless ``sync=False``: then the line is written and :meth:`sync`
        makes it durable, together with whatever other threads wrote meanwhile (one
        fdatasync for many changes: a group commit).
        """
        with self._mutex:
            if self._serial is None:
                self.read()
            if self._lineage is None or self._serial is None:
                raise StateError(
                    f"No state exists in {self.path} yet: write a snapshot before changes."
                )
            self._check_writable(self._lineage, change.serial, "record a change")
            if change.serial != self._serial + 1:
                raise StateError(
                    f"Change serial {change.serial} does not follow the state's serial "
                    f"{self._serial} in {self.path}."
                )
            line = journal.encode(self._lineage, change)
            try:
                write_all(self._open_journal(), line)
            except OSError as exc:
                # Cut off what part of the line was written (a full disk, say): the next
                # change, or the next run, then follows whole lines only.
                if self._journal_fd is not None:
                    with contextlib.suppress(OSError):
                        os.ftruncate(self._journal_fd, self._journal_size)
                self._journal_failed()
                raise StateError(f"Cannot record a change in {self.journal_path}: "
                                 f"{exc.strerror or exc}.") from exc
            self._journal_size += len(line)
            self._serial = change.serial
            self._written += 1
        if sync:
            self.sync()

    def sync(self) -> None:
        """Make every change written so far durable: one fdatasync covers all of them."""
        with self._sync_cond:
            wanted = self._written
            while self._synced < wanted:
                if self._syncing:
                    self._sync_cond.wait()
                    continue
                self._syncing = True
                target, fd = self._written, self._journal_fd
                self._sync_cond.release()
                try:
                    failure = self._fdatasync(fd)
                finally:
                    self._sync_cond.acquire()
                    self._syncing = False
                    self._sync_cond.notify_all()
                if failure is not None:
                    raise failure
                self._synced = max(self._synced, target)

    def _fdatasync(self, fd: int | None) -> StateError | None:
        if fd is None:
            return None  # a snapshot replaced the journal meanwhile: it holds every change
        try:
            sync_data(fd)
        except OSError as exc:
            # After a failed fsync the file's contents are unknown: stop writing through it.
            with self._mutex:
                self._journal_failed()
            return StateError(f"Cannot record a change in {self.journal_path}: "
                              f"{exc.strerror or exc}.")
        return None

    def _journal_failed(self) -> None:
        self._close_journal()
        self._serial = None

    def _check_writable(self, lineage: str, serial: int, what: str) -> None:
        known = (self._lineage, self._serial) if self._lineage is not None and \
            self._serial is not None else None
        check_writable(str(self.path), what, held=self._held is not None,
                       lost=self._check_lost(), known=known, lineage=lineage, serial=serial)

    def _check_lost(self) -> str | None:
        """Why the lock this object took is no longer its own, or None; reads the lock file.

        Runs before every write: a run stopped (SIGSTOP, a suspended laptop) and force-unlocked
        meanwhile must not write over the state of the run that took the lock after it.
        """
        if self._held is None or self._lost_reason is not None:
            return self._lost_reason
        try:
            current = self._lock.peek()
        except LockError:
            current = None  # unreadable: whatever it says, it is not our lock any more
            reason = f"the lock file {self._lock.path} is unreadable now"
        else:
            if current is not None and current.id == self._held.id:
                return None
            reason = (f"it was force-unlocked and is now held by {current.describe()}"
                      if current is not None else "it was force-unlocked; no run holds it now")
        self._lose(reason)
        return reason

    def _lose(self, reason: str) -> None:
        log.error("Lost the state lock on %s: %s.", self.path, reason)
        self._lost_reason = reason
        for callback in self._on_lost:
            callback()

    def _open_journal(self) -> int:
        """This lock holder's own journal file: the sound part copied, renamed into place.

        A file of its own rather than the one it found: a run that lost the lock while stopped
        (SIGSTOP, then force-unlock) still holds the old file open when it resumes, and what it
        writes then goes to a file gone from the directory, not into this run's journal. The
        copy also leaves out a torn last line and ends an entry that lost its newline.
        """
        if self._journal_fd is not None:
            return self._journal_fd
        try:
            with open(self.journal_path, "rb") as f:
                sound = f.read(self._valid_journal_length)
        except FileNotFoundError:
            sound = b""
        if self._journal_unterminated:
            sound += b"\n"
        prefix = f".{self.journal_path.name}."
        for stale in self.journal_path.parent.glob(prefix + "*.tmp"):
            stale.unlink(missing_ok=True)  # left by a holder killed mid-copy; we hold the lock
        tmp = self.journal_path.with_name(f"{prefix}{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        try:
            write_all(fd, sound)
            os.fsync(fd)
            os.replace(tmp, self.journal_path)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        fsync_directory(self.journal_path.parent)
        self._journal_unterminated = False
        self._journal_size = len(sound)
        self._journal_fd = fd
        return fd

    def _close_journal(self) -> None:
        if self._journal_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._journal_fd)
            self._journal_fd = None

    # --- locking ---------------------------------------------------------------------------

    def lock(self, info: LockInfo, timeout: float = 0.0) -> LockInfo:
        """Take the state lock for this object (see :class:`FileLock`)."""
        held = self._lock.acquire(info, timeout)
        with self._mutex:
            self._held = held
            self._lost_reason = None
            self._on_lost = []
            self._serial = None  # whatever was read before the lock may be out of date
        return held

    def unlock(self, lock_id: str) -> None:
        """Release the lock; the journal handle is closed first.

        A lost lock is left alone: it is gone or someone else's now, and the run has already
        said so (removing it would release the other run's lock).
        """
        with self._mutex:
            self._close_journal()
            self._held = None
            self._serial = None
            lost = self._lost_reason is not None
        if not lost:
            self._lock.release(lock_id)

    def current_lock(self) -> LockInfo | None:
        """The current holder of the lock, or None."""
        return self._lock.current()

    def force_unlock(self, lock_id: str) -> LockInfo:
        """Remove the lock if its ID is ``lock_id``, whoever holds it."""
        return self._lock.force_release(lock_id)

    def lock_lost(self) -> bool:
        """True once the lock file no longer names the lock this object took (checks it now).

        A lock file is not a lease and never expires, but ``force-unlock`` can remove it (and
        another run take it) while its holder is stopped.
        """
        with self._mutex:
            return self._check_lost() is not None

    def lost_reason(self) -> str | None:
        """Why the lock was lost, once :meth:`lock_lost` found it so; else None."""
        return self._lost_reason

    def on_lock_lost(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once a write (or :meth:`lock_lost`) finds the lock lost."""
        with self._mutex:
            self._on_lost.append(callback)
            already = self._lost_reason is not None
        if already:
            callback()

    # --- history ---------------------------------------------------------------------------

    def append_history(self, data: bytes) -> None:
        """Append to the history file; written through to the OS, so it survives a SIGKILL."""
        with self._history_mutex:
            if self._history_fd is None:
                self.history_path.parent.mkdir(parents=True, exist_ok=True)
                self._history_fd = os.open(self.history_path,
                                           os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                write_all(self._history_fd, data)
            except OSError as exc:
                raise StateError(f"Cannot append to the operation history {self.history_path}: "
                                 f"{exc.strerror or exc}.") from exc

    def read_history(self) -> bytes:
        """The history file's bytes (b"" when no run wrote one yet)."""
        try:
            return self.history_path.read_bytes()
        except FileNotFoundError:
            return b""
        except OSError as exc:
            raise StateError(f"Cannot read the operation history {self.history_path}: "
                             f"{exc.strerror}.") from None

    def close(self) -> None:
        """Close the journal and history handles (the lock, if held, stays held)."""
        with self._mutex:
            self._close_journal()
        with self._history_mutex:
            if self._history_fd is not None:
                with contextlib.suppress(OSError):
                    os.fsync(self._history_fd)
                    os.close(self._history_fd)
                self._history_fd = None
