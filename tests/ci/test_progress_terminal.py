"""The live progress line on a real pseudo-terminal: never wider than the terminal, so every
redraw overwrites the last and nothing stale stays on screen; a large simulated seeding is
announced and quick."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

from reconciler import connect
from reconciler.cli.progress import Progress, fit
from reconciler.manifest import load
from reconciler.settings import LocalBackendSettings, Settings

_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Screen:
    """Just enough of a terminal to see wrapping and leftovers: \\r, \\n, erase-line, text."""

    def __init__(self, width: int) -> None:
        self.width, self.rows, self.col, self.wrapped = width, [""], 0, 0

    def feed(self, text: str) -> None:
        for token in re.split(r"(\x1b\[[0-9;?]*[A-Za-z]|\r|\n)", text):
            if token == "\r":
                self.col = 0
            elif token == "\n":
                self.rows.append("")
                self.col = 0
            elif token in ("\x1b[2K", "\x1b[K"):
                self.rows[-1] = self.rows[-1][:self.col] if token == "\x1b[K" else ""
            elif _ESCAPE.fullmatch(token or "x"):
                continue  # colours
            else:
                for char in token:
                    if self.col >= self.width:  # the terminal wraps: the redraw is lost
                        self.wrapped += 1
                        self.rows.append("")
                        self.col = 0
                    row = self.rows[-1].ljust(self.col)
                    self.rows[-1] = row[:self.col] + char + row[self.col + 1:]
                    self.col += 1


def manifest(directory: Path, count: int) -> None:
    (directory / "manifests").mkdir()
    customers = "".join(f"    - id: {uuid.UUID(int=(1 << 126) + n)}\n" for n in range(count))
    (directory / "manifests" / "fleet.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: ProductUpgrades\nmetadata: {name: fleet}\n"
        f"spec:\n  productFamily: Azure\n  customers:\n{customers}")


def run_on_pty(args: list[str], cwd: Path, columns: int) -> str:
    """Run the CLI with stderr on a pseudo-terminal of ``columns``; return what it drew."""
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RECONCILER_", "PARTNER_CENTER_", "GITHUB_", "TF_BUILD"))}
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", *args], cwd=cwd,
                            env={**env, "COLUMNS": str(columns)}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=120) == 0
    return b"".join(chunks).decode()


def test_a_narrow_terminal_gets_one_line_that_never_wraps(tmp_path: Path) -> None:
    manifest(tmp_path, 40)
    drawn = run_on_pty(["--simulate", "plan"], tmp_path, columns=30)
    assert "Refreshing" in drawn  # the line was drawn, more than once
    screen = Screen(30)
    screen.feed(drawn)
    assert screen.wrapped == 0
    assert not any("Refreshing" in row for row in screen.rows)  # cleared when done


def test_a_line_is_cut_to_the_width_and_each_redraw_erases_the_last() -> None:
    class Tty:
        def __init__(self) -> None:
            self.text = ""

        def write(self, text: str) -> None:
            self.text += text

        def flush(self) -> None:
            return

        def isatty(self) -> bool:
            return True

    stream = Tty()
    now = [0.0]
    progress = Progress("Refreshing", stream=stream, clock=lambda: now[0],  # type: ignore[arg-type]
                        width=lambda: 24)
    for done in (1, 500, 999):
        now[0] += 1
        progress(done, 1000)
    progress.finish()
    screen = Screen(24)
    screen.feed(stream.text)
    assert screen.wrapped == 0
    assert screen.rows == [""]
    assert fit("Refreshing: 1/1000 (0%), 1.0/s", 24) == "Refreshing: 1/1000 (0%…"
    assert fit("short", 24) == "short"


def test_seeding_thousands_of_customers_is_announced_and_quick(tmp_path: Path) -> None:
    manifest(tmp_path, 3000)
    settings = Settings(backend=LocalBackendSettings(path=tmp_path / "state" / "state.json"),
                        simulate=True)
    heard: list[str] = []
    started = time.perf_counter()
    with connect.open_client(settings, desired=load([tmp_path / "manifests"]),
                             notice=heard.append):
        took = time.perf_counter() - started
    assert heard == ["Seeding the simulator with 3000 customers…"]
    # One save for the lot (it took ~57 s when every customer saved the world).
    assert took < 10


def test_a_few_customers_are_seeded_silently(tmp_path: Path) -> None:
    manifest(tmp_path, 3)
    settings = Settings(backend=LocalBackendSettings(path=tmp_path / "state" / "state.json"),
                        simulate=True)
    heard: list[str] = []
    with connect.open_client(settings, desired=load([tmp_path / "manifests"]),
                             notice=heard.append):
        pass
    assert heard == []
