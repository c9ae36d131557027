"""Durable file operations shared by the local backend and its lock."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path


def fsync_directory(path: Path) -> None:
    """Make a rename or creation inside ``path`` durable (a no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some platforms and file systems cannot fsync a directory
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` (os.write may write less than asked)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def atomic_write(path: Path, chunks: Iterable[bytes]) -> None:
    """Replace ``path`` with ``chunks`` joined: temporary file, fsync, rename, fsync of the
    directory. A crash at any instant leaves either the old file or the new one.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident():x}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        try:
            with os.fdopen(fd, "wb", buffering=1 << 20, closefd=False) as f:
                f.writelines(chunks)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # e.g. a full disk: leave no half-written file behind
        raise
    fsync_directory(path.parent)


def sync_data(fd: int) -> None:
    """Flush a file's data (and the size, which appends change) to stable storage."""
    if hasattr(os, "fdatasync"):
        os.fdatasync(fd)
    else:
        os.fsync(fd)
