"""The Partner Center API semantics, independent of the HTTP plumbing in :mod:`.server`.

Order of events for one request, chosen so that each fault means what its name says:
delay faults, ``drop_before`` (nothing processed), latency, authentication, rate limits,
injected 500/503/429 (nothing processed), the operation itself, then ``drop_after`` (processed
and committed, but no answer).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass
from typing import Any

from reconciler.simulator import responses as r
from reconciler.simulator.auth import AccessTokens, TokenCheck
from reconciler.simulator.config import SimulatorConfig
from reconciler.simulator.faults import FaultSet
from reconciler.simulator.ratelimit import RateLimiter
from reconciler.simulator.recording import Stats
from reconciler.simulator.routing import Route, known_path, match
from reconciler.simulator.world import COMPLETED, StoredResponse, Upgrade, World

logger = logging.getLogger(__name__)

_AUTH_FAULTS = {TokenCheck.MISSING: 800001, TokenCheck.INVALID: 800002, TokenCheck.NO_MFA: 900421}
#: Refusals that stop every read of the customer, not only the upgrade calls.
_NO_RELATIONSHIP = frozenset({"20002", "60003"})
_REASON_IN_PROGRESS = "An upgrade for this product family is already in progress."
_REASON_COMPLETED = "The customer has already been upgraded to this product family."
_REASON_INELIGIBLE = "The customer is not eligible for this upgrade."


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """A request as read off the wire; header names lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to do with the connection: answer ``response`` (if any), then maybe drop it."""

    response: r.ApiResponse | None
    drop: bool = False


_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def is_guid(value: object) -> bool:
    """Whether ``value`` is a GUID string (with hyphens, as Partner Center writes them)."""
    return isinstance(value, str) and _GUID.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class _Body:
    """The JSON body of a product-upgrade POST, with keys folded so both casings work."""

    fields: dict[str, Any] | None

    @classmethod
    def parse(cls, raw: bytes) -> _Body:
        try:
            doc = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            return cls(None)
        if not isinstance(doc, dict):
            return cls(None)
        # camelCase (docs, Java) and PascalCase (.NET) differ only in case: fold it.
        return cls({str(k).lower(): v for k, v in doc.items()})

    def get(self, key: str) -> Any:
        return None if self.fields is None else self.fields.get(key)


class Service:
    """Answers API requests against a world, with the configured switches."""

    def __init__(
        self,
        config: SimulatorConfig,
        world: World,
        tokens: AccessTokens,
        faults: FaultSet,
        stats: Stats,
    ) -> None:
        self.config = config
        self.world = world
        self.tokens = tokens
        self.faults = faults
        self.stats = stats
        self.base_url = ""
        self.limiter = RateLimiter(
            config.rate_limit_per_minute,
            config.customer_rate_limit_per_minute,
            partner_burst=config.rate_limit_burst,
            customer_burst=config.customer_rate_limit_burst,
        )
        # Creates are serialised so that a dedup check and the create it guards are one step.
        self._create_lock = threading.Lock()
        #: Set when the simulator stops: requests held by a ``hang`` fault are let go.
        self.released = threading.Event()

    def handle(self, request: ApiRequest) -> Outcome:
        """Answer one request (or decide to drop its connection)."""
        route = match(request.method, request.path)
        if route is None:
            if known_path(request.path):
                return Outcome(r.fault(405, 405, f"Method {request.method} is not allowed here."))
            return Outcome(r.fault(404, 404, f"Resource {request.path} was not found."))
        decision = self.faults.decide(route.fault_route)
        if decision.delay_ms:
            time.sleep(decision.delay_ms / 1000.0)
        if decision.kind == "drop_before":
            self.stats.bump("dropped")
            return Outcome(None, drop=True)
        if decision.kind == "hang":
            self.stats.bump("hung")
            if self.released.wait(decision.hang_ms / 1000.0 if decision.hang_ms else None):
                return Outcome(None, drop=True)  # stopping: close, having processed nothing
        if self.config.latency_ms:
            time.sleep(self.config.latency_ms / 1000.0)
        body = _Body.parse(request.body) if request.method == "POST" else _Body(None)
        refused = self._gate(request, route, body, decision.kind)
        if refused is not None:
            return Outcome(refused)
        response = self._operate(request, route, body)
        if decision.kind == "drop_after":
            self.stats.bump("dropped")
            return Outcome(None, drop=True)
        return Outcome(response)

    def _gate(
        self, request: ApiRequest, route: Route, body: _Body, fault_kind: str | None
    ) -> r.ApiResponse | None:
        """Authentication, rate limits and injected errors: a refusal, or None to go on."""
        check = self.tokens.check(request.headers.get("authorization"))
        if check is not TokenCheck.OK:
            return r.catalogued(_AUTH_FAULTS[check])
        customer = route.param if route.name == "subscriptions" else body.get("customerid")
        wait = self.limiter.check(str(customer).lower() if customer else None)
        if wait:
            self.stats.bump("throttled")
            return r.throttled(wait)
        if fault_kind in ("500", "503", "429"):
            self.stats.bump("injected")
            if fault_kind == "429":
                self.stats.bump("throttled")
                return r.throttled(self.config.retry_after_seconds)
            return r.catalogued(800003) if fault_kind == "500" else r.service_unavailable()
        return None

    def _operate(self, request: ApiRequest, route: Route, body: _Body) -> r.ApiResponse:
        if route.name == "customers":
            return self._customers(request, route)
        if route.name == "subscriptions":
            return self._subscriptions(route.param or "")
        if route.name == "create":
            return self._create_deduplicated(request, body)
        invalid = self._validate(body)
        if invalid is not None:
            return invalid
        customer_id = str(body.get("customerid")).lower()
        if route.name == "eligibility":
            return self._eligibility(customer_id)
        return self._status(route.param or "", customer_id)

    @staticmethod
    def _validate(body: _Body) -> r.ApiResponse | None:
        if body.fields is None:
            return r.fault(400, 400, "The request body must be a JSON object.")
        customer_id = body.get("customerid")
        if not is_guid(customer_id):
            return r.catalogued(900118, customer_id=str(customer_id))
        family = body.get("productfamily")
        if not isinstance(family, str) or family.lower() != "azure":
            return r.catalogued(900107, family=str(family))
        return None

    def _customer_refusal(self, customer_id: str) -> r.ApiResponse | None:
        """The ApiFault for an unknown customer or one configured to be refused, else None."""
        customer = self.world.customer(customer_id)
        if customer is None:
            return r.fault(*self.config.unknown_customer_error)
        if customer.error is not None:
            e = customer.error
            return r.fault(e.status, e.code, e.description)
        return None

    def _eligibility(self, customer_id: str) -> r.ApiResponse:
        customer = self.world.customer(customer_id)
        if customer is None:
            return r.fault(*self.config.unknown_customer_error)
        if customer.error is not None:
            e = customer.error
            return r.fault(e.status, e.code, e.description)
        upgrade = self.world.active_upgrade(customer_id)
        if upgrade is not None:
            reason = _REASON_COMPLETED if upgrade.status == COMPLETED else _REASON_IN_PROGRESS
            return r.json_response(200, r.eligibility(customer_id, False, upgrade.id, reason))
        if not customer.eligible:
            reason = customer.reason or _REASON_INELIGIBLE
            if self.config.ineligible_as == "error":
                return r.fault(*self.config.ineligible_error, reason)
            return r.json_response(200, r.eligibility(customer_id, False, reason=reason))
        return r.json_response(200, r.eligibility(customer_id, True))

    def _create_deduplicated(self, request: ApiRequest, body: _Body) -> r.ApiResponse:
        request_id = request.headers.get("ms-requestid")
        with self._create_lock, self.world.batch():
            if self.config.dedup and request_id:
                stored = self.world.remembered(request_id, self.config.dedup_window_seconds)
                if stored is not None:
                    self.stats.bump("replays")
                    return r.ApiResponse(stored.status, stored.body.encode(), list(stored.headers))
            response = self._create(body, request_id)
            if self.config.dedup and request_id and response.status < 500:
                stored = StoredResponse(
                    response.status, response.headers, response.body.decode(), self.world.now()
                )
                self.world.remember(request_id, stored)
        return response

    def _create(self, body: _Body, request_id: str | None) -> r.ApiResponse:
        invalid = self._validate(body)
        if invalid is not None:
            return invalid
        customer_id = str(body.get("customerid")).lower()
        refused = self._customer_refusal(customer_id)
        if refused is not None:
            return refused
        existing = self.world.active_upgrade(customer_id)
        if existing is not None:
            # The same MS-RequestId again is a retry meeting 409 (dedup off), not a duplicate;
            # a new id for a customer already being upgraded is a real duplicate attempt.
            if existing.request_id != request_id:
                self.stats.bump("duplicates")
            code = 900110 if existing.status == COMPLETED else 900109
            return r.catalogued(code, upgrade_id=existing.id)
        customer = self.world.customer(customer_id)
        if customer is not None and not customer.eligible:
            return r.fault(*self.config.ineligible_error, customer.reason or _REASON_INELIGIBLE)
        upgrade = self.world.start_upgrade(customer_id, request_id)
        location = f"productUpgrades/{upgrade.id}"
        if self.config.location_style == "absolute":
            location = f"{self.base_url}/v1/{location}"
        elif self.config.location_style == "no-guid":
            location = "productUpgrades/blank"
        return r.ApiResponse(202, b"", [("Location", location)])

    def _status(self, upgrade_id: str, customer_id: str) -> r.ApiResponse:
        if not is_guid(upgrade_id):
            return r.catalogued(900106, upgrade_id=upgrade_id)
        found = self.world.upgrade(upgrade_id)
        if found is None:
            return r.catalogued(900106, upgrade_id=upgrade_id)
        if found.customer_id != customer_id:
            return r.catalogued(900111, upgrade_id=upgrade_id, customer_id=customer_id)
        polled = self.world.record_poll(upgrade_id) or found
        doc = r.status(
            polled,
            in_progress=self.config.in_progress_status,
            error_style=self.config.error_details_style,
        )
        return r.json_response(200, doc)

    def _listed_yet(self, upgrade: Upgrade) -> bool:
        """Whether the subscription listing shows a completed upgrade yet (the lag switch)."""
        lag = self.config.subscription_lag_seconds
        if not lag or upgrade.completed_at is None:
            return True
        return (self.world.now() - upgrade.completed_at).total_seconds() >= lag

    def _customers(self, request: ApiRequest, route: Route) -> r.ApiResponse:
        try:
            size = int(route.query_value("size") or 100)
            token = request.headers.get("ms-continuationtoken")
            offset = int(urlsafe_b64decode(token.encode()).decode()) if token else 0
        except ValueError:
            return r.fault(400, 400, "Invalid size or continuation token.")
        size = max(1, min(size, self.config.max_page_size))
        everyone = self.world.customers()
        if token and offset >= len(everyone):
            # Only reachable by following the "error-2000" switch's link past the last page.
            return r.fault(400, 2000, "No more records found.")
        page = everyone[offset : offset + size]
        links: dict[str, Any] = {
            "self": {"uri": f"/v1/customers?size={size}", "method": "GET", "headers": []}
        }
        doc_extra: dict[str, Any] = {}
        more = offset + size < len(everyone)
        if more or (self.config.customers_end == "error-2000" and page):
            next_token = urlsafe_b64encode(str(offset + size).encode()).decode()
            links["next"] = {
                "uri": f"/v1/customers?size={size}",
                "method": "GET",
                "headers": [{"key": "MS-ContinuationToken", "value": next_token}],
            }
            doc_extra["continuationToken"] = next_token
        doc = r.collection([r.customer(c) for c in page], links) | doc_extra
        return r.json_response(200, doc)

    def _subscriptions(self, customer_id: str) -> r.ApiResponse:
        if not is_guid(customer_id):
            return r.catalogued(900118, customer_id=customer_id)
        customer_id = customer_id.lower()
        customer = self.world.customer(customer_id)
        if customer is None:
            return r.fault(*self.config.unknown_customer_error)
        if customer.error is not None and str(customer.error.code) in _NO_RELATIONSHIP:
            # Without a relationship (or a tenant) nothing of the customer can be read.
            e = customer.error
            return r.fault(e.status, e.code, e.description)
        done = [u for u in self.world.upgrades_for(customer_id) if u.status == COMPLETED
                and self._listed_yet(u)]
        legacy_state = "active" if customer.legacy_active_again \
            else self.config.legacy_after_upgrade
        items = r.subscriptions(customer_id, done[-1] if done else None, legacy=customer.legacy,
                                legacy_after=legacy_state,
                                plan=not customer.azure_plan_missing)
        links = {"self": {"uri": f"/v1/customers/{customer_id}/subscriptions", "method": "GET"}}
        return r.json_response(200, r.collection(items, links))
