"""Response bodies as Partner Center shapes them: ApiFaults, 429s, eligibility, status, lists.

Absent fields are left out, never sent as null.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from reconciler.simulator.world import COMPLETED, FAILED, IN_PROGRESS, Customer, Upgrade

JSON_TYPE = "application/json; charset=utf-8"

#: The documented error catalogue: code -> (HTTP status, description template).
CATALOGUE: dict[int, tuple[int, str]] = {
    900105: (403, "Customer has Azure subscriptions in suspended state."),
    900106: (404, "No upgrade request was found for upgrade id {upgrade_id}."),
    900107: (400, "Azure catalog item not found for product family {family}."),
    900108: (403, "Customer has no Azure subscriptions."),
    900109: (409, "Original upgrade {upgrade_id} is in progress."),
    900110: (400, "Cannot process the request for completed upgrade {upgrade_id}."),
    900111: (400, "Upgrade id {upgrade_id} does not belong to customer {customer_id}."),
    900118: (400, "Invalid customer id {customer_id}."),
    900119: (403, "Azure Partner Shared Services cannot be upgraded."),
    900120: (403, "Cannot process Azure upgrade."),
    900130: (403, "Azure subscriptions were purchased recently; try again later."),
    20002: (403, "No commerce relationship exists with this customer."),
    60003: (404, "Tenant not found."),
    800001: (401, "Authorization token is missing."),
    800002: (401, "Authorization token is invalid or expired."),
    800003: (500, "An unexpected error occurred while processing the request."),
    900421: (401, "The request requires multi-factor authentication."),
}

SOURCE_PRODUCT_NAME = "Microsoft Azure"
TARGET_PRODUCT_NAME = "Azure plan"
LEGACY_OFFER_ID = "MS-AZR-0145P"
AZURE_PLAN_OFFER_ID = "DZH318Z0BPS6:0001"
#: A Microsoft 365 Business Basic offer (new commerce), for customers without legacy Azure.
M365_OFFER_ID = "CFQ7TTC0LH18:0001"
M365_OFFER_NAME = "Microsoft 365 Business Basic"
_SUBSCRIPTION_NS = uuid.UUID("6f0e1d5c-3b0a-4f53-9d55-1c2b3a4d5e6f")


@dataclass(slots=True)
class ApiResponse:
    """A response before it is written: status, extra headers and body bytes."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(
    status: int, doc: Any, headers: list[tuple[str, str]] | None = None
) -> ApiResponse:
    """A JSON response."""
    body = json.dumps(doc, separators=(",", ":")).encode()
    return ApiResponse(status, body, [("Content-Type", JSON_TYPE), *(headers or [])])


def fault(status: int, code: int | str, description: str) -> ApiResponse:
    """An ApiFault body, the documented error shape."""
    doc: dict[str, Any] = {
        "code": code,
        "description": description,
        "data": [],
        "source": "PartnerFD",
    }
    return json_response(status, doc)


def catalogued(code: int, **values: str) -> ApiResponse:
    """The catalogue's ApiFault for ``code``, with its template filled in."""
    status, template = CATALOGUE[code]
    return fault(status, code, template.format(**values))


def throttled(retry_after: int) -> ApiResponse:
    """The 429 body, which differs from an ApiFault, and its Retry-After header."""
    doc = {
        "statusCode": 429,
        "message": f"Rate limit is exceeded. Try again in {retry_after} seconds.",
    }
    return json_response(429, doc, [("Retry-After", str(retry_after))])


def service_unavailable() -> ApiResponse:
    """A 503 as a gateway sends it: HTML, not JSON, so clients must parse tolerantly."""
    body = b"<html><body><h1>503 Service Unavailable</h1></body></html>"
    return ApiResponse(503, body, [("Content-Type", "text/html"), ("Retry-After", "1")])


def eligibility(
    customer_id: str, eligible: bool, upgrade_id: str | None = None, reason: str | None = None
) -> dict[str, Any]:
    """The eligibility document; ``upgradeId`` and ``reason`` only when there are some."""
    doc: dict[str, Any] = {
        "customerId": customer_id,
        "productFamily": "Azure",
        "isEligible": eligible,
    }
    if upgrade_id is not None:
        doc["upgradeId"] = upgrade_id
    if reason is not None:
        doc["reason"] = reason
    return doc


def legacy_subscription_id(customer_id: str) -> str:
    """A stable id for the customer's MS-AZR-0145P subscription."""
    return str(uuid.uuid5(_SUBSCRIPTION_NS, f"{customer_id}:legacy"))


def plan_subscription_id(upgrade_id: str) -> str:
    """A stable id for the Azure plan subscription an upgrade created."""
    return str(uuid.uuid5(_SUBSCRIPTION_NS, f"{upgrade_id}:plan"))


def _error_details(code: str, message: str, style: str) -> dict[str, str]:
    details = {"code": code}
    if style in ("message", "both"):
        details["message"] = message
    if style in ("description", "both"):
        details["description"] = message
    return details


def _iso(upgrade: Upgrade) -> str | None:
    when = upgrade.completed_at
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def status(upgrade: Upgrade, *, in_progress: str, error_style: str) -> dict[str, Any]:
    """The status object of an upgrade."""
    shown = in_progress if upgrade.status == IN_PROGRESS else upgrade.status
    item: dict[str, Any] = {
        "sourceProduct": {
            "id": legacy_subscription_id(upgrade.customer_id),
            "name": SOURCE_PRODUCT_NAME,
        },
        "status": shown,
    }
    if upgrade.status == COMPLETED:
        item["targetProduct"] = {
            "id": plan_subscription_id(upgrade.id),
            "name": TARGET_PRODUCT_NAME,
        }
        item["upgradedDate"] = _iso(upgrade)
    doc: dict[str, Any] = {
        "id": upgrade.id,
        "productFamily": upgrade.product_family,
        "status": shown,
        "lineItems": [item],
    }
    if upgrade.status == FAILED:
        details = _error_details(
            upgrade.error_code or "800003", upgrade.error_message or "Upgrade failed.", error_style
        )
        item["errorDetails"] = details
        doc["errorDetails"] = details
    return doc


def customer(c: Customer) -> dict[str, Any]:
    """A customer as ``GET /v1/customers`` lists it."""
    slug = "".join(ch for ch in c.name.lower() if ch.isalnum()) or "customer"
    return {
        "id": c.id,
        "companyProfile": {
            "tenantId": c.id,
            "domain": f"{slug}.onmicrosoft.com",
            "companyName": c.name,
        },
        "relationshipToPartner": "reseller",
        "attributes": {"objectType": "Customer"},
    }


def _subscription(sub_id: str, offer_id: str, name: str, state: str) -> dict[str, Any]:
    return {
        "id": sub_id,
        "offerId": offer_id,
        "offerName": name,
        "friendlyName": name,
        "quantity": 1,
        "unitType": "Usage-based",
        "status": state,
        "billingCycle": "monthly",
        "attributes": {"objectType": "Subscription"},
    }


def subscriptions(
    customer_id: str, completed: Upgrade | None, *, legacy: bool = True,
    legacy_after: str = "suspended", plan: bool = True,
) -> list[dict[str, Any]]:
    """The legacy subscription (suspended once upgraded) and, after an upgrade, the plan.

    A customer without legacy Azure has a Microsoft 365 subscription instead, so that "no
    MS-AZR-0145P" is told apart from "no subscriptions" by the offer, as a real client must.
    """
    if not legacy:
        return [_subscription(str(uuid.uuid5(_SUBSCRIPTION_NS, f"{customer_id}:m365")),
                              M365_OFFER_ID, M365_OFFER_NAME, "active")]
    legacy_state = legacy_after if completed else "active"
    items = [] if legacy_state == "hidden" else [
        _subscription(
            legacy_subscription_id(customer_id), LEGACY_OFFER_ID, SOURCE_PRODUCT_NAME, legacy_state
        )
    ]
    if completed is not None and plan:
        items.append(
            _subscription(
                plan_subscription_id(completed.id),
                AZURE_PLAN_OFFER_ID,
                TARGET_PRODUCT_NAME,
                "active",
            )
        )
    return items


def collection(items: list[dict[str, Any]], links: dict[str, Any]) -> dict[str, Any]:
    """A Partner Center resource collection."""
    return {
        "totalCount": len(items),
        "items": items,
        "links": links,
        "attributes": {"objectType": "Collection"},
    }
