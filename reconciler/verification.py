"""The end state in the subscriptions: is a completed upgrade really on the Azure plan? Pure.

Partner Center answering ``Completed`` is not yet proof (journey.md §3): the legacy
MS-AZR-0145P subscription must be suspended and an Azure plan subscription active. A listing
that no longer shows the legacy subscription (after the move it may list only the Azure plan,
with the moved subscriptions under its ``azureEntitlements``) counts as not active.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.partnercenter import Subscription
from reconciler.state import Verification


def verdict(subscriptions: Iterable[Subscription], checked_at: str) -> Verification:
    """What the customer's subscriptions say about its upgrade."""
    listed = tuple(subscriptions)
    legacy = [s for s in listed if s.is_legacy]
    active = tuple(s.id for s in legacy if s.is_active)
    suspended = tuple(s.id for s in legacy if not s.is_active)
    plan = next((s.id for s in listed if s.is_azure_plan and s.is_active), None)
    problems = [f"legacy subscription {sid} still active" for sid in active]
    if plan is None:
        problems.append("no Azure plan subscription")
    if problems:
        detail = "; ".join(problems)
    else:
        count = len(suspended)
        detail = f"Azure plan {plan} active, {count} legacy subscription" \
                 f"{'' if count == 1 else 's'} suspended"
    return Verification(not problems, checked_at, detail, plan, active, suspended)


__all__ = ["verdict"]
