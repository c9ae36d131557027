"""Throughput of the Partner Center simulator: eligibility requests per second.

The server runs as its own process (``reconciler simulator serve``), as it does for other
benchmarks, so client and server do not share a GIL. Clients are threads, each with one
keep-alive connection, posting eligibility checks for random known customers.

    .venv/bin/python benchmarks/bench_simulator.py --clients 8 --seconds 5 --runs 5

Prints one line per run and the median; ``--client requests`` uses requests.Session instead
of the lighter http.client (the server is the same; the client costs more CPU).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
SERVE = "from reconciler.cli.simulator import simulator; simulator()"


def start_server(extra: list[str]) -> tuple[subprocess.Popen[str], str]:
    """Start ``simulator serve`` and return it with its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, "serve", "--port", "0", "--token", TOKEN,
         "--demo-customers", "200", *extra],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("Listening on "):
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return proc, line.removeprefix("Listening on ")


def customer_ids(url: str) -> list[str]:
    """The ids of the demo customers."""
    answer = requests.get(
        f"{url}/v1/customers?size=1000", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    answer.raise_for_status()
    return [item["id"] for item in answer.json()["items"]]


def http_client_worker(url: str, ids: list[str]) -> Callable[[], int]:
    """One keep-alive http.client connection; each call sends one eligibility request."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }

    def call() -> int:
        body = json.dumps({"customerId": random.choice(ids), "productFamily": "Azure"})
        conn.request("POST", "/v1/productUpgrades/eligibility", body, headers)
        response = conn.getresponse()
        response.read()
        return response.status

    return call


def requests_worker(url: str, ids: list[str]) -> Callable[[], int]:
    """One requests.Session (keep-alive); each call sends one eligibility request."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"

    def call() -> int:
        body = {"customerId": random.choice(ids), "productFamily": "Azure"}
        return session.post(
            f"{url}/v1/productUpgrades/eligibility", json=body, timeout=10
        ).status_code

    return call


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def run_once(url: str, ids: list[str], clients: int, seconds: float, kind: str) -> float:
    """Requests per second over ``seconds`` with ``clients`` concurrent connections."""
    make = http_client_worker if kind == "http.client" else requests_worker
    workers = [make(url, ids) for _ in range(clients)]
    counts = [0] * clients
    errors: list[str] = []
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def loop(index: int) -> None:
        call = workers[index]
        start.wait()
        while time.perf_counter() < deadline[0]:
            status = call()
            if status != 200:
                errors.append(str(status))
            counts[index] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise SystemExit(f"{len(errors)} unexpected answers, e.g. {errors[0]}")
    return sum(counts) / elapsed


def main() -> None:
    """Parse arguments, start the server, run and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--client", choices=["http.client", "requests"], default="http.client")
    args = parser.parse_args()
    proc, url = start_server([])
    try:
        ids = customer_ids(url)
        run_once(url, ids, args.clients, 1.0, args.client)  # warm-up: threads, connections
        rates, costs = [], []
        for run in range(args.runs):
            cpu_before = process_cpu_seconds(proc.pid)
            rate = run_once(url, ids, args.clients, args.seconds, args.client)
            # Server CPU per request: what the server costs, whatever else loads the machine.
            cost = (process_cpu_seconds(proc.pid) - cpu_before) / (rate * args.seconds) * 1e6
            rates.append(rate)
            costs.append(cost)
            print(f"run {run + 1}: {rate:,.0f} requests/s, server CPU {cost:.0f} us/request")
        print(
            f"median {statistics.median(rates):,.0f} requests/s, "
            f"server CPU {statistics.median(costs):.0f} us/request "
            f"({args.clients} {args.client} keep-alive clients, {args.seconds:g} s x {args.runs})"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
