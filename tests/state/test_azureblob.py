"""The Azure Blob backend's own behaviour on Azurite: leases, metadata, ETags, the journal."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from reconciler import history
from reconciler.backends import LockInfo, StateRecorder, open_backend
from reconciler.backends.azureblob import AzureBlobBackend
from reconciler.backends.azurelease import METADATA_KEY, lock_from_metadata
from reconciler.backends.base import StateBehindHistory
from reconciler.errors import ConfigError, LockError, StateError
from reconciler.settings import AzureBlobBackendSettings
from reconciler.state import State, StateChange
from tests.state.conftest import AzureStore, open_azure
from tests.state.helpers import make_record


def _blob(store: AzureStore, name: str):  # type: ignore[no-untyped-def]
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(store.connection_string)
    return service.get_blob_client(store.container, name)


def _azure(store: AzureStore, **options: object) -> AzureBlobBackend:
    backend = open_azure(store, **options)
    assert isinstance(backend, AzureBlobBackend)
    return backend


def test_missing_extra_gives_a_one_line_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "azure.storage.blob", None)
    settings = AzureBlobBackendSettings(account_url="https://a.blob.core.windows.net",
                                        container="c", key="k")
    with pytest.raises(ConfigError) as caught:
        open_backend(settings, env={})
    assert caught.value.message == ("The azureblob state backend needs the Azure SDK: "
                                    "pip install 'partnercenter-reconciler[azure]'")


def test_open_backend_builds_it_from_settings(azure_store: AzureStore) -> None:
    settings = AzureBlobBackendSettings(account_url=azure_store.account_url,
                                        container=azure_store.container, key="s.json")
    backend = open_backend(settings, env=azure_store.env)
    assert isinstance(backend, AzureBlobBackend)
    assert backend.describe().endswith(f"/{azure_store.container}/s.json")
    with pytest.raises(ConfigError, match="between 15 and 60"):
        open_backend(settings, env={**azure_store.env,
                                    "RECONCILER_AZUREBLOB_LEASE_SECONDS": "0"})


def test_a_connection_string_for_another_account_is_refused(azure_store: AzureStore) -> None:
    backend = AzureBlobBackend("https://other.blob.core.windows.net", azure_store.container,
                               "k", env=azure_store.env)
    with pytest.raises(ConfigError, match="same storage account") as caught:
        backend.read()
    assert "AccountKey" not in caught.value.message
    assert "Eby8" not in caught.value.message


def test_a_missing_container_is_named(azure_store: AzureStore) -> None:
    backend = AzureBlobBackend(azure_store.account_url, "no-such-container", "k",
                               env=azure_store.env)
    with pytest.raises(StateError, match="container no-such-container does not exist"):
        backend.read()


def test_the_lock_is_a_finite_lease_with_the_holder_in_metadata(azure_store: AzureStore) -> None:
    backend = _azure(azure_store)
    held = backend.lock(LockInfo.new("apply"))
    backend.write(State.of(State.new().lineage, 1, [make_record(1)]))
    for name in (azure_store.key, azure_store.key + ".journal"):
        props = _blob(azure_store, name).get_blob_properties()
        assert (props.lease.state, props.lease.duration) == ("leased", "fixed")
    # Re-sent with the snapshot write, which replaces the blob's metadata.
    metadata = _blob(azure_store, azure_store.key).get_blob_properties().metadata
    assert lock_from_metadata(metadata) == held
    assert backend.current_lock() == held
    backend.unlock(held.id)
    props = _blob(azure_store, azure_store.key).get_blob_properties()
    assert props.lease.state == "available"
    assert METADATA_KEY not in props.metadata
    assert backend.current_lock() is None


def test_the_lease_is_renewed_while_held(azure_store: AzureStore) -> None:
    holder = _azure(azure_store, lease_seconds=15, renew_seconds=3)
    held = holder.lock(LockInfo.new("apply"))
    try:
        time.sleep(17)  # longer than the lease: only renewal keeps it
        with pytest.raises(LockError, match=held.id):
            _azure(azure_store).lock(LockInfo.new("plan"))
        assert not holder.lost.is_set()
    finally:
        holder.unlock(held.id)


def test_a_dead_holders_lease_expires_by_itself(azure_store: AzureStore) -> None:
    dead = _azure(azure_store, lease_seconds=15)
    dead.lock(LockInfo.new("apply"))
    dead.close()  # stops renewing, as a killed runner would
    started = time.monotonic()
    other = _azure(azure_store)
    got = other.lock(LockInfo.new("apply"), timeout=40)
    assert 5 < time.monotonic() - started < 40
    assert other.current_lock() == got
    other.unlock(got.id)


def test_a_lost_lease_is_noticed_and_stops_every_write(azure_store: AzureStore) -> None:
    backend = _azure(azure_store, lease_seconds=15, renew_seconds=0.3)
    held = backend.lock(LockInfo.new("apply"))
    recorder = StateRecorder(backend, None)
    recorder.put(make_record(1))
    noticed = threading.Event()
    backend.on_lock_lost(noticed.set)
    _azure(azure_store).force_unlock(held.id)
    assert noticed.wait(10)
    assert backend.lost.is_set()
    with pytest.raises(LockError, match="lost the state lock"):
        recorder.put(make_record(2))
    with pytest.raises(LockError, match="lost the state lock"):
        recorder.flush()
    backend.unlock(held.id)  # releasing a lost lock only warns


def test_a_journal_write_behind_our_back_is_an_etag_conflict(azure_store: AzureStore) -> None:
    backend = _azure(azure_store)
    held = backend.lock(LockInfo.new("apply"))
    recorder = StateRecorder(backend, None)
    recorder.put(make_record(1))
    # Someone who knows the lock ID (it is printed in messages) appends behind our back.
    _blob(azure_store, azure_store.key + ".journal").append_block(b"rogue\n", lease=held.id)
    with pytest.raises(StateError, match="changed behind"):
        recorder.put(make_record(2))
    backend.close()


def test_a_snapshot_write_behind_our_back_is_an_etag_conflict(azure_store: AzureStore) -> None:
    backend = _azure(azure_store)
    held = backend.lock(LockInfo.new("apply"))
    state = State.of(State.new().lineage, 1, [make_record(1)])
    backend.write(state)
    _blob(azure_store, azure_store.key).upload_blob(b"{}", overwrite=True, lease=held.id)
    with pytest.raises(StateError, match="changed behind"):
        backend.write(State(state.lineage, 2, state.records))
    backend.close()


def test_the_journal_survives_a_run_that_never_folded_it(azure_store: AzureStore) -> None:
    first = _azure(azure_store)
    held = first.lock(LockInfo.new("apply"))
    recorder = StateRecorder(first, None)
    for i in range(3):
        recorder.put(make_record(i))
    first.unlock(held.id)  # no flush: as if the run died after its last change
    second = _azure(azure_store)
    again = second.lock(LockInfo.new("apply"))
    state = second.read()
    assert state is not None
    assert (state.serial, len(state)) == (3, 3)
    second.append(StateChange.put(4, make_record(9)))
    second.unlock(again.id)
    assert _azure(azure_store).read() == State(state.lineage, 4, {
        **state.records, make_record(9).key: make_record(9)})


def test_a_full_journal_is_folded_into_the_snapshot(azure_store: AzureStore) -> None:
    backend = _azure(azure_store, max_journal_blocks=5)
    held = backend.lock(LockInfo.new("apply"))
    recorder = StateRecorder(backend, None)
    for i in range(12):
        recorder.put(make_record(i))
    journal_props = _blob(azure_store, azure_store.key + ".journal").get_blob_properties()
    assert journal_props.append_blob_committed_block_count <= 5
    assert _azure(azure_store).read() == recorder.snapshot()
    recorder.flush()
    backend.unlock(held.id)
    assert _azure(azure_store).read() == recorder.snapshot()


@pytest.mark.slow
def test_one_change_stays_cheap_at_100000_records(azure_store: AzureStore) -> None:
    backend = _azure(azure_store)
    held = backend.lock(LockInfo.new("apply"))
    big = State.of(State.new().lineage, 1, [make_record(i) for i in range(100_000)])
    backend.write(big)
    recorder = StateRecorder(backend, big)
    started = time.perf_counter()
    for i in range(20):
        recorder.put(make_record(i, attempts=2))
    per_change = (time.perf_counter() - started) / 20
    backend.unlock(held.id)
    assert per_change < 0.25, f"{per_change * 1000:.0f} ms per change"


def test_history_segments_roll_over_and_read_back_in_order(azure_store: AzureStore) -> None:
    from reconciler.backends.azurehistory import BlobHistory

    backend = _azure(azure_store)
    history = BlobHistory(backend._container, azure_store.key, max_blocks=3)
    lines = [f'{{"n":{n}}}\n'.encode() for n in range(8)]
    for line in lines:
        history.append(line)
    assert history.segments() == [1, 2, 3]
    assert history.read() == b"".join(lines)
    later = BlobHistory(backend._container, azure_store.key, max_blocks=3)
    later.append(b'{"n":8}\n')  # a new writer continues the last segment
    assert backend.read_history() == b"".join(lines) + b'{"n":8}\n'
    backend.close()


def test_a_journal_blob_emptied_after_a_killed_run_is_refused(azure_store: AzureStore) -> None:
    first = _azure(azure_store)
    held = first.lock(LockInfo.new("apply"))
    recorder = StateRecorder(first, None)
    log = history.History(first, "run-1")
    for i in range(3):
        record = make_record(i)
        serial = recorder.put(record)
        log.transition(record.key.customer_id, record.key.product_family, "created",
                       "pending", "in_progress", recorded=(recorder.lineage, serial))
    log.close()
    first.unlock(held.id)  # no flush: as if the run died after its last change
    journal = _blob(azure_store, azure_store.key + ".journal")
    journal.delete_blob()
    journal.create_append_blob()  # emptied, as a cleanup script or a restore would leave it
    with pytest.raises(StateBehindHistory) as refused:
        _azure(azure_store).read()
    assert "records changes up to serial 3" in refused.value.message
    assert f"{azure_store.key}.journal was deleted or cut short" in refused.value.message
