"""A manifest that leads out of the working tree through a symbolic link (issue 19, item 9)
is refused, naming the link, without reading, so without echoing, what it points at."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

GOOD = ("apiVersion: reconciler/v1\nkind: ProductUpgrades\nmetadata:\n  name: {name}\nspec:\n"
        "  productFamily: Azure\n  customers:\n    - id: 00000000-0000-4000-8000-00000000000{n}\n")


def _tree(root: Path, outside: Path) -> Path:
    """A working tree whose manifests/ holds a good manifest and a link to ``outside``."""
    secret = outside / "environ"
    secret.write_text("PARTNER_CENTER_CLIENT_SECRET: hunter2-leaked\n")
    work = root / "work"
    (work / "manifests").mkdir(parents=True)
    (work / "manifests" / "good.yaml").write_text(GOOD.format(name="good", n=1))
    (work / "manifests" / "evil.yaml").symlink_to(secret)
    return work


def test_a_link_out_of_the_tree_is_refused_naming_it(run_cli: Callable[..., Any],
                                                      tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    work = _tree(tmp_path, outside)
    for command in (["validate"], ["plan", "--simulate"]):
        result = run_cli(*command, cwd=work)
        assert result.code == 1, result.stdout
        assert "manifests/evil.yaml:1:1: this is a symbolic link to a file outside the " \
               "working tree" in result.stdout + result.stderr
        assert "hunter2" not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr


def test_a_link_inside_the_tree_is_read(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "manifests").mkdir(parents=True)
    (work / "shared").mkdir()
    (work / "shared" / "wave.yaml").write_text(GOOD.format(name="wave", n=2))
    (work / "manifests" / "wave.yaml").symlink_to(work / "shared" / "wave.yaml")
    result = run_cli("validate", cwd=work)
    assert result.code == 0, result.stderr


def test_the_settings_files_directory_is_part_of_the_tree(run_cli: Callable[..., Any],
                                                          tmp_path: Path) -> None:
    """``--config elsewhere/reconciler.yaml``: its directory holds the manifests."""
    conf = tmp_path / "conf"
    (conf / "manifests").mkdir(parents=True)
    (conf / "real").mkdir()
    (conf / "real" / "a.yaml").write_text(GOOD.format(name="a", n=3))
    (conf / "manifests" / "a.yaml").symlink_to(conf / "real" / "a.yaml")
    (conf / "reconciler.yaml").write_text("manifests: [manifests/]\n")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    result = run_cli("--config", str(conf / "reconciler.yaml"), "validate", cwd=cwd)
    assert result.code == 0, result.stderr
