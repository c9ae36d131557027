"""Drift renderers against golden files (regenerate with ``UPDATE_GOLDEN=1``), JSON against the
schema, and the comment size cap at 20,000 drifted customers."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

from reconciler.drift import DriftItem, DriftKind, DriftReport
from reconciler.render import drift as render_drift
from reconciler.render import junit, markdown
from reconciler.schemacheck import validator_for
from tests.plan.helpers import NOW, key

GOLDEN = Path(__file__).parent / "golden"
UP = "aaaaaaaa-0000-4000-8000-000000000001"
LINEAGE = "6f1c3c9e-1111-4c1c-9c1c-000000000001"


def every_kind_report() -> DriftReport:
    items = (
        DriftItem(DriftKind.REVERTED, key(1), "completed", "eligible", UP,
                  "the customer is eligible for an upgrade again: Partner Center no longer "
                  f"knows upgrade {UP} (900106)", "Contoso | EMEA", "manifests/m.yaml:11"),
        DriftItem(DriftKind.FAILED, key(2), "completed", "failed", UP,
                  f"upgrade {UP} failed in Partner Center: cannot <process>", "Fabrikam & Co",
                  "manifests/m.yaml:12"),
        DriftItem(DriftKind.UNKNOWN_UPGRADE, key(3), "completed", "unknown_upgrade", UP,
                  f"Partner Center does not know upgrade {UP} (900106)",
                  None, "manifests/m.yaml:13"),
        DriftItem(DriftKind.FOREIGN_UPGRADE, key(4), "in_progress", "foreign_upgrade", UP,
                  f"Partner Center says upgrade {UP} belongs to another customer (900111)",
                  "Customer 4", None),
        DriftItem(DriftKind.OUT_OF_BAND, key(5), None, "upgraded", UP,
                  f"upgrade {UP} was made outside this tool", "Customer 5",
                  "manifests/m.yaml:15"),
        DriftItem(DriftKind.STUCK, key(6), "in_progress", "in_progress", UP,
                  "InProgress since 2026-11-20T09:00:00Z (5d), longer than the 24h threshold",
                  "Customer 6", "manifests/m.yaml:16"),
        DriftItem(DriftKind.LEGACY_ACTIVE, key(7), "completed", "legacy_active", UP,
                  f"upgrade {UP} reads Completed, but MS-AZR-0145P subscription s-7 is active "
                  "again", "Customer 7", "manifests/m.yaml:17"),
        DriftItem(DriftKind.AZURE_PLAN_MISSING, key(8), "completed", "azure_plan_missing", UP,
                  f"upgrade {UP} reads Completed, but the customer has no active Azure plan "
                  "subscription", "Customer 8", "manifests/m.yaml:18"),
    )
    return DriftReport(items, 120, NOW, LINEAGE, 7)


def clean_report() -> DriftReport:
    return DriftReport((), 120, NOW, LINEAGE, 7)


def check_golden(name: str, content: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(content, encoding="utf-8")
    assert content == path.read_text(encoding="utf-8")


def test_markdown_golden() -> None:
    rendered = render_drift.render_markdown(every_kind_report())
    check_golden("every-kind.md", rendered)
    assert rendered.startswith(render_drift.MARKER)
    assert render_drift.MARKER != markdown.MARKER  # a workflow updates the right comment
    assert "Contoso \\| EMEA" in rendered


def test_markdown_without_drift_golden() -> None:
    check_golden("clean.md", render_drift.render_markdown(clean_report()))


def test_junit_golden_and_shape() -> None:
    rendered = junit.render(every_kind_report())
    check_golden("every-kind.junit.xml", rendered)
    root = ET.fromstring(rendered.encode())
    cases = root.findall("testsuite/testcase")
    assert len(cases) == 9
    assert [c.find("failure") is not None for c in cases] == [True] * 8 + [False]
    assert cases[-1].get("name") == "112 managed upgrades without drift"


def test_junit_without_drift_has_one_passing_case() -> None:
    root = ET.fromstring(junit.render(clean_report()).encode())
    assert root.get("failures") == "0"
    assert len(root.findall("testsuite/testcase")) == 1


def test_text_golden() -> None:
    check_golden("every-kind.txt", render_drift.render_text(every_kind_report()))
    assert render_drift.render_text(clean_report()).endswith(
        "No drift. Partner Center matches the recorded state.\n")


def test_json_golden_and_schema() -> None:
    rendered = render_drift.render_json(every_kind_report())
    check_golden("every-kind.json", rendered)
    document = json.loads(rendered)
    assert list(validator_for("drift.schema.json").iter_errors(document)) == []
    assert list(document["drift"][0])[:6] == ["customer_id", "product_family", "recorded",
                                              "observed", "upgrade_id", "detail"]


def test_schema_copies_are_identical() -> None:
    root = Path(__file__).parents[2]
    assert (root / "schemas" / "drift.schema.json").read_bytes() == \
        (root / "reconciler" / "schemas" / "drift.schema.json").read_bytes()


def test_markdown_size_cap_holds_for_20000_drifted_customers() -> None:
    kinds = list(DriftKind)
    items = tuple(DriftItem(kinds[n % len(kinds)], key(n), "completed", "eligible", UP,
                            "x" * 60, f"Customer {n}", f"manifests/m.yaml:{n}")
                  for n in range(1, 20_001))
    rendered = render_drift.render_markdown(DriftReport(items, 25_000, NOW, LINEAGE, 7))
    assert len(rendered) < 65_536
    assert rendered.startswith(render_drift.MARKER)
    assert "rows left out" in rendered
    assert "rows in all were left out of this comment" in rendered
    assert "Drift: 20000 of 25000" in rendered
    assert rendered.rstrip().endswith("</sub>")


def test_fit_never_exceeds_the_cap_even_with_a_huge_head() -> None:
    text = markdown.fit(["x" * 500], [markdown.Table("T", ("a",), ("| b |",) * 100, "rows")],
                        ["end"], max_chars=300, full="the log")
    assert len(text) <= 300


def test_every_format_says_what_to_do_about_each_kind() -> None:
    report = every_kind_report()
    text = render_drift.render_text(report)
    comment = render_drift.render_markdown(report)
    reports = junit.render(report)
    for item in report.items:
        remedy = item.remedy
        assert remedy == DriftKind(item.kind).remedy(item.customer_id)
        assert f"what to do: {remedy}" in text
        assert markdown.cell(remedy) in comment
        assert f"what to do: {remedy}" in "".join(ET.fromstring(reports).itertext())
    assert "`reconciler plan --refresh-all`" in DriftKind.REVERTED.remedy("x")
    assert "`reconciler state rm x`" in DriftKind.UNKNOWN_UPGRADE.remedy("x")
