"""``reconciler report`` on a mixed fleet: the fold, per wave, offline unless --refresh, never a
write, and pages that are safe to open from an e-mail."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import jsonschema

from reconciler import report, workflow
from reconciler.plan import Action
from reconciler.render import report as rendered
from tests.conftest import REPO, Result
from tests.e2e.conftest import customer
from tests.report.conftest import EXPECTED, HOSTILE, HOSTILE_REASON, Mixed

RunCli = Callable[..., Result]


def _expected(column: int) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    overall = report.counts(report.Standing(v[column]) for v in EXPECTED.values())
    waves = {wave: report.counts(report.Standing(v[column]) for v in EXPECTED.values()
                                 if v[0] == wave) for wave in ("wave-1", "wave-2", "wave-3")}
    return overall, waves


def test_every_plan_action_has_a_row_in_the_fold() -> None:
    actions = {action.value for action in Action}
    assert actions <= set(report.BY_ACTION), actions - set(report.BY_ACTION)
    assert set(report.BY_ACTION) == actions  # no stale row either


def test_the_fold_follows_the_record_where_the_plan_adds_nothing() -> None:
    assert report.standing(None, None) is report.Standing.NOT_STARTED
    assert [s.value for s in report.Standing] == list(report.counts([]))


def test_counts_match_the_state_overall_and_per_wave_without_a_call(mixed: Mixed) -> None:
    result = workflow.make_report(mixed.settings, mixed.settings.manifests)
    overall, waves = _expected(1)
    assert result.summary == overall
    assert {w.name: w.counts for w in result.waves} == waves
    assert {w.name: Path(w.source).name for w in result.waves} == {
        "wave-1": "wave-1.yaml", "wave-2": "wave-2.yaml", "wave-3": "wave-3.yaml"}
    assert mixed.sim.requests == []
    assert not result.refreshed


def test_refresh_tells_blocked_from_not_started(mixed: Mixed) -> None:
    result = workflow.make_report(mixed.settings, mixed.settings.manifests, refresh=True)
    overall, waves = _expected(2)
    assert result.summary == overall
    assert {w.name: w.counts for w in result.waves} == waves
    blocked = {p.customer_id: p for p in result.blocked}
    assert set(blocked) == {customer(7)}
    assert "reserved instances" in blocked[customer(7)].reason
    assert blocked[customer(7)].correlation_id  # the refresh's own call
    assert mixed.sim.requests
    posts = {r.path for r in mixed.sim.requests if r.method != "GET"}
    assert "/v1/productUpgrades" not in posts  # reads only: no create


def test_failed_carry_reason_and_correlation_id_and_the_longest_running(mixed: Mixed) -> None:
    result = workflow.make_report(mixed.settings, mixed.settings.manifests)
    failed = {p.customer_id: p for p in result.failed}
    assert failed[customer(4)].correlation_id == "corr-4"
    assert failed[customer(4)].reason == "No subscriptions"
    assert [r.customer_id for r in result.longest_running] == [customer(8), customer(3)]
    assert result.longest_running[0].hours > result.longest_running[1].hours > 0
    assert [(d.date, d.started, d.completed) for d in result.timeline] == [
        ("2026-11-01", 2, 0), ("2026-11-02", 1, 1)]


def test_the_cli_writes_json_the_schema_accepts_and_never_the_state(mixed: Mixed,
                                                                    run_cli: RunCli) -> None:
    before = mixed.state_file.read_bytes()
    files = sorted(p.name for p in mixed.root.iterdir())
    out = run_cli(*mixed.cli_args(), "--format", "json",
                  env={"PARTNER_CENTER_ACCESS_TOKEN": mixed.sim.token})
    assert out.code == 0, out.stderr
    document = json.loads(out.stdout)
    schema = json.loads((REPO / "schemas" / "report.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(document)
    assert document["summary"] == _expected(1)[0]
    assert mixed.sim.requests == []
    assert mixed.state_file.read_bytes() == before
    assert sorted(p.name for p in mixed.root.iterdir()) == files  # no lock file either
    refreshed = run_cli(*mixed.cli_args(), "--format", "json", "--refresh",
                        env={"PARTNER_CENTER_ACCESS_TOKEN": mixed.sim.token})
    assert refreshed.code == 0, refreshed.stderr
    assert json.loads(refreshed.stdout)["summary"]["blocked"] == 1
    assert mixed.state_file.read_bytes() == before


def test_the_html_has_no_script_no_external_reference_and_escapes_names(
        mixed: Mixed, run_cli: RunCli) -> None:
    page = mixed.root / "report.html"
    out = run_cli(*mixed.cli_args(), "--out", str(page),
                  env={"PARTNER_CENTER_ACCESS_TOKEN": mixed.sim.token})
    assert out.code == 0, out.stderr
    assert out.stdout == f"Saved the report to {page}.\n"
    html = page.read_text()
    assert "<script" not in html.lower()
    assert not re.search(r"(?i)https?:|//[a-z]", html)
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&#34;Quote&#34; &amp; &#39;Apostrophe&#39;" in html
    assert "@media print" in html
    for label in ("verified", "completed, unverified", "not started", "in progress"):
        assert label in html
    assert HOSTILE not in html
    assert HOSTILE_REASON not in html


def test_the_markdown_escapes_names_and_fits_a_job_summary(mixed: Mixed) -> None:
    result = workflow.make_report(mixed.settings, mixed.settings.manifests)
    text = rendered.as_markdown(result)
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    assert "| 1 | 1 | 2 | 1 | 2 | 0 | 2 | 2 | 11 |" in text


def test_markdown_stays_under_the_summary_limit_at_20000_customers() -> None:
    standings = list(report.Standing)
    problems = tuple(report.Problem(customer(n), f"Customer | {n} <b>", "Azure", "wave-1",
                                    "not eligible: " + "x" * 80, f"corr-{n}")
                     for n in range(20_000))
    big = report.Report(
        generated_at="2026-12-01T00:00:00Z", refreshed=True,
        summary=report.counts(standings[n % len(standings)] for n in range(20_000)),
        waves=tuple(report.Wave(f"wave-{w}", f"manifests/wave-{w}.yaml",
                                report.counts([report.Standing.FAILED] * 100))
                    for w in range(200)),
        timeline=tuple(report.Day(f"2026-{m:02d}-{d:02d}", 300, 250)
                       for m in range(1, 13) for d in range(1, 29)),
        failed=problems[:10_000], blocked=problems[10_000:],
        longest_running=())
    text = rendered.as_markdown(big)
    assert len(text) < 65_000
    assert "| 2500 | 2500 |" in text  # the counts are never cut
    assert "left out" in text
    assert Counter(text)["\x00"] == 0
