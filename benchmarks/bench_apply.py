"""Refresh and apply against the simulator: throughput under a rate limit, and client overhead.

Two modes, each driving the real CLI (``python -m reconciler``) as a subprocess against a
Simulator running in this process (as tests/e2e does: ``PARTNER_CENTER_ENDPOINT`` and
``PARTNER_CENTER_ACCESS_TOKEN``, settings in ``reconciler.yaml``), a fresh simulator per run:

``limits`` (issues 6 and 7): 1,000 eligible customers, a simulator answering after 50 ms with a
partner limit of 40 requests/s (``SimulatorConfig(rate_limit_per_minute=2400, latency_ms=50)``).
``plan --out F`` refreshes (1,000 eligibility calls), then ``apply F`` creates (1,000 creates).
For each phase: the accepted request rate seen by the server (non-429 answers between the first
and the last request), the same over the CLI's wall time (start-up included), and the 429s;
for apply also duplicates (``sim.stats.duplicates``) and customers without exactly one upgrade.
Targets: refresh >= 90% of the limit without a burst of 429s; apply >= 90% of the limit,
<= 2% of requests throttled, zero duplicates, every customer exactly one upgrade.
``--settings RPM:PARALLELISM,...`` chooses the client settings to try (``apply:
max_requests_per_minute`` and ``--parallelism``); ``--sim-burst`` the simulator's bucket size
(``default`` is its default, one minute's worth; a small one models a strict service).

``overhead`` (issue 7): a zero-latency, unlimited simulator; ``apply --auto-approve`` for N
customers (eligibility + create each, state and journal writes included) against a bare
``requests`` loop making the same calls with the same parallelism (ThreadPoolExecutor, one shared
``requests.Session``). Both are timed as whole processes, start-up included, alternating, fresh
simulator each. Target: apply <= 2x the bare loop.

Usage::

    .venv/bin/python benchmarks/bench_apply.py limits [--rounds 3] [--settings 2400:4,2400:8]
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

LIMIT_PER_MINUTE = 2400
ELIGIBILITY = "/v1/productUpgrades/eligibility"
CREATE = "/v1/productUpgrades"

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
    wall_rate: float  # accepted requests/s over the CLI process's wall time
    wall: float


def simulator(latency_ms: float, limit: float | None, burst: float | None,
              record: bool) -> Simulator:
    """A started simulator whose upgrades stay in progress for the whole run."""
    config = SimulatorConfig(latency_ms=latency_ms, rate_limit_per_minute=limit,
                             rate_limit_burst=burst, record_requests=record, seed=1,
                             completion_delay_seconds=3600)
    return Simulator(config).start()


def project(root: Path, sim: Simulator, ids: list[str], rpm: int,
            parallelism: int) -> dict[str, str]:
    """Manifests and settings in ``root``, customers in the simulator; returns the CLI's env."""
    write_manifests(root / "manifests", customers=len(ids), files=1)
    for n, cid in enumerate(ids):
        sim.world.ensure_customer(cid, f"Customer 0-{n} Ltd")
    (root / "reconciler.yaml").write_text(
        f"apply:\n  parallelism: {parallelism}\n  max_requests_per_minute: {rpm}\n")
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
    return Phase(len(seen), accepted, len(seen) - accepted, (accepted - 1) / span,
                 accepted / wall, wall)


def limits_run(rpm: int, parallelism: int, burst: float | None,
               customers: int) -> tuple[Phase, Phase, int, int]:
    """plan --out, then apply the saved plan; returns both phases, duplicates, bad customers."""
    ids = customer_ids(customers)  # the ids write_manifests uses
    sim = simulator(50, LIMIT_PER_MINUTE, burst, record=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            env = project(root, sim, ids, rpm, parallelism)
            wall = cli(root, env, "plan", "--out", "plan.json", "--parallelism", str(parallelism))
            refresh = observe(sim, ELIGIBILITY, wall)
            sim.clear_requests()
            sim.stats.reset()
            wall = cli(root, env, "apply", "plan.json", "--parallelism", str(parallelism))
            apply = observe(sim, CREATE, wall)
            assert apply.throttled == sim.stats.throttled, "429s on other paths"
            wrong = sum(1 for cid in ids if len(sim.world.upgrades_for(cid)) != 1)
            return refresh, apply, sim.stats.duplicates, wrong
    finally:
        sim.stop()


def overhead_run(kind: str, parallelism: int, customers: int) -> float:
    """Wall time of one process (reconciler apply, or the bare loop) against a fresh simulator."""
    ids = customer_ids(customers)
    sim = simulator(0, None, None, record=False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            env = project(root, sim, ids, 100_000, parallelism)
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


def limits(args: argparse.Namespace) -> None:
    bursts = [None if b == "default" else float(b) for b in args.sim_burst.split(",")]
    settings = [tuple(int(x) for x in s.split(":")) for s in args.settings.split(",")]
    print(f"{args.customers:,} customers; simulator: 50 ms latency, limit "
          f"{LIMIT_PER_MINUTE}/min = {LIMIT_PER_MINUTE / 60:.0f}/s; {args.rounds} rounds; "
          "rates are accepted requests/s (server: first to last request; wall: CLI process)\n")
    print("| sim burst | max_requests_per_minute | parallelism | phase | server rate (% of limit)"
          " | wall rate | 429s (% of requests) | duplicates | customers without exactly 1 |")
    print("|---|---|---|---|---|---|---|---|---|")
    limit_per_second = LIMIT_PER_MINUTE / 60
    for burst in bursts:
        for rpm, parallelism in settings:
            runs = [limits_run(rpm, parallelism, burst, args.customers)
                    for _ in range(args.rounds)]
            for index, name in ((0, "refresh"), (1, "apply")):
                phases: list[Phase] = [run[index] for run in runs]  # type: ignore[misc]
                rate = median([p.server_rate for p in phases])
                wall = median([p.wall_rate for p in phases])
                throttled = [p.throttled for p in phases]
                share = max(p.throttled / p.requests for p in phases) * 100
                dup = max(run[2] for run in runs) if name == "apply" else "-"
                bad = max(run[3] for run in runs) if name == "apply" else "-"
                print(f"| {burst or 'default'} | {rpm} | {parallelism} | {name} | {rate:.1f} "
                      f"({rate / limit_per_second * 100:.0f}%) | {wall:.1f} | "
                      f"{throttled} (max {share:.1f}%) | {dup} | {bad} |", flush=True)


def overhead(args: argparse.Namespace) -> None:
    ours, bare = [], []
    for _ in range(args.rounds):
        bare.append(overhead_run("bare", args.parallelism, args.customers))
        ours.append(overhead_run("reconciler", args.parallelism, args.customers))
    b, o = median(bare), median(ours)
    print(f"{args.customers:,} customers (eligibility + create each), parallelism "
          f"{args.parallelism}, zero-latency unlimited simulator in the driver process; "
          f"{args.rounds} alternating rounds, whole-process wall times")
    print(f"bare requests loop:          median {b:.2f} s (runs "
          f"{', '.join(f'{x:.2f}' for x in bare)})")
    print(f"reconciler apply (+ state):  median {o:.2f} s (runs "
          f"{', '.join(f'{x:.2f}' for x in ours)})")
    print(f"ratio: {o / b:.2f}x (target <= 2x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["limits", "overhead"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--settings", default="2400:4,2400:8",
                        help="max_requests_per_minute:parallelism pairs (limits)")
    parser.add_argument("--sim-burst", default="default,10",
                        help="simulator bucket sizes, 'default' or a number (limits)")
    parser.add_argument("--parallelism", type=int, default=8, help="(overhead)")
    args = parser.parse_args()
    limits(args) if args.mode == "limits" else overhead(args)


if __name__ == "__main__":
    main()
