"""The one frozen Settings value every command receives.

Built by :mod:`reconciler.config` from command-line options, environment variables, the settings
file and defaults (in that order of precedence). Secrets are never part of it: credentials are
read from the environment by the Partner Center auth code only when a command needs the API.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from reconciler.errors import ConfigError
from reconciler.partnercenter.deadline import Deadline

DEFAULT_ENDPOINT = "https://api.partnercenter.microsoft.com"
DEFAULT_STATE_PATH = Path(".reconciler/state.json")
DEFAULT_ALLOWED_FAMILIES = ("Azure",)
#: Enough calls in flight that latency, not this ceiling, holds a run back at 100 requests/s
#: and 50 ms (5 needed; the rest covers workers waiting out a Retry-After).
DEFAULT_PARALLELISM = 16


@dataclass(frozen=True, slots=True)
class LocalBackendSettings:
    """State in local files at ``path`` (and beside it: journal, lock, history)."""

    path: Path = DEFAULT_STATE_PATH
    type: Literal["local"] = "local"


@dataclass(frozen=True, slots=True)
class AzureBlobBackendSettings:
    """State in the blob ``key`` of ``container`` in the storage account ``account_url``."""

    account_url: str
    container: str
    key: str
    type: Literal["azureblob"] = "azureblob"


#: Where state lives: one of the backends, told apart by ``type``.
BackendSettings = LocalBackendSettings | AzureBlobBackendSettings


def backend_settings(type: str = "local", *, path: Path | None = None,
                     account_url: str | None = None, container: str | None = None,
                     key: str | None = None) -> BackendSettings:
    """The one place backend settings are checked: the type, and the fields it needs."""
    if type == "local":
        return LocalBackendSettings(path if path is not None else DEFAULT_STATE_PATH)
    if type == "azureblob":
        if not (account_url and container and key):
            raise ConfigError("The azureblob backend needs backend.account_url, "
                              "backend.container and backend.key in the settings file.")
        return AzureBlobBackendSettings(account_url, container, key)
    raise ConfigError(f'Unknown state backend type "{type}"; use "local" or "azureblob".')


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved settings for one invocation."""

    manifests: tuple[Path, ...] = (Path("manifests"),)
    backend: BackendSettings = field(default_factory=LocalBackendSettings)
    endpoint: str = DEFAULT_ENDPOINT
    authority: str | None = None
    tenant_id: str | None = None
    client_id: str | None = None
    #: The ceiling on Partner Center calls in flight.
    parallelism: int = DEFAULT_PARALLELISM
    #: None (``auto``): find the rate Partner Center accepts; a number: the same, never above it.
    max_requests_per_minute: int | None = None
    #: ``apply.batch``: start at most this many upgrades per run (None: no limit).
    batch: int | None = None
    #: ``apply.max_failures``: ``3`` or ``5%`` (None: continue on error).
    max_failures: str | None = None
    allowed_families: tuple[str, ...] = DEFAULT_ALLOWED_FAMILIES
    simulate: bool = False
    color: bool = True
    verbosity: int = 0
    config_path: Path | None = None
    #: CI annotations and summaries (off with --no-ci-integration).
    ci_integration: bool = True
    #: The ``partner_center`` keys (``endpoint``, ``authority``) set by the settings file alone,
    #: with no flag or environment variable: such a value must not decide where credentials go.
    from_file_only: frozenset[str] = frozenset()
    #: ``--timeout`` (or the settings file's ``timeout``): seconds a run that talks to Partner
    #: Center may last (None: no run deadline; every call still has its own timeouts).
    timeout: float | None = None
    #: The settings file that set ``timeout`` (None: the --timeout flag, or no timeout).
    timeout_from: Path | None = None
    #: When the invocation started (monotonic): the run deadline counts from here.
    started: float = field(default_factory=time.monotonic, compare=False)

    def deadline(self) -> Deadline | None:
        """The run's deadline, the same instant for every client of the run (None: none)."""
        if self.timeout is None:
            return None
        from reconciler.durations import format_duration

        shown = format_duration(self.timeout)
        limit = f"--timeout of {shown}" if self.timeout_from is None else \
            f"timeout of {shown} (set in {self.timeout_from})"
        return Deadline(self.started + self.timeout, limit)

    @property
    def working_tree(self) -> tuple[Path, ...]:
        """Where manifests may live (a symbolic link out of it is refused): the current
        directory and the settings file's directory."""
        roots = [Path.cwd()]
        if self.config_path is not None:
            roots.append(Path.cwd() / self.config_path.parent)
        return tuple(roots)

    @property
    def work_dir(self) -> Path:
        """Where local run files live (the simulator's world): beside local state, else the
        default state directory."""
        if isinstance(self.backend, LocalBackendSettings):
            return self.backend.path.parent
        return DEFAULT_STATE_PATH.parent
