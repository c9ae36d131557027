"""What a run does when it loses its lock: save its state locally, to be pushed later.

Like Terraform's ``errored.tfstate``: the state this run knows (everything it recorded, whether
or not the remote store accepted the last of it) goes to ``errored.reconciler-state.json`` in
the working directory, in the snapshot format, and ``reconciler state push`` puts it back.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.backends import snapshot
from reconciler.backends.base import StateBackend
from reconciler.backends.fsutil import atomic_write
from reconciler.backends.recorder import StateRecorder
from reconciler.errors import LockError, StateError
from reconciler.state import State

ERRORED_STATE_FILE = "errored.reconciler-state.json"


def save_errored(state: State, directory: Path | None = None) -> Path:
    """Write ``state`` to the errored-state file in ``directory`` (default: the cwd)."""
    path = (directory or Path.cwd()) / ERRORED_STATE_FILE
    atomic_write(path, snapshot.encode_chunks(state))
    return path


def errored_message(path: Path, where: str, reason: str | None = None) -> str:
    """What to tell the user after saving an errored state."""
    why = f" ({reason})" if reason else ""
    return (f"The state lock on {where} was lost during the run{why}, so the final state could "
            f"not be saved there. It was saved to {path}. Once no other run holds the lock, "
            f"push it with: reconciler state push {path}")


def finish_run(recorder: StateRecorder, backend: StateBackend) -> None:
    """Fold a run's changes into the snapshot; if a remote lock was lost, save them locally.

    Raises LockError telling the user where the errored state is and how to push it.
    """
    if not backend.lock_lost():
        try:
            recorder.flush()
            return
        except (LockError, StateError):
            if not backend.lock_lost():
                raise
    path = save_errored(recorder.snapshot())
    raise LockError(errored_message(path, backend.describe(), backend.lost_reason()),
                    hint="push the errored state once no other run holds the lock")
