"""The Partner Center product-upgrade client: four calls, small typed answers.

The client turns HTTP exchanges (already retried by :mod:`.transport`) into values or into
exceptions from :mod:`.errors`. One instance is meant to be shared by every worker thread.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from types import TracebackType
from urllib.parse import quote, urlsplit

import requests

from .auth import TokenProvider
from .config import ClientConfig
from .endpoints import parse_location
from .errors import (
    ApiFault,
    AuthenticationError,
    DeadlineExceeded,
    InvalidRequestError,
    NotEligibleError,
    NotFoundError,
    PartnerCenterError,
    PermissionDeniedError,
    ServiceError,
    ThrottledError,
    TransportError,
    UpgradeNotFoundError,
    UpgradeOwnershipError,
    parse_fault,
)
from .models import (
    AttemptInfo,
    ClientStats,
    CreateKind,
    CreateResult,
    Customer,
    Eligibility,
    Subscription,
    UpgradeStatus,
    get_bool,
    get_field,
    get_map,
    get_str,
    read_customer,
    read_status,
    read_subscription,
)
from .retry import RETRYABLE
from .throttle import RateMemo
from .transport import Call, Exchange, Transport

__all__ = ["ALREADY_EXISTS_CODES", "INELIGIBLE_CODES", "PartnerCenterClient"]

#: Faults that mean "this customer cannot be upgraded", answered like ``isEligible: false``.
INELIGIBLE_CODES = frozenset(
    {"900105", "900107", "900108", "900118", "900119", "900120", "900130", "20002", "60003"}
)
#: Faults on create that mean "an upgrade already exists" (in progress / completed).
ALREADY_EXISTS_CODES = frozenset({"900109", "900110"})
UPGRADE_NOT_FOUND = "900106"
UPGRADE_OF_OTHER_CUSTOMER = "900111"
#: ``400`` with this code when following ``links.next`` past the last page: "no more records"
#: (undocumented; Microsoft's bulk migration tool treats it so).
NO_MORE_RECORDS = "2000"

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class PartnerCenterClient:
    """Eligibility, create, status, customers and subscriptions, over one connection pool.

    ``on_attempt`` is called after every HTTP attempt (from the calling thread) with an
    :class:`AttemptInfo`; use it for journals. ``sleep``, ``clock``, ``now`` and ``rand`` are
    injectable for tests.
    """

    def __init__(
        self,
        config: ClientConfig,
        token_provider: TokenProvider,
        *,
        on_attempt: Callable[[AttemptInfo], None] | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        now: Callable[[], datetime] | None = None,
        rand: Callable[[], float] | None = None,
    ) -> None:
        self.config = config
        self._transport = Transport(
            config, token_provider, on_attempt=on_attempt, session=session,
            sleep=sleep, clock=clock, now=now, rand=rand,
        )

    def __enter__(self) -> PartnerCenterClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection pool."""
        self._transport.close()

    def stats(self) -> ClientStats:
        """Requests sent, 429s received, retries, and the current concurrency bound."""
        return self._transport.stats()

    def learned_rate(self) -> RateMemo | None:
        """What the rate controller found (None when pacing is off): pass it to the next
        client's ``ClientConfig.learned_rate``."""
        controller = self._transport.controller
        return controller.memo() if controller is not None else None

    # --- the calls ------------------------------------------------------------------------

    def eligibility(self, customer_id: str, product_family: str = "Azure") -> Eligibility:
        """Ask whether ``customer_id`` can be upgraded; also the way to find an existing upgrade.

        An eligibility fault (403/400/404 with a code in :data:`INELIGIBLE_CODES`) returns the
        same "not eligible" value as ``200 {"isEligible": false}``.
        """
        call = self._call("eligibility", "POST", "/v1/productUpgrades/eligibility",
                          _new_id(), customer_id, product_family)
        done = self._transport.execute(call)
        reply = done.reply
        if reply is not None and done.failure is None:
            data = _json_object(done, call)
            return Eligibility(
                customer_id=get_str(data, "customerId") or customer_id,
                product_family=get_str(data, "productFamily") or product_family,
                is_eligible=get_bool(data, "isEligible"),
                upgrade_id=get_str(data, "upgradeId"),
                reason=get_str(data, "reason"),
                error_code=None,
                correlation_id=done.correlation_id,
                http_status=reply.status,
            )
        fault = _fault(done)
        if fault is not None and fault.http_status < 500 and fault.code in INELIGIBLE_CODES:
            return Eligibility(customer_id, product_family, False, None,
                               fault.description or None, fault.code, done.correlation_id,
                               fault.http_status)
        raise _error(done, call, fault)

    def create(self, customer_id: str, product_family: str, request_id: str) -> CreateResult:
        """Start an upgrade under the caller's ``request_id`` (persist it before calling).

        Every retry of this create reuses ``request_id``. Returns CREATED, ALREADY_EXISTS
        (409/900109, 400/900110) or OUTCOME_UNKNOWN (the answer was lost on every attempt:
        resolve through :meth:`eligibility` before creating again). Raises
        :class:`NotEligibleError` for an eligibility fault and other errors as usual.
        """
        call = self._call("create", "POST", "/v1/productUpgrades", request_id, customer_id,
                          product_family)
        done = self._transport.execute(call)
        if done.reply is not None and done.failure is None:
            upgrade_id = parse_location(done.reply.headers.get("Location"))
            return _create_result(CreateKind.CREATED, upgrade_id, done)
        fault = _fault(done)
        if fault is not None and fault.http_status < 500 and fault.code in ALREADY_EXISTS_CODES:
            return _create_result(CreateKind.ALREADY_EXISTS, _guid_in(fault.description), done,
                                  fault)
        if done.maybe_committed and done.failure in RETRYABLE:
            # Retries ran out after at least one attempt that may have been committed.
            return _create_result(CreateKind.OUTCOME_UNKNOWN, None, done, fault)
        if fault is not None and fault.http_status < 500 and fault.code in INELIGIBLE_CODES:
            raise NotEligibleError(
                f"Partner Center refused to upgrade customer {customer_id} to {product_family}: "
                f"{fault.summary()}.", http_status=fault.http_status, code=fault.code,
                correlation_id=done.correlation_id, request_id=request_id,
            )
        raise _error(done, call, fault)

    def status(
        self, upgrade_id: str, customer_id: str, product_family: str = "Azure"
    ) -> UpgradeStatus:
        """Read an upgrade's status.

        Raises :class:`UpgradeNotFoundError` (404/900106) when Partner Center knows no such
        upgrade, and :class:`UpgradeOwnershipError` (400/900111) when it is another customer's.
        """
        path = f"/v1/productUpgrades/{quote(upgrade_id, safe='')}/status"
        call = self._call("status", "POST", path, _new_id(), customer_id, product_family)
        done = self._transport.execute(call)
        if done.reply is not None and done.failure is None:
            return read_status(_json_object(done, call), upgrade_id, done.correlation_id)
        raise _error(done, call, _fault(done))

    def customers(self, page_size: int = 500) -> Iterator[Customer]:
        """Every customer of the partner, following ``links.next`` continuation pages.

        500 per page is what Microsoft's own bulk migration tool asks for; a server may send
        fewer. Customers are yielded as each page arrives, so a caller can start work early.
        """
        url = f"{self.config.endpoint}/v1/customers?size={max(1, int(page_size))}"
        for item in self._listing("customers", url):
            customer = read_customer(item)
            if customer is not None:
                yield customer

    def subscriptions(self, customer_id: str) -> list[Subscription]:
        """The customer's subscriptions (every offer and status, as Partner Center lists them)."""
        path = f"/v1/customers/{quote(customer_id, safe='')}/subscriptions"
        items = self._listing("subscriptions", f"{self.config.endpoint}{path}",
                              customer_id=customer_id)
        return [s for s in map(read_subscription, items) if s is not None]

    def _listing(self, operation: str, url: str, *,
                 customer_id: str | None = None) -> Iterator[Mapping[str, object]]:
        """The items of a collection, page after page until there is no ``links.next``."""
        headers: dict[str, str] = {}
        seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        first = True
        while True:
            key = (url, tuple(sorted(headers.items())))
            if key in seen:
                raise ServiceError(f"Partner Center returned the same {operation} page twice.")
            seen.add(key)
            call = Call(operation, "GET", url, urlsplit(url).path, _new_id(), headers=headers,
                        customer_id=customer_id)
            done = self._transport.execute(call)
            if done.reply is None or done.failure is not None:
                fault = _fault(done)
                if not first and _is_end_of_records(fault):
                    return
                raise _error(done, call, fault)
            page = _json_object(done, call)
            items = get_field(page, "items")
            for item in items if isinstance(items, list) else []:
                if isinstance(item, Mapping):
                    yield item
            following = self._next_page(page)
            if following is None:
                return
            url, headers = following
            first = False

    # --- helpers --------------------------------------------------------------------------

    def _call(self, operation: str, method: str, path: str, request_id: str,
              customer_id: str, product_family: str) -> Call:
        return Call(
            operation=operation,
            method=method,
            url=f"{self.config.endpoint}{path}",
            path=path,
            request_id=request_id,
            body={"customerId": customer_id, "productFamily": product_family},
            customer_id=customer_id,
        )

    def _next_page(self, page: Mapping[str, object]) -> tuple[str, dict[str, str]] | None:
        link = get_map(get_map(page, "links"), "next")
        uri = get_str(link, "uri")
        if not uri:
            return None
        raw_headers = get_field(link, "headers")
        headers = {
            str(get_str(h, "key")): str(get_str(h, "value") or "")
            for h in (raw_headers if isinstance(raw_headers, list) else [])
            if isinstance(h, Mapping) and get_str(h, "key")
        }
        return self._resolve(uri), headers

    def _resolve(self, uri: str) -> str:
        """Turn a ``links.next.uri`` into a URL on our endpoint (never another host)."""
        parts = urlsplit(uri)
        if parts.scheme or parts.netloc:
            root = urlsplit(self.config.endpoint)
            if (parts.scheme, parts.netloc) != (root.scheme, root.netloc):
                raise ServiceError(f"Refusing a continuation link to another host: {parts.netloc}.")
            return uri
        path = uri if uri.startswith("/") else f"/{uri}"
        if not path.lower().startswith("/v1/"):
            path = f"/v1{path}"
        return f"{self.config.endpoint}{path}"


def _create_result(
    kind: CreateKind, upgrade_id: str | None, done: Exchange, fault: ApiFault | None = None
) -> CreateResult:
    return CreateResult(
        kind=kind,
        upgrade_id=upgrade_id,
        request_id=done.request_id,
        correlation_id=done.correlation_id,
        http_status=done.reply.status if done.reply is not None else None,
        error_code=fault.code if fault else None,
        message=fault.description if fault else done.error,
        attempts=done.attempts,
    )


def _is_end_of_records(fault: ApiFault | None) -> bool:
    return fault is not None and fault.http_status == 400 and fault.code == NO_MORE_RECORDS


def _new_id() -> str:
    return str(uuid.uuid4())


def _guid_in(text: str) -> str | None:
    match = _GUID.search(text or "")
    return match.group(0).lower() if match else None


def _fault(done: Exchange) -> ApiFault | None:
    if done.reply is None:
        return None
    reason = f"HTTP {done.reply.status}"
    return parse_fault(done.reply.status, done.reply.body, reason)


def _json_object(done: Exchange, call: Call) -> Mapping[str, object]:
    assert done.reply is not None
    try:
        data = json.loads(done.reply.body.decode("utf-8", "replace") or "null")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ServiceError(
            f"Partner Center answered {call.method} {call.path}{_for(call)} with HTTP "
            f"{done.reply.status} but no JSON object.",
            http_status=done.reply.status, correlation_id=done.correlation_id,
            request_id=done.request_id,
        )
    return data


def _for(call: Call) -> str:
    return f" for customer {call.customer_id}" if call.customer_id else ""


def _error(done: Exchange, call: Call, fault: ApiFault | None) -> PartnerCenterError:
    """The exception for a call that ended without a usable answer."""
    what = f"{call.method} {call.path}{_for(call)}"
    cid, rid = done.correlation_id, done.request_id
    if done.stopped is not None:  # the run's deadline ended the call, not Partner Center
        return DeadlineExceeded(done.stopped, request_id=rid)
    if fault is None:
        return TransportError(
            f"No answer from Partner Center for {what} ({done.error}; attempts made: "
            f"{done.attempts}).", correlation_id=cid, request_id=rid,
        )
    status, code = fault.http_status, fault.code
    detail = f"{what} failed: {fault.summary()}."
    kind: type[PartnerCenterError]
    if status == 429:
        return ThrottledError(
            f"Partner Center kept throttling {what}: {fault.summary()} (attempts made: "
            f"{done.attempts}).", retry_after=done.retry_after, correlation_id=cid,
            request_id=rid,
        )
    if status == 401:
        kind = AuthenticationError
        detail += (" The token was refused: product upgrades need an App+User token for "
                   "Partner Center obtained with MFA; if consent was revoked, consent again.")
    elif status == 403:
        kind = PermissionDeniedError
    elif status == 404:
        kind = UpgradeNotFoundError if call.operation == "status" and code in (
            UPGRADE_NOT_FOUND, None) else NotFoundError
    elif status >= 500:
        kind = ServiceError
        detail = f"{what} failed: {fault.summary()} (attempts made: {done.attempts})."
    elif code == UPGRADE_OF_OTHER_CUSTOMER:
        kind = UpgradeOwnershipError
    else:
        kind = InvalidRequestError
    return kind(f"Partner Center: {detail}", http_status=status, code=code,
                correlation_id=cid, request_id=rid)
