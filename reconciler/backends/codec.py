"""The stored form of records: stable snake_case field names, shared by every state format.

The snapshot file, the state journal and ``state list --format json`` all write records as these
dicts. Decoding checks every field's type unless the bytes were already verified by a checksum
(``trusted``), since a state can hold 100,000 records.
"""

from __future__ import annotations

from typing import Any

from reconciler.errors import StateError
from reconciler.model import UpgradeKey
from reconciler.state import (
    FORMAT_VERSION,
    ErrorDetail,
    LineItem,
    Record,
    RecordStatus,
    Verification,
)

_LINE_ITEM_FIELDS = (
    "source_product_id",
    "source_product_name",
    "target_product_id",
    "target_product_name",
    "upgraded_date",
    "status",
    "error_code",
    "error_message",
)


def record_to_dict(record: Record) -> dict[str, Any]:
    """The JSON-ready dict of a record; field names are part of the state format."""
    error = record.error
    return {
        "attempts": record.attempts,
        "created_at": record.created_at,
        "customer_id": record.key.customer_id,
        "customer_name": record.customer_name,
        "error": None
        if error is None
        else {"code": error.code, "correlation_id": error.correlation_id, "message": error.message},
        "in_progress_since": record.in_progress_since,
        "line_items": line_items_to_list(record.line_items),
        "product_family": record.key.product_family,
        "remote_status": record.remote_status,
        "request_id": record.request_id,
        "source": record.source,
        "status": record.status.value,
        "updated_at": record.updated_at,
        "upgrade_id": record.upgrade_id,
        "verification": verification_to_dict(record.verification),
    }


def line_items_to_list(items: tuple[LineItem, ...]) -> list[dict[str, Any]]:
    """Line items as stored (and as a saved plan carries them)."""
    return [{f: getattr(li, f) for f in _LINE_ITEM_FIELDS} for li in items]


def line_items_from_list(data: object) -> tuple[LineItem, ...]:
    """Parse stored line items; raises on anything malformed."""
    if not isinstance(data, list):
        raise TypeError(f"expected a list, got {type(data).__name__}")
    return tuple(_line_item(li) for li in data)


def verification_to_dict(found: Verification | None) -> dict[str, Any] | None:
    """A verification as stored (and as a saved plan carries it)."""
    if found is None:
        return None
    return {
        "azure_plan_subscription_id": found.azure_plan_subscription_id,
        "checked_at": found.checked_at,
        "detail": found.detail,
        "legacy_active": list(found.legacy_active),
        "legacy_suspended": list(found.legacy_suspended),
        "verified": found.verified,
    }


def record_from_dict(data: object, *, trusted: bool = False) -> Record:
    """Parse a record dict; raises ValueError/TypeError/KeyError on anything malformed.

    Callers wrap those into a StateError that names the file. No jsonschema here: a state can
    hold 100,000 records. ``trusted`` (bytes whose checksum we verified, written by us) skips
    the per-field type checks, which cost more than building the record.
    """
    if trusted and isinstance(data, dict):
        return _trusted_record(data)
    d = _as_dict(data)
    error = d["error"]
    return Record(
        key=UpgradeKey(_str(d["customer_id"]), _str(d["product_family"])),
        status=RecordStatus(d["status"]),
        request_id=_opt(d["request_id"]),
        upgrade_id=_opt(d["upgrade_id"]),
        remote_status=_opt(d["remote_status"]),
        source=_opt(d["source"]),
        customer_name=_opt(d["customer_name"]),
        created_at=_str(d["created_at"]),
        updated_at=_str(d["updated_at"]),
        line_items=line_items_from_list(d["line_items"]),
        error=None if error is None else _error(error),
        attempts=_int(d["attempts"]),
        in_progress_since=_opt(d["in_progress_since"]),
        verification=verification_from_dict(d.get("verification")),  # absent in format 1
    )


def _trusted_record(d: dict[str, Any]) -> Record:
    # Positional arguments and plain lookups: this runs once per record of a large state.
    error = d["error"]
    return Record(
        UpgradeKey(d["customer_id"], d["product_family"]),
        _STATUSES[d["status"]],
        d["request_id"],
        d["upgrade_id"],
        d["remote_status"],
        d["source"],
        d["customer_name"],
        d["created_at"],
        d["updated_at"],
        tuple(
            LineItem(
                li["source_product_id"],
                li["source_product_name"],
                li["target_product_id"],
                li["target_product_name"],
                li["upgraded_date"],
                li["status"],
                li["error_code"],
                li["error_message"],
            )
            for li in d["line_items"]
        ),
        None
        if error is None
        else ErrorDetail(error["code"], error["message"], error["correlation_id"]),
        d["attempts"],
        d["in_progress_since"],
        _trusted_verification(d.get("verification")),
    )


def _trusted_verification(v: dict[str, Any] | None) -> Verification | None:
    if v is None:
        return None
    return Verification(v["verified"], v["checked_at"], v["detail"],
                        v["azure_plan_subscription_id"], tuple(v["legacy_active"]),
                        tuple(v["legacy_suspended"]))


_STATUSES = {status.value: status for status in RecordStatus}


def key_to_dict(key: UpgradeKey) -> dict[str, str]:
    """The dict form of a key, as used by journal removals."""
    return {"customer_id": key.customer_id, "product_family": key.product_family}


def key_from_dict(data: object) -> UpgradeKey:
    """Parse a key dict; raises ValueError/TypeError/KeyError when malformed."""
    d = _as_dict(data)
    return UpgradeKey(_str(d["customer_id"]), _str(d["product_family"]))


def _line_item(data: object) -> LineItem:
    d = _as_dict(data)
    return LineItem(*(_opt(d[f]) for f in _LINE_ITEM_FIELDS))


def verification_from_dict(data: object) -> Verification | None:
    """Parse a stored verification (None stays None); raises on anything malformed."""
    if data is None:
        return None
    d = _as_dict(data)
    if not isinstance(d["verified"], bool):
        raise TypeError(f"expected true or false, got {d['verified']!r}")
    return Verification(d["verified"], _str(d["checked_at"]), _str(d["detail"]),
                        _opt(d["azure_plan_subscription_id"]),
                        tuple(_str(s) for s in d["legacy_active"]),
                        tuple(_str(s) for s in d["legacy_suspended"]))


def _error(data: object) -> ErrorDetail:
    d = _as_dict(data)
    return ErrorDetail(_opt(d["code"]), _str(d["message"]), _opt(d["correlation_id"]))


def _as_dict(data: object) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise TypeError(f"expected an object, got {type(data).__name__}")
    return data


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _opt(value: object) -> str | None:
    return None if value is None else _str(value)


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError(f"expected a non-negative integer, got {value!r}")
    return value


def check_format_version(version: object, origin: str) -> int:
    """The format number of a ``format_version``; a newer one gets a message telling the user
    to upgrade.

    The format is written as a string (``"1"``, like plan and drift documents); the integer
    that earlier versions wrote is read as the same format. Checksums cover the bytes as
    written, so an old file still verifies.
    """
    number = _format_number(version)
    if number is None:
        raise StateError(f"The state in {origin} has an invalid format_version {version!r}.")
    if number > int(FORMAT_VERSION):
        raise StateError(
            f"The state in {origin} was written by a newer version of reconciler "
            f"(format {number}); this version reads format {FORMAT_VERSION} at most. "
            "Upgrade reconciler to use this state.",
            hint="upgrade reconciler",
        )
    return number


def _format_number(version: object) -> int | None:
    if isinstance(version, str) and version.isascii() and version.isdigit() \
            and not version.startswith("0"):
        return int(version)
    if isinstance(version, int) and not isinstance(version, bool) and version >= 1:
        return version
    return None


