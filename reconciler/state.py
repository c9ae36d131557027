"""Recorded state: the tool's memory of every upgrade it started or adopted.

A :class:`State` is an immutable value: a ``lineage`` (a uuid fixed when the state is created, so
a saved plan or a journal can tell which state it belongs to), a ``serial`` that goes up by one on
every change, and one :class:`Record` per (customer, family). "Modify" returns a new State.

Values only, and no I/O: the stored (dict) form of records is :mod:`reconciler.backends.codec`,
beside the snapshot and journal formats that use it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from reconciler.model import UpgradeKey, canonical_id

#: The newest snapshot/journal format this version reads and the one it writes: a string, as in
#: plan and drift documents (earlier versions wrote the integer 1, which is still read). Format
#: 2 added ``verification`` to records; format 1 files load as records never verified.
FORMAT_VERSION = "2"


class RecordStatus(StrEnum):
    """Where a recorded upgrade stands, as far as this tool knows."""

    #: Intent recorded (the MS-RequestId is persisted) but the outcome of the call is unknown.
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def label(self) -> str:
        """The status in words, for sentences (``in progress``, not ``in_progress``)."""
        return self.value.replace("_", " ")

    @staticmethod
    def of(remote_status: str | None) -> RecordStatus:
        """The one fold of Partner Center's open, case-insensitive status string.

        ``Completed`` and ``Failed`` are terminal; every other spelling (the in-flight ones are
        undocumented) is an upgrade in progress.
        """
        return _TERMINAL.get((remote_status or "").casefold(), RecordStatus.IN_PROGRESS)


_TERMINAL = {"completed": RecordStatus.COMPLETED, "failed": RecordStatus.FAILED}


@dataclass(frozen=True, slots=True)
class LineItem:
    """One subscription's outcome inside an upgrade, as Partner Center reported it."""

    source_product_id: str | None
    source_product_name: str | None
    target_product_id: str | None
    target_product_name: str | None
    upgraded_date: str | None = None
    status: str | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """Why an upgrade (or the call that started it) failed."""

    code: str | None
    message: str
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Verification:
    """What the customer's subscriptions showed once the upgrade read ``Completed``.

    ``verified``: an Azure plan subscription is active and no MS-AZR-0145P subscription is.
    ``detail`` says so in words (``Azure plan <id> active, 1 legacy subscription suspended`` or
    what is wrong: ``legacy subscription <id> still active``, ``no Azure plan subscription``).
    """

    verified: bool
    checked_at: str
    detail: str
    azure_plan_subscription_id: str | None = None
    legacy_active: tuple[str, ...] = ()
    legacy_suspended: tuple[str, ...] = ()

    def same_verdict(self, other: Verification | None) -> bool:
        """Whether ``other`` says the same (the time it was checked aside)."""
        return other is not None and (self.verified, self.detail) == (other.verified,
                                                                      other.detail)

    def describe(self) -> str:
        """``verified: …`` or ``unverified: …``, for plan reasons and ``state show``."""
        return f"{'verified' if self.verified else 'unverified'}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Record:
    """Everything recorded about one (customer, family) upgrade."""

    key: UpgradeKey
    status: RecordStatus
    request_id: str | None
    upgrade_id: str | None
    remote_status: str | None
    source: str | None
    customer_name: str | None
    created_at: str
    updated_at: str
    line_items: tuple[LineItem, ...] = ()
    error: ErrorDetail | None = None
    attempts: int = 0
    in_progress_since: str | None = None
    #: Set once the upgrade completed and the subscriptions were read (None: not yet checked).
    verification: Verification | None = None

    @property
    def verified(self) -> bool:
        return self.verification is not None and self.verification.verified


class RecordSource(Protocol):
    """Where a RecordMap's undecoded records live (a snapshot's bytes); tokens locate them."""

    def decode(self, key: UpgradeKey, token: int) -> Record:
        """The record ``token`` locates; raises StateError when it is unreadable."""
        ...

    def encoded(self, token: int) -> bytes:
        """The record's JSON bytes exactly as stored."""
        ...


class RecordMap(Mapping[UpgradeKey, Record]):
    """An immutable mapping of records, some of which may not be decoded yet.

    Reading a 100,000-record snapshot must take well under a second, and decoding every record
    up front costs several. So a snapshot read only indexes where each record is (its
    checksum was verified, so the bytes are sound) and decodes a record on first access;
    writing a snapshot copies the bytes of records nobody touched. Decoding only memoises: the
    mapping never changes what it maps, and "modify" methods return a new map.
    """

    __slots__ = ("_items", "_source")

    def __init__(
        self,
        items: dict[UpgradeKey, Record | int] | None = None,
        source: RecordSource | None = None,
    ) -> None:
        self._items: dict[UpgradeKey, Record | int] = {} if items is None else items
        self._source = source

    def __getitem__(self, key: UpgradeKey) -> Record:
        item = self._items[key]
        if isinstance(item, Record):
            return item
        if self._source is None:
            raise TypeError("an undecoded record without its source")
        record = self._source.decode(key, item)
        self._items[key] = record  # memoise: an equal value, so the mapping is unchanged
        return record

    def __iter__(self) -> Iterator[UpgradeKey]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __repr__(self) -> str:
        return f"RecordMap({len(self._items)} records)"

    def encoded(self, key: UpgradeKey) -> bytes | None:
        """The record's stored JSON bytes if it was never decoded, else None."""
        item = self._items[key]
        if isinstance(item, Record) or self._source is None:
            return None
        return self._source.encoded(item)

    def replaced(self, changes: Iterable[tuple[UpgradeKey, Record | None]]) -> RecordMap:
        """A new map with each (key, record) set, or removed when record is None."""
        items = dict(self._items)  # copies references only: nothing is decoded
        for key, record in changes:
            if record is None:
                items.pop(key, None)
            else:
                items[key] = record
        return RecordMap(items, self._source)


def as_record_map(records: Mapping[UpgradeKey, Record]) -> RecordMap:
    """``records`` as a RecordMap (itself when it already is one)."""
    return records if isinstance(records, RecordMap) else RecordMap(dict(records))


@dataclass(frozen=True, slots=True)
class State:
    """An immutable snapshot of recorded state; every "modify" returns a new State."""

    lineage: str
    serial: int
    records: Mapping[UpgradeKey, Record] = field(default_factory=RecordMap)
    format_version: str = FORMAT_VERSION

    @staticmethod
    def new() -> State:
        """A fresh, empty state with a new lineage and serial 0."""
        return State(lineage=str(uuid.uuid4()), serial=0)

    @staticmethod
    def of(lineage: str, serial: int, records: Iterable[Record]) -> State:
        """Build a state from records (the mapping is built once and never mutated)."""
        items: dict[UpgradeKey, Record | int] = {r.key: r for r in records}
        return State(lineage, serial, RecordMap(items))

    def get(self, key: UpgradeKey) -> Record | None:
        """The record for ``key``, or None."""
        return self.records.get(key)

    def with_record(self, record: Record) -> State:
        """A new state with ``record`` added or replaced, serial + 1."""
        records = as_record_map(self.records).replaced([(record.key, record)])
        return State(self.lineage, self.serial + 1, records, self.format_version)

    def without(self, *keys: UpgradeKey) -> State:
        """A new state that no longer tracks ``keys`` (serial + 1 per key, as if each were
        removed in turn); the upgrades themselves stay."""
        records = as_record_map(self.records).replaced((key, None) for key in keys)
        return State(self.lineage, self.serial + len(keys), records, self.format_version)

    def replaced_by(self, other: State) -> State:
        """``other``'s records as the next serial of this lineage (``state push --force``), so
        plans saved before are refused as stale."""
        return State(self.lineage, self.serial + 1, other.records, self.format_version)

    def by_customer(self, customer_id: str) -> list[Record]:
        """Every record of one customer (any family), sorted by family."""
        wanted = canonical_id(customer_id)
        keys = sorted(k for k in self.records if k.customer_id == wanted)
        return [self.records[k] for k in keys]

    def sorted_keys(self) -> list[UpgradeKey]:
        """Keys in order (customer id, family); sorts on tuples, which is fast."""
        return sorted(self.records, key=lambda k: (k.customer_id, k.product_family))

    def sorted_records(self) -> Iterator[Record]:
        """Records in key order (customer id, family)."""
        for key in self.sorted_keys():
            yield self.records[key]

    def __len__(self) -> int:
        return len(self.records)


def utc_now() -> str:
    """The current time as ISO-8601 UTC with a ``Z`` suffix, to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class StateChange:
    """One recorded change, as journalled: ``record`` put at ``key``, or ``key`` removed.

    ``serial`` is the state's serial *after* the change, so changes replay in a strict order and
    a journal can tell which of its changes a snapshot already holds.
    """

    serial: int
    key: UpgradeKey
    record: Record | None

    @staticmethod
    def put(serial: int, record: Record) -> StateChange:
        """The change that adds or replaces ``record``."""
        return StateChange(serial, record.key, record)

    @staticmethod
    def remove(serial: int, key: UpgradeKey) -> StateChange:
        """The change that stops tracking ``key``."""
        return StateChange(serial, key, None)


def fold(state: State, changes: Iterable[StateChange]) -> State:
    """Apply journalled changes to a snapshot, skipping those it already holds.

    Changes must continue the snapshot's serial without a gap; a gap means a change was lost,
    which must never be papered over.
    """
    pending: list[tuple[UpgradeKey, Record | None]] = []
    serial = state.serial
    for change in changes:
        if change.serial <= state.serial:
            continue  # folded into the snapshot already (crash between snapshot and truncate)
        if change.serial != serial + 1:
            raise ValueError(f"change serial {change.serial} does not follow serial {serial}")
        pending.append((change.key, change.record))
        serial = change.serial
    if not pending:
        return state
    records = as_record_map(state.records).replaced(pending)
    return State(state.lineage, serial, records, state.format_version)
