"""State backends behind one small protocol; :func:`open_backend` picks one from settings."""

from __future__ import annotations

from reconciler.backends.base import LockInfo, StateBackend
from reconciler.backends.local import LocalBackend
from reconciler.backends.recorder import StateRecorder
from reconciler.errors import ConfigError
from reconciler.settings import BackendSettings

__all__ = ["LocalBackend", "LockInfo", "StateBackend", "StateRecorder", "open_backend"]


def open_backend(settings: BackendSettings) -> StateBackend:
    """The backend ``settings`` describe; opening touches nothing on disk or network."""
    if settings.type == "local":
        return LocalBackend(settings.path)
    if settings.type == "azureblob":
        raise ConfigError(
            "The azureblob state backend is not available in this version yet; "
            'use backend type "local" (or --state PATH).'
        )
    raise ConfigError(f'Unknown state backend type "{settings.type}"; use "local" or "azureblob".')
