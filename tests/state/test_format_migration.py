"""State written by an earlier version (format 1, before verification) loads and is upgraded."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from reconciler.backends import opened
from reconciler.model import UpgradeKey
from reconciler.settings import LocalBackendSettings
from reconciler.state import FORMAT_VERSION, RecordStatus, Verification

FIXTURE = Path(__file__).parent / "fixtures" / "format-1"
DONE = UpgradeKey("4c721420-72ad-4708-a0a7-371a2f7b0969", "Azure")
MOVING = UpgradeKey("58e2af4f-0ad3-4688-8744-be2357cd939a", "Azure")


def test_a_format_1_snapshot_and_journal_load_as_never_verified(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "s")
    settings = LocalBackendSettings(tmp_path / "s" / "state.json")
    with opened(settings) as backend:
        state = backend.read()
    assert state is not None
    assert state.serial == 2
    done, moving = state.records[DONE], state.records[MOVING]
    assert done.status is RecordStatus.COMPLETED
    assert done.verification is None
    assert not done.verified
    assert done.line_items[0].target_product_id == "plan-sub"
    assert moving.status is RecordStatus.IN_PROGRESS
    assert moving.verification is None


def test_writing_it_again_upgrades_the_format_and_keeps_every_record(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "s")
    settings = LocalBackendSettings(tmp_path / "s" / "state.json")
    checked = Verification(True, "2026-12-02T10:00:00Z", "Azure plan p active, 1 legacy "
                           "subscription suspended", "p", (), ("legacy-sub",))
    with opened(settings, lock="test") as backend:
        state = backend.read()
        assert state is not None
        backend.write(state.with_record(replace(state.records[DONE], verification=checked)))
    text = (tmp_path / "s" / "state.json").read_text()
    assert f'"format_version": "{FORMAT_VERSION}",' in text
    with opened(settings) as backend:
        again = backend.read()
    assert again is not None
    assert again.records[DONE].verification == checked
    assert again.records[MOVING].status is RecordStatus.IN_PROGRESS  # untouched bytes reused
