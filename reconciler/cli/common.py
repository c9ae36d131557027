"""Pieces shared by the commands: settings access, common options, output helpers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from reconciler.settings import Settings

F = TypeVar("F", bound=Callable[..., object])


def settings_of(ctx: click.Context) -> Settings:
    """The resolved Settings the root group stored for this invocation."""
    settings = ctx.find_root().obj
    if not isinstance(settings, Settings):  # pragma: no cover - the root group always sets it
        raise click.UsageError("settings were not resolved")
    return settings


def manifests_option(func: F) -> F:
    """``-m/--manifests PATH`` (repeatable); default: the settings' manifests list."""
    return click.option(
        "-m",
        "--manifests",
        "manifest_paths",
        multiple=True,
        type=click.Path(path_type=Path),
        help="Manifest file or directory (repeatable). Default: the settings file's "
        "'manifests:' list, else manifests/.",
    )(func)


def resolve_manifests(ctx: click.Context, given: tuple[Path, ...]) -> tuple[Path, ...]:
    """The manifests a command should read: ``-m`` paths if given, else the settings'."""
    return given or settings_of(ctx).manifests
