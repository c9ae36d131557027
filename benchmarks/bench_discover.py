"""``discover`` of a 10,000-customer partner against the simulator (issue 13).

Drives the real CLI (``python -m reconciler discover --format json``) as a subprocess against a
Simulator in this process, with **default settings** (no ``reconciler.yaml`` ``apply:``
section), a fresh simulator per run. The partner: 10,000 customers — 80% legacy, 5% blocked,
2% with an upgrade under way, 8% upgraded, 5% without legacy Azure — listed by pages of at most
500 (what the client asks for).

``limited``: 50 ms latency and 429 + ``Retry-After: 1`` above a partner-wide token bucket the
tool is not told (``--limit`` requests/s, default 100; bucket of one second's worth). Reports
requests per customer (list pages + subscriptions + eligibility, 429s excluded and included),
the accepted rate the server saw (first to last request) as a share of the limit, the 429
share, and the wall time. ``unlimited``: no limit, 20 ms latency: the client's own ceiling.

Usage::

    .venv/bin/python benchmarks/bench_discover.py limited [--rounds 1] [--limit 100]
    .venv/bin/python benchmarks/bench_discover.py unlimited [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import customer_ids, median

from reconciler.simulator import COMPLETED, Simulator, SimulatorConfig

CUSTOMERS = 10_000
#: Share of each class in the synthetic partner, in the order the ids are dealt out.
MIX = (("legacy", 0.80), ("blocked", 0.05), ("in_progress", 0.02), ("upgraded", 0.08),
       ("none", 0.05))


@dataclass(frozen=True)
class Run:
    customers: int
    requests: int
    throttled: int
    server_rate: float
    wall: float
    correct: bool


def partner(sim: Simulator, ids: list[str]) -> dict[str, str]:
    """Deal the ids out over the classes; returns the class each id must get."""
    expected: dict[str, str] = {}
    start = 0
    world = sim.world
    with world.batch():
        for cls, share in MIX:
            count = round(len(ids) * share)
            for n, cid in enumerate(ids[start:start + count]):
                name = f"Customer {start + n}, Ltd"
                if cls == "blocked":
                    world.add_customer(cid, name, eligible=False, reason="Suspended.")
                elif cls == "none":
                    world.add_customer(cid, name, legacy=False)
                else:
                    world.add_customer(cid, name)
                if cls == "in_progress":
                    world.upgrade_out_of_band(cid)
                elif cls == "upgraded":
                    world.upgrade_out_of_band(cid, status=COMPLETED)
                expected[cid] = cls
            start += count
    return expected


def one_run(latency_ms: float, per_second: float | None) -> Run:
    ids = customer_ids(CUSTOMERS, seed=13)
    config = SimulatorConfig(latency_ms=latency_ms, seed=1, completion_delay_seconds=3600,
                             rate_limit_per_minute=per_second * 60 if per_second else None,
                             rate_limit_burst=per_second if per_second else None,
                             record_requests=True)
    with Simulator(config) as sim, tempfile.TemporaryDirectory() as tmp:
        expected = partner(sim, ids)
        sim.clear_requests()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("RECONCILER_", "PARTNER_CENTER_", "GITHUB_", "TF_BUILD"))}
        env.update({"PARTNER_CENTER_ACCESS_TOKEN": sim.token,
                    "PARTNER_CENTER_ENDPOINT": sim.url, "NO_COLOR": "1"})
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "reconciler", "discover", "--format",
                               "json"], cwd=tmp, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"discover failed ({done.returncode}): {done.stderr[-2000:]}")
        found = {c["customer_id"]: c["class"] for c in json.loads(done.stdout)["customers"]}
        seen = list(sim.requests)
    times = sorted(r.time.timestamp() for r in seen)
    throttled = sum(1 for r in seen if r.status == 429)
    accepted = len(seen) - throttled
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    return Run(len(found), len(seen), throttled, (accepted - 1) / span, wall,
               found == expected)


def report(label: str, runs: list[Run], limit: float | None) -> None:
    accepted = median([(r.requests - r.throttled) / r.customers for r in runs])
    sent = median([r.requests / r.customers for r in runs])
    rate = median([r.server_rate for r in runs])
    share = f"{rate / limit:.2f}" if limit else "-"
    throttled = median([r.throttled / r.requests for r in runs])
    print(f"| {label} | {accepted:.3f} | {sent:.3f} | {rate:.1f}/s | {share} | "
          f"{throttled * 100:.2f}% | {median([r.wall for r in runs]):.1f} s | "
          f"{'yes' if all(r.correct for r in runs) else 'NO'} |", flush=True)


HEADER = ("| case | requests/customer (answered) | requests/customer (sent, 429s too) | "
          "accepted rate (median) | achieved / limit | 429s | CLI wall (median) | "
          "every class right |\n|---|---|---|---|---|---|---|---|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    limited = sub.add_parser("limited")
    limited.add_argument("--rounds", type=int, default=1)
    limited.add_argument("--limit", type=float, default=100.0)
    unlimited = sub.add_parser("unlimited")
    unlimited.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"Default settings; {CUSTOMERS:,} customers; {args.rounds} round(s)\n")
    print(HEADER)
    if args.mode == "limited":
        runs = [one_run(50, args.limit) for _ in range(args.rounds)]
        report(f"{args.limit:g} requests/s, 50 ms", runs, args.limit)
    else:
        runs = [one_run(20, None) for _ in range(args.rounds)]
        report("no limit, 20 ms", runs, None)


if __name__ == "__main__":
    main()
