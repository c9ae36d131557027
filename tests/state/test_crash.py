"""A writer SIGKILLed at random instants never loses an acknowledged change.

The writer continues the state from wherever the last one died: it takes over the dead writer's
lock (a stale lock), records changes one by one and prints each serial only after ``put``
returned (that is the acknowledgement), and folds the journal into a new snapshot every 40
changes so that kills also land inside snapshot replacement. Change number ``n`` always writes
customer ``n % KEYS`` with ``attempts = n``, so the whole expected state follows from its serial.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from reconciler.backends import LocalBackend
from tests.state.helpers import make_record

REPO = Path(__file__).resolve().parents[2]
KEYS = 150

WRITER = textwrap.dedent(
    f"""
    import sys
    from pathlib import Path
    from reconciler.backends import LocalBackend, LockInfo, StateRecorder
    from tests.state.helpers import make_record
    backend = LocalBackend(Path(sys.argv[1]))
    backend.lock(LockInfo.new("apply"))
    recorder = StateRecorder(backend, backend.read())
    print("ready", recorder.serial, flush=True)
    while True:
        n = recorder.serial + 1
        recorder.put(make_record(n % {KEYS}, attempts=n))
        print(n, flush=True)
        if n % 40 == 0:
            recorder.flush()
    """
)


def _expected_attempts(serial: int) -> dict[int, int]:
    """customer index → attempts of its latest change, after changes 1..serial."""
    return {n % KEYS: n for n in range(max(1, serial - KEYS + 1), serial + 1)}


def _run_and_kill(state_path: Path, rng: random.Random) -> int:
    """Start a writer, SIGKILL it at a random instant; return the last acknowledged serial."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(state_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    ready = proc.stdout.readline()
    assert ready.startswith("ready"), ready + (proc.stderr.read() if proc.stderr else "")
    time.sleep(rng.uniform(0.0, 0.25))
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    acknowledged = [int(line) for line in out.split()]
    return acknowledged[-1] if acknowledged else int(ready.split()[1])


@pytest.mark.slow
def test_sigkill_at_random_instants_loses_no_acknowledged_change(state_path: Path) -> None:
    rng = random.Random(20261125)
    deadline = time.monotonic() + 45
    kills = 0
    while kills < 25 and time.monotonic() < deadline:
        acknowledged = _run_and_kill(state_path, rng)
        kills += 1
        state = LocalBackend(state_path).read()
        assert state is not None
        # A change may be durable but unacknowledged (killed before the print), never the reverse.
        assert state.serial >= acknowledged
        expected = _expected_attempts(state.serial)
        assert {int(k.customer_id[:8], 16): r.attempts for k, r in state.records.items()} == (
            expected
        )
        for index, attempts in expected.items():
            assert state.records[make_record(index).key] == make_record(index, attempts=attempts)
    assert kills >= 20
    final = LocalBackend(state_path).read()
    assert final is not None
    assert final.serial > 200  # the writers really were writing when they died
