"""A faithful Partner Center simulator for tests, benchmarks and ``--simulate``.

It implements what docs/simulator.md calls documented behaviour, and makes everything the
Partner Center docs leave open a switch in :class:`SimulatorConfig`.
"""

from reconciler.simulator.config import SimulatorConfig
from reconciler.simulator.core import Simulator
from reconciler.simulator.faults import Fault, parse_fault
from reconciler.simulator.recording import RecordedRequest, Stats
from reconciler.simulator.world import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    ApiError,
    Customer,
    Lifecycle,
    Upgrade,
    World,
)

__all__ = [
    "COMPLETED",
    "FAILED",
    "IN_PROGRESS",
    "ApiError",
    "Customer",
    "Fault",
    "Lifecycle",
    "RecordedRequest",
    "Simulator",
    "SimulatorConfig",
    "Stats",
    "Upgrade",
    "World",
    "parse_fault",
]
