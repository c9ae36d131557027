"""State backends behind one small protocol.

:func:`opened` is how commands reach one: it opens the backend the settings describe,
optionally holds the state lock for the block, and always closes it again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from reconciler.backends.base import LockInfo, StateBackend
from reconciler.backends.local import LocalBackend
from reconciler.backends.recorder import StateRecorder
from reconciler.errors import ConfigError
from reconciler.settings import AzureBlobBackendSettings, BackendSettings, LocalBackendSettings

__all__ = ["LocalBackend", "LockInfo", "StateBackend", "StateRecorder", "locked",
           "open_backend", "opened"]

#: Internal knobs, for tests: a shorter lease (15 s is Azure's minimum) and renewal period.
LEASE_SECONDS_ENV = "RECONCILER_AZUREBLOB_LEASE_SECONDS"
RENEW_SECONDS_ENV = "RECONCILER_AZUREBLOB_RENEW_SECONDS"


def open_backend(settings: BackendSettings, env: Mapping[str, str] | None = None) -> StateBackend:
    """The backend ``settings`` describe; opening touches nothing on disk or network."""
    if isinstance(settings, LocalBackendSettings):
        return LocalBackend(settings.path)
    return _azureblob(settings, os.environ if env is None else env)


@contextmanager
def locked(backend: StateBackend, operation: str, timeout: float = 0.0) -> Iterator[LockInfo]:
    """Hold ``backend``'s state lock for the block (LockError naming the holder if taken)."""
    info = backend.lock(LockInfo.new(operation), timeout)
    try:
        yield info
    finally:
        backend.unlock(info.id)


@contextmanager
def opened(settings: BackendSettings, *, lock: str | None = None, timeout: float = 0.0,
           env: Mapping[str, str] | None = None) -> Iterator[StateBackend]:
    """The backend for the block, holding the lock for operation ``lock`` when given."""
    backend = open_backend(settings, env)
    try:
        if lock is None:
            yield backend
        else:
            with locked(backend, lock, timeout):
                yield backend
    finally:
        backend.close()


def _azureblob(settings: AzureBlobBackendSettings, env: Mapping[str, str]) -> StateBackend:
    from reconciler.backends.azureclient import require_sdk

    require_sdk()  # a one-line install hint when the azure extra is missing
    from reconciler.backends.azureblob import AzureBlobBackend

    lease = int(env.get(LEASE_SECONDS_ENV) or 60)
    if not 15 <= lease <= 60:
        raise ConfigError(f"{LEASE_SECONDS_ENV} must be between 15 and 60 (seconds).")
    renew = float(env.get(RENEW_SECONDS_ENV) or 0) or None
    return AzureBlobBackend(settings.account_url, settings.container, settings.key, env=env,
                            lease_seconds=lease, renew_seconds=renew)
