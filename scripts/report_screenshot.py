"""Make docs/report.png: a sample report (made-up customers) rendered by headless chromium.

    python scripts/report_screenshot.py [OUT.png]

The same browser helper as the tests (tests/report/browser.py), so the picture in the README
is what the browser test sees.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reconciler import report  # noqa: E402
from reconciler.render.report import as_html  # noqa: E402
from tests.report.browser import render  # noqa: E402

S = report.Standing
WAVES = [("emea-wave-1", {S.VERIFIED: 412, S.COMPLETED_UNVERIFIED: 18, S.IN_PROGRESS: 35,
                          S.FAILED: 4, S.BLOCKED: 9}),
         ("americas-north", {S.VERIFIED: 120, S.IN_PROGRESS: 64, S.PENDING: 2, S.FAILED: 1,
                             S.BLOCKED: 3, S.NOT_STARTED: 210}),
         ("apac-pilot", {S.DEFERRED: 150, S.NOT_STARTED: 12})]


def sample() -> report.Report:
    waves = tuple(report.Wave(name, f"manifests/{name}.yaml",
                              {s.value: found.get(s, 0) for s in S}) for name, found in WAVES)
    summary = {s.value: sum(w.counts[s.value] for w in waves) for s in S}
    timeline = tuple(report.Day(f"2026-11-{d:02d}", 20 + (d * 7) % 23, max(0, 12 + (d * 5) % 19
                                                                             - (3 if d < 4 else 0)))
                     for d in range(1, 31))
    failed = (report.Problem("4c721420-72ad-4708-a0a7-371a2f7b0969", "Contoso Ltd", "Azure",
                             "emea-wave-1", "Upgrade failed: subscription has a spending limit",
                             "5d7c1f2a-93e4-4b8e-a1c2-7f0e9d3b6a41"),)
    blocked = (report.Problem("58e2af4f-0ad3-4688-8744-be2357cd939a", "Fabrikam GmbH", "Azure",
                              "emea-wave-1", "not eligible: customer has active reserved "
                              "instances", "0b9e4d21-6c3a-4f7e-8d52-a1e6c0f7b934"),)
    running = tuple(report.Running(f"9b1f3c2e-5a47-4c0d-b6e2-1d8f7a9c4e{n:02d}",
                                   f"Tailspin Toys {n}", "Azure", "americas-north",
                                   f"1f0e2d3c-4b5a-4968-8776-5a4b3c2d1e{n:02d}",
                                   f"2026-11-{n + 1:02d}T08:00:00Z", 700.0 - n * 24)
                    for n in range(1, 4))
    return report.Report("2026-12-01T06:00:00Z", True, summary, waves, timeline, failed,
                         blocked, running)


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "report.png"
    with tempfile.TemporaryDirectory() as work:
        page = Path(work) / "report.html"
        page.write_text(as_html(sample()), encoding="utf-8")
        render(page, out, width=1000, height=1500)
    print(f"Wrote {out}")


if __name__ == "__main__":
    main()
