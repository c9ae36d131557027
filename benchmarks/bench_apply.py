"""Refresh and apply against the simulator: throughput under a rate limit, and client overhead.

Every mode drives the real CLI (``python -m reconciler``) as a subprocess against a Simulator
running in this process (as tests/e2e does: ``PARTNER_CENTER_ENDPOINT`` and
``PARTNER_CENTER_ACCESS_TOKEN``), a fresh simulator per run, with **default settings** (no
``apply:`` section in ``reconciler.yaml``) unless a mode says otherwise.

``limits`` (issue 18): a simulator answering after 50 ms that refuses with 429 +
``Retry-After: 1`` above a token bucket the tool is not told (``rate_limit_per_minute``, bucket
of one second's worth unless ``--bucket``), at 8 requests/s (300 customers), 40 and 100 (1,000).
``plan --out F`` refreshes (eligibility per customer), then ``apply F`` creates. Per phase: the
accepted request rate the server saw (first to last request) as a share of the limit, the 429s
as a share of requests, duplicates and customers without exactly one upgrade. Targets (apply):
>= 0.9 of the limit at 8 and 40/s, >= 0.8 at 100/s, <= 3% throttled, zero duplicates.

``ceilings`` (issue 18): the same 40/s server with a configured ``max_requests_per_minute``:
2400 (the limit: >= 0.9, 0 throttled) and 3000 (above it: >= 0.85, <= 3% throttled).

``unlimited`` (issue 18): no limit, 20 ms latency, ``apply --auto-approve`` of 300 customers
(refresh and creates); target: under 15 s.

``overhead`` (issue 7): a zero-latency, unlimited simulator; ``apply --auto-approve`` for N
customers against a bare ``requests`` loop making the same calls with the same parallelism.
Both are timed as whole processes, start-up included, alternating, fresh simulator each.
Target: apply <= 1.5x the bare loop.

Usage::

    .venv/bin/python benchmarks/bench_apply.py limits [--rounds 3] [--bucket 1]
    .venv/bin/python benchmarks/bench_apply.py ceilings [--rounds 3]
    .venv/bin/python benchmarks/bench_apply.py unlimited [--rounds 3]
    .venv/bin/python benchmarks/bench_apply.py overhead [--rounds 5] [--customers 1000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import customer_ids, median, write_manifests

from reconciler.simulator import Simulator, SimulatorConfig

ELIGIBILITY = "/v1/productUpgrades/eligibility"
CREATE = "/v1/productUpgrades"
#: (limit in requests/s, customers) of the ``limits`` mode, and the share of the limit to reach.
LIMIT_CASES = ((8.0, 300, 0.9), (40.0, 1000, 0.9), (100.0, 1000, 0.8))
#: (max_requests_per_minute, share to reach) against 40 requests/s in the ``ceilings`` mode.
CEILING_CASES = ((2400, 0.9), (3000, 0.85))

BARE_LOOP = """
import json, sys, time, uuid
from concurrent.futures import ThreadPoolExecutor
import requests
from requests.adapters import HTTPAdapter
url, token, parallelism, ids = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
session = requests.Session()
adapter = HTTPAdapter(pool_connections=2, pool_maxsize=parallelism, max_retries=0)
session.mount('http://', adapter)
session.headers.update({'Authorization': f'Bearer {token}', 'Accept': 'application/json'})

def one(customer_id):
    body = {'customerId': customer_id, 'productFamily': 'Azure'}
    seen = session.post(f'{url}/v1/productUpgrades/eligibility', json=body, timeout=60)
    assert seen.status_code == 200 and seen.json()['isEligible'], seen.text
    made = session.post(f'{url}/v1/productUpgrades', json=body, timeout=60,
                        headers={'MS-RequestId': str(uuid.uuid4())})
    assert made.status_code == 202, made.text

with ThreadPoolExecutor(max_workers=parallelism) as pool:
    list(pool.map(one, ids))
"""


@dataclass(frozen=True)
class Phase:
    """One CLI phase as the simulator saw it."""

    requests: int
    accepted: int
    throttled: int
    server_rate: float  # accepted requests/s between the first and the last request
    wall: float

    @property
    def throttled_share(self) -> float:
        return self.throttled / self.requests if self.requests else 0.0


def simulator(latency_ms: float, per_second: float | None, bucket: float | None,
              record: bool) -> Simulator:
    """A started simulator whose upgrades stay in progress for the whole run."""
    per_minute = per_second * 60 if per_second is not None else None
    config = SimulatorConfig(latency_ms=latency_ms, rate_limit_per_minute=per_minute,
                             rate_limit_burst=bucket, record_requests=record, seed=1,
                             completion_delay_seconds=3600)
    return Simulator(config).start()


def project(root: Path, sim: Simulator, ids: list[str], apply: str = "") -> dict[str, str]:
    """Manifests and settings in ``root``, customers in the simulator; returns the CLI's env.

    ``apply`` is the settings file's ``apply:`` section (empty: the defaults a user gets).
    """
    write_manifests(root / "manifests", customers=len(ids), files=1)
    for n, cid in enumerate(ids):
        sim.world.ensure_customer(cid, f"Customer 0-{n} Ltd")
    (root / "reconciler.yaml").write_text(f"apply:\n{apply}" if apply else "# defaults\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RECONCILER_", "PARTNER_CENTER_", "GITHUB_", "TF_BUILD"))}
    env.update({"PARTNER_CENTER_ACCESS_TOKEN": sim.token, "PARTNER_CENTER_ENDPOINT": sim.url,
                "NO_COLOR": "1"})
    return env


def cli(root: Path, env: dict[str, str], *args: str) -> float:
    """Run the CLI in ``root``; return its wall time (output discarded)."""
    start = time.perf_counter()
    with open(os.devnull, "w") as sink:
        done = subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=root, env=env,
                              stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.PIPE,
                              text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 2):
        raise SystemExit(f"reconciler {' '.join(args)} failed ({done.returncode}): "
                         f"{done.stderr[-2000:]}")
    return wall


def observe(sim: Simulator, path: str, wall: float) -> Phase:
    """What the simulator saw of the requests to ``path`` since it was last cleared."""
    seen = [r for r in sim.requests if r.method == "POST" and r.path == path]
    times = sorted(r.time.timestamp() for r in seen)
    accepted = sum(1 for r in seen if r.status != 429)
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    return Phase(len(seen), accepted, len(seen) - accepted, (accepted - 1) / span, wall)


@dataclass(frozen=True)
class LimitRun:
    refresh: Phase
    apply: Phase
    duplicates: int
    wrong: int


def limits_run(per_second: float, bucket: float, customers: int, apply: str = "") -> LimitRun:
    """plan --out, then apply the saved plan, against a limited simulator."""
    ids = customer_ids(customers)  # the ids write_manifests uses
    sim = simulator(50, per_second, bucket, record=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            env = project(root, sim, ids, apply)
            wall = cli(root, env, "plan", "--out", "plan.json")
            refresh = observe(sim, ELIGIBILITY, wall)
            sim.clear_requests()
            sim.stats.reset()
            wall = cli(root, env, "apply", "plan.json")
            created = observe(sim, CREATE, wall)
            assert created.throttled == sim.stats.throttled, "429s on other paths"
            wrong = sum(1 for cid in ids if len(sim.world.upgrades_for(cid)) != 1)
            return LimitRun(refresh, created, sim.stats.duplicates, wrong)
    finally:
        sim.stop()


def report(label: str, per_second: float, runs: list[LimitRun], target: float,
           max_throttled: float) -> None:
    """One table row per phase: medians of the runs, every run's 429s, and the verdict."""
    for name in ("refresh", "apply"):
        phases: list[Phase] = [getattr(run, name) for run in runs]
        share = median([p.server_rate for p in phases]) / per_second
        throttled = median([p.throttled_share for p in phases])
        per_run = ", ".join(str(p.throttled) for p in phases)
        dup = max(run.duplicates for run in runs) if name == "apply" else "-"
        bad = max(run.wrong for run in runs) if name == "apply" else "-"
        met = share >= target and throttled <= max_throttled and dup in ("-", 0) and \
            bad in ("-", 0)
        print(f"| {label} | {name} | {share:.2f} | {throttled * 100:.1f}% ({per_run}) | "
              f"{median([p.wall for p in phases]):.1f} s | {dup} | {bad} | "
              f"{'met' if met else 'NOT met'} (>= {target}, <= {max_throttled * 100:.0f}%) |",
              flush=True)


HEADER = ("| case | phase | achieved / limit (median) | 429s (median share; per run) | "
          "CLI wall (median) | duplicates | customers without exactly 1 | target |\n"
          "|---|---|---|---|---|---|---|---|")


def limits(args: argparse.Namespace) -> None:
    print(f"Default settings; simulator: 50 ms latency, 429 + Retry-After: 1 above a token "
          f"bucket of {args.bucket:g} s worth; {args.rounds} rounds\n")
    print(HEADER)
    for per_second, customers, target in LIMIT_CASES:
        runs = [limits_run(per_second, args.bucket * per_second, customers)
                for _ in range(args.rounds)]
        report(f"{per_second:g}/s, {customers} customers", per_second, runs, target, 0.03)


def ceilings(args: argparse.Namespace) -> None:
    print(f"max_requests_per_minute set, the rest default; simulator: 40 requests/s, 50 ms, "
          f"bucket of {args.bucket:g} s worth; 1,000 customers; {args.rounds} rounds\n")
    print(HEADER)
    for rpm, target in CEILING_CASES:
        runs = [limits_run(40.0, args.bucket * 40.0, 1000, f"  max_requests_per_minute: {rpm}\n")
                for _ in range(args.rounds)]
        report(f"{rpm}/min vs 2400/min", 40.0, runs, target, 0.0 if rpm <= 2400 else 0.03)


def unlimited(args: argparse.Namespace) -> None:
    walls = []
    for _ in range(args.rounds):
        ids = customer_ids(300)
        sim = simulator(20, None, None, record=False)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp)
                env = project(root, sim, ids)
                walls.append(cli(root, env, "apply", "--auto-approve"))
                assert all(len(sim.world.upgrades_for(cid)) == 1 for cid in ids)
        finally:
            sim.stop()
    wall = median(walls)
    print(f"300 customers, default settings, no limit, 20 ms latency: apply --auto-approve "
          f"(refresh + creates) median {wall:.1f} s (runs {', '.join(f'{w:.1f}' for w in walls)}"
          f"); target < 15 s: {'met' if wall < 15 else 'NOT met'}")


def overhead_run(kind: str, parallelism: int, customers: int, rpm: int | None = None) -> float:
    """Wall time of one process (reconciler apply, or the bare loop) against a fresh simulator."""
    ids = customer_ids(customers)
    sim = simulator(0, None, None, record=False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            ceiling = f"  max_requests_per_minute: {rpm}\n" if rpm else ""
            env = project(root, sim, ids, f"  parallelism: {parallelism}\n{ceiling}")
            if kind == "reconciler":
                wall = cli(root, env, "apply", "--auto-approve", "--parallelism",
                           str(parallelism))
            else:
                start = time.perf_counter()
                subprocess.run([sys.executable, "-c", BARE_LOOP, sim.url, sim.token,
                                str(parallelism), *ids], check=True)
                wall = time.perf_counter() - start
            started = sum(len(sim.world.upgrades_for(cid)) for cid in ids)
            assert started == customers, f"{kind}: {started} upgrades for {customers} customers"
            return wall
    finally:
        sim.stop()


def overhead(args: argparse.Namespace) -> None:
    ours, bare = [], []
    for _ in range(args.rounds):
        bare.append(overhead_run("bare", args.parallelism, args.customers))
        ours.append(overhead_run("reconciler", args.parallelism, args.customers, args.rpm))
    b, o = median(bare), median(ours)
    rate = f"max_requests_per_minute {args.rpm}" if args.rpm else "the default rate (auto)"
    print(f"{args.customers:,} customers (eligibility + create each), parallelism "
          f"{args.parallelism}, {rate}, zero-latency unlimited simulator in the driver process; "
          f"{args.rounds} alternating rounds, whole-process wall times")
    print(f"bare requests loop:          median {b:.2f} s (runs "
          f"{', '.join(f'{x:.2f}' for x in bare)})")
    print(f"reconciler apply (+ state):  median {o:.2f} s (runs "
          f"{', '.join(f'{x:.2f}' for x in ours)})")
    print(f"ratio: {o / b:.2f}x (target <= 1.5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["limits", "ceilings", "unlimited", "overhead"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bucket", type=float, default=1.0,
                        help="the simulator's bucket, in seconds' worth of its limit")
    parser.add_argument("--customers", type=int, default=1000, help="(overhead)")
    parser.add_argument("--parallelism", type=int, default=8, help="(overhead)")
    parser.add_argument("--rpm", type=int, default=None,
                        help="(overhead) set max_requests_per_minute instead of auto")
    args = parser.parse_args()
    {"limits": limits, "ceilings": ceilings, "unlimited": unlimited,
     "overhead": overhead}[args.mode](args)


if __name__ == "__main__":
    main()
