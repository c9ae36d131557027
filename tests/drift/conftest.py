"""Drift fixtures: a project whose simulated upgrades stay in progress until told otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.simulator import SimulatorConfig
from tests.e2e.conftest import Project, make_project


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    """Upgrades complete after an hour unless a test completes or fails them."""
    yield from make_project(tmp_path, SimulatorConfig(completion_delay_seconds=3600, seed=1))
