"""The report in its three forms: JSON (``schemas/report.schema.json``), markdown for a job
summary, and one self-contained HTML page (Jinja2, autoescaped: company names and reasons are
untrusted input). Chart geometry is computed here, in plain values; the template only lays it
out, so the page carries no script and no external reference.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

import jinja2

from reconciler.render import markdown as md
from reconciler.report import Report, Standing

FORMAT_VERSION = "1"

#: Okabe-Ito, a palette told apart with every common colour-vision deficiency; every colour
#: also has its label beside it, so nothing is said by colour alone.
COLOURS = {
    Standing.VERIFIED: "#009E73", Standing.COMPLETED_UNVERIFIED: "#56B4E9",
    Standing.IN_PROGRESS: "#0072B2", Standing.PENDING: "#F0E442",
    Standing.FAILED: "#D55E00", Standing.BLOCKED: "#CC79A7", Standing.DEFERRED: "#E69F00",
    Standing.NOT_STARTED: "#BBBBBB",
}


def to_dict(report: Report) -> dict[str, Any]:
    """The JSON document, every count key always present."""
    return {
        "format_version": FORMAT_VERSION,
        "kind": "report",
        "generated_at": report.generated_at,
        "refreshed": report.refreshed,
        "total": report.total,
        "summary": dict(report.summary),
        "waves": [{"name": w.name, "source": w.source, "total": w.total, **w.counts}
                  for w in report.waves],
        "timeline": [asdict(day) for day in report.timeline],
        "failed": [asdict(p) for p in report.failed],
        "blocked": [asdict(p) for p in report.blocked],
        "longest_running": [asdict(r) for r in report.longest_running],
    }


def as_json(report: Report) -> str:
    return json.dumps(to_dict(report), indent=2) + "\n"


# --- markdown ----------------------------------------------------------------------------

def as_markdown(report: Report, *, max_chars: int = md.MAX_CHARS,
                details_url: str | None = None) -> str:
    """The same numbers for ``$GITHUB_STEP_SUMMARY``: counts and waves in full, the long
    tables cut to stay under GitHub's limit."""
    head = ["## Migration progress", "", _offline_note(report), "",
            md.row(*(s.label for s in Standing), "total"), "|" + "---|" * (len(Standing) + 1),
            md.row(*(str(report.summary[s.value]) for s in Standing), str(report.total)), ""]
    tables = [
        md.Table("Waves", ("wave", "source", *(s.label for s in Standing), "total"),
                 tuple(md.row(md.cell(w.name), md.cell(w.source),
                              *(str(w.counts[s.value]) for s in Standing), str(w.total))
                       for w in report.waves), "wave"),
        md.Table("Failed", ("customer", "name", "wave", "reason", "MS-CorrelationId"),
                 tuple(_problem_row(p) for p in report.failed), "failed customer"),
        md.Table("Blocked", ("customer", "name", "wave", "reason", "MS-CorrelationId"),
                 tuple(_problem_row(p) for p in report.blocked), "blocked customer"),
        md.Table("Longest-running upgrades", ("customer", "name", "wave", "since", "hours"),
                 tuple(md.row(f"`{r.customer_id}`", md.cell(r.customer_name), md.cell(r.wave),
                              r.since, f"{r.hours:g}") for r in report.longest_running),
                 "upgrade"),
        md.Table("Started and completed per day", ("day", "started", "completed"),
                 tuple(md.row(d.date, str(d.started), str(d.completed))
                       for d in reversed(report.timeline)), "day"),
    ]
    foot = [f"_Generated {report.generated_at} by `reconciler report`._"]
    return md.fit(head, tables, foot, max_chars=max_chars, full="the full report",
                  details_url=details_url)


def _offline_note(report: Report) -> str:
    if report.refreshed:
        return f"{report.total} managed customers, refreshed from Partner Center."
    return (f"{report.total} managed customers, from recorded state (not refreshed: customers "
            "never attempted count as not started; `--refresh` tells which are blocked).")


def _problem_row(problem: Any) -> str:
    return md.row(f"`{problem.customer_id}`", md.cell(problem.customer_name), md.cell(problem.wave),
                  md.cell(problem.reason), f"`{problem.correlation_id}`"
                  if problem.correlation_id else "")


# --- HTML --------------------------------------------------------------------------------

BAR_WIDTH = 560
BAR_HEIGHT = 22
CHART_HEIGHT = 160


@dataclass(frozen=True, slots=True)
class Segment:
    x: float
    width: float
    colour: str
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class Bar:
    name: str
    source: str
    y: float
    total: int
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class Column:
    x: float
    width: float
    height: float
    y: float
    kind: str
    date: str
    count: int


def bars(report: Report) -> tuple[Bar, ...]:
    """One stacked bar per wave, segments proportional to its counts (same full width)."""
    result = []
    for index, wave in enumerate(report.waves):
        x = 0.0
        segments = []
        for standing in Standing:
            count = wave.counts[standing.value]
            if not count:
                continue
            width = BAR_WIDTH * count / wave.total
            segments.append(Segment(round(x, 2), round(width, 2), COLOURS[standing],
                                    standing.label, count))
            x += width
        result.append(Bar(wave.name, wave.source, index * (BAR_HEIGHT + 24) + 18, wave.total,
                          tuple(segments)))
    return tuple(result)


def columns(report: Report) -> tuple[Column, ...]:
    """The timeline: per day a started and a completed column on one scale."""
    days = report.timeline
    if not days:
        return ()
    peak = max(max(d.started, d.completed) for d in days) or 1
    slot = BAR_WIDTH / len(days)
    width = max(slot / 2 - 1, 0.5)
    result = []
    for index, day in enumerate(days):
        for offset, kind, count in ((0, "started", day.started),
                                    (1, "completed", day.completed)):
            height = CHART_HEIGHT * count / peak
            result.append(Column(round(index * slot + offset * (width + 0.5), 2),
                                 round(width, 2), round(height, 2),
                                 round(CHART_HEIGHT - height, 2), kind, day.date, count))
    return tuple(result)


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("reconciler.render", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)


def as_html(report: Report) -> str:
    """One self-contained page: inline CSS, inline SVG, tables that carry every number."""
    template = _environment().get_template("report.html.j2")
    legend = [(s.label, COLOURS[s], report.summary[s.value]) for s in Standing]
    return template.render(report=report, standings=list(Standing), legend=legend,
                           bars=bars(report), columns=columns(report), bar_width=BAR_WIDTH,
                           bar_height=BAR_HEIGHT, chart_height=CHART_HEIGHT,
                           started_colour=COLOURS[Standing.IN_PROGRESS],
                           completed_colour=COLOURS[Standing.VERIFIED],
                           note=_offline_note(report).replace("`", ""))


def render(report: Report, fmt: str, *, details_url: str | None = None) -> str:
    """The report as ``fmt`` (html, markdown, json)."""
    if fmt == "json":
        return as_json(report)
    if fmt == "markdown":
        return as_markdown(report, details_url=details_url)
    return as_html(report)
