"""What ``discover`` found, as values: each customer's class, and the manifests to write.

Pure functions over what Partner Center answered (:class:`Observation`): :func:`classify` gives
each customer exactly one class (journey.md §2, checked in the table's order), and
:func:`new_manifests` turns the candidates no manifest lists yet into reviewable files. The
reads themselves are in :mod:`reconciler.workflow.discovering`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import yaml

from reconciler.partnercenter import Eligibility, Subscription
from reconciler.words import plural

__all__ = [
    "Class",
    "Discovery",
    "Found",
    "NewManifest",
    "Observation",
    "Unread",
    "classify",
    "new_manifests",
    "next_number",
]

#: The manifest schema's limit on a customer's ``name``.
MAX_NAME_LENGTH = 256
#: A generated file's stem is its ``metadata.name``: the prefix, a dash and three digits or more.
PREFIX_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,50}[a-z0-9])?")


class Class(enum.Enum):
    """A customer's place in the migration, in the order the classes are checked."""

    UPGRADED = "upgraded"
    IN_PROGRESS = "in_progress"
    BLOCKED = "blocked"
    LEGACY = "legacy"
    NONE = "none"

    @property
    def words(self) -> str:
        """How the summary line counts it (``12 in progress``, ``21 without legacy Azure``)."""
        return _WORDS[self]


_WORDS = {
    Class.UPGRADED: "upgraded",
    Class.IN_PROGRESS: "in progress",
    Class.BLOCKED: "blocked",
    Class.LEGACY: "legacy",
    Class.NONE: "without legacy Azure",
}


@dataclass(frozen=True, slots=True)
class Observation:
    """What Partner Center showed of one customer: the list entry, subscriptions, eligibility
    (``None`` when it was not asked: the customer has no MS-AZR-0145P subscription)."""

    customer_id: str
    name: str | None
    domain: str | None
    subscriptions: tuple[Subscription, ...]
    eligibility: Eligibility | None


@dataclass(frozen=True, slots=True)
class Found:
    """One classified customer; ``source`` (``file:line``) when a manifest lists it."""

    customer_id: str
    name: str | None
    domain: str | None
    cls: Class
    reason: str | None
    upgrade_id: str | None
    legacy_subscriptions: tuple[str, ...]
    source: str | None = None

    @property
    def managed(self) -> bool:
        return self.source is not None

    @property
    def is_candidate(self) -> bool:
        """A legacy customer no manifest lists yet: what ``--write`` adds."""
        return self.cls is Class.LEGACY and not self.managed


@dataclass(frozen=True, slots=True)
class Unread:
    """A customer whose reads failed after retries: reported, never dropped."""

    customer_id: str
    name: str | None
    error: str
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Discovery:
    """Every customer of the partner, classified and sorted by id, and those that were not read."""

    customers: tuple[Found, ...]
    unread: tuple[Unread, ...] = ()

    def count(self, cls: Class) -> int:
        return sum(1 for c in self.customers if c.cls is cls)

    @property
    def candidates(self) -> tuple[Found, ...]:
        return tuple(c for c in self.customers if c.is_candidate)

    def summary(self) -> dict[str, int]:
        """The JSON ``summary``: a count per class and the legacy customers in no manifest."""
        counts = {cls.value: self.count(cls) for cls in Class}
        return counts | {"unmanaged_legacy": len(self.candidates), "unread": len(self.unread)}


def observe(customer_id: str, name: str | None, domain: str | None,
            subscriptions: Iterable[Subscription],
            eligibility: Eligibility | None) -> Observation:
    """An :class:`Observation` with the id in canonical (lower) case."""
    return Observation(customer_id.lower(), name, domain, tuple(subscriptions), eligibility)


def needs_eligibility(subscriptions: Iterable[Subscription]) -> bool:
    """Eligibility is asked only of customers with an MS-AZR-0145P subscription (any status)."""
    return any(s.is_legacy for s in subscriptions)


def classify(seen: Observation, sources: Mapping[str, str]) -> Found:
    """The customer's one class, with the reason, the upgrade id and where a manifest lists it."""
    legacy = tuple(s for s in seen.subscriptions if s.is_legacy)
    legacy_active = any(s.is_active for s in legacy)
    plans = [s for s in seen.subscriptions if s.is_azure_plan and s.is_active]
    answer = seen.eligibility
    upgrade_id = answer.upgrade_id.lower() if answer and answer.upgrade_id else None
    cls, reason = _class_of(legacy, legacy_active, plans, answer, upgrade_id)
    return Found(seen.customer_id, seen.name, seen.domain, cls, reason, upgrade_id,
                 tuple(s.id for s in legacy), sources.get(seen.customer_id))


def _class_of(legacy: tuple[Subscription, ...], legacy_active: bool, plans: list[Subscription],
              answer: Eligibility | None, upgrade_id: str | None) -> tuple[Class, str | None]:
    if plans and not legacy_active:
        return Class.UPGRADED, f"Azure plan {plans[0].id} active"
    if upgrade_id is not None:
        return Class.IN_PROGRESS, answer.reason if answer else None
    if legacy and answer is not None and not answer.is_eligible:
        return Class.BLOCKED, _refusal(answer)
    if legacy_active and answer is not None:
        return Class.LEGACY, None
    if legacy:
        # Eligible, yet every legacy subscription is suspended: Partner Center would refuse the
        # create (900105), so this is blocked, not a candidate.
        return Class.BLOCKED, "every MS-AZR-0145P subscription is suspended"
    return Class.NONE, None


def _refusal(answer: Eligibility) -> str:
    reason = answer.reason or "not eligible"
    return f"{reason} (code {answer.error_code})" if answer.error_code else reason


@dataclass(frozen=True, slots=True)
class NewManifest:
    """A manifest file ``discover --write`` will create: its file name, text and customers."""

    filename: str
    name: str
    text: str
    customers: tuple[Found, ...]


def next_number(existing: Collection[str], prefix: str) -> int:
    """The first number after the highest ``<prefix>-NNN`` among existing file or manifest
    names (001 when there is none), so a second run continues the series."""
    pattern = re.compile(rf"{re.escape(prefix)}-(\d{{3,}})(?:\.ya?ml)?")
    numbers = [int(m.group(1)) for name in existing if (m := pattern.fullmatch(name))]
    return max(numbers, default=0) + 1


def new_manifests(candidates: Iterable[Found], *, existing: Collection[str], prefix: str,
                  wave_size: int, product_family: str, generated: datetime,
                  command: str) -> list[NewManifest]:
    """The candidates in files of at most ``wave_size``, sorted by name then id, numbered after
    ``existing`` names; empty when there is nothing new."""
    ordered = sorted(candidates, key=lambda c: ((c.name or "").casefold(), c.name or "",
                                                c.customer_id))
    chunks = [tuple(ordered[i:i + wave_size]) for i in range(0, len(ordered), wave_size)]
    first = next_number(existing, prefix)
    made: list[NewManifest] = []
    for index, chunk in enumerate(chunks):
        name = f"{prefix}-{first + index:03d}"
        header = _header(command, generated, len(chunk), index + 1, len(chunks))
        body = _document(name, chunk, product_family, generated)
        made.append(NewManifest(f"{name}.yaml", name, header + body, chunk))
    return made


def _header(command: str, generated: datetime, count: int, number: int, files: int) -> str:
    stamp = generated.strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"# Generated by `{command}` on {stamp}\n"
        f"# (file {number} of {files} that run wrote): {plural(count, 'customer')} with an "
        "active\n"
        "# MS-AZR-0145P subscription, eligible for the Azure plan and in no manifest then.\n"
        "# Names are Partner Center's company names. Review the list; `reconciler plan`\n"
        "# then shows one create for each customer.\n"
    )


class _Dumper(yaml.SafeDumper):
    """Indents list items under their key, as the hand-written manifests do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _document(name: str, customers: tuple[Found, ...], product_family: str,
              generated: datetime) -> str:
    doc = {
        "apiVersion": "reconciler/v1",
        "kind": "ProductUpgrades",
        "metadata": {"name": name, "labels": {"discovered": generated.strftime("%Y-%m-%d")}},
        "spec": {"productFamily": product_family,
                 "customers": [_entry(c) for c in customers]},
    }
    # safe_dump quotes and escapes whatever a company name holds (quotes, colons, newlines,
    # control characters), so the file always parses back to the same name.
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=4096,
                     default_flow_style=False)


def _entry(found: Found) -> dict[str, str]:
    entry = {"id": found.customer_id}
    if found.name:
        name = found.name
        entry["name"] = name if len(name) <= MAX_NAME_LENGTH else name[:MAX_NAME_LENGTH - 1] + "…"
    return entry
