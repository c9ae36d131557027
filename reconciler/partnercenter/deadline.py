"""A run's deadline: one instant every call of a run is measured against.

Each HTTP attempt's timeouts and each wait before a retry are clipped to the time left; once the
deadline has passed, no new attempt starts (:mod:`.transport`). The clock is injected so tests
are exact.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Deadline"]


class Deadline:
    """The monotonic instant ``at`` by which a run must stop starting calls.

    ``limit`` names it for people, e.g. "--timeout of 10m".
    """

    def __init__(self, at: float, limit: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.at = at
        self.limit = limit
        self._clock = clock

    @property
    def reason(self) -> str:
        """Why a run stopped, e.g. "the run reached its --timeout of 10m"."""
        return f"the run reached its {self.limit}"

    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self.at - self._clock())

    def expired(self) -> bool:
        """True once the deadline has passed."""
        return self._clock() >= self.at

    def clip(self, seconds: float) -> float:
        """``seconds``, or the time left when that is shorter."""
        return min(seconds, self.remaining())

    @property
    def message(self) -> str:
        """The whole sentence a stopped run prints."""
        return f"Stopped: {self.reason}."
