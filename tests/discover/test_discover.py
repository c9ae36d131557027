"""discover against the simulator over loopback: every class, paging, --write and its rules."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from reconciler import workflow
from reconciler.discovery import Class
from reconciler.render import discovery as render
from reconciler.settings import LocalBackendSettings, Settings
from reconciler.simulator import COMPLETED, Simulator, SimulatorConfig
from reconciler.workflow.discovering import Discovered, DiscoverOptions, discover
from tests.e2e.conftest import customer

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "schemas" / "discovery.schema.json").read_text())
LEGACY, BLOCKED, MOVING, UPGRADED, NONE = (range(1, 1001), range(1001, 1011),
                                           range(1011, 1016), range(1016, 1036),
                                           range(1036, 1041))


@dataclass
class Partner:
    root: Path
    sim: Simulator
    settings: Settings

    def discover(self, *, write: str | None = None, manifests: tuple[Path, ...] = (),
                 **options: object) -> Discovered:
        paths = manifests or self.settings.manifests
        return discover(self.settings, DiscoverOptions(
            paths, manifests_given=bool(manifests),
            write_dir=self.root / write if write else None, **options))  # type: ignore[arg-type]

    def calls(self, method: str, route: str) -> int:
        return sum(1 for r in self.sim.requests if r.method == method and route in r.path)


def name(n: int) -> str:
    return f'Customer {n:04d}, "Ltd"' if n % 7 == 0 else f"Customer {n:04d}"


@pytest.fixture(scope="module")
def world() -> Iterator[Simulator]:
    config = SimulatorConfig(seed=3, max_page_size=100, completion_delay_seconds=3600)
    with Simulator(config) as sim:
        w = sim.world
        with w.batch():
            for n in LEGACY:
                w.add_customer(customer(n), name(n))
            for n in BLOCKED:
                w.add_customer(customer(n), name(n), eligible=False,
                               reason="Customer has Azure subscriptions in suspended state.")
            for n in MOVING:
                w.add_customer(customer(n), name(n))
                w.upgrade_out_of_band(customer(n))
            for n in UPGRADED:
                w.add_customer(customer(n), name(n))
                w.upgrade_out_of_band(customer(n), status=COMPLETED)
            for n in NONE:
                w.add_customer(customer(n), name(n), legacy=False)
        yield sim


@pytest.fixture
def partner(world: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Partner:
    monkeypatch.setenv("PARTNER_CENTER_ACCESS_TOKEN", world.token)
    monkeypatch.chdir(tmp_path)
    world.clear_requests()
    settings = Settings(manifests=(tmp_path / "manifests",),
                        backend=LocalBackendSettings(tmp_path / "state.json"),
                        endpoint=world.url, parallelism=16)
    return Partner(tmp_path, world, settings)


def hand_written(root: Path, numbers: list[int]) -> Path:
    lines = ["apiVersion: reconciler/v1", "kind: ProductUpgrades", "metadata:",
             "  name: emea-wave-1", "spec:", "  productFamily: Azure", "  customers:"]
    for n in numbers:
        lines += [f"    - id: {customer(n)}"]
    path = root / "manifests" / "emea-wave-1.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_every_customer_over_many_pages_gets_its_class(partner: Partner) -> None:
    hand_written(partner.root, [1, 2, 1001])
    result = partner.discover().discovery
    classes = {f.customer_id: f.cls for f in result.customers}
    assert len(classes) == 1040
    for numbers, cls in ((LEGACY, Class.LEGACY), (BLOCKED, Class.BLOCKED),
                         (MOVING, Class.IN_PROGRESS), (UPGRADED, Class.UPGRADED),
                         (NONE, Class.NONE)):
        assert {classes[customer(n)] for n in numbers} == {cls}
    assert [f.customer_id for f in result.customers] == sorted(classes)
    assert result.summary() == {"upgraded": 20, "in_progress": 5, "blocked": 10, "legacy": 1000,
                                "none": 5, "unmanaged_legacy": 998, "unread": 0}
    by_id = {f.customer_id: f for f in result.customers}
    assert by_id[customer(1)].source == "manifests/emea-wave-1.yaml:8"
    assert by_id[customer(1001)].managed
    assert by_id[customer(1011)].upgrade_id is not None
    assert "suspended state" in (by_id[customer(1001)].reason or "")
    # One list call per page, one subscriptions read per customer, eligibility only for the
    # customers with an MS-AZR-0145P subscription; never a create.
    assert partner.calls("GET", "/v1/customers?") == 11
    assert partner.calls("GET", "/subscriptions") == 1040
    assert partner.calls("POST", "/eligibility") == 1035
    assert not any(r.path.rstrip("/").lower().endswith("productupgrades")
                   for r in partner.sim.requests)
    assert summary_line(result) == ("Discovered: 1040 customers; 1000 legacy (998 not in any "
                                    "manifest), 10 blocked, 5 in progress, 20 upgraded, 5 "
                                    "without legacy Azure.")
    jsonschema.validate(render.to_dict(result), SCHEMA)
    assert not (partner.root / "state.json").exists()
    assert not any(partner.root.glob("state.json*"))


def summary_line(result: object) -> str:
    return render.summary_line(result)  # type: ignore[arg-type]


def test_write_makes_manifests_plan_turns_into_exactly_the_creates(partner: Partner) -> None:
    hand_written(partner.root, [1, 2, 3])
    before = (partner.root / "manifests" / "emea-wave-1.yaml").read_bytes()
    first = partner.discover(write="manifests", wave_size=400)
    names = [p.name for p in first.written]
    assert names == ["discovered-001.yaml", "discovered-002.yaml", "discovered-003.yaml"]
    texts = [p.read_text() for p in first.written]
    assert [t.count("    - id: ") for t in texts] == [400, 400, 197]
    assert (partner.root / "manifests" / "emea-wave-1.yaml").read_bytes() == before
    # validate accepts them; plan over old and new shows a create for exactly the new ones
    desired = workflow.load_desired(partner.settings, partner.settings.manifests)
    assert len(desired.upgrades) == 1000
    inputs = workflow.load_inputs(partner.settings, partner.settings.manifests,
                                  workflow.brief_read(partner.settings, "plan"),
                                  reads=workflow.PlanOptions().reads)
    plan = workflow.make_plan(inputs)
    assert plan.summary()["create"] == 1000
    assert {c.customer_id for c in plan.changes if c.action.value == "create"} == \
        {customer(n) for n in LEGACY}
    # a second run writes nothing; nothing existing is touched
    stamps = {p: p.stat().st_mtime_ns for p in (partner.root / "manifests").iterdir()}
    again = partner.discover(write="manifests")
    assert again.written == ()
    assert again.discovery.summary()["unmanaged_legacy"] == 0
    assert {p: p.stat().st_mtime_ns for p in (partner.root / "manifests").iterdir()} == stamps
    assert render.written_lines(again.written, again.discovery, again.write_dir) == [
        "Nothing written in manifests: every legacy customer is already in a manifest."]


def test_numbering_continues_and_a_separate_directory_counts_as_managed(
        partner: Partner) -> None:
    out = partner.root / "waves"
    out.mkdir()
    (out / "discovered-004.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: ProductUpgrades\nmetadata: {name: discovered-004}\n"
        f"spec:\n  productFamily: Azure\n  customers:\n    - id: {customer(5)}\n")
    hand_written(partner.root, list(range(1, 5)))
    written = partner.discover(write="waves", wave_size=500).written
    assert [p.name for p in written] == ["discovered-005.yaml", "discovered-006.yaml"]
    listed = "".join(p.read_text() for p in written)
    assert customer(5) not in listed
    assert customer(1) not in listed
    assert listed.count("    - id: ") == 995


def test_a_prefix_names_the_files_and_the_documents(partner: Partner) -> None:
    written = partner.discover(write="out", prefix="emea", wave_size=1000).written
    assert [p.name for p in written] == ["emea-001.yaml"]
    assert "  name: emea-001\n" in written[0].read_text()
    assert "Customer 0007, \"Ltd\"" in written[0].read_text() or \
        "'Customer 0007, \"Ltd\"'" in written[0].read_text()


def test_csv_quotes_names_and_has_every_column(partner: Partner) -> None:
    result = partner.discover().discovery
    text = render.render_csv(result)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert list(rows[0]) == list(render.CSV_COLUMNS)
    assert len(rows) == 1040
    by_id = {r["customer_id"]: r for r in rows}
    assert by_id[customer(7)]["name"] == 'Customer 0007, "Ltd"'
    assert '"Customer 0007, ""Ltd"""' in text
    assert by_id[customer(7)]["managed"] == "false"
    assert text.endswith("\r\n")


def test_a_customer_that_cannot_be_read_is_reported_not_dropped(partner: Partner) -> None:
    lost = customer(5000)
    partner.sim.world.add_customer(lost, "Gone Ltd",
                                   error=(403, 20002, "No commerce relationship exists."))
    try:
        result = partner.discover().discovery
    finally:
        partner.sim.world.add_customer(lost, "Gone Ltd", legacy=False)
    assert [u.customer_id for u in result.unread] == [lost]
    assert "20002" in result.unread[0].error
    assert result.unread[0].correlation_id
    assert lost not in {f.customer_id for f in result.customers}
    assert render.summary_line(result).endswith("; 1 could not be read.")
    assert "Could not read 1 customer " in render.render_text(result)
    jsonschema.validate(render.to_dict(result), SCHEMA)


def test_names_cannot_drive_the_terminal(partner: Partner) -> None:
    evil = customer(5001)
    partner.sim.world.add_customer(evil, "Evil\x1b]0;owned\x07\n::error::forged\rCorp")
    try:
        text = render.render_text(partner.discover().discovery)
    finally:
        partner.sim.world.add_customer(evil, "Evil", legacy=False)
    row = next(line for line in text.splitlines() if evil in line)
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "\r" not in text
    assert "\\x1b]0;owned\\x07\\n::error::forged\\rCorp" in row or "Evil\\x1b" in row
    assert not any(line.startswith("::error") for line in text.splitlines())
