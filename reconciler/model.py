"""Frozen value types shared by every step of the flow.

An :class:`UpgradeKey` identifies one managed thing: a customer that must be on a product family.
Keys order by (customer id, family) so that every listing built from them is deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from reconciler.errors import UsageError

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def canonical_id(customer_id: str) -> str:
    """A customer (tenant) id in its canonical form: GUIDs compare case-insensitively."""
    return customer_id.lower()


def is_guid(text: str) -> bool:
    """Whether the whole of ``text`` is a GUID (any case; a trailing newline is not allowed)."""
    return _GUID.fullmatch(text) is not None


def parse_customer_id(text: str, what: str = "customer id") -> str:
    """``text`` as a canonical customer id; UsageError unless the whole of it is a GUID."""
    if not is_guid(text):
        shown = text if len(text) <= 40 else text[:39] + "…"
        raise UsageError(f"{what[0].upper()}{what[1:]} {shown!r} is not a customer id: expected "
                         "a GUID such as 4c721420-72ad-4708-a0a7-371a2f7b0969.")
    return canonical_id(text)


def canonical_family(family: str, allowed: Iterable[str]) -> str | None:
    """``family`` spelt as the allowed family it names (case-insensitive), or None."""
    folded = family.casefold()
    return next((name for name in allowed if name.casefold() == folded), None)


@dataclass(frozen=True, slots=True, order=True)
class UpgradeKey:
    """One (customer, product family) pair; customer id lower-case, family canonical.

    Build keys from user input with :meth:`of`; the plain constructor is for values already
    canonical (decoded state, plan files), where re-canonicalising 100,000 keys would show.
    """

    customer_id: str
    product_family: str

    @staticmethod
    def of(customer_id: str, product_family: str) -> UpgradeKey:
        """The key of a customer id as written anywhere (any case) and a canonical family."""
        return UpgradeKey(canonical_id(customer_id), product_family)

    def __str__(self) -> str:
        return f"{self.customer_id}/{self.product_family}"


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where something was declared: a manifest path and 1-based line and column."""

    path: str
    line: int
    column: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class DesiredUpgrade:
    """A customer that a manifest says must be on a product family."""

    key: UpgradeKey
    source: SourceLocation
    manifest_name: str
    customer_name: str | None = None
    labels: tuple[tuple[str, str], ...] = field(default=())
    #: ``spec.notBefore`` in UTC (``2027-01-04T00:00:00Z``): until then the customer defers.
    not_before: str | None = None

    @property
    def customer_id(self) -> str:
        return self.key.customer_id

    @property
    def product_family(self) -> str:
        return self.key.product_family


@dataclass(frozen=True, slots=True)
class Desired:
    """Everything the manifests ask for, keyed and ordered, plus a digest of it.

    ``digest`` (``sha256:<hex>``, see :func:`reconciler.manifest.digest_of`) covers what a plan
    depends on (ids, families, which manifest lists each customer), so a saved plan can tell
    when the manifests it was made from changed in a way that matters.
    """

    upgrades: tuple[DesiredUpgrade, ...]
    digest: str
    files: tuple[str, ...] = field(default=())

    def by_key(self) -> dict[UpgradeKey, DesiredUpgrade]:
        return {u.key: u for u in self.upgrades}
