"""Build the Partner Center client a command needs: the real service or the simulator.

With ``--simulate`` the project's simulator runs in this process on a free loopback port and the
client talks to it over real HTTP. Its world persists in ``simulator.json`` next to the state
file and is seeded so every customer in the manifests exists and is eligible, which lets a
newcomer run plan → apply → plan with no credentials.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.errors import ConfigError, CredentialsError
from reconciler.model import Desired
from reconciler.partnercenter import (
    AttemptInfo,
    ClientConfig,
    InvalidEndpointError,
    PartnerCenterClient,
    RateMemo,
    StaticToken,
    TokenProvider,
    token_provider_from_env,
)
from reconciler.partnercenter import CredentialsError as ClientCredentialsError
from reconciler.partnercenter.endpoints import (
    is_microsoft_authority,
    is_microsoft_endpoint,
    shown_url,
)
from reconciler.settings import Settings
from reconciler.words import plural

if TYPE_CHECKING:
    from reconciler.simulator.world import World

log = logging.getLogger(__name__)

SIMULATOR_WORLD = "simulator.json"
#: How long a simulated upgrade stays in progress (spec: default 5 seconds).
SIMULATED_COMPLETION_SECONDS = float(os.environ.get("RECONCILER_SIMULATE_COMPLETION", "5"))
#: Seeding at least this many new customers is announced: a newcomer's few pass silently, a
#: fleet-sized manifest says why the first call waits.
SEED_NOTICE_AT = 500


def simulator_world_path(settings: Settings) -> Path:
    """Where ``--simulate`` keeps its world: next to the local state file."""
    return settings.work_dir / SIMULATOR_WORLD


#: What this process's clients found about each endpoint's rate, so the next client (apply's
#: creates after its refresh, say) starts there instead of ramping up from the start again.
_learned: dict[str, RateMemo] = {}


def client_config(settings: Settings, endpoint: str, parallelism: int | None) -> ClientConfig:
    """The client settings for a run (parallelism bounds calls in flight)."""
    try:
        return ClientConfig(endpoint=endpoint,
                            requests_per_minute="auto" if settings.max_requests_per_minute
                            is None else float(settings.max_requests_per_minute),
                            max_concurrency=parallelism or settings.parallelism,
                            learned_rate=_learned.get(endpoint.rstrip("/")),
                            deadline=settings.deadline())
    except InvalidEndpointError as exc:
        raise ConfigError(str(exc)) from exc


@contextmanager
def _remembered(client: PartnerCenterClient) -> Iterator[PartnerCenterClient]:
    try:
        yield client
    finally:
        found = client.learned_rate()
        if found is not None:
            _learned[client.config.endpoint] = found


@contextmanager
def open_client(settings: Settings, *, desired: Desired | None = None,
                parallelism: int | None = None,
                on_attempt: Callable[[AttemptInfo], None] | None = None,
                env: Mapping[str, str] | None = None,
                notice: Callable[[str], None] | None = None) -> Iterator[PartnerCenterClient]:
    """A client for this run; with ``settings.simulate``, backed by the embedded simulator
    (``notice`` hears when seeding it takes a moment)."""
    if settings.simulate:
        with _simulator(settings, desired, notice) as (endpoint, token):
            config = client_config(settings, endpoint, parallelism)
            with PartnerCenterClient(config, token, on_attempt=on_attempt) as client, \
                    _remembered(client):
                yield client
        return
    config = client_config(settings, settings.endpoint, parallelism)
    provider = _credentials(settings, env if env is not None else os.environ)
    with PartnerCenterClient(config, provider, on_attempt=on_attempt) as client, \
            _remembered(client):
        yield client


def _destinations_trusted(settings: Settings) -> None:
    """Refuse to send credentials to a host other than Microsoft's that only the settings file
    names: a reviewer may miss one line in a committed ``reconciler.yaml``, and a pipeline would
    then hand its client secret, refresh token or access token to that host."""
    where = settings.config_path or "the settings file"
    checks = (("authority", settings.authority, is_microsoft_authority, "sign-in authority",
               "the PARTNER_CENTER_AUTHORITY environment variable"),
              ("endpoint", settings.endpoint, is_microsoft_endpoint, "API endpoint",
               "--endpoint or the PARTNER_CENTER_ENDPOINT environment variable"))
    for key, url, is_microsoft, what, instead in checks:
        if key in settings.from_file_only and url and not is_microsoft(url):
            raise ConfigError(
                f"The {what} {shown_url(url)!r} is set only by partner_center.{key} in {where}, "
                f"and it is not Microsoft's: credentials are never sent to such a host on the "
                f"settings file's word. Set it with {instead} if it is meant.")


def _seed(world: World, desired: Desired, notice: Callable[[str], None] | None) -> None:
    """Add the manifests' customers the simulated world lacks, saving the world once."""
    missing = {u.customer_id: u.customer_name for u in desired.upgrades
               if world.customer(u.customer_id) is None}
    if notice is not None and len(missing) >= SEED_NOTICE_AT:
        notice(f"Seeding the simulator with {plural(len(missing), 'customer')}…")
    with world.batch():  # one save for all of them, not one per customer
        for customer_id, name in missing.items():
            world.ensure_customer(customer_id, name)


def _credentials(settings: Settings, env: Mapping[str, str]) -> TokenProvider:
    _destinations_trusted(settings)
    merged = dict(env)
    # The settings file may name the (non-secret) tenant and application ids.
    if settings.tenant_id and not merged.get("PARTNER_CENTER_TENANT_ID"):
        merged["PARTNER_CENTER_TENANT_ID"] = settings.tenant_id
    if settings.client_id and not merged.get("PARTNER_CENTER_CLIENT_ID"):
        merged["PARTNER_CENTER_CLIENT_ID"] = settings.client_id
    if settings.authority and not merged.get("PARTNER_CENTER_AUTHORITY"):
        merged["PARTNER_CENTER_AUTHORITY"] = settings.authority
    try:
        return token_provider_from_env(merged, settings.endpoint)
    except ClientCredentialsError as exc:
        raise CredentialsError(str(exc), hint="Or run with --simulate to try the tool against "
                                              "the embedded simulator.") from exc


@contextmanager
def _simulator(settings: Settings, desired: Desired | None,
               notice: Callable[[str], None] | None = None) -> Iterator[tuple[str, StaticToken]]:
    # Imported here: the simulator is only loaded when asked for.
    from reconciler.simulator import Simulator, SimulatorConfig, demo

    world_path = simulator_world_path(settings)
    world_path.parent.mkdir(parents=True, exist_ok=True)
    new_world = not world_path.exists()
    config = SimulatorConfig(world_path=world_path,
                             completion_delay_seconds=SIMULATED_COMPLETION_SECONDS)
    with Simulator(config) as simulator:
        if new_world:
            demo.seed(simulator.world)  # a partner's list for discover to find
        if desired is not None:
            _seed(simulator.world, desired, notice)
        log.info("simulating Partner Center at %s (world %s)", simulator.url, world_path)
        yield simulator.url, StaticToken(simulator.token)
