"""Fault injection by route: errors, throttling, delays and dropped connections on demand."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Literal

FaultRoute = Literal["create", "eligibility", "status", "customers", "*"]
FaultKind = Literal["500", "503", "429", "drop_before", "drop_after", "delay", "hang"]

ROUTES: tuple[str, ...] = ("create", "eligibility", "status", "customers", "*")
KINDS: tuple[str, ...] = ("500", "503", "429", "drop_before", "drop_after", "delay", "hang")


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault rule.

    ``rate`` is the chance that a matching request is hit; ``count`` caps how many times the
    rule fires (None: forever). ``delay`` sleeps ``delay_ms`` and lets the request go on;
    ``drop_before`` closes the connection without processing the request; ``drop_after``
    processes it (an upgrade may be created) and then closes without answering. ``hang``
    accepts the request and never answers (until the simulator stops, which closes the
    connection), or with ``delay_ms`` answers only after that long, like a stalled gateway.
    A ``429`` carries the simulator's ``retry_after_seconds`` in ``Retry-After``.
    """

    route: FaultRoute | str = "*"
    kind: FaultKind | str = "500"
    rate: float = 1.0
    count: int | None = None
    delay_ms: float = 0.0

    def __post_init__(self) -> None:
        if self.route not in ROUTES:
            raise ValueError(f"Unknown fault route {self.route!r}; use one of {', '.join(ROUTES)}.")
        if self.kind not in KINDS:
            raise ValueError(f"Unknown fault kind {self.kind!r}; use one of {', '.join(KINDS)}.")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"Fault rate {self.rate} is not between 0 and 1.")


def parse_fault(spec: str) -> Fault:
    """Parse ``ROUTE:KIND[:RATE[:DELAY_MS]]`` as given to ``simulator serve --fault``."""
    parts = spec.split(":")
    if len(parts) < 2 or len(parts) > 4:
        raise ValueError(f"Fault {spec!r} is not ROUTE:KIND[:RATE[:DELAY_MS]].")
    rate = float(parts[2]) if len(parts) > 2 else 1.0
    delay = float(parts[3]) if len(parts) > 3 else 0.0
    return Fault(route=parts[0], kind=parts[1], rate=rate, delay_ms=delay)


@dataclass(slots=True)
class _Rule:
    fault: Fault
    remaining: int | None


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What the faults decided for one request: a total delay and at most one other fault."""

    delay_ms: float = 0.0
    kind: str | None = None
    #: For ``hang``: answer after this long (0: never, until the simulator stops).
    hang_ms: float = 0.0


NO_FAULT = FaultDecision()


@dataclass(slots=True)
class FaultSet:
    """The active rules. Delays add up; the first other matching rule that fires wins."""

    rng: random.Random = field(default_factory=random.Random)
    _rules: list[_Rule] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fault: Fault) -> None:
        """Add a rule after the existing ones."""
        with self._lock:
            self._rules.append(_Rule(fault, fault.count))

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def decide(self, route: str) -> FaultDecision:
        """Roll the dice for one request on ``route`` and consume the rules that fire."""
        if not self._rules:  # the common, fast case: no lock, no randomness
            return NO_FAULT
        delay, kind, hang_ms = 0.0, None, 0.0
        with self._lock:
            for rule in self._rules:
                fault = rule.fault
                if fault.route not in ("*", route) or rule.remaining == 0:
                    continue
                if fault.kind != "delay" and kind is not None:
                    continue
                if self.rng.random() >= fault.rate:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                if fault.kind == "delay":
                    delay += fault.delay_ms
                else:
                    kind, hang_ms = fault.kind, fault.delay_ms
        return FaultDecision(delay, kind, hang_ms if kind == "hang" else 0.0)
