"""The ``reconciler`` command line: the only place that prints or chooses an exit code.

Exit codes: 0 success; 1 any error, including usage errors (never 2, which means "changes" or
"drift" for plan and drift); 130 interrupted.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path

import click

from reconciler import __version__
from reconciler.cli.apply import apply
from reconciler.cli.discover import discover_command
from reconciler.cli.drift import drift_command
from reconciler.cli.failed import print_markdown_failure
from reconciler.cli.importing import import_command
from reconciler.cli.init import init_command
from reconciler.cli.logs import configure_logging
from reconciler.cli.plan import plan, show
from reconciler.cli.report import report_command
from reconciler.cli.simulator import simulator
from reconciler.cli.state import force_unlock, state
from reconciler.cli.validate import validate
from reconciler.config import GlobalOptions, resolve
from reconciler.errors import ReconcilerError
from reconciler.partnercenter import DeadlineExceeded, PartnerCenterError
from reconciler.words import sentence

log = logging.getLogger("reconciler")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    default=None,
    help="Settings file (env RECONCILER_CONFIG; default reconciler.yaml if present).",
)
@click.option(
    "--state",
    type=click.Path(path_type=Path),
    default=None,
    help="Use the local backend with this state file (env RECONCILER_STATE).",
)
@click.option(
    "--endpoint", default=None, metavar="URL",
    help="Partner Center API root (env PARTNER_CENTER_ENDPOINT)."
)
@click.option(
    "--simulate",
    is_flag=True,
    default=False,
    help="Run against the embedded Partner Center simulator (env RECONCILER_SIMULATE=1).",
)
@click.option(
    "--no-color",
    is_flag=True,
    default=False,
    help="Plain output (env NO_COLOR). Colour is only ever used on a TTY.",
)
@click.option("-v", "--verbose", count=True, help="More log detail on stderr (repeatable).")
@click.option("--no-ci-integration", "no_ci", is_flag=True, default=False,
              help="No GitHub Actions / Azure DevOps annotations or summaries.")
@click.version_option(
    __version__, "--version", prog_name="reconciler", message="%(prog)s %(version)s"
)
@click.pass_context
def cli(
    ctx: click.Context,
    config: Path | None,
    state: Path | None,
    endpoint: str | None,
    simulate: bool,
    no_color: bool,
    verbose: int,
    no_ci: bool,
) -> None:
    """Declarative plan/apply for Partner Center product upgrades."""
    configure_logging(verbose)
    options = GlobalOptions(
        config=config,
        state=state,
        endpoint=endpoint,
        simulate=simulate,
        no_color=no_color,
        verbosity=verbose,
        no_ci=no_ci,
    )
    ctx.obj = resolve(options)  # once per invocation: every command takes it with pass_obj


for command in (init_command, validate, discover_command, plan, show, apply, drift_command,
                import_command, report_command, state, force_unlock, simulator):
    cli.add_command(command)


def _verbosity(argv: list[str]) -> int:
    """Count -v flags before the command, for deciding whether to show a traceback."""
    count = 0
    for arg in argv:
        if arg in {"-v", "--verbose"}:
            count += 1
        elif arg.startswith("-v") and set(arg[1:]) == {"v"}:
            count += len(arg) - 1
    return count


#: The root group's options, which cli.md accepts before or after the command.
_GLOBAL_FLAGS = frozenset({"--simulate", "--no-color", "-v", "--verbose"})
_GLOBAL_VALUES = frozenset({"--config", "--state", "--endpoint"})


def hoist_global_options(args: list[str]) -> list[str]:
    """Move global options written after the command to the front, where click parses them
    (``reconciler plan --no-color`` works like ``reconciler --no-color plan``)."""
    front: list[str] = []
    rest: list[str] = []
    tokens = iter(args)
    for token in tokens:
        if token == "--":
            rest += [token, *tokens]
            break
        name = token.split("=", 1)[0]
        if token in _GLOBAL_FLAGS or (token.startswith("-v") and set(token[1:]) == {"v"}):
            front.append(token)
        elif name in _GLOBAL_VALUES:
            front.append(token)
            if "=" not in token:
                value = next(tokens, None)
                if value is not None:
                    front.append(value)
        else:
            rest.append(token)
    return front + rest


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code, mapping every error to a message and 1."""
    args = hoist_global_options(sys.argv[1:] if argv is None else argv)
    try:
        result = cli.main(args=args, prog_name="reconciler", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:
        exc.show()
        return _failed(args, f"Error: {exc.format_message()}")
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):
            click.echo("Interrupted.", err=True)
            return 130
        click.echo("Aborted.", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return _failed(args, f"Error: {exc.format_message()}")
    except ReconcilerError as exc:
        return _report(exc, args, exc.message, exc.hint)
    except DeadlineExceeded as exc:  # not an error of the tool's: said as it is, no "Error:"
        if _verbosity(args) >= 2:
            traceback.print_exception(exc, file=sys.stderr)
        stopped = f"{exc.message}\n{sentence(exc.hint)}"
        click.echo(stopped, err=True)
        return _failed(args, stopped)
    except PartnerCenterError as exc:
        return _report(exc, args, str(exc), exc.hint)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except Exception as exc:  # a bug: say so in one paragraph, traceback only with -vv
        return _report(
            exc,
            args,
            f"Unexpected internal error: {type(exc).__name__}: {exc}",
            "Re-run with -vv for the traceback and report it.",
        )
    return result if isinstance(result, int) else 0


def _report(exc: BaseException, args: list[str], message: str, hint: str) -> int:
    if _verbosity(args) >= 2:
        traceback.print_exception(exc, file=sys.stderr)
    # Hints are written as fragments ("run plan again"); shown on their own line, they read as
    # a sentence.
    error = f"Error: {message}" + (f"\n{sentence(hint)}" if hint else "")
    click.echo(error, err=True)
    return _failed(args, error)


def _failed(args: list[str], error: str) -> int:
    """Exit code 1, after the markdown body cli.md asks of a failed ``--format markdown``."""
    print_markdown_failure(cli, args, error)
    return 1


def main() -> None:
    """Console-script entry point."""
    code = run()
    sys.stdout.flush()
    os._exit(code) if code == 130 else sys.exit(code)
