"""Renderers against golden files, JSON against the schema, and saved-plan round trips.

Regenerate the golden files after an intended change with ``UPDATE_GOLDEN=1 pytest tests/plan``
and review the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from types import MappingProxyType

import pytest

from reconciler import planfile
from reconciler.errors import PlanError
from reconciler.observed import Observed, SeenEligibility, SeenStatus
from reconciler.plan import Plan, make
from reconciler.render import json as render_json
from reconciler.render import markdown, text
from reconciler.schemacheck import validator_for
from reconciler.state import RecordStatus
from tests.plan.helpers import NOW, desired, key, record, state

GOLDEN = Path(__file__).parent / "golden"
UP = "aaaaaaaa-0000-4000-8000-000000000001"


def every_action_plan() -> Plan:
    records = [
        record(3, RecordStatus.PENDING),
        record(4, RecordStatus.FAILED, upgrade_id=UP, error="subscription suspended"),
        record(5, RecordStatus.IN_PROGRESS, upgrade_id=UP, remote="InProgress"),
        record(6, RecordStatus.IN_PROGRESS, upgrade_id=UP, remote="InProgress"),
        record(7, RecordStatus.COMPLETED, upgrade_id=UP, remote="Completed"),
        record(9, RecordStatus.COMPLETED, upgrade_id=UP, remote="Completed"),
    ]
    eligibility = {
        1: SeenEligibility(True), 2: SeenEligibility(True, upgrade_id=UP),
        3: SeenEligibility(True), 4: SeenEligibility(True),
        8: SeenEligibility(False, reason="Customer has no Azure subscriptions | none",
                           error_code="900108"),
    }
    status = {5: SeenStatus(UP, "Completed"), 6: SeenStatus(UP, "InProgress")}
    observed = Observed(MappingProxyType({key(n): e for n, e in eligibility.items()}),
                        MappingProxyType({key(n): s for n, s in status.items()}), refreshed=True)
    return make(desired(1, 2, 3, 4, 5, 6, 7, 8), state(*records), observed, created_at=NOW)


def check_golden(name: str, content: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(content, encoding="utf-8")
    assert content == path.read_text(encoding="utf-8")


def test_text_golden() -> None:
    check_golden("every-action.txt", text.render(every_action_plan()))


def test_text_colour_golden() -> None:
    rendered = text.render(every_action_plan(), color=True)
    assert "\x1b[" in rendered
    check_golden("every-action.color.txt", rendered)


def test_text_converged_plan() -> None:
    plan = make(desired(7), state(record(7, RecordStatus.COMPLETED)), Observed(),
                created_at=NOW)
    check_golden("converged.txt", text.render(plan))


def test_markdown_golden() -> None:
    check_golden("every-action.md", markdown.render(every_action_plan()))


def test_json_golden_and_schema() -> None:
    rendered = render_json.render(every_action_plan())
    check_golden("every-action.json", rendered)
    document = json.loads(rendered)
    assert list(validator_for("plan.schema.json").iter_errors(document)) == []
    assert document["summary"] == {"create": 1, "adopt": 1, "resume": 1, "retry": 1,
                                   "update": 1, "forget": 1, "blocked": 1, "wait": 1, "defer": 0,
                                   "noop": 1}
    assert [c["action"] for c in document["changes"]] == [
        "create", "adopt", "resume", "retry", "update", "forget", "blocked", "wait", "noop"]


def test_markdown_size_cap_holds_for_20000_customers() -> None:
    numbers = range(1, 20_001)
    eligibility = {key(n): SeenEligibility(n % 3 != 0, reason="x" * 40) for n in numbers}
    plan = make(desired(*numbers), None, Observed(MappingProxyType(eligibility), refreshed=True),
                created_at=NOW)
    rendered = markdown.render(plan)
    assert len(rendered) < 65_536
    assert rendered.startswith(markdown.MARKER)
    assert "rows left out" in rendered
    assert "Plan: 13334 to create" in rendered


def test_saved_plan_round_trip(tmp_path: Path) -> None:
    plan = every_action_plan()
    path = tmp_path / "plans" / "tfplan.json"
    planfile.write(plan, path)
    assert planfile.read(path) == plan


@pytest.mark.parametrize(("content", "message"), [
    ("not json", "is not a plan (not valid JSON"),
    ('{"kind": "plan"}', "is not a valid plan"),
    ('{"format_version": "9", "kind": "plan"}', "has format '9'"),
])
def test_bad_plan_files_are_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(PlanError, match=re.escape(message)):
        planfile.read(path)


def test_missing_plan_file(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="Cannot read the plan file"):
        planfile.read(tmp_path / "missing.json")


def test_a_capped_comment_links_to_the_full_plan_when_given_its_url() -> None:
    numbers = range(1, 20_001)
    eligibility = {key(n): SeenEligibility(True, reason="x" * 40) for n in numbers}
    plan = make(desired(*numbers), None, Observed(MappingProxyType(eligibility), refreshed=True),
                created_at=NOW)
    url = "https://github.com/o/r/actions/runs/1/artifacts/2?x=(y)"
    rendered = markdown.render(plan, details_url=url)
    assert len(rendered) < 65_536
    target = "[the full plan](https://github.com/o/r/actions/runs/1/artifacts/2?x=%28y%29)"
    assert f"see {target}._" in rendered
    assert "in the job log" not in rendered
    assert "in the job log" in markdown.render(plan)  # without a URL, the log has it


def test_an_uncapped_comment_still_links_to_the_full_plan() -> None:
    rendered = markdown.render(every_action_plan(), details_url="https://example.test/plan")
    assert "See [the full plan](https://example.test/plan).\n\n<sub>" in rendered
    assert rendered.replace("See [the full plan](https://example.test/plan).\n\n", "") == \
        markdown.render(every_action_plan())


def test_a_saved_plan_id_with_a_trailing_newline_is_not_a_guid(tmp_path: Path) -> None:
    # Python's $ also matches before a final newline; JSON Schema's (ECMA 262) does not.
    path = tmp_path / "tfplan.json"
    planfile.write(every_action_plan(), path)
    document = json.loads(path.read_text())
    document["changes"][0]["customer_id"] += "\n"
    path.write_text(json.dumps(document))
    with pytest.raises(PlanError, match=r"changes/0/customer_id: .* does not match"):
        planfile.read(path)


@pytest.mark.parametrize("count", [600, 640, 5_000])
@pytest.mark.parametrize("pad", [1, 8, 10, 27])
@pytest.mark.parametrize("url", [None, "https://github.com/o/r/actions/runs/123456789/artifacts/1"])
def test_a_large_plan_comment_shows_as_many_rows_as_fit(count: int, pad: int,
                                                         url: str | None) -> None:
    """Issue 19, item 10: at ~600 creates the "N more left out" note overran its reserve and
    the whole table was dropped (these name lengths did so before the fix)."""
    numbers = range(1, count + 1)
    eligibility = {key(n): SeenEligibility(True) for n in numbers}
    base = make(desired(*numbers), None, Observed(MappingProxyType(eligibility), refreshed=True),
                created_at=NOW)
    plan = dataclasses.replace(base, changes=tuple(
        dataclasses.replace(c, customer_name=f"{c.customer_name}{'x' * pad}")
        for c in base.changes))
    rendered = markdown.render(plan, details_url=url)
    shown = rendered.count("\n| `")
    assert len(rendered) <= markdown.MAX_CHARS
    assert shown > 0
    left_out = re.search(r"_(\d+) more create rows left out", rendered)
    assert left_out is not None
    assert shown + int(left_out[1]) == count
    # Nothing more would have fitted: one more row would pass the cap.
    row_length = len(markdown.render(dataclasses.replace(plan, changes=plan.changes[:1]))
                     .split("\n| `")[1].split("\n")[0]) + 3
    assert len(rendered) + row_length > markdown.MAX_CHARS - markdown._RESERVE
