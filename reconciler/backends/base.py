"""The small protocol every state backend implements, and the lock holder information.

A backend stores one State as a *snapshot* plus a *journal* of single-record changes made since:
``append`` records one change durably and cheaply (a run with 10,000 changes must not rewrite a
100,000-record file each time); ``write`` replaces the whole snapshot atomically and folds the
journal into it; ``read`` returns the snapshot with the journal folded in. The local backend keeps
files; the Azure Blob backend keeps blobs (a block blob, an append blob, a leased lock).
"""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from reconciler import __version__
from reconciler.errors import LockError, StateError
from reconciler.state import State, StateChange, utc_now


@dataclass(frozen=True, slots=True)
class LockInfo:
    """Who holds (or wants) the state lock; Terraform's fields plus what staleness needs.

    ``pid``, ``host`` and ``pid_start`` let a later run prove the holder died on this host
    (``pid_start`` guards against the PID being reused by an unrelated process).
    """

    id: str
    operation: str
    who: str
    version: str
    created: str
    path: str = ""
    info: str = ""
    run_url: str | None = None
    pid: int | None = None
    host: str | None = None
    pid_start: str | None = None

    @staticmethod
    def new(operation: str, info: str = "", env: Mapping[str, str] | None = None) -> LockInfo:
        """Lock information for this process, about to run ``operation`` (e.g. "apply")."""
        host = socket.gethostname()
        return LockInfo(
            id=str(uuid.uuid4()),
            operation=operation,
            who=f"{_user()}@{host}",
            version=__version__,
            created=utc_now(),
            info=info,
            run_url=detect_run_url(os.environ if env is None else env),
            pid=os.getpid(),
            host=host,
            pid_start=process_start_time(os.getpid()),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, with Terraform's field names."""
        return {
            "ID": self.id,
            "Operation": self.operation,
            "Info": self.info,
            "Who": self.who,
            "Version": self.version,
            "Created": self.created,
            "Path": self.path,
            "RunURL": self.run_url,
            "PID": self.pid,
            "Host": self.host,
            "PIDStart": self.pid_start,
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> LockInfo:
        """Parse the JSON form; raises KeyError/TypeError when it is not lock information."""
        pid = data.get("PID")
        return LockInfo(
            id=str(data["ID"]),
            operation=str(data.get("Operation", "")),
            who=str(data.get("Who", "")),
            version=str(data.get("Version", "")),
            created=str(data.get("Created", "")),
            path=str(data.get("Path", "")),
            info=str(data.get("Info", "")),
            run_url=_opt_str(data.get("RunURL")),
            pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
            host=_opt_str(data.get("Host")),
            pid_start=_opt_str(data.get("PIDStart")),
        )

    def describe(self) -> str:
        """One human sentence naming the holder, e.g. for a LockError."""
        text = f'ID {self.id}, held by {self.who} for "{self.operation}" since {self.created}'
        if self.pid is not None:
            text += f" (pid {self.pid})"
        if self.run_url:
            text += f", run {self.run_url}"
        return text

    def holder_is_dead(self) -> bool:
        """True only when the holder provably no longer runs: same host, and its PID is gone."""
        if self.pid is None or self.host != socket.gethostname():
            return False
        # Our own PID counts too: a restarted container often reuses the PID of the process
        # that died; pid_start tells them apart.
        return not _pid_alive(self.pid, self.pid_start)

    def holder_is_alive_here(self) -> bool:
        """True only when the holder provably still runs: on this host, its PID alive."""
        if self.pid is None or self.host != socket.gethostname():
            return False
        return _pid_alive(self.pid, self.pid_start)


class StateBackend(Protocol):
    """Where state lives. Writes (``append``, ``write``) need the lock held by this object.

    Besides the state, a backend keeps the run's operation history (an append-only log of
    every Partner Center call and state transition), so it goes wherever the state goes.
    """

    def describe(self) -> str:
        """A short phrase naming the location, e.g. "local state file .reconciler/state.json"."""
        ...

    def read(self) -> State | None:
        """The state with its journal folded in, or None when none exists (creates nothing)."""
        ...

    def write(self, state: State) -> None:
        """Atomically replace the snapshot with ``state`` (keeping a backup); fold the journal."""
        ...

    def append(self, change: StateChange, *, sync: bool = True) -> None:
        """Record one change, durably before returning; thread-safe; cheap at any state size.

        With ``sync=False`` the change may only be durable after the next :meth:`sync` (a
        backend that batches its syncs); changes must still be appended in serial order.
        """
        ...

    def sync(self) -> None:
        """Return once every change appended so far is durable."""
        ...

    def lock(self, info: LockInfo, timeout: float = 0.0) -> LockInfo:
        """Take the lock, waiting up to ``timeout`` seconds; raise LockError naming the holder."""
        ...

    def unlock(self, lock_id: str) -> None:
        """Release the lock this object holds."""
        ...

    def current_lock(self) -> LockInfo | None:
        """Who holds the lock now, or None."""
        ...

    def force_unlock(self, lock_id: str) -> LockInfo:
        """Remove the lock if (and only if) its ID is ``lock_id``; return what was removed."""
        ...

    def lock_lost(self) -> bool:
        """True once the lock this object took was lost (broken, taken or expired) while held."""
        ...

    def lost_reason(self) -> str | None:
        """Why the lock was lost (e.g. who holds it now), once :meth:`lock_lost` is true."""
        ...

    def on_lock_lost(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (once, from any thread) if the lock held now is lost."""
        ...

    def append_history(self, data: bytes) -> None:
        """Append whole history lines (each ending in a newline); thread-safe."""
        ...

    def read_history(self) -> bytes:
        """Every history line appended so far, oldest first (b"" when there is none)."""
        ...

    def close(self) -> None:
        """Release open handles (not the lock)."""
        ...


class StateBehindHistory(StateError):
    """The state's serial is below what its own operation history records: changes are lost.

    ``state`` is what was read (None: no state at all), ``recorded`` the serial the history
    reached. Only ``state push`` goes on from here, deliberately, past ``recorded``.
    """

    def __init__(self, message: str, state: State | None, lineage: str, recorded: int) -> None:
        super().__init__(message, hint="restore the missing changes, or push the state with "
                         "--force")
        self.state = state
        self.lineage = lineage
        self.recorded = recorded

    def as_recorded(self) -> State:
        """The state read, at the serial the history reached (what a forced push follows)."""
        if self.state is None:
            return State(self.lineage, self.recorded)
        return State(self.state.lineage, self.recorded, self.state.records,
                     self.state.format_version)


def refuse_behind_history(state: State | None, witnessed: Mapping[str, int], *, where: str,
                          journal: str, history: str) -> None:
    """Raise StateBehindHistory when ``state`` lost changes its history saw recorded.

    A deleted or emptied journal after a killed run, or an older snapshot put back, reads as a
    sound state that is simply older; only the history (``witnessed``: the highest serial per
    lineage, see :func:`reconciler.history.recorded_serials`) still knows better.
    """
    if state is None:
        if not witnessed:
            return
        lineage, reached = max(witnessed.items(), key=lambda item: item[1])
        what = (f"No state is recorded in {where}, but its operation history {history} "
                f"records changes up to serial {reached}")
    else:
        lineage = state.lineage
        reached = witnessed.get(lineage, -1)
        if reached <= state.serial:
            return
        what = (f"The state in {where} ends at serial {state.serial}, but its operation "
                f"history {history} records changes up to serial {reached}: the changes "
                f"after serial {state.serial} are missing")
    raise StateBehindHistory(
        f"{what}. The journal {journal} was deleted or cut short, or an older state was put "
        "back; going on would record different changes under serials already used. Restore "
        "the missing files if you have them, then run plan. To go on without those changes, "
        "run `reconciler state pull > FILE` and `reconciler state push --force FILE`, then "
        "plan, which refreshes every customer from Partner Center.", state, lineage, reached)


def check_writable(where: str, what: str, *, held: bool, lost: str | None,
                   known: tuple[str, int] | None, lineage: str | None, serial: int) -> None:
    """The guard every backend runs before a write: the lock is held and not lost, and the
    write continues the lineage and serial this backend last saw (``known``), never going back.

    ``lost`` is why the lock was lost (None while it is held); ``lineage`` None means "the
    lineage already recorded" (a journal change names none).
    """
    if not held:
        raise StateError(f"Cannot {what} in {where} without holding the state lock.")
    if lost is not None:
        raise LockError(lost_message(where, what, lost))
    if known is None:
        return
    known_lineage, known_serial = known
    if lineage is not None and lineage != known_lineage:
        raise StateError(f"Refusing to {what}: {where} holds state {known_lineage}, not {lineage}.")
    if serial < known_serial:
        raise StateError(f"Refusing to {what}: serial {serial} is older than the recorded serial "
                         f"{known_serial} in {where}.")


def lost_message(where: str, what: str, reason: str) -> str:
    """The sentence for a write refused because the lock was lost."""
    return (f"Cannot {what}: this run lost the state lock on {where} ({reason}); nothing more "
            "is written there.")


def detect_run_url(env: Mapping[str, str]) -> str | None:
    """The CI run's URL when running in GitHub Actions, Azure Pipelines or GitLab CI."""
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        return f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    collection, project = env.get("SYSTEM_COLLECTIONURI"), env.get("SYSTEM_TEAMPROJECT")
    if collection and project and env.get("BUILD_BUILDID"):
        base = collection if collection.endswith("/") else collection + "/"
        return f"{base}{project}/_build/results?buildId={env['BUILD_BUILDID']}"
    return env.get("CI_JOB_URL") or None


def process_start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell reused PIDs apart."""
    stat = _proc_stat(pid)
    return None if stat is None else stat[19]


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first), or None if unavailable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name is in parentheses and may itself contain spaces or parentheses.
    return raw[raw.rfind(")") + 2 :].split()


def _pid_alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    stat = _proc_stat(pid)
    if stat is None:
        return True  # no /proc: the PID exists, which is all we can tell
    if stat[0] in ("Z", "X"):
        return False  # a zombie holds no lock; it only waits to be reaped
    return start is None or stat[19] == start


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)
