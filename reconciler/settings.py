"""The one frozen Settings value every command receives.

Built by :mod:`reconciler.config` from command-line options, environment variables, the settings
file and defaults (in that order of precedence). Secrets are never part of it: credentials are
read from the environment by the Partner Center auth code only when a command needs the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_ENDPOINT = "https://api.partnercenter.microsoft.com"
DEFAULT_STATE_PATH = Path(".reconciler/state.json")
DEFAULT_ALLOWED_FAMILIES = ("Azure",)


@dataclass(frozen=True, slots=True)
class BackendSettings:
    """Where state lives. ``type`` is ``local`` (``path``) or ``azureblob`` (the other three)."""

    type: str = "local"
    path: Path = DEFAULT_STATE_PATH
    account_url: str | None = None
    container: str | None = None
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved settings for one invocation."""

    manifests: tuple[Path, ...] = (Path("manifests"),)
    backend: BackendSettings = field(default_factory=BackendSettings)
    endpoint: str = DEFAULT_ENDPOINT
    authority: str | None = None
    tenant_id: str | None = None
    client_id: str | None = None
    parallelism: int = 4
    max_requests_per_minute: int = 300
    allowed_families: tuple[str, ...] = DEFAULT_ALLOWED_FAMILIES
    simulate: bool = False
    color: bool = True
    verbosity: int = 0
    config_path: Path | None = None
