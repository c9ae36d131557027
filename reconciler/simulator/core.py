"""The :class:`Simulator`: a world, an API server on loopback, and the knobs tests turn."""

from __future__ import annotations

import logging
import random
import secrets
import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from reconciler.simulator.api import Service
from reconciler.simulator.auth import AccessTokens
from reconciler.simulator.config import SimulatorConfig
from reconciler.simulator.faults import Fault, FaultSet
from reconciler.simulator.persistence import WorldFile
from reconciler.simulator.recording import RecordedRequest, Recorder, Stats
from reconciler.simulator.server import ApiServer
from reconciler.simulator.world import Lifecycle, World

if TYPE_CHECKING:
    from reconciler.simulator.tokens import TokenServer

logger = logging.getLogger(__name__)


class Simulator:
    """A Partner Center simulator serving real HTTP on a loopback port.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, config: SimulatorConfig | None = None, world: World | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.world = world if world is not None else World()
        self.token = self.config.token or secrets.token_urlsafe(32)
        self.tokens = AccessTokens()
        self.tokens.accept(self.token)
        self.stats = Stats()
        self._recorder = Recorder(self.config.record_requests)
        self._faults = FaultSet(rng=random.Random(self.config.seed))
        self.world.configure(
            lifecycle=Lifecycle(
                completion_delay_seconds=self.config.completion_delay_seconds,
                completion_after_polls=self.config.completion_after_polls,
                fail_rate=self.config.fail_rate,
            ),
            seed=self.config.seed,
        )
        self._service = Service(self.config, self.world, self.tokens, self._faults, self.stats)
        self._server: ApiServer | None = None
        self._thread: threading.Thread | None = None
        self._saver: WorldFile | None = None
        self._token_server: TokenServer | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Simulator:
        """Load the world file (if any), bind, and serve in background threads."""
        if self._server is not None:
            return self
        self._service.released.clear()
        if self.config.world_path is not None and self._saver is None:
            self._attach_world_file(self.config.world_path)
        server = ApiServer(
            (self.config.host, self.config.port), self._service, self._recorder, self.config.backlog
        )
        self._server = server
        self._service.base_url = self.url
        # A short poll interval makes stop() quick; the idle wake-ups cost nothing measurable.
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.02,), name="simulator-api", daemon=True
        )
        self._thread.start()
        logger.info("Partner Center simulator listening on %s", self.url)
        return self

    def _attach_world_file(self, path: Path) -> None:
        # Loads the snapshot and its log, and compacts them: that proves the files writable
        # before any client call. Each change is then appended before its response is sent.
        self._saver = WorldFile(self.world, path)
        self._saver.attach()
        self.world.add_listener(self._saver.append)

    def stop(self) -> None:
        """Stop serving, cut open connections and save the world."""
        if self._token_server is not None:
            self._token_server.stop()
            self._token_server = None
        server, self._server = self._server, None
        self._service.released.set()  # let requests held by a ``hang`` fault go
        if server is not None:
            server.shutdown()
            server.close_connections()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._saver is not None:
            self._saver.close()

    def save(self) -> None:
        """Save the world now (no-op without ``world_path``)."""
        if self._saver is not None:
            self._saver.save()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- where and how to reach it ------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        """The bound host and port."""
        if self._server is None:
            raise RuntimeError("The simulator is not running; call start() first.")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        """The API root, e.g. ``http://127.0.0.1:8123`` (paths are ``/v1/...``)."""
        host, port = self.address
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    # -- observability and knobs --------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        return self._recorder.items()

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        self._recorder.clear()

    def add_fault(self, fault: Fault) -> None:
        """Add a fault rule (see :class:`Fault`)."""
        self._faults.add(fault)

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self._faults.clear()

    def start_token_server(self, *, tenant_id: str | None = None) -> TokenServer:
        """Start the HTTPS token endpoint whose access tokens this API accepts."""
        from reconciler.simulator.tokens import TokenServer  # cryptography loads only if needed

        if self._token_server is None:
            self._token_server = TokenServer(self.tokens, tenant_id=tenant_id).start()
        return self._token_server
