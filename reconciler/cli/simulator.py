"""``reconciler simulator serve``: the Partner Center simulator as a standalone HTTP server."""

from __future__ import annotations

import ipaddress
import signal
import sys
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from reconciler.errors import ReconcilerError

if TYPE_CHECKING:  # the simulator is imported only when ``simulator serve`` runs
    from reconciler.simulator import Simulator
    from reconciler.simulator.faults import Fault

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Group(click.Group):
    """A group whose usage errors exit 1, as the CLI contract wants (2 means "changes")."""

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any
    ) -> Any:
        """Run standalone, mapping click's usage-error exit code 2 to 1."""
        extra.pop("standalone_mode", None)
        try:
            return super().main(args, prog_name, standalone_mode=False, **extra)
        except click.exceptions.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except click.ClickException as exc:
            exc.show()
            sys.exit(1)


simulator = _Group("simulator", help="Run the Partner Center simulator.")


def _faults(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> list[Fault]:
    from reconciler.simulator import parse_fault

    try:
        return [parse_fault(v) for v in values]
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@simulator.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="0 picks a free port.")
@click.option("--token", default=None, help="Bearer token to accept (default: random).")
@click.option(
    "--world",
    "world_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Load the world from FILE and save it there after every change.",
)
@click.option("--latency", type=click.FloatRange(0), default=0.0, help="Added delay, in ms.")
@click.option(
    "--rate-limit",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="Requests per minute for the partner (token bucket).",
)
@click.option(
    "--customer-rate-limit",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="Requests per minute per partner+customer.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    callback=_faults,
    metavar="ROUTE:KIND[:RATE[:DELAY_MS]]",
    help="Inject a fault (repeatable). KIND: 500, 503, 429, drop_before, drop_after, delay, "
         "hang (accept and never answer; with DELAY_MS, answer that late).",
)
@click.option("--retry-after", type=click.IntRange(0), default=1, show_default=True,
              metavar="SECONDS", help="The Retry-After of injected 429s.")
@click.option("--dedup/--no-dedup", default=True, help="Replay creates by MS-RequestId.")
@click.option(
    "--ineligible-as",
    type=click.Choice(["200", "error"]),
    default="200",
    help="Answer ineligibility as 200 isEligible:false or as an ApiFault.",
)
@click.option(
    "--completion-delay",
    type=click.FloatRange(0),
    default=5.0,
    help="Seconds until an upgrade completes.",
)
@click.option(
    "--fail-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Chance that an upgrade ends Failed.",
)
@click.option("--seed", type=int, default=None, help="Seed for every random choice.")
@click.option(
    "--demo-customers",
    type=click.IntRange(0),
    default=0,
    help="Add this many eligible customers to an empty world.",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    token: str | None,
    world_path: Path | None,
    latency: float,
    rate_limit: float | None,
    customer_rate_limit: float | None,
    faults: list[Fault],
    retry_after: int,
    dedup: bool,
    ineligible_as: str,
    completion_delay: float,
    fail_rate: float,
    seed: int | None,
    demo_customers: int,
) -> None:
    """Serve the Partner Center API on HOST:PORT until SIGINT or SIGTERM."""
    explicit = ctx.get_parameter_source("host") is ParameterSource.COMMANDLINE
    if not is_loopback(host) and not explicit:
        raise click.UsageError(
            f"Refusing to bind {host}: pass --host explicitly to leave loopback."
        )
    from reconciler.simulator import Simulator, SimulatorConfig, World

    config = SimulatorConfig(
        token=token, host=host, port=port, dedup=dedup,
        ineligible_as="error" if ineligible_as == "error" else "200",
        latency_ms=latency, rate_limit_per_minute=rate_limit,
        customer_rate_limit_per_minute=customer_rate_limit,
        completion_delay_seconds=completion_delay, fail_rate=fail_rate,
        world_path=world_path, seed=seed, retry_after_seconds=retry_after,
        record_requests=False,  # nobody can read them from outside; memory would only grow
    )  # fmt: skip
    sim = Simulator(config, World())
    for fault in faults:
        sim.add_fault(fault)
    _serve_until_signalled(sim, demo_customers)


def _serve_until_signalled(sim: Simulator, demo_customers: int) -> None:
    stopping = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            sim.start()
        except ReconcilerError as exc:
            raise click.ClickException(exc.message) from exc
        except OSError as exc:
            host, port = sim.config.host, sim.config.port
            raise click.ClickException(f"Cannot listen on {host}:{port}: {exc.strerror}.") from exc
        if demo_customers and not sim.world.customers():
            for number in range(demo_customers):
                sim.world.add_customer(str(uuid.uuid4()), f"Demo Customer {number + 1}")
        click.echo(f"Listening on {sim.url}")
        click.echo(f"Token: {sim.token}")
        if not is_loopback(sim.address[0]):
            click.echo(f"Warning: serving beyond this machine on {sim.address[0]}.", err=True)
        sys.stdout.flush()
        while not stopping.wait(0.5):
            pass
    finally:
        sim.stop()  # saves the world
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    click.echo("Simulator stopped.", err=True)
