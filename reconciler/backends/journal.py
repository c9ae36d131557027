"""The journal: one JSON line per state change, each with a CRC so damage is never replayed.

A line is ``{"format_version":"1","key":{...},"lineage":"...","op":"put","record":{...},
"serial":N,"crc32":"xxxxxxxx"}`` followed by a newline. The CRC covers the line without its
``crc32`` member. A last line without its newline whose CRC checks is a whole change (only the
newline was lost, e.g. the file was copied or edited by hand) and is kept: dropping it would
let the next change reuse its serial for a different state. A last line without a newline whose
CRC does not check was torn by a crash mid-write and was never acknowledged: it is ignored.
Anything else that does not check out is damage, and the journal is refused rather than
silently skipped.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass

from reconciler.backends.codec import (
    check_format_version,
    key_from_dict,
    key_to_dict,
    record_from_dict,
    record_to_dict,
)
from reconciler.errors import StateError
from reconciler.state import FORMAT_VERSION, State, StateChange, fold

_CRC_TAIL_LEN = len(',"crc32":"00000000"}')


class JournalDamage(ValueError):
    """A complete journal line is not a valid change (line number in ``line``)."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line


@dataclass(frozen=True, slots=True)
class JournalContents:
    """What a journal holds: its changes, their lineage, and how many bytes are sound."""

    lineage: str | None
    changes: tuple[StateChange, ...]
    valid_length: int
    torn_tail: int
    #: The sound part ends in a whole entry without its newline: write one before appending.
    unterminated: bool = False


def encode(lineage: str, change: StateChange) -> bytes:
    """One journal line (with its newline) for ``change``."""
    body: dict[str, object] = {
        "format_version": FORMAT_VERSION,
        "key": key_to_dict(change.key),
        "lineage": lineage,
        "op": "remove" if change.record is None else "put",
        "serial": change.serial,
    }
    if change.record is not None:
        body["record"] = record_to_dict(change.record)
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    raw = text.encode("utf-8")
    crc = zlib.crc32(raw)
    return raw[:-1] + f',"crc32":"{crc:08x}"}}\n'.encode("ascii")


def decode_line(raw: bytes, number: int) -> tuple[str, StateChange]:
    """Parse one complete line (without its newline) into (lineage, change)."""
    if len(raw) <= _CRC_TAIL_LEN or not raw.startswith(b"{") or not raw.endswith(b'"}'):
        raise JournalDamage(number, "not a journal entry")
    tail = raw[-_CRC_TAIL_LEN:]
    body = raw[:-_CRC_TAIL_LEN] + b"}"
    if not tail.startswith(b',"crc32":"'):
        raise JournalDamage(number, "no checksum")
    try:
        expected = int(tail[10:18], 16)
    except ValueError:
        raise JournalDamage(number, "unreadable checksum") from None
    if zlib.crc32(body) != expected:
        raise JournalDamage(number, "checksum mismatch")
    try:
        return _parse(json.loads(body))
    except (ValueError, TypeError, KeyError) as exc:
        raise JournalDamage(number, f"invalid entry ({exc})") from None


def _parse(data: dict[str, object]) -> tuple[str, StateChange]:
    check_format_version(data["format_version"], "the journal")
    lineage, serial, op = data["lineage"], data["serial"], data["op"]
    if not isinstance(lineage, str) or not isinstance(serial, int) or isinstance(serial, bool):
        raise TypeError("bad lineage or serial")
    key = key_from_dict(data["key"])
    if op == "remove":
        return lineage, StateChange.remove(serial, key)
    if op != "put":
        raise ValueError(f"unknown op {op!r}")
    record = record_from_dict(data["record"], trusted=True)
    if record.key != key:
        raise ValueError("record key differs from entry key")
    return lineage, StateChange.put(serial, record)


def decode(data: bytes) -> JournalContents:
    """Parse a whole journal; raises JournalDamage for any damaged complete line."""
    lines = data.split(b"\n")
    torn = lines.pop()  # b"" when the journal ends with a newline, as it should
    unterminated = bool(torn) and _is_whole_entry(torn, len(lines) + 1)
    if unterminated:
        lines.append(torn)
    lineage: str | None = None
    changes: list[StateChange] = []
    for number, raw in enumerate(lines, start=1):
        line_lineage, change = decode_line(raw, number)
        if lineage is None:
            lineage = line_lineage
        elif line_lineage != lineage:
            raise JournalDamage(number, "entry from a different state (lineage differs)")
        changes.append(change)
    if unterminated:
        return JournalContents(lineage, tuple(changes), len(data), 0, unterminated=True)
    return JournalContents(lineage, tuple(changes), len(data) - len(torn), len(torn))


def _is_whole_entry(raw: bytes, number: int) -> bool:
    """Whether a last line without its newline is a complete entry whose CRC checks."""
    try:
        decode_line(raw, number)
    except JournalDamage:
        return False
    return True


def fold_into(base: State | None, contents: JournalContents, journal_name: str,
              snapshot_name: str) -> State | None:
    """The snapshot with the journal's changes applied (None when both are empty).

    Shared by every backend: a journal from another lineage, or one whose serials do not follow
    the snapshot's, is refused rather than guessed at.
    """
    if base is None and not contents.changes:
        return None
    if base is None:
        assert contents.lineage is not None
        base = State(contents.lineage, 0)
    elif contents.lineage not in (None, base.lineage):
        raise StateError(
            f"The journal {journal_name} belongs to a different state (lineage "
            f"{contents.lineage}, the snapshot's is {base.lineage}). Move it aside if "
            f"{snapshot_name} holds the state you want."
        )
    try:
        return fold(base, contents.changes)
    except ValueError as exc:
        raise StateError(
            f"The journal {journal_name} cannot be applied to {snapshot_name}: {exc}; "
            "a change is missing."
        ) from None
