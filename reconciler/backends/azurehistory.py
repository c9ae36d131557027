"""The operation history in Azure Blob Storage: append blobs beside the state blob.

For ``key: reconciler/state.json`` the history is ``reconciler/state.json.history``, then
``….history.000002`` and so on: an append blob holds at most 50,000 blocks, so a new segment is
started before one fills up, and readers concatenate the segments in order. The history is not
leased: it records calls that really happened, so even a run that lost the state lock keeps
appending what it did. Each append names the position it expects to write at, so a retried
append whose first try went through is recognised instead of written twice.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from reconciler import history

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient, ContainerClient

#: Start a new segment before the append blob reaches Azure's 50,000 blocks.
MAX_HISTORY_BLOCKS = 49_000
SUFFIX = ".history"


class BlobHistory:
    """Appends to and reads the history segments of one state blob; thread-safe."""

    def __init__(self, container: Callable[[], ContainerClient], key: str, *,
                 max_blocks: int = MAX_HISTORY_BLOCKS) -> None:
        self._container = container
        self._prefix = key + SUFFIX
        self._max_blocks = max_blocks
        self._mutex = threading.Lock()
        self._segment: int | None = None  # the segment appended to, once found
        self._length = 0
        self._blocks = 0

    def _name(self, segment: int) -> str:
        return self._prefix if segment == 1 else f"{self._prefix}.{segment:06d}"

    def _blob(self, segment: int) -> BlobClient:
        return self._container().get_blob_client(self._name(segment))

    def segments(self) -> list[int]:
        """The segment numbers that exist, in order."""
        pattern = re.compile(re.escape(self._prefix) + r"(?:\.(\d{6}))?\Z")
        found = []
        for item in self._container().list_blobs(name_starts_with=self._prefix):
            match = pattern.match(item.name)
            if match:
                found.append(int(match.group(1) or 1))
        return sorted(found)

    def append(self, data: bytes) -> None:
        """Append ``data`` (whole lines) as one block of the newest segment."""
        with self._mutex:
            if self._segment is None:
                self._find_tail()
            assert self._segment is not None
            if self._blocks >= self._max_blocks:
                self._segment, self._length, self._blocks = self._segment + 1, 0, 0
            self._append_block(self._blob(self._segment), data)

    def _find_tail(self) -> None:
        existing = self.segments()
        self._segment = existing[-1] if existing else 1
        if existing:
            props = self._blob(self._segment).get_blob_properties()
            self._length = int(props.size)
            self._blocks = int(props.append_blob_committed_block_count or 0)

    def _append_block(self, blob: BlobClient, data: bytes) -> None:
        from azure.core import MatchConditions
        from azure.core.exceptions import HttpResponseError, ResourceExistsError

        if self._length == 0 and self._blocks == 0:
            try:
                blob.create_append_blob(match_condition=MatchConditions.IfMissing)
            except ResourceExistsError:
                self._refresh(blob)
        try:
            blob.append_block(data, appendpos_condition=self._length)
        except HttpResponseError as exc:
            # Either our own earlier try went through (its answer was lost) or another writer
            # appended meanwhile: look at the tail before writing again.
            if getattr(exc, "status_code", None) != 412:
                raise
            if not self._ours_at_tail(blob, data):
                self._refresh(blob)
                blob.append_block(data, appendpos_condition=self._length)
        self._length += len(data)
        self._blocks += 1

    def _refresh(self, blob: BlobClient) -> None:
        props = blob.get_blob_properties()
        self._length = int(props.size)
        self._blocks = int(props.append_blob_committed_block_count or 0)

    def _ours_at_tail(self, blob: BlobClient, data: bytes) -> bool:
        size = int(blob.get_blob_properties().size)
        if size != self._length + len(data):
            return False
        return bool(blob.download_blob(offset=self._length, length=len(data)).readall() == data)

    def witnessed(self) -> dict[str, int]:
        """The serial each lineage reached by the end of the history (newest segment first)."""
        for segment in reversed(self.segments()[-2:]):
            found = _witnessed_in(self._blob(segment))
            if found:
                return found
        return {}

    def read(self) -> bytes:
        """Every segment's bytes, concatenated in order."""
        return b"".join(self._blob(n).download_blob().readall() for n in self.segments())


def _witnessed_in(blob: BlobClient) -> dict[str, int]:
    """What one history segment witnesses, read backwards in ranged downloads."""
    size = int(blob.get_blob_properties().size)

    def read_range(start: int, end: int) -> bytes:
        return bytes(blob.download_blob(offset=start, length=end - start).readall())

    return history.witnessed_serials(size, read_range)
