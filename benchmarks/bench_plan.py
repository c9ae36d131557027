"""``plan --no-refresh`` on 100,000 customers with 100,000 recorded completed upgrades.

Target (issue 6): the whole CLI run, ``python -m reconciler --state S plan --no-refresh -m DIR``
with its output sent to /dev/null, takes at most 1.5x the manifest-loading floor of
``bench_validate.py`` (``yaml.CSafeLoader`` load + jsonschema validation of the same files, in
one process, timed inside it).

Three kinds of measurement, each in a fresh interpreter, alternating in every round so machine
noise hits them alike:

* ``floor``: the floor, timed in-process (interpreter start and imports excluded);
* ``cli``: the CLI as a subprocess, wall time from spawn to exit (start and imports included,
  so the comparison is conservative);
* ``phases``: the CLI's steps in-process, to see where the time goes: ``manifest.load``,
  ``read_state`` (what ``plan`` does: read, lock, read again), ``plan.make`` (through
  ``workflow.make_plan`` without refresh, as the CLI calls it), ``render.text``.

The state is built with the real backend (``LocalBackend`` under its lock, ``backend.write``):
one completed record per manifest customer, so the plan is 100,000 unchanged keys.

Usage: .venv/bin/python benchmarks/bench_plan.py [ROUNDS] [--customers N] [--baseline PATH]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import FLOOR, customer_ids, median, run_measured, write_manifests

from reconciler.backends import LocalBackend, LockInfo
from reconciler.model import UpgradeKey
from reconciler.state import LineItem, Record, RecordStatus, State

FILES = 10


PHASES = """
from pathlib import Path
from reconciler import workflow
from reconciler.backends import LocalBackend
from reconciler.render import text
from reconciler.settings import Settings
manifests, state_path = Path(sys.argv[1]), Path(sys.argv[2])
RESULT = {}
clock = time.perf_counter
t0 = clock()
desired = workflow.load_desired(Settings(), [manifests])
t1 = clock()
backend = LocalBackend(state_path)
state = workflow.read_state(backend, operation='plan', lock=True, timeout=0.0)
backend.close()
t2 = clock()
plan = workflow.make_plan(Settings(), desired, state, workflow.PlanOptions(refresh=False))
t3 = clock()
out = text.render(plan)
t4 = clock()
assert plan.summary()['noop'] == len(desired.upgrades), plan.summary()
RESULT.update({'manifest.load': t1 - t0, 'read_state': t2 - t1, 'plan.make': t3 - t2,
               'render.text': t4 - t3, 'seconds': t4 - t0, 'customers': len(plan.changes)})
"""


def make_record(customer_id: str, index: int) -> Record:
    """A completed record like the ones apply and refresh leave behind."""
    return Record(
        key=UpgradeKey(customer_id, "Azure"),
        status=RecordStatus.COMPLETED,
        request_id="5b6c5c5e-1c0a-4c33-9c2b-0d2b4f1f8a11",
        upgrade_id="c0ffee00-1111-2222-3333-444455556666",
        remote_status="Completed",
        source=f"manifests/wave-{index % FILES:03d}.yaml:{9 + 2 * index}",
        customer_name=f"Customer {index} Ltd",
        created_at="2026-11-25T10:00:00Z",
        updated_at="2026-11-25T10:05:00Z",
        line_items=(LineItem("MS-AZR-0145P", "Microsoft Azure", "DZH318Z0BCZM", "Azure plan",
                             "2026-11-25T10:05:00Z", "Completed"),),
        attempts=1,
        in_progress_since="2026-11-25T10:00:30Z",
    )


def write_state(path: Path, customers: int) -> None:
    """One completed record per manifest customer, written through the real backend."""
    backend = LocalBackend(path)
    info = backend.lock(LockInfo.new("benchmark"))
    try:
        records = (make_record(cid, i) for i, cid in enumerate(customer_ids(customers)))
        backend.write(State.of(State.new().lineage, 1, records))
    finally:
        backend.unlock(info.id)
        backend.close()


def run_cli(manifests: Path, state: Path, pythonpath: str | None = None) -> dict[str, float]:
    """Wall time of the whole CLI process, output to /dev/null.

    It runs in the state's directory, so that ``pythonpath`` (another copy of the package, for
    a before/after comparison in one run) comes first on ``sys.path``.
    """
    command = [sys.executable, "-m", "reconciler", "--no-color", "--state", str(state), "plan",
               "--no-refresh", "-m", str(manifests)]
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    start = time.perf_counter()
    with open(os.devnull, "w") as sink:
        done = subprocess.run(command, stdout=sink, stderr=subprocess.PIPE, text=True,
                              check=False, cwd=state.parent, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"plan failed ({done.returncode}): {done.stderr}")
    return {"seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rounds", nargs="?", type=int, default=5)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--baseline", metavar="PATH", default=None,
                        help="also time the CLI with PYTHONPATH=PATH (e.g. an older checkout)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        manifests = Path(tmp) / "manifests"
        state = Path(tmp) / ".reconciler" / "state.json"
        write_manifests(manifests, customers=args.customers, files=FILES)
        write_state(state, args.customers)
        size = state.stat().st_size / 1e6
        floor, cli, baseline, phases = [], [], [], []
        for _ in range(args.rounds):
            floor.append(run_measured(FLOOR, str(manifests)))
            cli.append(run_cli(manifests, state))
            if args.baseline:
                baseline.append(run_cli(manifests, state, args.baseline))
            phases.append(run_measured(PHASES, str(manifests), str(state)))
    assert {r["customers"] for r in floor + phases} == {args.customers}
    f = median([r["seconds"] for r in floor])
    c = median([r["seconds"] for r in cli])
    print(f"rounds: {args.rounds}; {args.customers:,} customers in {FILES} files; "
          f"state {args.customers:,} completed records ({size:.1f} MB)")
    print(f"floor (CSafeLoader + jsonschema, in-process): median {f:.3f} s, "
          f"peak {max(r['peak_mib'] for r in floor):.0f} MiB")
    runs = ", ".join(f"{r['seconds']:.2f}" for r in cli)
    print(f"plan --no-refresh, CLI wall time:             median {c:.3f} s (runs {runs})")
    print(f"ratio CLI / floor: {c / f:.2f}x (target <= 1.5x)")
    if baseline:
        b = median([r["seconds"] for r in baseline])
        runs = ", ".join(f"{r['seconds']:.2f}" for r in baseline)
        print(f"baseline CLI ({args.baseline}): median {b:.3f} s (runs {runs}), "
              f"{b / f:.2f}x floor")
    print(f"in-process phases (medians; peak {max(r['peak_mib'] for r in phases):.0f} MiB):")
    for name in ("manifest.load", "read_state", "plan.make", "render.text", "seconds"):
        value = median([r[name] for r in phases])
        label = "total" if name == "seconds" else name
        print(f"  {label:<14} {value:7.3f} s  ({value / f:.2f}x floor)")


if __name__ == "__main__":
    main()
