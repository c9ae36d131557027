"""What every command shares: one convention for settings, common options, output helpers.

Commands take the resolved :class:`~reconciler.settings.Settings` with ``@click.pass_obj``
(the root group resolves them once per invocation) and never read the click context.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import click

from reconciler.errors import UsageError
from reconciler.model import Desired
from reconciler.render import FORMATS
from reconciler.settings import Settings

F = TypeVar("F", bound=Callable[..., object])


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


def manifests(settings: Settings, given: tuple[Path, ...]) -> tuple[Path, ...]:
    """The manifests a command should read: ``-m`` paths if given, else the settings'."""
    return given or settings.manifests


def parse_duration_option(ctx: click.Context, param: click.Parameter,
                          value: str | None) -> float | None:
    """Click callback turning ``90s``/``15m``/``24h``/``2d`` into seconds.

    A bad value is a UsageError naming the option (exit 1, like every usage error).
    """
    if value is None:
        return None
    from reconciler.durations import parse_duration

    return parse_duration(value, max(param.opts, key=len, default="duration"))


def lock_options(func: F) -> F:
    """``--lock-timeout DURATION`` (default 0s: fail at once, naming the holder)."""
    return click.option("--lock-timeout", default="0s", show_default=True,
                        callback=parse_duration_option, metavar="DURATION",
                        help="How long to wait for the state lock (e.g. 90s, 5m).")(func)


def _run_timeout(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``--timeout`` replaces the settings' ``timeout`` for this command (``0s``: none)."""
    seconds = parse_duration_option(ctx, param, value)
    if seconds is not None and isinstance(ctx.obj, Settings):
        ctx.obj = dataclasses.replace(ctx.obj, timeout=seconds or None, timeout_from=None)


def timeout_option(func: F) -> F:
    """``--timeout DURATION``: the run's deadline (commands that call Partner Center)."""
    return click.option("--timeout", default=None, metavar="DURATION", expose_value=False,
                        callback=_run_timeout,
                        help="Stop the run after this long (e.g. 10m): no new call starts, "
                             "calls in flight end, exit 1 (default: the settings' timeout, "
                             "else none; every call has its own timeouts anyway).")(func)


def no_lock_option(func: F) -> F:
    """``--no-lock`` for read-only commands (e.g. a pull-request plan while main applies)."""
    return click.option("--no-lock", "no_lock", is_flag=True, default=False,
                        help="Read state without taking the lock.")(func)


def parallelism_option(func: F) -> F:
    """``--parallelism N``: the ceiling on Partner Center calls in flight."""
    return click.option("--parallelism", type=click.IntRange(1, 64), default=None,
                        help="The most Partner Center calls in flight (default: the settings' "
                             "apply.parallelism, else 16).")(func)


def batch_option(func: F) -> F:
    """``--batch N``: start at most N upgrades in this run, in manifest order."""
    return click.option("--batch", type=click.IntRange(1), default=None, metavar="N",
                        help="Start at most N upgrades in this run, in manifest order (files "
                             "by path, then position); defer the rest (default: the settings' "
                             "apply.batch, else no limit).")(func)


def refresh_all_option(func: F) -> F:
    """``--refresh-all``: re-read completed upgrades too, the reads drift makes."""
    return click.option("--refresh-all", is_flag=True, default=False,
                        help="Re-read completed upgrades too (what drift reads), so a "
                             "reverted or failed one is planned again.")(func)


def format_option(func: F) -> F:
    """``--format text|json|markdown``."""
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="text",
                        show_default=True,
                        help="text for people, json for scripts (the saved-plan format), markdown "
                             "for pull-request comments.")(func)


#: What a URL may hold (RFC 3986's characters, a sane length): anything else would have to be
#: escaped to stay one markdown link, and is more likely a pasted mistake.
_URL = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]{1,2000}")


def parse_details_url(ctx: click.Context, param: click.Parameter,
                      value: str | None) -> str | None:
    """Click callback accepting an http(s) URL without user information (a credential in it
    would be printed in every comment)."""
    if value is None:
        return None
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc \
            or not _URL.fullmatch(value):
        raise click.BadParameter(
            "expected an http(s) URL without user name or password, such as "
            "https://github.com/OWNER/REPO/actions/runs/1/artifacts/2.", ctx, param)
    return value


def details_url_option(func: F) -> F:
    """``--details-url URL``: where the markdown says the full output is."""
    return click.option("--details-url", "details_url", metavar="URL", default=None,
                        callback=parse_details_url,
                        help="Markdown output (stdout and the CI run summary) links here for "
                             "the full output, e.g. the workflow artifact holding it; a comment "
                             "too long for every row says so there.")(func)


def use_color(settings: Settings) -> bool:
    """Colour only on a TTY, and never with --no-color / NO_COLOR."""
    return settings.color and sys.stdout.isatty()


def warn_untargeted(desired: Desired, targets: tuple[str, ...]) -> None:
    """A warning for each ``--target`` that no manifest lists (a typo plans nothing)."""
    from reconciler.workflow import targets_in_no_manifest

    for target in targets_in_no_manifest(desired, targets):
        click.echo(f"Warning: --target {target} is in no manifest; nothing is planned for it "
                   "unless state still records it.", err=True)


def confirm(question: str, details: Sequence[str], *, cancelled: str, unchanged: str) -> None:
    """Ask on the terminal before a step that cannot be taken back, as Terraform does: only
    ``yes`` goes ahead (one convention for every confirmation).

    Any other answer raises a UsageError that starts with ``cancelled`` ("Apply cancelled.")
    and ends with ``unchanged`` ("Nothing was done."); an answer that looks like a yes (``y``,
    ``YES``) is told why it did not count. Ctrl-C ends the prompt's line and is an interrupt
    (exit 130); the end of input is no answer.
    """
    click.echo(f"\n{question}")
    for line in details:
        click.echo(f"  {line}")
    click.echo("  Only 'yes' will be accepted to approve.\n")
    try:
        # Not click.prompt: it turns Ctrl-C into a bare Abort without ending the line. A
        # KeyboardInterrupt reaches click's main, which ends the line, and the CLI exits 130.
        # The prompt is written before input() is called: a Ctrl-C that came while input()
        # itself wrote it would be noted but never interrupt the read that follows.
        click.echo("  Enter a value: ", nl=False)
        answer = input().strip()
    except EOFError:
        click.echo()  # the cursor is still on the prompt's line
        answer = ""
    if answer == "yes":
        return
    if answer.casefold() in {"y", "yes"}:
        shown = answer if len(answer) <= 40 else answer[:39] + "…"
        raise UsageError(f"{cancelled} Only 'yes', spelt out in lower case, approves; the "
                         f"answer was {shown!r}. {unchanged}")
    raise UsageError(f"{cancelled} {unchanged}")
