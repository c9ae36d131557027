"""``reconciler --simulate apply --auto-approve`` of 1,000 and 5,000 customers (issue 19, item 13).

The embedded simulator keeps its world in ``.reconciler/simulator.json``; before the change log
it rewrote that whole file after every change, so a create cost more the bigger the world. Each
run is the real CLI (``python -m reconciler``) as a subprocess in a fresh project directory whose
one manifest lists N customers, with **default settings** (``reconciler.yaml`` holds only a
comment): on first use ``--simulate`` seeds its world with the manifests' customers (and the demo
partner list), then apply refreshes and creates one upgrade per customer. Timed: the whole
process, start-up included. Checked: the output says ``Apply complete: N started.`` and the world
file then holds N upgrades.

``--before DIR`` also runs the code of another checkout (e.g. ``git worktree add /tmp/old main``)
with ``PYTHONPATH=DIR``, alternating with this tree's, so both see the same machine load.

Usage::

    .venv/bin/python benchmarks/bench_simulate.py [--customers 1000 5000] [--rounds 3]
        [--before DIR] [--before-rounds N]
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
from common import median, write_manifests

HERE = Path(__file__).resolve().parents[1]
#: How many of the manifest's customers have exactly one upgrade in the saved world.
COUNT = f"""
import sys
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).parent)!r})
from common import customer_ids
from reconciler.simulator import World
from reconciler.simulator.persistence import load_world
world = World()
load_world(world, Path(sys.argv[1]))
print(sum(len(world.upgrades_for(c)) == 1 for c in customer_ids(int(sys.argv[2]))))
"""


def run_once(source: Path, customers: int) -> float:
    """Seconds for one ``--simulate apply --auto-approve`` of ``customers`` in a fresh project."""
    with tempfile.TemporaryDirectory(prefix="bench-simulate-") as tmp:
        root = Path(tmp)
        write_manifests(root / "manifests", customers=customers, files=1)
        (root / "reconciler.yaml").write_text("# defaults\n")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("RECONCILER_", "PARTNER_CENTER_", "GITHUB_", "TF_BUILD"))}
        env.update({"PYTHONPATH": str(source), "NO_COLOR": "1"})
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "reconciler", "--simulate", "apply", "--auto-approve"],
            cwd=root, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        if done.returncode != 0 or f"Apply complete: {customers} started." not in done.stdout:
            raise SystemExit(f"apply failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        check = subprocess.run(
            [sys.executable, "-c", COUNT, str(root / ".reconciler" / "simulator.json"),
             str(customers)], env=env, capture_output=True, text=True, check=True)
        if int(check.stdout) != customers:
            raise SystemExit(f"{check.stdout.strip()} of {customers} customers have exactly one "
                             "upgrade in the world file")
        return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", type=Path, help="a checkout of the code to compare with")
    parser.add_argument("--before-rounds", type=int,
                        help="rounds of --before (default: --rounds; 1 where it is slow)")
    args = parser.parse_args()
    sources = [("after", HERE, args.rounds)]
    if args.before is not None:
        sources.insert(0, ("before", args.before.resolve(), args.before_rounds or args.rounds))
    print("| customers | code | runs (s) | median wall | customers/s |")
    print("|---|---|---|---|---|")
    for customers in args.customers:
        walls: dict[str, list[float]] = {name: [] for name, _, _ in sources}
        for round_ in range(args.rounds):
            for name, source, rounds in sources:
                if round_ < rounds:
                    walls[name].append(run_once(source, customers))
        for name, _, _ in sources:
            runs = walls[name]
            shown = ", ".join(f"{w:.1f}" for w in runs)
            print(f"| {customers:,} | {name} | {shown} | {median(runs):.1f} s | "
                  f"{customers / median(runs):.0f} |", flush=True)


if __name__ == "__main__":
    main()
