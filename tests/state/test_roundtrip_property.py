"""Property: any state survives snapshot and journal round trips, whatever its strings hold."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.backends import LocalBackend, LockInfo, StateRecorder, journal, snapshot
from reconciler.model import UpgradeKey
from reconciler.state import ErrorDetail, LineItem, Record, RecordStatus, State, StateChange

text = st.text(max_size=12)
opt = st.none() | text

line_items = st.builds(LineItem, opt, opt, opt, opt, opt, opt, opt, opt)
records = st.builds(
    Record,
    key=st.builds(UpgradeKey, st.text(min_size=1, max_size=10), st.text(min_size=1, max_size=6)),
    status=st.sampled_from(RecordStatus),
    request_id=opt,
    upgrade_id=opt,
    remote_status=opt,
    source=opt,
    customer_name=opt,
    created_at=text,
    updated_at=text,
    line_items=st.lists(line_items, max_size=2).map(tuple),
    error=st.none() | st.builds(ErrorDetail, opt, text, opt),
    attempts=st.integers(0, 5),
    in_progress_since=opt,
)


@given(st.lists(records, max_size=6), st.integers(0, 10**6))
def test_snapshots_round_trip(items: list[Record], serial: int) -> None:
    state = State.of("lineage", serial, items)
    raw = snapshot.encode(state)
    decoded = snapshot.decode(raw, "test")
    assert decoded == state
    assert snapshot.encode(decoded) == raw


@given(records, st.integers(1, 10**6))
def test_journal_lines_round_trip(record: Record, serial: int) -> None:
    for change in (StateChange.put(serial, record), StateChange.remove(serial, record.key)):
        line = journal.encode("lineage", change)
        assert line.count(b"\n") == 1
        assert journal.decode_line(line[:-1], 1) == ("lineage", change)


# No deadline: each example fsyncs several times, and fsync time is the disk's, not ours.
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(records, min_size=1, max_size=8))
def test_recorded_changes_read_back(tmp_path: Path, items: list[Record]) -> None:
    # A fresh directory per example: hypothesis may draw the same items twice, and a state
    # left by an earlier example (another lineage) must not be in the way.
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "state.json"
    backend = LocalBackend(path)
    info = backend.lock(LockInfo.new("test"))
    recorder = StateRecorder(backend, None)
    for record in items:
        recorder.put(record)
    assert LocalBackend(path).read() == recorder.snapshot()
    recorder.flush()
    assert LocalBackend(path).read() == recorder.snapshot()
    backend.unlock(info.id)
