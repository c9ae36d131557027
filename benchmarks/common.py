"""Helpers shared by the benchmark scripts: synthetic manifests and side-by-side timing."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import uuid
from pathlib import Path

#: The manifest-loading floor every target is measured against: load each file with
#: CSafeLoader and validate each document with jsonschema, in one process.
FLOOR = """
import yaml, jsonschema
from pathlib import Path
from reconciler.schemacheck import load_schema
files = sorted(Path(sys.argv[1]).glob('*.yaml'))
start = time.perf_counter()
validator = jsonschema.Draft202012Validator(load_schema('manifest.schema.json'))
count = 0
for path in files:
    with open(path, 'rb') as handle:
        for doc in yaml.load_all(handle, Loader=yaml.CSafeLoader):
            validator.validate(doc)
            count += len(doc['spec']['customers'])
RESULT = {'seconds': time.perf_counter() - start, 'customers': count}
"""


def customer_ids(count: int, seed: int = 7) -> list[str]:
    """Deterministic GUIDs, so every run benchmarks the same input."""
    return [str(uuid.UUID(int=(seed << 96) + i * 2654435761 + 1)) for i in range(count)]


def write_manifests(directory: Path, customers: int, files: int) -> list[Path]:
    """Write ``files`` manifests sharing ``customers`` customers, one document each."""
    directory.mkdir(parents=True, exist_ok=True)
    ids = customer_ids(customers)
    per_file = customers // files
    paths = []
    for index in range(files):
        chunk = ids[index * per_file:(index + 1) * per_file]
        lines = ["apiVersion: reconciler/v1", "kind: ProductUpgrades", "metadata:",
                 f"  name: wave-{index:03d}", "  labels: {region: emea}", "spec:",
                 "  productFamily: Azure", "  customers:"]
        for n, cid in enumerate(chunk):
            lines.append(f"    - id: {cid}")
            lines.append(f"      name: Customer {index}-{n} Ltd")
        path = directory / f"wave-{index:03d}.yaml"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


def run_measured(code: str, *args: str) -> dict[str, float]:
    """Run a snippet in a fresh interpreter; it prints JSON with 'seconds'. Adds peak RSS."""
    wrapper = (
        "import json, resource, sys, time\n" + code +
        "\nusage = resource.getrusage(resource.RUSAGE_SELF)"
        "\nRESULT['peak_mib'] = usage.ru_maxrss / 1024"
        "\nprint(json.dumps(RESULT))\n"
    )
    out = subprocess.run([sys.executable, "-c", wrapper, *args], check=True,
                         capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def median(values: list[float]) -> float:
    return statistics.median(values)
