"""Fixtures for the state tests.

``backend_factory`` is what makes the conformance suite reusable: it returns a callable that
opens a *new* backend object on the same store each time it is called (two objects stand for two
runs). It runs every test against the local backend and against the Azure Blob backend on
Azurite (a fresh container per test).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.backends import LocalBackend, StateBackend
from tests.state.azurite import AzuriteUnavailable, account_url, azurite

BackendFactory = Callable[[], StateBackend]


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    """A state file path whose directory does not exist yet."""
    return tmp_path / "work" / ".reconciler" / "state.json"


@pytest.fixture(scope="session")
def azurite_connection(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running Azurite's connection string; the tests that need it fail (never skip) without."""
    try:
        with azurite(tmp_path_factory.mktemp("azurite")) as conn:
            yield conn
    except AzuriteUnavailable as exc:
        pytest.fail(f"Azurite is needed for the azureblob backend tests: {exc}", pytrace=False)


@dataclass(frozen=True)
class AzureStore:
    """One container on Azurite, and how to reach it."""

    connection_string: str
    account_url: str
    container: str
    key: str = "reconciler/state.json"

    @property
    def env(self) -> dict[str, str]:
        return {"AZURE_STORAGE_CONNECTION_STRING": self.connection_string}


@pytest.fixture
def azure_store(azurite_connection: str) -> AzureStore:
    """A new, empty container on Azurite."""
    from azure.storage.blob import BlobServiceClient

    container = f"test-{uuid.uuid4().hex[:20]}"
    with BlobServiceClient.from_connection_string(azurite_connection) as service:
        service.create_container(container)
    return AzureStore(azurite_connection, account_url(azurite_connection), container)


def open_azure(store: AzureStore, **options: object) -> StateBackend:
    """An AzureBlobBackend on ``store``."""
    from reconciler.backends.azureblob import AzureBlobBackend

    return AzureBlobBackend(store.account_url, store.container, store.key, env=store.env,
                            **options)  # type: ignore[arg-type]


@pytest.fixture(params=["local", "azureblob"])
def backend_factory(request: pytest.FixtureRequest, state_path: Path) -> Iterator[BackendFactory]:
    """Opens a new backend object on one store per call; closes them all afterwards."""
    opened: list[StateBackend] = []
    store = request.getfixturevalue("azure_store") if request.param == "azureblob" else None

    def open_one() -> StateBackend:
        backend = LocalBackend(state_path) if store is None else open_azure(store)
        opened.append(backend)
        return backend

    yield open_one
    for backend in opened:
        backend.close()
