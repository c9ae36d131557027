"""Settings resolution: command-line option > environment variable > settings file > default.

The settings file (``reconciler.yaml``) is validated as strictly as a manifest: duplicate keys,
anchors, unknown keys and wrong types are reported as ``path:line:column: message``. Secrets are
refused in it, since the file is meant to be committed; they come from the environment only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from reconciler.errors import ConfigError, UsageError
from reconciler.schemacheck import schema_problems, validator_for
from reconciler.settings import (
    DEFAULT_ALLOWED_FAMILIES,
    DEFAULT_ENDPOINT,
    DEFAULT_PARALLELISM,
    DEFAULT_STATE_PATH,
    BackendSettings,
    LocalBackendSettings,
    Settings,
    backend_settings,
)
from reconciler.yamlsafe import JSON, Document, Problem, load_documents, locate_key, problem_at

DEFAULT_CONFIG = Path("reconciler.yaml")
SCHEMA = "config.schema.json"

# Keys that would put a credential in a committed file, and where the value belongs instead.
_SECRET_KEYS = {
    "client_secret": "PARTNER_CENTER_CLIENT_SECRET",
    "secret": "PARTNER_CENTER_CLIENT_SECRET",
    "password": "PARTNER_CENTER_CLIENT_SECRET",
    "refresh_token": "PARTNER_CENTER_REFRESH_TOKEN or PARTNER_CENTER_REFRESH_TOKEN_FILE",
    "access_token": "PARTNER_CENTER_ACCESS_TOKEN",
    "token": "PARTNER_CENTER_ACCESS_TOKEN",
    "client_certificate": "PARTNER_CENTER_CLIENT_CERTIFICATE",
    "connection_string": "AZURE_STORAGE_CONNECTION_STRING",
    "account_key": "AZURE_STORAGE_CONNECTION_STRING",
    "sas_token": "AZURE_STORAGE_CONNECTION_STRING",
}


@dataclass(frozen=True, slots=True)
class GlobalOptions:
    """The global command-line options, as given (None = not given)."""

    config: Path | None = None
    state: Path | None = None
    endpoint: str | None = None
    simulate: bool = False
    no_color: bool = False
    verbosity: int = 0
    no_ci: bool = False


def _secret_problems(file: str, document: Document) -> list[Problem]:
    problems: list[Problem] = []

    def walk(value: JSON, path: list[str | int]) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                env = _SECRET_KEYS.get(key.lower())
                if env is not None:
                    node = locate_key(document.node, path, key)
                    problems.append(problem_at(
                        file, node, f"'{key}' is a secret and must not be in the settings file "
                                    f"(it is committed to git); set {env} in the environment"))
                else:
                    walk(child, [*path, key])

    walk(document.value, [])
    return problems


def read_settings_file(path: Path, shown_as: str | None = None) -> dict[str, JSON]:
    """Parse and validate a settings file, raising ConfigError listing every problem."""
    file = shown_as or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read the settings file {file}: {exc.strerror}.") from exc
    documents, problems = load_documents(file, data, max_depth=10)
    if len(documents) > 1:
        problems.append(problem_at(file, documents[1].node,
                                   "the settings file must hold a single YAML document"))
    for document in documents[:1]:
        if document.value is None:
            continue  # empty means "all defaults"
        secrets = _secret_problems(file, document)
        problems.extend(secrets or schema_problems(file, document, validator_for(SCHEMA)))
    if problems:
        listed = "\n".join(str(p) for p in sorted(problems, key=lambda p: (p.line, p.column)))
        raise ConfigError(f"The settings file {file} is invalid:\n{listed}")
    value = documents[0].value if documents else None
    return value if isinstance(value, dict) else {}


def _config_path(options: GlobalOptions, env: Mapping[str, str], cwd: Path) -> Path | None:
    explicit = options.config or (Path(env["RECONCILER_CONFIG"])
                                  if env.get("RECONCILER_CONFIG") else None)
    if explicit is not None:
        path = explicit if explicit.is_absolute() else cwd / explicit
        if not path.is_file():
            raise ConfigError(f"The settings file {explicit} does not exist.")
        return explicit
    default = cwd / DEFAULT_CONFIG
    return DEFAULT_CONFIG if default.is_file() else None


def _section(data: Mapping[str, JSON], name: str) -> dict[str, JSON]:
    value = data.get(name)
    return value if isinstance(value, dict) else {}


def _relative_to(base: Path, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() or base == Path() else base / path


def _backend(options: GlobalOptions, env: Mapping[str, str], data: Mapping[str, JSON],
             base: Path) -> BackendSettings:
    state = options.state or (Path(env["RECONCILER_STATE"]) if env.get("RECONCILER_STATE")
                              else None)
    if state is not None:
        return LocalBackendSettings(state)
    section = _section(data, "backend")
    return backend_settings(
        str(section.get("type", "local")),
        path=_relative_to(base, str(section.get("path", DEFAULT_STATE_PATH))),
        account_url=cast(str | None, section.get("account_url")),
        container=cast(str | None, section.get("container")),
        key=cast(str | None, section.get("key")),
    )


def _rate(value: JSON) -> int | None:
    """``max_requests_per_minute``: ``auto`` (None) or the integer the schema already checked."""
    return None if value == "auto" else cast(int, value)


def _failures(value: JSON, origin: str) -> str | None:
    """``apply.max_failures`` as text (``3`` or ``5%``), checked now so a typo costs no call."""
    if value is None:
        return None
    from reconciler.apply import FailureBudget

    try:
        FailureBudget.parse(str(value), "apply.max_failures")
    except ValueError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
    return str(value)


def _timeout(value: JSON, origin: str) -> float | None:
    """The top-level ``timeout`` (a duration such as ``30m``; ``0s``: no run deadline)."""
    if value is None:
        return None
    from reconciler.durations import parse_duration

    try:
        seconds = parse_duration(str(value), "timeout")
    except UsageError as exc:
        raise ConfigError(f"{origin}: {exc.message}") from None
    return seconds or None


def resolve(options: GlobalOptions, env: Mapping[str, str] | None = None,
            cwd: Path | None = None) -> Settings:
    """Build the Settings for one invocation from options, environment and settings file."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    config_path = _config_path(options, env, cwd)
    data = read_settings_file(cwd / config_path, str(config_path)) \
        if config_path is not None else {}
    base = config_path.parent if config_path is not None else Path()
    pc = _section(data, "partner_center")
    apply = _section(data, "apply")
    manifests = tuple(_relative_to(base, str(m)) for m in cast(list[str], data["manifests"])) \
        if "manifests" in data else (_relative_to(base, "manifests"),)
    families = tuple(cast(list[str], data.get("product_families", DEFAULT_ALLOWED_FAMILIES)))
    endpoint = (options.endpoint or env.get("PARTNER_CENTER_ENDPOINT")
                or cast(str | None, pc.get("endpoint")) or DEFAULT_ENDPOINT)
    return Settings(
        manifests=manifests,
        backend=_backend(options, env, data, base),
        endpoint=endpoint.rstrip("/"),
        authority=(env.get("PARTNER_CENTER_AUTHORITY") or cast(str | None, pc.get("authority"))),
        tenant_id=cast(str | None, pc.get("tenant_id")),
        client_id=cast(str | None, pc.get("client_id")),
        parallelism=cast(int, apply.get("parallelism", DEFAULT_PARALLELISM)),
        max_requests_per_minute=_rate(apply.get("max_requests_per_minute", "auto")),
        batch=cast(int | None, apply.get("batch")),
        max_failures=_failures(apply.get("max_failures"), str(config_path)),
        allowed_families=families,
        simulate=options.simulate or env.get("RECONCILER_SIMULATE", "") in {"1", "true", "yes"},
        color=not (options.no_color or bool(env.get("NO_COLOR"))),
        verbosity=options.verbosity,
        config_path=config_path,
        ci_integration=not options.no_ci,
        from_file_only=_from_file_only(options, env, pc),
        timeout=_timeout(data.get("timeout"), str(config_path)),
        timeout_from=config_path if data.get("timeout") is not None else None,
    )


def _from_file_only(options: GlobalOptions, env: Mapping[str, str],
                    pc: Mapping[str, JSON]) -> frozenset[str]:
    """Which of ``endpoint`` and ``authority`` only the settings file sets (the default
    endpoint written out, as ``reconciler init`` does, sends credentials nowhere new)."""
    overridden = {"endpoint": bool(options.endpoint or env.get("PARTNER_CENTER_ENDPOINT")),
                  "authority": bool(env.get("PARTNER_CENTER_AUTHORITY"))}
    default = {"endpoint": DEFAULT_ENDPOINT, "authority": None}
    return frozenset(key for key, over in overridden.items()
                     if pc.get(key) and not over
                     and str(pc.get(key)).rstrip("/") != default[key])
