"""The lock with real processes: contention, dead holders, takeover races."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.backends import LocalBackend, LockInfo
from reconciler.backends.base import detect_run_url, process_start_time

REPO = Path(__file__).resolve().parents[2]

# Waits for a shared start instant so the processes really race, then tries the lock once.
CONTENDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from reconciler.backends import LocalBackend, LockInfo
    from reconciler.errors import LockError
    path, start, release = Path(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
    backend = LocalBackend(path)
    while time.time() < start:
        pass
    try:
        info = backend.lock(LockInfo.new("apply"), 0)
    except LockError as exc:
        print("LOST", exc, flush=True)
        sys.exit(3)
    print("WON", info.id, info.who, flush=True)
    while not release.exists():  # hold the lock until every other contender has given up
        time.sleep(0.02)
    backend.unlock(info.id)
    """
)


def _race(state_path: Path, count: int) -> list[tuple[int, str]]:
    start = time.time() + 1.5  # long enough for every interpreter to be importing and waiting
    release = state_path.parent.parent / f"release-{time.monotonic_ns()}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONTENDER, str(state_path), str(start), str(release)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    # The winner holds on until the losers are done, so a late starter cannot win after it.
    deadline = time.monotonic() + 30
    while sum(p.poll() is not None for p in procs) < count - 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    release.parent.mkdir(parents=True, exist_ok=True)
    release.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=30)
        assert "Traceback" not in err, err
        results.append((proc.returncode, out.strip()))
    return results


def _check_one_winner(results: list[tuple[int, str]]) -> None:
    winners = [out for code, out in results if code == 0]
    losers = [out for code, out in results if code == 3]
    assert len(winners) == 1, results
    assert len(losers) == len(results) - 1, results
    _, lock_id, who = winners[0].split()
    for message in losers:
        assert lock_id in message
        assert who in message
        assert '"apply"' in message
        assert f"reconciler force-unlock {lock_id}" in message


@pytest.mark.parametrize("round_", range(2))
def test_exactly_one_of_several_processes_gets_the_lock(state_path: Path, round_: int) -> None:
    _check_one_winner(_race(state_path, 4))
    assert LocalBackend(state_path).current_lock() is None


def _dead_holder_lock(state_path: Path) -> LockInfo:
    """A lock file left behind by a process that was SIGKILLed while holding it."""
    code = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from reconciler.backends import LocalBackend, LockInfo\n"
        "info = LocalBackend(Path(sys.argv[1])).lock(LockInfo.new('apply'))\n"
        "print(info.id, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(state_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL
    held = LocalBackend(state_path).current_lock()
    assert held is not None
    assert held.id == proc.stdout.strip()
    return held


def test_a_dead_holders_lock_is_stale_and_taken_over(
    state_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    held = _dead_holder_lock(state_path)
    assert held.holder_is_dead()
    backend = LocalBackend(state_path)
    mine = backend.lock(LockInfo.new("apply"))
    assert backend.current_lock() == mine
    assert f"Taking over a stale state lock: ID {held.id}" in caplog.text


def test_only_one_process_takes_over_a_stale_lock(state_path: Path) -> None:
    _dead_holder_lock(state_path)
    _check_one_winner(_race(state_path, 4))


def test_a_live_holder_is_not_stale_but_a_reused_pid_is() -> None:
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as proc:
        try:
            info = replace(
                LockInfo.new("apply"), pid=proc.pid, pid_start=process_start_time(proc.pid)
            )
            assert not info.holder_is_dead()
            if info.pid_start is not None:
                assert replace(info, pid_start="1").holder_is_dead()  # same pid, other process
            assert not replace(info, host="another-host").holder_is_dead()
            proc.kill()
            time.sleep(0.2)
            assert info.holder_is_dead()  # a zombie (not yet reaped) holds nothing
        finally:
            proc.kill()


def test_our_own_process_is_not_stale_unless_it_is_a_reused_pid() -> None:
    mine = LockInfo.new("apply")
    assert not mine.holder_is_dead()
    assert not replace(mine, pid=None).holder_is_dead()
    if mine.pid_start is not None:  # a container restart that reused our PID
        assert replace(mine, pid_start="1").holder_is_dead()


def test_lock_info_has_terraforms_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    info = LockInfo.new("apply", info="manual run", env={})
    data = info.to_dict()
    for name in ("ID", "Operation", "Info", "Who", "Version", "Created", "Path"):
        assert name in data
    assert data["PID"] == os.getpid()
    assert LockInfo.from_dict(data) == info


def test_the_ci_run_url_is_detected() -> None:
    github = {
        "GITHUB_RUN_ID": "42",
        "GITHUB_REPOSITORY": "org/repo",
        "GITHUB_SERVER_URL": "https://github.example",
    }
    assert detect_run_url(github) == "https://github.example/org/repo/actions/runs/42"
    azure = {
        "SYSTEM_COLLECTIONURI": "https://dev.azure.com/org/",
        "SYSTEM_TEAMPROJECT": "proj",
        "BUILD_BUILDID": "7",
    }
    assert detect_run_url(azure) == "https://dev.azure.com/org/proj/_build/results?buildId=7"
    assert (
        detect_run_url({"CI_JOB_URL": "https://gitlab/x/-/jobs/1"}) == "https://gitlab/x/-/jobs/1"
    )
    assert detect_run_url({}) is None
    info = LockInfo.new("apply", env=github)
    assert info.run_url is not None
    assert info.run_url in info.describe()


def test_the_lock_file_names_the_state_path(state_path: Path) -> None:
    backend = LocalBackend(state_path)
    held = backend.lock(LockInfo.new("apply"))
    assert held.path == str(state_path)
    assert backend.current_lock() == held
