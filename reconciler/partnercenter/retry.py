"""Retry rules as small pure functions.

Retries happen at exactly one layer: the transport loop in :mod:`.transport` asks these
functions what to do and sleeps through an injected ``sleep``. urllib3's own retries are off.
Randomness and time are parameters, so the unit tests are exact and never sleep.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = [
    "AMBIGUOUS",
    "RETRYABLE",
    "Failure",
    "RetryPolicy",
    "backoff",
    "classify_status",
    "parse_retry_after",
    "retry_after_from_message",
    "retry_delay",
    "should_retry",
]


class Failure(enum.Enum):
    """Why an attempt did not succeed, as far as retrying is concerned."""

    #: The request never left: connection refused, DNS, connect timeout. Safe to resend.
    NOT_SENT = "not_sent"
    #: The request may have reached the server but no answer came back (read timeout, reset).
    LOST = "lost"
    #: 429.
    THROTTLED = "throttled"
    #: 5xx.
    SERVER = "server"
    #: 401: the token may be refreshed once.
    UNAUTHORIZED = "unauthorized"
    #: Any other 4xx (400, 403, 404, 409, ...): retrying cannot help.
    CLIENT = "client"


RETRYABLE = frozenset({Failure.NOT_SENT, Failure.LOST, Failure.THROTTLED, Failure.SERVER})

#: Failures after which a create may have been committed without us seeing the answer.
AMBIGUOUS = frozenset({Failure.LOST, Failure.SERVER})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry.

    ``max_attempts`` counts every attempt of one logical call, the first included; a create
    whose answer keeps getting lost is sent at most this many times (always with the same
    MS-RequestId) before it is reported as "outcome unknown".
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    retry_after_cap: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.retry_after_cap < 0:
            raise ValueError("delays must not be negative")


def classify_status(status: int) -> Failure | None:
    """Map an HTTP status to a :class:`Failure`, or ``None`` for success (1xx-3xx)."""
    if status < 400:
        return None
    if status == 429:
        return Failure.THROTTLED
    if status == 401:
        return Failure.UNAUTHORIZED
    if status >= 500:
        return Failure.SERVER
    return Failure.CLIENT


def should_retry(failure: Failure, attempts_made: int, policy: RetryPolicy) -> bool:
    """True when ``failure`` is retryable and the attempt budget is not spent.

    ``attempts_made`` counts the attempts already sent, including the one that just failed.
    401 is not retried here: the transport refreshes the token once, separately.
    """
    return failure in RETRYABLE and attempts_made < policy.max_attempts


def backoff(retry_index: int, policy: RetryPolicy, rand: Callable[[], float]) -> float:
    """Capped exponential backoff with full jitter.

    ``retry_index`` is 0 before the first retry. The result is uniform in
    ``[0, min(max_delay, base_delay * 2**retry_index))`` given ``rand()`` uniform in [0, 1).
    """
    # Cap the exponent so a huge index cannot overflow the float.
    ceiling = min(policy.max_delay, policy.base_delay * 2.0 ** min(retry_index, 62))
    return rand() * ceiling


def retry_delay(
    failure: Failure,
    retry_index: int,
    retry_after: float | None,
    policy: RetryPolicy,
    rand: Callable[[], float],
) -> float:
    """Seconds to wait before the next attempt.

    With a ``Retry-After`` (capped at ``retry_after_cap``) we wait that long and add the
    jittered backoff on top, so that many workers told "1 second" do not return in lockstep.
    A 429 without ``Retry-After`` still waits at least ``base_delay``: never retry at once.
    """
    jitter = backoff(retry_index, policy, rand)
    if retry_after is not None:
        return min(max(retry_after, 0.0), policy.retry_after_cap) + jitter
    if failure is Failure.THROTTLED:
        return policy.base_delay + jitter
    return jitter


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Parse a ``Retry-After`` header: delta-seconds or an HTTP date.

    Returns seconds from ``now`` (never negative), or ``None`` when absent or unreadable.
    ``now`` defaults to the current UTC time; pass it in tests.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        return _seconds_until_date(text, now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(seconds, 0.0)


_TRY_AGAIN = re.compile(r"try again in (\d+(?:\.\d+)?) ?s(?:ec(?:ond)?s?)?\b", re.IGNORECASE)


def retry_after_from_message(message: str) -> float | None:
    """Read the wait out of a 429 message ("... Try again in 57 seconds.") when the
    ``Retry-After`` header is missing; ``None`` when the message names no wait."""
    match = _TRY_AGAIN.search(message)
    return float(match.group(1)) if match else None


def _seconds_until_date(text: str, now: datetime | None) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC)
    return max((when - current).total_seconds(), 0.0)
