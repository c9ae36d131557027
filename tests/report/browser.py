"""A real headless browser (Debian's ``chromium``) for the report page: a screenshot and the
page's console messages.

Nothing leaves loopback: the page is a local file, every host name resolves to nothing, and
Chromium's own background traffic (updates, sync, metrics) is switched off.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: How CI says it is CI (``.ci/run`` exports it; GitHub Actions and Azure Pipelines set it too).
IN_CI = bool(os.environ.get("CI"))
_CONSOLE = re.compile(r'(?:CONSOLE|console)[^\n]*')
_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
          "--no-first-run", "--no-default-browser-check", "--disable-extensions",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-default-apps", "--disable-domain-reliability", "--metrics-recording-only",
          "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0")


def chromium() -> str | None:
    """The browser binary, if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass(frozen=True)
class Rendered:
    png: Path
    console: list[str]
    stderr: str


def render(page: Path, png: Path, *, width: int = 1000, height: int = 1400,
           timeout: float = 120) -> Rendered:
    """Load ``page`` and screenshot it; ``console``: the page's console messages."""
    binary = chromium()
    assert binary is not None, "chromium is not installed (apt-get install chromium)"
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        proc = subprocess.run(
            [binary, *_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}",
             f"--window-size={width},{height}", page.resolve().as_uri()],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
            check=False, env={**os.environ, "HOME": profile})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return Rendered(png, _CONSOLE.findall(proc.stderr), proc.stderr)
