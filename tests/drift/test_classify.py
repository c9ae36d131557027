"""The pure drift classifier: one test per kind, and what is deliberately not drift."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType

import pytest

from reconciler.drift import DriftKind, DriftReport, classify
from reconciler.observed import Observed, SeenEligibility, SeenStatus
from reconciler.refresh import needed_for_drift
from reconciler.state import Record, RecordStatus
from tests.plan.helpers import NOW, desired, key, record, state

UP = "aaaaaaaa-0000-4000-8000-000000000001"
OTHER = "bbbbbbbb-0000-4000-8000-000000000002"
LATER = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # three hours after the records' stamps


def check(rec: Record | None, eligibility: SeenEligibility | None = None,
          status: SeenStatus | None = None, *, now: datetime = LATER,
          threshold: float = 24 * 3600) -> DriftReport:
    observed = Observed(
        MappingProxyType({key(1): eligibility} if eligibility else {}),
        MappingProxyType({key(1): status} if status else {}), refreshed=True)
    return classify(desired(1), state(rec) if rec else None, observed, now=now,
                    created_at=NOW, in_progress_threshold=threshold)


def only_kind(report: DriftReport) -> DriftKind:
    assert len(report.items) == 1, report.items
    return report.items[0].kind


def test_completed_then_vanished_and_eligible_again_is_reverted() -> None:
    report = check(record(1, RecordStatus.COMPLETED, upgrade_id=UP),
                   SeenEligibility(True), SeenStatus(UP, found=False))
    item = report.items[0]
    assert (item.kind, item.recorded, item.observed, item.upgrade_id) == \
        (DriftKind.REVERTED, "completed", "eligible", UP)
    assert "900106" in item.detail
    assert (item.customer_name, item.source) == ("Customer 1", "manifests/m.yaml:11")


def test_completed_without_upgrade_id_but_eligible_again_is_reverted() -> None:
    assert only_kind(check(record(1, RecordStatus.COMPLETED), SeenEligibility(True))) is \
        DriftKind.REVERTED


def test_remote_failure_of_a_recorded_upgrade() -> None:
    failed = SeenStatus(UP, "Failed", error_code="900120", error_message="cannot process")
    report = check(record(1, RecordStatus.COMPLETED, upgrade_id=UP),
                   SeenEligibility(True), failed)
    assert only_kind(report) is DriftKind.FAILED
    assert "cannot process" in report.items[0].detail


@pytest.mark.parametrize("eligibility", [
    SeenEligibility(False, reason="Customer has no Azure subscriptions", error_code="900108"),
    SeenEligibility(False, upgrade_id=OTHER),
    None,
])
def test_unknown_upgrade_id(eligibility: SeenEligibility | None) -> None:
    report = check(record(1, RecordStatus.COMPLETED, upgrade_id=UP), eligibility,
                   SeenStatus(UP, found=False))
    assert only_kind(report) is DriftKind.UNKNOWN_UPGRADE
    if eligibility is not None and eligibility.upgrade_id:
        assert OTHER in report.items[0].detail


def test_upgrade_of_another_customer() -> None:
    report = check(record(1, RecordStatus.IN_PROGRESS, upgrade_id=UP), SeenEligibility(False),
                   SeenStatus(UP, foreign=True))
    assert only_kind(report) is DriftKind.FOREIGN_UPGRADE
    assert "900111" in report.items[0].detail


def test_out_of_band_upgrade_of_an_unmanaged_customer_in_a_manifest() -> None:
    report = check(None, SeenEligibility(False, upgrade_id=OTHER))
    item = report.items[0]
    assert (item.kind, item.recorded, item.upgrade_id) == (DriftKind.OUT_OF_BAND, None, OTHER)


def test_in_progress_longer_than_threshold_is_stuck() -> None:
    rec = record(1, RecordStatus.IN_PROGRESS, upgrade_id=UP, remote="InProgress")
    seen = SeenStatus(UP, "InProgress")
    assert check(rec, SeenEligibility(False, upgrade_id=UP), seen).items == ()
    report = check(rec, SeenEligibility(False, upgrade_id=UP), seen, threshold=3600)
    assert only_kind(report) is DriftKind.STUCK
    assert "longer than the 1h threshold" in report.items[0].detail


def test_completed_record_reading_in_progress_is_reported() -> None:
    report = check(record(1, RecordStatus.COMPLETED, upgrade_id=UP),
                   SeenEligibility(False, upgrade_id=UP), SeenStatus(UP, "InProgress"))
    assert only_kind(report) is DriftKind.STUCK


@pytest.mark.parametrize(("rec", "eligibility", "status"), [
    # converged
    (record(1, RecordStatus.COMPLETED, upgrade_id=UP), SeenEligibility(False, upgrade_id=UP),
     SeenStatus(UP, "Completed")),
    # ordinary progress, which plan records as an update
    (record(1, RecordStatus.IN_PROGRESS, upgrade_id=UP), SeenEligibility(False, upgrade_id=UP),
     SeenStatus(UP, "Completed")),
    # failed records and pending intents are plan's business (retry / resume)
    (record(1, RecordStatus.FAILED, upgrade_id=UP, error="x"), SeenEligibility(True), None),
    (record(1, RecordStatus.PENDING), SeenEligibility(False, upgrade_id=UP), None),
    # a new customer that is merely eligible or blocked
    (None, SeenEligibility(True), None),
    (None, SeenEligibility(False, reason="suspended"), None),
])
def test_not_drift(rec: Record | None, eligibility: SeenEligibility,
                   status: SeenStatus | None) -> None:
    report = check(rec, eligibility, status)
    assert report.items == ()
    assert report.checked == 1


def test_reads_cover_every_managed_key_including_completed_and_forgotten() -> None:
    records = [record(1, RecordStatus.COMPLETED, upgrade_id=UP),
               record(2, RecordStatus.FAILED, upgrade_id=UP, error="x"),
               record(3, RecordStatus.PENDING),
               record(9, RecordStatus.IN_PROGRESS, upgrade_id=OTHER)]  # in no manifest
    reads = needed_for_drift(desired(1, 2, 3, 4), state(*records))
    assert reads.eligibility == (key(1), key(2), key(3), key(4), key(9))
    assert reads.status == ((key(1), UP), (key(9), OTHER))


def test_report_is_sorted_and_counted() -> None:
    records = [record(n, RecordStatus.COMPLETED, upgrade_id=UP) for n in (3, 1, 2)]
    observed = Observed(MappingProxyType({key(n): SeenEligibility(True) for n in (1, 2, 3)}),
                        refreshed=True)
    report = classify(desired(1, 2, 3), state(*records), observed, now=LATER, created_at=NOW)
    assert [i.key for i in report.items] == [key(1), key(2), key(3)]
    assert report.counts()["reverted"] == 3
    assert (report.lineage, report.serial, report.checked) == (state().lineage, 7, 3)
