"""State backends behind one small protocol; :func:`open_backend` picks one from settings."""

from __future__ import annotations

import os
from collections.abc import Mapping

from reconciler.backends.base import LockInfo, StateBackend
from reconciler.backends.local import LocalBackend
from reconciler.backends.recorder import StateRecorder
from reconciler.errors import ConfigError
from reconciler.settings import BackendSettings

__all__ = ["LocalBackend", "LockInfo", "StateBackend", "StateRecorder", "open_backend"]

#: Internal knobs, for tests: a shorter lease (15 s is Azure's minimum) and renewal period.
LEASE_SECONDS_ENV = "RECONCILER_AZUREBLOB_LEASE_SECONDS"
RENEW_SECONDS_ENV = "RECONCILER_AZUREBLOB_RENEW_SECONDS"


def open_backend(settings: BackendSettings, env: Mapping[str, str] | None = None) -> StateBackend:
    """The backend ``settings`` describe; opening touches nothing on disk or network."""
    if settings.type == "local":
        return LocalBackend(settings.path)
    if settings.type == "azureblob":
        return _azureblob(settings, os.environ if env is None else env)
    raise ConfigError(f'Unknown state backend type "{settings.type}"; use "local" or "azureblob".')


def _azureblob(settings: BackendSettings, env: Mapping[str, str]) -> StateBackend:
    from reconciler.backends.azureclient import require_sdk

    require_sdk()  # a one-line install hint when the azure extra is missing
    from reconciler.backends.azureblob import AzureBlobBackend

    if not (settings.account_url and settings.container and settings.key):
        raise ConfigError("The azureblob backend needs backend.account_url, backend.container "
                          "and backend.key in the settings file.")
    lease = int(env.get(LEASE_SECONDS_ENV) or 60)
    if not 15 <= lease <= 60:
        raise ConfigError(f"{LEASE_SECONDS_ENV} must be between 15 and 60 (seconds).")
    renew = float(env.get(RENEW_SECONDS_ENV) or 0) or None
    return AzureBlobBackend(settings.account_url, settings.container, settings.key, env=env,
                            lease_seconds=lease, renew_seconds=renew)
