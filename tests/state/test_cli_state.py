"""``state list|show|rm`` and ``force-unlock`` through click, on real files.

A tiny root group stands in for the real one (which is in flux): it puts a Settings in ctx.obj
and turns ReconcilerError into a message and exit code 1, as the real one does.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from reconciler.backends import LocalBackend, LockInfo
from reconciler.cli.state import force_unlock, state
from reconciler.errors import ReconcilerError
from reconciler.settings import LocalBackendSettings, Settings
from reconciler.state import State
from tests.state.helpers import customer, make_record


def _root(path: Path) -> click.Group:
    @click.group()
    @click.pass_context
    def root(ctx: click.Context) -> None:
        ctx.obj = Settings(backend=LocalBackendSettings(path=path))

    root.add_command(state)
    root.add_command(force_unlock)
    return root


def _run(path: Path, *args: str, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(_root(path), list(args), input=stdin)
    if isinstance(result.exception, ReconcilerError):
        result.exit_code = 1
    elif result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def _error(result: Result) -> str:
    assert isinstance(result.exception, ReconcilerError)
    return result.exception.message


def _seed(path: Path) -> State:
    backend = LocalBackend(path)
    info = backend.lock(LockInfo.new("apply"))
    state = State.of(
        "lineage-1",
        4,
        [make_record(1), make_record(1, family="Other"), make_record(2, failed=True)],
    )
    backend.write(state)
    backend.unlock(info.id)
    return state


def test_list_without_state_creates_nothing(state_path: Path) -> None:
    result = _run(state_path, "state", "list")
    assert result.exit_code == 0
    assert f"No upgrades are recorded in local state file {state_path}." in result.output
    as_json = json.loads(_run(state_path, "state", "list", "--format", "json").output)
    assert as_json["records"] == []
    assert as_json["lineage"] is None
    assert not state_path.parent.exists()


def test_list_text_and_json(state_path: Path) -> None:
    _seed(state_path)
    text = _run(state_path, "state", "list").output.splitlines()
    assert text[0].split() == [
        "CUSTOMER",
        "ID",
        "FAMILY",
        "STATUS",
        "UPGRADE",
        "ID",
        "UPDATED",
        "SOURCE",
    ]
    assert text[1].split()[:3] == [customer(1), "Azure", "completed"]
    assert text[3].split()[:3] == [customer(2), "Azure", "failed"]
    assert text[-1] == "3 recorded (lineage lineage-1, serial 4)."
    doc = json.loads(_run(state_path, "state", "list", "--format", "json").output)
    assert doc["serial"] == 4
    assert [r["customer_id"] for r in doc["records"]] == [
        customer(1),
        customer(1),
        customer(2),
    ]


def test_show_one_customer(state_path: Path) -> None:
    _seed(state_path)
    out = _run(state_path, "state", "show", customer(2).upper()).output
    assert f"{customer(2)}/Azure" in out
    assert "failed (Partner Center: Failed)" in out
    assert "E42: Subscription is disabled (MS-CorrelationId corr-1)" in out
    assert "MS-AZR-0145P (Microsoft Azure) -> DZH318Z0BCZM (Azure plan): Completed" in out
    doc = json.loads(_run(state_path, "state", "show", customer(1), "--format", "json").output)
    assert [r["product_family"] for r in doc["records"]] == ["Azure", "Other"]


def test_show_unknown_customer_fails(state_path: Path) -> None:
    _seed(state_path)
    result = _run(state_path, "state", "show", "nobody")
    assert result.exit_code == 1
    assert "Customer nobody is not recorded" in _error(result)


def test_rm_stops_tracking_every_family_of_the_customers(state_path: Path) -> None:
    state = _seed(state_path)
    result = _run(state_path, "state", "rm", customer(1))
    assert result.exit_code == 0
    assert f"Stopped tracking {customer(1)}/Azure; the upgrade itself is untouched." in (
        result.output
    )
    after = LocalBackend(state_path).read()
    assert after is not None
    assert after.serial == state.serial + 2
    assert [r.key.customer_id for r in after.records.values()] == [customer(2)]
    assert after.lineage == state.lineage
    assert LocalBackend(state_path).current_lock() is None


def test_rm_without_state_creates_nothing(state_path: Path) -> None:
    result = _run(state_path, "state", "rm", customer(1))
    assert result.exit_code == 1
    assert "No upgrades are recorded" in _error(result)
    assert not state_path.parent.exists()


def test_rm_is_all_or_nothing(state_path: Path) -> None:
    state = _seed(state_path)
    result = _run(state_path, "state", "rm", customer(1), "nobody")
    assert result.exit_code == 1
    assert "Not recorded" in _error(result)
    assert "nobody" in _error(result)
    assert LocalBackend(state_path).read() == state
    assert LocalBackend(state_path).current_lock() is None


def test_rm_while_locked_names_the_holder_and_respects_the_timeout(state_path: Path) -> None:
    _seed(state_path)
    holder = LocalBackend(state_path)
    held = holder.lock(LockInfo.new("apply"))
    result = _run(state_path, "state", "rm", customer(1), "--lock-timeout", "1s")
    assert result.exit_code == 1
    assert f"after waiting 1s: ID {held.id}, held by {held.who}" in _error(result)
    bad = _run(state_path, "state", "rm", customer(1), "--lock-timeout", "soon")
    assert bad.exit_code == 1
    assert "Invalid --lock-timeout" in _error(bad)


def test_force_unlock_refuses_without_a_terminal(state_path: Path) -> None:
    held = LocalBackend(state_path).lock(LockInfo.new("apply"))
    result = _run(state_path, "force-unlock", held.id)
    assert result.exit_code == 1
    assert "--force" in _error(result)
    assert LocalBackend(state_path).current_lock() == held
    forced = _run(state_path, "force-unlock", held.id, "--force")
    assert forced.exit_code == 0
    assert f"Released lock {held.id}" in forced.output
    assert LocalBackend(state_path).current_lock() is None


def test_force_unlock_asks_on_a_terminal(state_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The package re-exports the ``state`` group under the module's name, so fetch the module.
    module = importlib.import_module("reconciler.cli.state")
    monkeypatch.setattr(module, "_stdin_is_tty", lambda: True)
    held = LocalBackend(state_path).lock(LockInfo.new("apply"))
    no = _run(state_path, "force-unlock", held.id, stdin="n\n")
    assert no.exit_code == 1
    assert _error(no) == "Force-unlock cancelled. The lock is still held."
    assert "may still be running" in no.output
    assert "Do you really want to force-unlock?" in no.output
    assert "Only 'yes' will be accepted to approve." in no.output
    # The same convention as apply: 'y' is not 'yes', and is told so.
    almost = _run(state_path, "force-unlock", held.id, stdin="y\n")
    assert almost.exit_code == 1
    assert _error(almost) == ("Force-unlock cancelled. Only 'yes', spelt out in lower case, "
                              "approves; the answer was 'y'. The lock is still held.")
    assert LocalBackend(state_path).current_lock() == held
    yes = _run(state_path, "force-unlock", held.id, stdin="yes\n")
    assert yes.exit_code == 0
    assert LocalBackend(state_path).current_lock() is None


def test_force_unlock_with_a_wrong_id_or_no_lock(state_path: Path) -> None:
    result = _run(state_path, "force-unlock", "abc", "--force")
    assert result.exit_code == 1
    assert "is not locked" in _error(result)
    held = LocalBackend(state_path).lock(LockInfo.new("apply"))
    wrong = _run(state_path, "force-unlock", "abc", "--force")
    assert wrong.exit_code == 1
    assert f"does not match the current lock: ID {held.id}" in _error(wrong)
