"""Small typed values returned by the client, and tolerant readers for Partner Center JSON.

Readers accept camelCase and PascalCase keys (the docs and the SDKs disagree) and treat absent
fields as ``None``; they never raise on an unexpected shape.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "AttemptInfo",
    "ClientStats",
    "CreateKind",
    "CreateResult",
    "Customer",
    "Eligibility",
    "ErrorDetails",
    "LineItem",
    "Product",
    "Subscription",
    "UpgradeStatus",
]

TERMINAL_STATUSES = frozenset({"completed", "failed"})
#: The legacy offer the migration moves customers off.
LEGACY_OFFER_ID = "MS-AZR-0145P"
#: Azure plan offer ids start with this product id (``DZH318Z0BPS6:0001`` and later SKUs).
AZURE_PLAN_OFFER_PREFIX = "DZH318Z0BPS6:"


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Whether a customer can be upgraded to ``product_family``.

    A ``200 {"isEligible": false}`` answer and a 403/400 eligibility fault give the same value;
    for a fault, ``error_code`` and ``http_status`` say which one it was. ``upgrade_id`` is set
    when an upgrade for the family already exists (the only way to discover one).
    """

    customer_id: str
    product_family: str
    is_eligible: bool
    upgrade_id: str | None
    reason: str | None
    error_code: str | None
    correlation_id: str
    http_status: int = 200


class CreateKind(enum.Enum):
    """What a create call achieved."""

    #: 202 Accepted: an upgrade was started (``upgrade_id`` from the Location header).
    CREATED = "created"
    #: 409/900109 or 400/900110: an upgrade already exists; find its id through eligibility
    #: when ``upgrade_id`` is ``None``.
    ALREADY_EXISTS = "already_exists"
    #: The answer was lost on every attempt: resolve through eligibility before creating again.
    OUTCOME_UNKNOWN = "outcome_unknown"


@dataclass(frozen=True, slots=True)
class CreateResult:
    """The outcome of :meth:`PartnerCenterClient.create`.

    ``upgrade_id`` is ``None`` when Partner Center did not say (no Location header, an
    "already exists" fault without an id, or an unknown outcome).
    """

    kind: CreateKind
    upgrade_id: str | None
    request_id: str
    correlation_id: str
    http_status: int | None
    error_code: str | None = None
    message: str | None = None
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class ErrorDetails:
    """``errorDetails``: ``message`` in the docs, ``description`` in every SDK."""

    code: str | None
    message: str | None


@dataclass(frozen=True, slots=True)
class Product:
    """A source or target product of a line item."""

    id: str | None
    name: str | None


@dataclass(frozen=True, slots=True)
class LineItem:
    """One subscription moved by an upgrade."""

    source_product: Product
    target_product: Product
    upgraded_date: str | None
    status: str | None
    error: ErrorDetails | None


@dataclass(frozen=True, slots=True)
class UpgradeStatus:
    """The status object of an upgrade. ``status`` is an open, case-insensitive string."""

    id: str
    product_family: str | None
    status: str
    line_items: tuple[LineItem, ...]
    error_code: str | None
    error_message: str | None
    correlation_id: str

    @property
    def is_terminal(self) -> bool:
        """``Completed`` or ``Failed`` (any casing); anything else is still in flight."""
        return self.status.lower() in TERMINAL_STATUSES

    @property
    def is_completed(self) -> bool:
        """True for ``Completed`` in any casing."""
        return self.status.lower() == "completed"

    @property
    def is_failed(self) -> bool:
        """True for ``Failed`` in any casing."""
        return self.status.lower() == "failed"


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer of the partner, from the customer list."""

    id: str
    company_name: str | None
    domain: str | None
    tenant_id: str | None


@dataclass(frozen=True, slots=True)
class Subscription:
    """One of a customer's subscriptions, as ``GET /v1/customers/{id}/subscriptions`` lists it.

    Offer ids and statuses are compared case-insensitively: the docs show ``active`` and
    ``suspended`` but spell nothing else out.
    """

    id: str
    offer_id: str
    status: str
    friendly_name: str | None = None

    @property
    def is_legacy(self) -> bool:
        """The legacy Microsoft Azure offer, MS-AZR-0145P."""
        return self.offer_id.upper() == LEGACY_OFFER_ID

    @property
    def is_azure_plan(self) -> bool:
        """An Azure plan subscription (offer ``DZH318Z0BPS6:…``)."""
        return self.offer_id.upper().startswith(AZURE_PLAN_OFFER_PREFIX)

    @property
    def is_active(self) -> bool:
        """Status ``active`` in any casing."""
        return self.status.lower() == "active"


@dataclass(frozen=True, slots=True)
class AttemptInfo:
    """One HTTP attempt, reported to the ``on_attempt`` callback (e.g. for a journal).

    ``status`` is ``None`` when no answer arrived; ``error`` then names the failure class
    (never a message that could contain a URL with secrets).
    """

    method: str
    path: str
    status: int | None
    error: str | None
    request_id: str
    correlation_id: str
    duration: float
    attempt: int
    customer_id: str | None
    operation: str


@dataclass(frozen=True, slots=True)
class ClientStats:
    """Counters for progress display."""

    requests: int
    throttled: int
    retries: int
    concurrency: int
    max_concurrency: int
    in_flight: int
    #: The request rate aimed at now (requests/s; None: pacing is off).
    rate: float | None = None
    #: The configured ceiling (requests/s; None: none, the rate is discovered).
    rate_ceiling: float | None = None
    #: Within the hold after a 429.
    backing_off: bool = False


# --- readers ---------------------------------------------------------------------------


def get_bool(data: Mapping[str, object], name: str) -> bool:
    """A flag that may arrive as JSON ``true`` or as the string ``"true"`` (any case): both
    mean yes; anything else (``false``, ``"false"``, missing) means no."""
    value = get_field(data, name)
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True


def get_field(data: Mapping[str, object], name: str) -> object:
    """Look a key up case-insensitively (camelCase, PascalCase and anything in between)."""
    if name in data:
        return data[name]
    lowered = name.lower()
    for key, value in data.items():
        if isinstance(key, str) and key.lower() == lowered:
            return value
    return None


def get_str(data: Mapping[str, object], name: str) -> str | None:
    """A string field, or ``None``; numbers are turned into strings (codes come as both)."""
    value = get_field(data, name)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int | float):
        text = str(value).strip()
        return text or None
    return None


def get_map(data: Mapping[str, object], name: str) -> Mapping[str, object]:
    """A nested object, or an empty mapping."""
    value = get_field(data, name)
    return value if isinstance(value, Mapping) else {}


def read_error_details(data: Mapping[str, object]) -> ErrorDetails | None:
    """Read ``errorDetails``: ``code`` plus ``message`` or ``description``."""
    details = get_map(data, "errorDetails")
    if not details:
        return None
    message = get_str(details, "message") or get_str(details, "description")
    return ErrorDetails(code=get_str(details, "code"), message=message)


def read_line_item(data: Mapping[str, object]) -> LineItem:
    """Read one element of ``lineItems``."""
    source = get_map(data, "sourceProduct")
    target = get_map(data, "targetProduct")
    return LineItem(
        source_product=Product(get_str(source, "id"), get_str(source, "name")),
        target_product=Product(get_str(target, "id"), get_str(target, "name")),
        upgraded_date=get_str(data, "upgradedDate"),
        status=get_str(data, "status"),
        error=read_error_details(data),
    )


def read_status(
    data: Mapping[str, object], upgrade_id: str, correlation_id: str
) -> UpgradeStatus:
    """Read a status object; the id asked for fills in when the body omits it."""
    raw_items = get_field(data, "lineItems")
    items = tuple(
        read_line_item(item)
        for item in (raw_items if isinstance(raw_items, list) else [])
        if isinstance(item, Mapping)
    )
    details = read_error_details(data)
    return UpgradeStatus(
        id=get_str(data, "id") or upgrade_id,
        product_family=get_str(data, "productFamily"),
        status=get_str(data, "status") or "Unknown",
        line_items=items,
        error_code=details.code if details else None,
        error_message=details.message if details else None,
        correlation_id=correlation_id,
    )


def read_customer(data: Mapping[str, object]) -> Customer | None:
    """Read one customer of the list; ``None`` when it has no id."""
    customer_id = get_str(data, "id")
    if customer_id is None:
        return None
    profile = get_map(data, "companyProfile")
    return Customer(
        id=customer_id,
        company_name=get_str(profile, "companyName"),
        domain=get_str(profile, "domain"),
        tenant_id=get_str(profile, "tenantId"),
    )


def read_subscription(data: Mapping[str, object]) -> Subscription | None:
    """Read one subscription of the list; ``None`` when it has no id."""
    subscription_id = get_str(data, "id")
    if subscription_id is None:
        return None
    return Subscription(
        id=subscription_id,
        offer_id=get_str(data, "offerId") or "",
        status=get_str(data, "status") or "",
        friendly_name=get_str(data, "friendlyName"),
    )
