"""Fixtures for the state tests.

``backend_factory`` is what makes the conformance suite reusable: it returns a callable that
opens a *new* backend object on the same store each time it is called (two objects stand for two
runs). The Azure Blob backend adds its own parameter here (e.g. against Azurite) and runs the
same suite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.backends import LocalBackend, StateBackend

BackendFactory = Callable[[], StateBackend]


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    """A state file path whose directory does not exist yet."""
    return tmp_path / "work" / ".reconciler" / "state.json"


@pytest.fixture(params=["local"])
def backend_factory(request: pytest.FixtureRequest, state_path: Path) -> Iterator[BackendFactory]:
    """Opens a new backend object on one store per call; closes them all afterwards."""
    opened: list[StateBackend] = []

    def open_one() -> StateBackend:
        if request.param != "local":
            raise NotImplementedError(request.param)
        backend = LocalBackend(state_path)
        opened.append(backend)
        return backend

    yield open_one
    for backend in opened:
        backend.close()
