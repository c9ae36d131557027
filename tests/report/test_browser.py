"""The HTML report in a real headless browser: it draws something and logs no console error.

Skipped only on a developer machine without chromium; in CI (``.ci/run`` installs chromium and
sets ``CI``) it always runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from reconciler import workflow
from reconciler.render import report as rendered
from tests.report.browser import IN_CI, chromium, render
from tests.report.conftest import Mixed

pytestmark = pytest.mark.skipif(chromium() is None and not IN_CI,
                                reason="chromium is not installed (apt-get install chromium)")


def _colours(png: Path) -> int:
    with Image.open(png) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None
    return len(colours)


def test_the_report_renders_in_chromium_without_console_errors(mixed: Mixed,
                                                               tmp_path: Path) -> None:
    result = workflow.make_report(mixed.settings, mixed.settings.manifests, refresh=True)
    page = tmp_path / "report.html"
    page.write_text(rendered.as_html(result), encoding="utf-8")
    shot = render(page, tmp_path / "report.png")
    with Image.open(shot.png) as image:
        assert image.size == (1000, 1400)
        # Not blank: text, swatches and the Okabe-Ito bar colours, not one flat fill.
        assert image.convert("RGB").getpixel((500, 1)) is not None
    assert _colours(shot.png) > 50
    assert shot.console == [], shot.console


def test_a_console_error_would_be_seen(tmp_path: Path) -> None:
    """The detector itself: a page that logs an error is caught (so an empty list means
    something)."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom')</script>")
    shot = render(page, tmp_path / "bad.png", width=200, height=200)
    assert any("boom" in line for line in shot.console), shot.stderr[-2000:]
