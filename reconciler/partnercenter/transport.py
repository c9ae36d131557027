"""The one place that sends HTTP requests, and the one layer that retries.

Each logical call runs :meth:`Transport.execute`: pace (rate limiter), take a concurrency slot,
send with connect/read timeouts, classify, tell the rate controller how it went, and either
return or sleep and retry. Every attempt
gets a new MS-CorrelationId; the MS-RequestId is fixed by the caller for the whole call, which
is what makes a retried create idempotent.

A call gives up after ``max_timeouts`` attempts that timed out. With a run deadline, every
timeout and every wait is clipped to the time left and no attempt starts after it; a wait of
``notice_after`` seconds or more is announced once per episode (every worker told to wait at
about the same time is one episode) on the ``reconciler.partnercenter.notice`` logger.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from .auth import TokenProvider
from .config import ClientConfig
from .errors import DeadlineExceeded, parse_fault
from .limiter import ConcurrencyLimit, RateLimiter
from .models import AttemptInfo, ClientStats
from .retry import (
    AMBIGUOUS,
    Failure,
    classify_status,
    parse_retry_after,
    retry_after_from_message,
    retry_delay,
    should_retry,
)
from .throttle import RateController

__all__ = ["Call", "Exchange", "Reply", "Transport", "classify_exception"]

log = logging.getLogger(__name__)
#: Whole sentences for people, shown without -v (the CLI prints this logger's records plainly).
notice = logging.getLogger("reconciler.partnercenter.notice")

#: What a wait before a retry is about, for the notice.
_WHY = {
    Failure.THROTTLED: "throttled the request (HTTP 429)",
    Failure.SERVER: "failed with a server error",
    Failure.LOST: "did not answer",
    Failure.NOT_SENT: "could not be reached",
}

AttemptCallback = Callable[[AttemptInfo], None]


@dataclass(frozen=True, slots=True)
class Call:
    """One logical call: what to send, and under which MS-RequestId."""

    operation: str
    method: str
    url: str
    path: str
    request_id: str
    body: Mapping[str, object] | None = None
    customer_id: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Exchange:
    """How a logical call ended, after retries.

    ``reply`` is the last answer (``None`` when the last attempt got none). ``maybe_committed``
    is true when some attempt may have reached the server without us seeing its answer.
    """

    reply: Reply | None
    failure: Failure | None
    error: str | None
    attempts: int
    maybe_committed: bool
    correlation_id: str
    request_id: str
    retry_after: float | None
    #: The deadline's "Stopped: …" sentence when the run's deadline ended the call.
    stopped: str | None = None


@dataclass(frozen=True, slots=True)
class _Try:
    """One attempt: its answer or failure, when it was sent, and whether it timed out."""

    reply: Reply | None
    failure: Failure | None
    error: str | None
    sent_at: float
    timed_out: bool


def classify_exception(exc: requests.RequestException) -> Failure:
    """Could the request have reached the server? ``NOT_SENT`` only when it certainly did not."""
    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError
                  | requests.exceptions.ProxyError):
        return Failure.NOT_SENT
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        inner = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
        if isinstance(inner, NewConnectionError):
            return Failure.NOT_SENT
    return Failure.LOST


class Transport:
    """Sends calls with retries, a discovered rate and adaptive concurrency. Thread-safe."""

    def __init__(
        self,
        config: ClientConfig,
        token_provider: TokenProvider,
        *,
        on_attempt: AttemptCallback | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        now: Callable[[], datetime] | None = None,
        rand: Callable[[], float] | None = None,
    ) -> None:
        sleep = sleep or time.sleep
        clock = clock or time.monotonic
        self.config = config
        self._tokens = token_provider
        self._on_attempt = on_attempt
        self._session = session or _new_session(config.max_concurrency)
        # The environment (proxies, CA bundle) is read once here, not on every request:
        # requests' per-request lookup walks os.environ twice per call, about a third of the
        # client's CPU time at high rates (benchmarks/results/apply.md).
        self._proxies = requests.utils.get_environ_proxies(config.endpoint)
        self._verify: str | bool = (config.ca_bundle or os.environ.get("REQUESTS_CA_BUNDLE")
                                    or os.environ.get("CURL_CA_BUNDLE") or True)
        self._sleep = sleep
        self._clock = clock
        self._now = now or _utc_now
        self._rand = rand or random.SystemRandom().random
        self._policy = config.retry_policy
        rpm = config.requests_per_minute
        #: None when pacing is off (``requests_per_minute=None``).
        self.controller = None if rpm is None else RateController(
            None if rpm == "auto" else float(rpm) / 60.0, config.max_concurrency,
            burst=config.burst, policy=config.rate_policy, clock=clock,
            learned=config.learned_rate)
        self.limiter = RateLimiter(
            self.controller.rate * 60.0 if self.controller is not None else None,
            burst=config.burst, clock=clock, sleep=sleep,
        )
        self.concurrency = ConcurrencyLimit(config.max_concurrency)
        self._counts_lock = threading.Lock()
        self._requests = self._throttled = self._retries = 0
        self._quiet_until = float("-inf")  # the wait episode announced last ends then

    def close(self) -> None:
        """Close the connection pool."""
        self._session.close()

    def stats(self) -> ClientStats:
        """Counters since the transport was created."""
        rate = self.controller.state() if self.controller is not None else None
        with self._counts_lock:
            return ClientStats(
                requests=self._requests,
                throttled=self._throttled,
                retries=self._retries,
                concurrency=self.concurrency.limit,
                max_concurrency=self.concurrency.maximum,
                in_flight=self.concurrency.in_flight,
                rate=rate.rate if rate is not None else None,
                rate_ceiling=rate.ceiling if rate is not None else None,
                backing_off=rate.backing_off if rate is not None else False,
            )

    def execute(self, call: Call) -> Exchange:
        """Run ``call`` until it succeeds, fails for good, the attempt budget is spent, or the
        run's deadline passes (:class:`DeadlineExceeded` when not one attempt was sent)."""
        attempts, refreshed, maybe_committed, timeouts = 0, False, False, 0
        fresh: str | None = None
        done: Exchange | None = None
        deadline = self.config.deadline
        while True:
            if deadline is not None and deadline.expired():
                if done is None:
                    raise DeadlineExceeded(deadline.message, request_id=call.request_id)
                return replace(done, stopped=deadline.message)
            # Asked per attempt: a long backoff can outlive a cached access token.
            token = fresh or self._tokens.get_token()
            correlation_id = str(uuid.uuid4())
            tried = self._attempt(call, token, correlation_id, attempts + 1)
            if tried is None:
                continue  # the deadline passed before it could be sent
            attempts += 1
            failure = tried.failure
            maybe_committed = maybe_committed or failure in AMBIGUOUS
            timeouts += tried.timed_out
            retry_after = _retry_after(tried.reply, self._now())
            self._account(tried.reply, failure, tried.sent_at, retry_after)
            done = Exchange(tried.reply, failure, tried.error, attempts, maybe_committed,
                            correlation_id, call.request_id, retry_after)
            if failure is None:
                return done
            if failure is Failure.UNAUTHORIZED and not refreshed:
                # One refresh per call: a token that expired early or was revoked server-side.
                refreshed = True
                fresh = self._tokens.refresh(token)
                if fresh is not None and fresh != token:
                    continue
            if not should_retry(failure, attempts, self._policy) \
                    or timeouts >= self.config.max_timeouts:
                if deadline is not None and deadline.expired():
                    return replace(done, stopped=deadline.message)
                return done
            self._before_retry(call, failure, attempts, retry_after)

    def _before_retry(
        self, call: Call, failure: Failure, attempts: int, retry_after: float | None
    ) -> None:
        delay = retry_delay(failure, attempts - 1, retry_after, self._policy, self._rand)
        if failure is Failure.THROTTLED and retry_after is not None and self.controller is None:
            # Without a rate controller the only lever left: the limit is per partner tenant,
            # so hold every worker back, not just this one.
            self.limiter.defer(min(retry_after, self._policy.retry_after_cap))
        with self._counts_lock:
            self._retries += 1
        log.info(
            "%s %s: %s on attempt %d; retrying in %.2f s (MS-RequestId=%s)",
            call.method, call.path, failure.value, attempts, delay, call.request_id,
        )
        deadline = self.config.deadline
        left = deadline.remaining() if deadline is not None else None
        self._announce(failure, retry_after, delay, left)
        self._sleep(delay if left is None else min(delay, left))

    def _announce(self, failure: Failure, retry_after: float | None, delay: float,
                  left: float | None) -> None:
        """Say once per episode, in a whole sentence, that the run waits (and until when)."""
        if delay < self.config.notice_after:
            return
        start = self._clock()
        with self._counts_lock:
            episode = start < self._quiet_until
            self._quiet_until = max(self._quiet_until, start + min(delay, left or delay))
        if episode:
            return  # another worker already said so for this episode
        asked = (f"Partner Center asked to wait {retry_after:.0f}s (Retry-After)"
                 if retry_after is not None else f"Partner Center {_WHY.get(failure, 'failed')}")
        deadline = self.config.deadline
        if deadline is not None and left is not None and delay >= left:
            until = self._now() + timedelta(seconds=left)
            notice.warning("%s, longer than is left of the run's %s; the run will stop at "
                           "%s UTC.", asked, deadline.limit, f"{until:%H:%M:%S}")
            return
        until = self._now() + timedelta(seconds=delay)
        notice.warning("%s; waiting %.0fs, until %s UTC.", asked, delay, f"{until:%H:%M:%S}")

    def _attempt(self, call: Call, token: str, correlation_id: str, attempt: int) -> _Try | None:
        deadline = self.config.deadline
        time_left = deadline.remaining if deadline is not None else None
        if self.limiter.acquire(time_left) is None:
            return None
        with self.concurrency.slot():
            left = deadline.remaining() if deadline is not None else None
            if left is not None and left <= 0:
                return None  # the slot came too late: nothing was sent
            started = self.controller.sent() if self.controller is not None else self._clock()
            reply: Reply | None = None
            failure: Failure | None
            error: str | None = None
            timed_out = False
            connect, read = self.config.connect_timeout, self.config.read_timeout
            if left is not None:
                connect, read = min(connect, left), min(read, left)
            try:
                # Prepared here and sent directly: Session.request would merge session-level
                # settings (none are used) on every call, a measurable share of the CPU.
                prepared = requests.Request(
                    call.method, call.url, headers=self._headers(call, token, correlation_id),
                    data=json.dumps(call.body).encode() if call.body is not None else None,
                ).prepare()
                response = self._session.send(
                    prepared,
                    timeout=(connect, read),
                    allow_redirects=False,  # never forward the bearer token elsewhere
                    verify=self._verify,
                    proxies=self._proxies,
                )
                reply = Reply(response.status_code, response.headers, response.content)
                failure = classify_status(reply.status)
            except requests.RequestException as exc:
                failure, error = classify_exception(exc), type(exc).__name__
                timed_out = isinstance(exc, requests.Timeout)
            duration = self._clock() - started
        self._report(call, reply, error, correlation_id, duration, attempt)
        return _Try(reply, failure, error, started, timed_out)

    def _account(self, reply: Reply | None, failure: Failure | None, sent_at: float,
                 retry_after: float | None) -> None:
        throttled = failure is Failure.THROTTLED
        with self._counts_lock:
            self._requests += 1
            if throttled:
                self._throttled += 1
        if self.controller is None or (reply is None and not throttled):
            return  # no answer says nothing about the rate
        wait = min(retry_after, self._policy.retry_after_cap) if retry_after is not None else None
        decision = self.controller.answered(sent_at, throttled=throttled, retry_after=wait)
        self.limiter.set_rate(decision.rate, decision.burst)
        self.concurrency.resize(decision.concurrency)
        if decision.pause:
            self.limiter.defer(decision.pause)

    def _headers(self, call: Call, token: str, correlation_id: str) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
            "MS-RequestId": call.request_id,
            "MS-CorrelationId": correlation_id,
            "X-Locale": self.config.locale,
            "MS-PartnerCenter-Application": self.config.application,
        }
        headers.update(call.headers)
        return headers

    def _report(
        self,
        call: Call,
        reply: Reply | None,
        error: str | None,
        correlation_id: str,
        duration: float,
        attempt: int,
    ) -> None:
        status = reply.status if reply is not None else None
        # Method, path, ids and timing only: never headers, bodies or query strings.
        log.debug(
            "%s %s -> %s in %.0f ms (attempt %d, MS-RequestId=%s, MS-CorrelationId=%s)",
            call.method, call.path, status if status is not None else error, duration * 1000,
            attempt, call.request_id, correlation_id,
        )
        if self._on_attempt is not None:
            self._on_attempt(
                AttemptInfo(
                    method=call.method,
                    path=call.path,
                    status=status,
                    error=error,
                    request_id=call.request_id,
                    correlation_id=correlation_id,
                    duration=duration,
                    attempt=attempt,
                    customer_id=call.customer_id,
                    operation=call.operation,
                )
            )


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _retry_after(reply: Reply | None, now: datetime) -> float | None:
    if reply is None:
        return None
    header = parse_retry_after(reply.headers.get("Retry-After"), now)
    if header is None and reply.status == 429:
        return retry_after_from_message(parse_fault(429, reply.body).description)
    return header


def _new_session(pool_size: int) -> requests.Session:
    session = requests.Session()
    # Proxies and the CA bundle come from the environment once per client (Transport); and no
    # ~/.netrc credentials may replace the bearer token.
    session.trust_env = False
    # max_retries=0: retries happen in Transport.execute only. The pool holds one connection
    # per concurrent request so that workers never wait for (or churn) connections.
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
