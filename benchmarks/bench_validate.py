"""Validate 100,000 customers in 10 files, against the floor of load + jsonschema.

The floor is what any validator must at least do: load every file with ``yaml.CSafeLoader`` and
validate every document with jsonschema, in one process. The target (issue 2) is that
``reconciler``'s manifest check (which also refuses duplicate keys and anchors, normalises ids,
finds duplicates across files, and builds DesiredUpgrade values with their lines) takes at most
1.5x the floor, with peak memory under 500 MB.

Each measurement runs in a fresh interpreter (so peak RSS is its own); floor and reconciler runs
alternate so machine noise hits both alike. Usage: python benchmarks/bench_validate.py [ROUNDS]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import FLOOR, median, run_measured, write_manifests

OURS = """
from pathlib import Path
from reconciler import manifest
start = time.perf_counter()
desired, problems = manifest.check([Path(sys.argv[1])])
assert not problems, problems[:3]
RESULT = {'seconds': time.perf_counter() - start, 'customers': len(desired.upgrades)}
"""


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "manifests"
        write_manifests(directory, customers=100_000, files=10)
        floor, ours = [], []
        for _ in range(rounds):
            floor.append(run_measured(FLOOR, str(directory)))
            ours.append(run_measured(OURS, str(directory)))
    assert {r["customers"] for r in floor + ours} == {100_000}
    f = median([r["seconds"] for r in floor])
    o = median([r["seconds"] for r in ours])
    print(f"rounds: {rounds}, 100,000 customers in 10 files")
    print(f"floor (CSafeLoader + jsonschema): median {f:.3f} s, "
          f"peak {max(r['peak_mib'] for r in floor):.0f} MiB")
    print(f"reconciler manifest.check:       median {o:.3f} s, "
          f"peak {max(r['peak_mib'] for r in ours):.0f} MiB")
    print(f"ratio: {o / f:.2f}x (target <= 1.5x; peak target < 500 MB)")


if __name__ == "__main__":
    main()
