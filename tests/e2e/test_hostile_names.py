"""Hostile names (issue 19, item 6): a customer or company name, a manifest name or a reason
from Partner Center is free text. Whatever it holds, no terminal escape sequence, control
character or CI logging command reaches the output, and in markdown it stays plain text inside
its table cell."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from reconciler.drift import DriftItem, DriftKind, DriftReport
from reconciler.model import UpgradeKey
from reconciler.render import junit, markdown, safe
from tests.e2e.conftest import Project, _read_terminal, customer

#: A title-setting OSC, a clear-screen CSI, a bell, a C1 CSI, a carriage return and a newline
#: followed by forged CI commands, markdown that would link, mention and embed, and HTML.
HOSTILE = ("Evil\x1b]0;owned\x07\x1b[2J\x9b31m\rCorp\n::error::forged ##vso[task.prependpath]"
           "/evil ![x](https://e.example/x.png) [click](https://e.example) @octocat "
           "<img src=x> | www.e.example")
#: Byte sequences that must never reach a terminal or log from a name.
RAW = (b"\x1b]", b"\x1b[2J", b"\x07", "\x9b".encode(), b"\rCorp")


def _yaml_name(text: str) -> str:
    return json.dumps(text)  # a JSON string is a YAML double-quoted scalar


def _hostile_project(project: Project) -> None:
    project.sim.world.add_customer(customer(1), HOSTILE)
    project.sim.world.add_customer(customer(2), HOSTILE, eligible=False, reason=HOSTILE)
    path = project.manifest([1, 2])
    text = path.read_text().replace("name: Customer 1", f"name: {_yaml_name(HOSTILE)}") \
        .replace("name: Customer 2", f"name: {_yaml_name(HOSTILE)}")
    path.write_text(text)


def _on_terminal(project: Project, *args: str) -> tuple[int, bytes]:
    main, secondary = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", *args], cwd=project.root,
                            env=project.env, stdin=secondary, stdout=secondary,
                            stderr=secondary)
    os.close(secondary)
    try:
        shown = _read_terminal(main, until=None, timeout=120)
        return proc.wait(timeout=120), shown
    finally:
        proc.kill()
        proc.wait()
        os.close(main)


def _assert_harmless(output: bytes) -> None:
    for raw in RAW:
        assert raw not in output, (raw, output)
    lines = output.replace(b"\r\n", b"\n").split(b"\n")
    assert not [line for line in lines if line.lstrip().startswith(b"::error::forged")]
    assert b"##vso[task.prependpath]" not in output


@pytest.mark.slow  # seven commands on a terminal
def test_hostile_names_never_drive_the_terminal(project: Project) -> None:
    _hostile_project(project)
    for args in (["plan", "--no-color"], ["plan"], ["apply", "--auto-approve", "--no-color"],
                 ["state", "list"], ["state", "show", customer(1)], ["drift", "--no-color"],
                 ["discover"]):
        code, shown = _on_terminal(project, *args)
        assert code in (0, 2), (args, shown)
        _assert_harmless(shown)
        if args[0] in ("plan", "apply", "discover"):
            assert b"Evil\\x1b]0;owned\\x07\\x1b[2J" in shown, (args, shown)  # shown, not obeyed


def test_hostile_names_forge_no_ci_command(project: Project, tmp_path: Path) -> None:
    _hostile_project(project)
    summary = tmp_path / "summary.md"
    for ci_env in ({"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)},
                   {"TF_BUILD": "True", "AGENT_TEMPDIRECTORY": str(tmp_path)}):
        project.env.update(ci_env)
        for args in (["plan"], ["apply", "--auto-approve"], ["drift"]):
            result = project.run(*args)
            assert result.returncode in (0, 1, 2), result.stderr
            _assert_harmless((result.stdout + result.stderr).encode())
        for key in ci_env:
            del project.env[key]
    comments = summary.read_text() + "".join(p.read_text() for p in tmp_path.glob("*.md")
                                             if p != summary)
    assert "Evil" in comments
    _assert_markdown_inert(comments)


def _assert_markdown_inert(text: str) -> None:
    for bad in ("![x](", "[click](", "@octocat", "<img", "\r", "\x1b", "##vso[", "://e."):
        assert bad not in text, (bad, text)


def test_a_hostile_cell_stays_in_its_cell() -> None:
    cell = markdown.cell(HOSTILE)
    _assert_markdown_inert(cell)
    assert "\n" not in cell
    assert "|" not in cell.replace("\\|", "")
    assert markdown.cell("a_b _c_ `d`") == "a_b \\_c\\_ \\`d\\`"


def test_junit_holds_hostile_names_as_valid_xml() -> None:
    item = DriftItem(DriftKind.FAILED, UpgradeKey(customer(1), "Azure"), "completed", "Failed",
                     None, HOSTILE, customer_name=HOSTILE)
    xml = junit.render(DriftReport((item,), 1, "2026-11-25T10:00:00Z"))
    case = ET.fromstring(xml.split("\n", 1)[1]).find("testsuite/testcase")
    assert case is not None
    assert "\x1b" not in case.get("name", "")
    assert "Evil\\x1b" in case.get("name", "")
    assert b"\x1b" not in xml.encode()


def test_visible_and_excerpt() -> None:
    assert safe.visible("a\x1b[31mb\u202ec") == "a\\x1b[31mb\\u202ec"
    assert safe.visible("x ##VSO[task.setvariable]y") == "x \\x23#VSO[task.setvariable]y"
    assert safe.visible("  ::warning::x") == "  \\x3a:warning::x"
    assert safe.visible(None) == ""
    assert safe.excerpt("x" * 1_000_000) == "x" * 79 + "…"
    assert safe.defuse_ci("ok\n::error::x\n") == "ok\n\\x3a:error::x\n"
