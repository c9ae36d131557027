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


def parse_duration_option(ctx: click.Context, param: click.Parameter,
                          value: str | None) -> float | None:
    """Click callback turning ``90s``/``15m``/``24h``/``2d`` into seconds (usage error if bad)."""
    if value is None:
        return None
    from reconciler.durations import parse_duration
    from reconciler.errors import UsageError

    try:
        return parse_duration(value, f"--{(param.name or 'duration').replace('_', '-')}")
    except UsageError as exc:
        raise click.BadParameter(exc.message, ctx, param) from exc


def lock_options(func: F) -> F:
    """``--lock-timeout DURATION`` (default 0s: fail at once, naming the holder)."""
    return click.option("--lock-timeout", default="0s", show_default=True,
                        callback=parse_duration_option, metavar="DURATION",
                        help="How long to wait for the state lock (e.g. 90s, 5m).")(func)


def no_lock_option(func: F) -> F:
    """``--no-lock`` for read-only commands (e.g. a pull-request plan while main applies)."""
    return click.option("--no-lock", "no_lock", is_flag=True, default=False,
                        help="Read state without taking the lock.")(func)


def use_color(ctx: click.Context) -> bool:
    """Colour only on a TTY, and never with --no-color / NO_COLOR."""
    import sys

    return settings_of(ctx).color and sys.stdout.isatty()
