"""Shared fixtures: running the real CLI in-process and as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No reconciler or Partner Center variables leak in from the developer's shell."""
    for name in list(os.environ):
        if name.startswith(("RECONCILER_", "PARTNER_CENTER_", "AZURE_", "GITHUB_")) \
                or name in {"NO_COLOR", "TF_BUILD"}:
            monkeypatch.delenv(name)
    return


@pytest.fixture
def run_cli(clean_env: None) -> Callable[..., Result]:
    """Run ``python -m reconciler ARGS`` as a real subprocess (exit codes, stdout, stderr)."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> Result:
        full_env = {**os.environ, **(env or {})}
        proc = subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=cwd,
                              env=full_env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run
