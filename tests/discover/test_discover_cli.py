"""discover as a user runs it: the embedded simulator's demo partner, files, formats, exit codes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from tests.conftest import REPO, Result

Run = Callable[..., Result]


def test_discover_write_then_plan_on_the_simulator(run_cli: Run, tmp_path: Path) -> None:
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    first = run_cli("--simulate", "discover", "--write", "manifests", cwd=tmp_path)
    assert first.code == 0, first.stderr
    assert "Discovered: 40 customers; 28 legacy (22 not in any manifest), 3 blocked, " \
        in first.stdout
    assert "Wrote manifests/discovered-001.yaml\n" in first.stdout
    assert first.stdout.rstrip().endswith(
        "Wrote 1 manifest with 22 customers; review them, then run `reconciler plan`.")
    assert run_cli("validate", cwd=tmp_path).code == 0
    plan = run_cli("--simulate", "plan", cwd=tmp_path)
    assert "Plan: 28 to create, 0 to adopt" in plan.stdout, plan.stdout + plan.stderr
    again = run_cli("--simulate", "discover", "--write", "manifests", cwd=tmp_path)
    assert again.code == 0
    assert "Nothing written in manifests" in again.stdout
    assert sorted(p.name for p in (tmp_path / "manifests").iterdir()) == [
        "americas.yaml", "discovered-001.yaml", "emea-wave-1.yaml"]


def test_json_and_csv_keep_stdout_a_document(run_cli: Run, tmp_path: Path) -> None:
    shown = run_cli("--simulate", "discover", "--format", "json", "--write", "new",
                    cwd=tmp_path)
    assert shown.code == 0, shown.stderr
    doc = json.loads(shown.stdout)  # the file list went to stderr
    assert doc["kind"] == "discovery"
    assert doc["summary"]["unmanaged_legacy"] == 22
    assert "Wrote new/discovered-001.yaml" in shown.stderr
    table = run_cli("--simulate", "discover", "--format", "csv", cwd=tmp_path)
    # (text mode reads the CRLF line ends as \n; the in-process test checks the bytes)
    assert table.stdout.startswith("customer_id,name,domain,class,reason,upgrade_id,managed,"
                                   "source\n")
    assert '"Fabrikam, Inc."' in table.stdout
    assert '"Lucerne ""Publishing"""' in table.stdout


def test_bad_options_cost_no_call(run_cli: Run, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    for args, message in ((["--prefix", "Bad_Name"], "--prefix 'Bad_Name' cannot start"),
                          (["--wave-size", "0"], "--wave-size"),
                          (["--write", "afile"], "afile")):
        result = run_cli("--simulate", "discover", *args, cwd=tmp_path)
        assert result.code != 0
        assert message in result.stdout + result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / ".reconciler").exists()
