"""The snapshot file format: sorted, deterministic JSON, one record per line, with a checksum.

Layout (``records`` maps ``customer_id/product_family`` to the record)::

    {
      "checksum": "crc32:1a2b3c4d",
      "format_version": "1",
      "lineage": "…",
      "records": {
        "<customer>/Azure": {"attempts": 1, …},
        …
      },
      "serial": 7
    }

The checksum is the CRC-32 of the file's bytes with the checksum's own digits replaced by zeros,
so a damaged or truncated byte is detected (this guards against damage, not tampering). A file in
exactly this layout with a valid checksum is indexed line by line and its records are decoded
lazily (see :class:`reconciler.state.RecordMap`), which keeps reading 100,000 records well under a
second. Anything else (a file edited by hand, without its checksum) is parsed and checked in full.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

from reconciler.backends.codec import check_format_version, record_from_dict, record_to_dict
from reconciler.errors import StateError
from reconciler.model import UpgradeKey
from reconciler.state import FORMAT_VERSION, Record, RecordMap, State

_CHECKSUM = re.compile(rb'\A\{\s*"checksum"\s*:\s*"crc32:([0-9a-f]{8})"')
_ZEROS = b"00000000"
_DECODER = json.JSONDecoder()  # skips json.loads' per-call encoding detection
_MEMBERS = frozenset({"checksum", "format_version", "lineage", "records", "serial"})
# The start of a record line: 4 spaces, "customer/family": and the record's opening brace.
_RECORD_KEY = re.compile(rb'\n    "([^"\\/\n]+)/([^"\\/\n]+)": (?=\{)')


class SnapshotDamage(ValueError):
    """The bytes are not a sound snapshot; the message says why."""


def encode(state: State) -> bytes:
    """The snapshot bytes for ``state`` (records sorted by key)."""
    return b"".join(encode_chunks(state))


def encode_chunks(state: State) -> list[bytes]:
    """The snapshot as a list of byte strings to write in order.

    Chunks rather than one bytes object: a 100,000-record snapshot is ~75 MB, and building it
    by concatenation copies it several times over, which costs more than writing it.
    """
    records = state.records
    reuse = records.encoded if isinstance(records, RecordMap) else None
    chunks = [
        b'{\n  "checksum": "crc32:' + _ZEROS + b'",\n',
        b'  "format_version": "%s",\n' % FORMAT_VERSION.encode(),
        b'  "lineage": ' + json.dumps(state.lineage).encode() + b",\n",
    ]
    separator = b'  "records": {\n    '
    for key in state.sorted_keys():
        raw = reuse(key) if reuse is not None else None
        if raw is None:
            raw = encode_record(records[key])
        chunks += (separator, _quoted(f"{key.customer_id}/{key.product_family}"), b": ", raw)
        separator = b",\n    "
    chunks.append(b'  "records": {},\n' if separator.startswith(b"  ") else b"\n  },\n")
    chunks.append(b'  "serial": %d\n}\n' % state.serial)
    crc = 0
    for chunk in chunks:
        crc = zlib.crc32(chunk, crc)
    chunks[0] = chunks[0].replace(_ZEROS, b"%08x" % crc)
    return chunks


def _quoted(name: str) -> bytes:
    """``name`` as a JSON string; the common case (a GUID and a family) needs no escaping."""
    if name.isascii() and name.isprintable() and '"' not in name and "\\" not in name:
        return b'"' + name.encode("ascii") + b'"'
    return json.dumps(name).encode("ascii")


def encode_record(record: Record) -> bytes:
    """One record as compact, key-sorted JSON (as stored in a snapshot line)."""
    text = json.dumps(record_to_dict(record), sort_keys=True, separators=(",", ":"))
    return text.encode("ascii")


def decode(raw: bytes, origin: str) -> State:
    """Parse snapshot bytes; raises SnapshotDamage, or StateError for a newer format."""
    layout = _fast_layout(raw)
    if layout is None:
        return _decode_full(raw, origin)
    header, start, end = layout
    check_format_version(header["format_version"], origin)
    _verify_checksum(raw)
    items = _index(raw, start, end)
    if items is None:
        return _decode_full(raw, origin)
    source = _SnapshotRecords(raw, origin)
    return State(header["lineage"], header["serial"], RecordMap(items, source))


def _fast_layout(raw: bytes) -> tuple[dict[str, Any], int, int] | None:
    """(header, start, end of the record lines) of a checksummed file in our layout, or None."""
    head = raw[:4096].split(b"\n", 5)
    tail = raw[-200:].rsplit(b"\n", 4)
    if len(head) < 6 or len(tail) < 5 or head[0] != b"{" or not _CHECKSUM.match(raw):
        return None
    if tail[-1] != b"" or tail[-2] != b"}":
        return None
    records_line, closing = head[4], tail[-4]
    start = sum(len(line) + 1 for line in head[:5])
    end = len(raw) - sum(len(line) + 1 for line in tail[-4:])
    if records_line == b'  "records": {},' and closing == records_line:
        start = end = 0
    elif records_line != b'  "records": {' or closing != b"  },":
        return None
    try:
        header = json.loads(b"{" + head[2] + head[3].rstrip(b",") + b"," + tail[-3] + b"}")
    except ValueError:
        return None
    if not isinstance(header, dict) or not _header_ok(header):
        return None
    return header, start, end


def _header_ok(header: dict[str, Any]) -> bool:
    lineage, serial = header.get("lineage"), header.get("serial")
    return (
        "format_version" in header
        and isinstance(lineage, str)
        and bool(lineage)
        and isinstance(serial, int)
        and not isinstance(serial, bool)
        and serial >= 0
    )


def _index(raw: bytes, start: int, end: int) -> dict[UpgradeKey, Record | int] | None:
    """Map each record line's key to the offset of its JSON; None if a line needs parsing.

    Offsets, not slices: copying 100,000 records' bytes costs more than the whole target read
    time on a slow machine. The regex finds the keys at C speed.
    """
    if start == end:
        return {}
    items: dict[UpgradeKey, Record | int] = {}
    count = 0
    for match in _RECORD_KEY.finditer(raw, start - 1, end):
        customer, family = match.groups()
        items[UpgradeKey(customer.decode(), family.decode())] = match.end()
        count += 1
    if count != raw.count(b"\n", start, end) + 1:
        return None  # a key with escapes or odd characters: let the full parser handle it
    if len(items) != count:
        raise SnapshotDamage("it records the same customer and family twice")
    return items


class _SnapshotRecords:
    """The undecoded records of one snapshot: its bytes, and how to decode one record."""

    __slots__ = ("_origin", "_raw")

    def __init__(self, raw: bytes, origin: str) -> None:
        self._raw = raw
        self._origin = origin

    def encoded(self, token: int) -> bytes:
        """The record's JSON at offset ``token`` (up to its line's end, without the comma)."""
        line_end = self._raw.find(b"\n", token)
        value = self._raw[token:line_end]
        return value[:-1] if value.endswith(b",") else value

    def decode(self, key: UpgradeKey, token: int) -> Record:
        """Decode the record at ``token``, which the index says is ``key``'s."""
        try:
            data = _DECODER.decode(self.encoded(token).decode("utf-8"))
            record = record_from_dict(data, trusted=True)
        except (ValueError, TypeError, KeyError) as exc:
            raise StateError(
                f"The record {key} in {self._origin} is invalid ({_short(exc)})."
            ) from None
        if record.key != key:
            raise StateError(
                f"The record {key} in {self._origin} names another key ({record.key})."
            )
        return record


def _decode_full(raw: bytes, origin: str) -> State:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SnapshotDamage(f"it is not valid JSON ({_short(exc)})") from None
    if not isinstance(data, dict):
        raise SnapshotDamage("it is not a JSON object")
    check_format_version(data.get("format_version"), origin)
    unknown = set(data) - _MEMBERS
    if unknown:
        raise SnapshotDamage(f"it has unknown members ({', '.join(sorted(unknown))})")
    if "checksum" in data and not _CHECKSUM.match(raw):
        raise SnapshotDamage("its checksum is malformed or not where it belongs")
    _verify_checksum(raw)
    if not _header_ok(data):
        raise SnapshotDamage("it has no valid lineage or serial")
    records = data.get("records")
    if not isinstance(records, dict):
        raise SnapshotDamage("it has no records object")
    parsed = []
    for number, (name, item) in enumerate(records.items(), start=1):
        try:
            record = record_from_dict(item)
        except (ValueError, TypeError, KeyError) as exc:
            raise SnapshotDamage(f"record {number} is invalid ({_short(exc)})") from None
        if name != f"{record.key.customer_id}/{record.key.product_family}":
            raise SnapshotDamage(f'record "{name}" names another key ({record.key})')
        parsed.append(record)
    return State.of(data["lineage"], data["serial"], parsed)


def _verify_checksum(raw: bytes) -> None:
    match = _CHECKSUM.match(raw)
    if match is None:
        return
    # CRC the bytes around the digits in pieces: copying a large file would cost more.
    view = memoryview(raw)
    crc = zlib.crc32(view[match.end(1) :], zlib.crc32(_ZEROS, zlib.crc32(view[: match.start(1)])))
    if b"%08x" % crc != match.group(1):
        raise SnapshotDamage(
            "its checksum does not match its contents (it was damaged, or edited by hand; "
            'a deliberate edit must also delete the "checksum" line)'
        )


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
