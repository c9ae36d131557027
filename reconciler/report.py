"""The migration progress report (journey.md §5): one pure fold from records and plan changes.

Every managed customer (every desired key) stands in exactly one :class:`Standing`. What is
recorded decides, except where the plan knows better: ``blocked`` (eligibility, which only a
refresh reads), ``deferred`` (a manifest's ``notBefore``) and a retry (the last attempt failed,
also when only a refresh saw the upgrade end ``Failed``). :data:`BY_ACTION` is that rule, one
row per plan action; :func:`build` makes the whole report value, which the renderers in
:mod:`reconciler.render.report` only format. No I/O, no clock (``now`` is passed in).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from reconciler.model import Desired, DesiredUpgrade
from reconciler.plan import Change, Plan
from reconciler.state import Record, RecordStatus, State

#: How many in-progress upgrades the report lists, longest-running first.
LONGEST = 10


class Standing(StrEnum):
    """Where one managed customer stands, in report order (the JSON count keys)."""

    VERIFIED = "verified"
    COMPLETED_UNVERIFIED = "completed_unverified"
    IN_PROGRESS = "in_progress"
    PENDING = "pending"
    FAILED = "failed"
    BLOCKED = "blocked"
    DEFERRED = "deferred"
    NOT_STARTED = "not_started"

    @property
    def label(self) -> str:
        """In words, for tables and charts: ``completed, unverified``."""
        return _LABELS[self]


_LABELS = {
    Standing.VERIFIED: "verified", Standing.COMPLETED_UNVERIFIED: "completed, unverified",
    Standing.IN_PROGRESS: "in progress", Standing.PENDING: "pending",
    Standing.FAILED: "failed", Standing.BLOCKED: "blocked", Standing.DEFERRED: "deferred",
    Standing.NOT_STARTED: "not started",
}


class Rule(StrEnum):
    """How a plan action is folded when it does not name a Standing itself."""

    #: What is recorded decides (the plan adds nothing a person needs to see).
    RECORD = "record"
    #: What the refresh saw, as apply would record it (adopt, update), else the record.
    SEEN = "seen"


#: Every plan action (by its value, so an action added to plan.Action fails the test that
#: checks this table covers them all until it has a row here) → its standing or rule.
BY_ACTION: Mapping[str, Standing | Rule] = {
    "create": Rule.RECORD,
    "adopt": Rule.SEEN,
    "resume": Rule.RECORD,
    "retry": Standing.FAILED,
    "update": Rule.SEEN,
    "forget": Rule.RECORD,  # keys in no manifest are not managed: never counted
    "blocked": Standing.BLOCKED,
    "wait": Rule.RECORD,
    "noop": Rule.RECORD,
    "defer": Standing.DEFERRED,
}


def of_record(record: Record | None) -> Standing:
    """What the record alone says."""
    if record is None:
        return Standing.NOT_STARTED
    if record.status is RecordStatus.COMPLETED:
        return Standing.VERIFIED if record.verified else Standing.COMPLETED_UNVERIFIED
    return _BY_STATUS[record.status]


_BY_STATUS = {RecordStatus.PENDING: Standing.PENDING,
              RecordStatus.IN_PROGRESS: Standing.IN_PROGRESS,
              RecordStatus.FAILED: Standing.FAILED}


def standing(record: Record | None, change: Change | None) -> Standing:
    """The one fold: where a managed customer stands, from its record and planned change."""
    rule = BY_ACTION[change.action.value] if change is not None else Rule.RECORD
    if isinstance(rule, Standing):
        return rule
    if rule is Rule.SEEN and change is not None and change.remote_status is not None:
        status = RecordStatus.of(change.remote_status)
        if status is RecordStatus.COMPLETED:
            verified = change.verification is not None and change.verification.verified
            return Standing.VERIFIED if verified else Standing.COMPLETED_UNVERIFIED
        return _BY_STATUS[status]
    return of_record(record)


def counts(standings: Iterable[Standing]) -> dict[str, int]:
    """Count per standing, every key present, in report order."""
    tally = Counter(standings)
    return {s.value: tally.get(s, 0) for s in Standing}


@dataclass(frozen=True, slots=True)
class Wave:
    """One manifest's customers."""

    name: str
    source: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class Day:
    """Upgrades started and completed on one UTC day, from the history."""

    date: str
    started: int
    completed: int


@dataclass(frozen=True, slots=True)
class Problem:
    """A failed or blocked customer, with what support asks for."""

    customer_id: str
    customer_name: str | None
    product_family: str
    wave: str
    reason: str
    correlation_id: str | None


@dataclass(frozen=True, slots=True)
class Running:
    """An in-progress upgrade and how long it has run."""

    customer_id: str
    customer_name: str | None
    product_family: str
    wave: str
    upgrade_id: str | None
    since: str
    hours: float


@dataclass(frozen=True, slots=True)
class Report:
    """Everything the report shows; the renderers only format it."""

    generated_at: str
    refreshed: bool
    summary: dict[str, int]
    waves: tuple[Wave, ...]
    timeline: tuple[Day, ...]
    failed: tuple[Problem, ...]
    blocked: tuple[Problem, ...]
    longest_running: tuple[Running, ...]

    @property
    def total(self) -> int:
        return sum(self.summary.values())


def build(desired: Desired, state: State | None, plan: Plan, history: Iterable[dict[str, Any]],
          *, now: str, correlation_ids: Mapping[str, str] | None = None) -> Report:
    """The report. ``correlation_ids``: per customer, the MS-CorrelationId of the refresh's last
    call for it (what support asks about a blocked customer); the history fills in the rest."""
    changes = {change.key: change for change in plan.changes}
    records = state.records if state is not None else {}
    ids = {**_last_correlation_ids(history_list := list(history)), **(correlation_ids or {})}
    folded = [(upgrade, records.get(upgrade.key), changes.get(upgrade.key))
              for upgrade in desired.upgrades]
    marks = [standing(record, change) for _, record, change in folded]
    return Report(
        generated_at=now, refreshed=plan.refreshed, summary=counts(marks),
        waves=_waves(folded, marks), timeline=timeline(history_list),
        failed=tuple(_failed(u, r, c, ids) for (u, r, c), s in zip(folded, marks, strict=True)
                     if s is Standing.FAILED),
        blocked=tuple(_blocked(u, c, ids) for (u, _, c), s in zip(folded, marks, strict=True)
                      if s is Standing.BLOCKED and c is not None),
        longest_running=_longest([(u, r) for (u, r, _), s in zip(folded, marks, strict=True)
                                  if s is Standing.IN_PROGRESS and r is not None], now),
    )


Folded = tuple[DesiredUpgrade, Record | None, Change | None]


def _waves(folded: list[Folded], marks: list[Standing]) -> tuple[Wave, ...]:
    """Per manifest (name and file), in the order the manifests were loaded."""
    by_wave: dict[tuple[str, str], list[Standing]] = {}
    for (upgrade, _, _), mark in zip(folded, marks, strict=True):
        by_wave.setdefault((upgrade.manifest_name, upgrade.source.path), []).append(mark)
    return tuple(Wave(name, source, counts(found)) for (name, source), found in by_wave.items())


def timeline(history: Iterable[dict[str, Any]]) -> tuple[Day, ...]:
    """Upgrades started (a create accepted) and completed (a record turning ``completed``)
    per UTC day, oldest first."""
    started: Counter[str] = Counter()
    completed: Counter[str] = Counter()
    for entry in history:
        if entry.get("kind") != "transition":
            continue
        day = str(entry.get("time", ""))[:10]
        if entry.get("action") == "started":
            started[day] += 1
        if entry.get("to") == "completed" and entry.get("from") != "completed":
            completed[day] += 1
    return tuple(Day(day, started[day], completed[day]) for day in sorted(started | completed))


def _last_correlation_ids(history: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Per customer, the MS-CorrelationId of its last recorded call."""
    ids: dict[str, str] = {}
    for entry in history:
        if entry.get("kind") == "call" and entry.get("customer_id") and \
                entry.get("correlation_id"):
            ids[str(entry["customer_id"])] = str(entry["correlation_id"])
    return ids


def _failed(upgrade: DesiredUpgrade, record: Record | None, change: Change | None,
            ids: Mapping[str, str]) -> Problem:
    error = record.error if record is not None else None
    reason = error.message if error is not None else change.reason if change else "failed"
    correlation = (error.correlation_id if error is not None else None) or \
        ids.get(upgrade.customer_id)
    return Problem(upgrade.customer_id, _name(upgrade, record), upgrade.product_family,
                   upgrade.manifest_name, reason, correlation)


def _blocked(upgrade: DesiredUpgrade, change: Change, ids: Mapping[str, str]) -> Problem:
    return Problem(upgrade.customer_id, upgrade.customer_name or change.customer_name,
                   upgrade.product_family, upgrade.manifest_name, change.reason,
                   ids.get(upgrade.customer_id))


def _name(upgrade: DesiredUpgrade, record: Record | None) -> str | None:
    return upgrade.customer_name or (record.customer_name if record is not None else None)


def _longest(running: list[tuple[DesiredUpgrade, Record]], now: str) -> tuple[Running, ...]:
    """The LONGEST in-progress upgrades, longest first (ISO stamps sort as times)."""
    since = sorted(((r.in_progress_since or r.updated_at, u, r) for u, r in running),
                   key=lambda item: (item[0], item[1].customer_id))[:LONGEST]
    return tuple(Running(u.customer_id, _name(u, r), u.product_family, u.manifest_name,
                         r.upgrade_id, start, _hours(start, now)) for start, u, r in since)


def _hours(start: str, now: str) -> float:
    try:
        elapsed = _parse(now) - _parse(start)
    except ValueError:
        return 0.0
    return round(max(elapsed.total_seconds(), 0.0) / 3600, 1)


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


__all__ = ["BY_ACTION", "LONGEST", "Day", "Problem", "Report", "Rule", "Running", "Standing",
           "Wave", "build", "counts", "of_record", "standing", "timeline"]
