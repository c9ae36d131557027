"""The one place that sends HTTP requests, and the one layer that retries.

Each logical call runs :meth:`Transport.execute`: pace (rate limiter), take a concurrency slot,
send with connect/read timeouts, classify, tell the rate controller how it went, and either
return or sleep and retry. Every attempt
gets a new MS-CorrelationId; the MS-RequestId is fixed by the caller for the whole call, which
is what makes a retried create idempotent.
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
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from .auth import TokenProvider
from .config import ClientConfig
from .errors import parse_fault
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
        """Run ``call`` until it succeeds, fails for good, or the attempt budget is spent."""
        attempts, refreshed, maybe_committed = 0, False, False
        fresh: str | None = None
        while True:
            attempts += 1
            # Asked per attempt: a long backoff can outlive a cached access token.
            token = fresh or self._tokens.get_token()
            correlation_id = str(uuid.uuid4())
            reply, failure, error, sent_at = self._attempt(call, token, correlation_id, attempts)
            maybe_committed = maybe_committed or failure in AMBIGUOUS
            retry_after = _retry_after(reply, self._now())
            self._account(reply, failure, sent_at, retry_after)
            done = Exchange(reply, failure, error, attempts, maybe_committed, correlation_id,
                            call.request_id, retry_after)
            if failure is None:
                return done
            if failure is Failure.UNAUTHORIZED and not refreshed:
                # One refresh per call: a token that expired early or was revoked server-side.
                refreshed = True
                fresh = self._tokens.refresh(token)
                if fresh is not None and fresh != token:
                    continue
            if not should_retry(failure, attempts, self._policy):
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
        self._sleep(delay)

    def _attempt(
        self, call: Call, token: str, correlation_id: str, attempt: int
    ) -> tuple[Reply | None, Failure | None, str | None, float]:
        self.limiter.acquire()
        with self.concurrency.slot():
            started = self.controller.sent() if self.controller is not None else self._clock()
            reply: Reply | None = None
            failure: Failure | None
            error: str | None = None
            try:
                # Prepared here and sent directly: Session.request would merge session-level
                # settings (none are used) on every call, a measurable share of the CPU.
                prepared = requests.Request(
                    call.method, call.url, headers=self._headers(call, token, correlation_id),
                    data=json.dumps(call.body).encode() if call.body is not None else None,
                ).prepare()
                response = self._session.send(
                    prepared,
                    timeout=(self.config.connect_timeout, self.config.read_timeout),
                    allow_redirects=False,  # never forward the bearer token elsewhere
                    verify=self._verify,
                    proxies=self._proxies,
                )
                reply = Reply(response.status_code, response.headers, response.content)
                failure = classify_status(reply.status)
            except requests.RequestException as exc:
                failure, error = classify_exception(exc), type(exc).__name__
            duration = self._clock() - started
        self._report(call, reply, error, correlation_id, duration, attempt)
        return reply, failure, error, started

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
