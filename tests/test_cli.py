"""The CLI skeleton and ``validate`` through a real subprocess: exit codes and messages."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from reconciler import __version__
from tests.conftest import REPO, Result

Run = Callable[..., Result]
CORPUS = REPO / "tests" / "corpus"


def test_version(run_cli: Run) -> None:
    result = run_cli("--version")
    assert (result.code, result.stdout.strip()) == (0, f"reconciler {__version__}")


def test_help_exits_zero(run_cli: Run) -> None:
    result = run_cli("--help")
    assert result.code == 0
    assert "validate" in result.stdout


def test_usage_errors_exit_1_never_2(run_cli: Run, tmp_path: Path) -> None:
    for args in (["--bogus"], ["validate", "--bogus"], ["no-such-command"]):
        result = run_cli(*args, cwd=tmp_path)
        assert result.code == 1, args
        assert "Traceback" not in result.stderr


def test_validate_examples_from_repo_root(run_cli: Run) -> None:
    result = run_cli("validate", cwd=REPO)
    assert result.code == 0, result.stderr
    assert result.stdout.startswith("Valid: 2 manifest files, 6 customers")


def test_validate_lists_every_problem(run_cli: Run) -> None:
    result = run_cli("validate", "-m", "bad/18-id-number.yaml", "-m", "bad/24-bad-name.yaml",
                     cwd=CORPUS)
    assert result.code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("bad/18-id-number.yaml:8:11: spec.customers[0].id: expected")
    assert lines[1].startswith("bad/24-bad-name.yaml:4:9: metadata.name:")
    assert result.stderr.strip() == "Error: 2 problems in 2 files."


def test_validate_reports_yaml_schema_and_duplicate_problems_in_one_run(run_cli: Run,
                                                                        tmp_path: Path) -> None:
    guid = "4c721420-72ad-4708-a0a7-371a2f7b0969"
    (tmp_path / "m.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: ProductUpgrades\nmetadata:\n  name: m\n"
        "  name: n\nspec:\n  productFamily: Azur\n  customers: &all\n"
        f"    - id: {guid}\n      tenant: x\n")
    (tmp_path / "other.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: ProductUpgrades\nmetadata: {name: m}\n"
        f"spec:\n  productFamily: Azure\n  customers: [{{id: {guid}}}, {{id: {guid}}}]\n")
    result = run_cli("validate", "-m", "m.yaml", "-m", "other.yaml", cwd=tmp_path)
    assert result.code == 1
    assert [line.split(": ", 1)[0] for line in result.stdout.splitlines()] == [
        "m.yaml:5:3", "m.yaml:7:18", "m.yaml:8:14", "m.yaml:10:7", "other.yaml:3:18",
        "other.yaml:6:64"]
    assert "duplicate key 'name'" in result.stdout
    assert "unknown product family 'Azur' (allowed: Azure)" in result.stdout
    assert "YAML anchor 'all'" in result.stdout
    assert "unknown field 'tenant'" in result.stdout
    assert "metadata.name 'm' is already used by the manifest at m.yaml:4" in result.stdout
    assert f"customer {guid} is listed twice for Azure: first at other.yaml:6" in result.stdout
    assert result.stderr == "Error: 6 problems in 2 files.\n"


def test_validate_uses_manifests_from_settings_file(run_cli: Run, tmp_path: Path) -> None:
    shutil.copytree(CORPUS / "good", tmp_path / "waves")
    (tmp_path / "waves" / "bom.yaml").unlink()
    for name in ("crlf.yaml", "multi-document.yaml", "upper-case-guid.yaml",
                 "lower-case-family.yaml", "ampersand-name.yaml", "unicode-name.yml",
                 "quoted-id-and-labels.yaml", "explicit-document-end.yaml",
                 "comments-everywhere.yaml", "family-upper-case.yaml"):
        (tmp_path / "waves" / name).unlink()
    (tmp_path / "reconciler.yaml").write_text("manifests: [waves/]\n")
    result = run_cli("validate", cwd=tmp_path)
    assert result.code == 0, result.stdout + result.stderr
    assert "1 manifest file, 0 customers" in result.stdout


def test_bad_settings_file_is_one_paragraph_without_traceback(run_cli: Run,
                                                              tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text("apply:\n  paralelism: 3\n")
    result = run_cli("validate", cwd=tmp_path)
    assert result.code == 1
    assert result.stderr.startswith("Error: The settings file reconciler.yaml is invalid:\n"
                                    "reconciler.yaml:2:3: apply: unknown field 'paralelism'")
    assert "Traceback" not in result.stderr


def test_traceback_only_with_vv(run_cli: Run, tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text("apply: [\n")
    assert "Traceback" not in run_cli("-v", "validate", cwd=tmp_path).stderr
    assert "Traceback" in run_cli("-vv", "validate", cwd=tmp_path).stderr


def test_missing_default_manifests_directory(run_cli: Run, tmp_path: Path) -> None:
    result = run_cli("validate", cwd=tmp_path)
    assert result.code == 1
    assert "manifests:1:1: no such file or directory" in result.stdout


def test_global_options_work_after_the_command_too(run_cli: Run, tmp_path: Path) -> None:
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    before = run_cli("--no-color", "-v", "validate", cwd=tmp_path)
    after = run_cli("validate", "--no-color", "-v", cwd=tmp_path)
    assert (after.code, after.stdout) == (before.code, before.stdout)
    state = tmp_path / "elsewhere.json"
    listed = run_cli("state", "list", "--state", str(state), cwd=tmp_path)
    assert listed.code == 0, listed.stderr
    assert f"local state file {state}" in listed.stdout
    listed = run_cli("state", "list", f"--state={state}", cwd=tmp_path)
    assert f"local state file {state}" in listed.stdout


def test_every_option_of_plan_and_apply_says_what_it_does(run_cli: Run) -> None:
    import click

    from reconciler.cli import cli

    for name in ("plan", "apply", "drift", "show"):
        command = cli.commands[name]
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts} has no help text"


def test_init_writes_a_starter_project_that_validates_and_plans(run_cli: Run,
                                                                tmp_path: Path) -> None:
    result = run_cli("init", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.stdout == (
        "Wrote reconciler.yaml (the settings, each at its default).\n"
        "Wrote manifests/example.yaml (an example manifest with two customers).\n"
        "\n"
        "Next, plan the example against the embedded Partner Center simulator (no credentials "
        "needed):\n"
        "  reconciler --simulate plan\n")
    validated = run_cli("validate", cwd=tmp_path)
    assert (validated.code, validated.stdout) == (
        0, "Valid: 1 manifest file, 2 customers, 2 desired upgrades.\n")
    planned = run_cli("--simulate", "plan", cwd=tmp_path)
    assert planned.code == 0, planned.stderr
    assert "Plan: 2 to create, 0 to adopt" in planned.stdout


def test_the_starter_settings_are_the_schema_valid_defaults(tmp_path: Path) -> None:
    import jsonschema
    import yaml

    from reconciler.config import GlobalOptions, resolve
    from reconciler.starter import SETTINGS

    schema = json.loads((REPO / "schemas" / "config.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(SETTINGS))
    (tmp_path / "reconciler.yaml").write_text(SETTINGS)
    written = resolve(GlobalOptions(), env={}, cwd=tmp_path)
    (tmp_path / "reconciler.yaml").unlink()
    default = resolve(GlobalOptions(), env={}, cwd=tmp_path)
    assert dataclasses.replace(written, config_path=None) == default


def test_init_never_overwrites_and_names_what_exists(run_cli: Run, tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "example.yaml").write_text("mine\n")
    result = run_cli("init", cwd=tmp_path)
    assert result.code == 1
    assert result.stderr == ("Error: manifests/example.yaml already exists; init never "
                             "overwrites a file. Nothing was written.\n")
    assert not (tmp_path / "reconciler.yaml").exists()
    assert (tmp_path / "manifests" / "example.yaml").read_text() == "mine\n"
    (tmp_path / "reconciler.yaml").write_text("manifests: [manifests/]\n")
    again = run_cli("init", cwd=tmp_path)
    assert again.code == 1
    assert "reconciler.yaml, manifests/example.yaml already exist" in again.stderr
    assert (tmp_path / "reconciler.yaml").read_text() == "manifests: [manifests/]\n"


def test_init_into_another_directory_says_how_to_get_there(run_cli: Run, tmp_path: Path) -> None:
    result = run_cli("init", "--dir", "new project", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines()[:2] == [
        "Wrote new project/reconciler.yaml (the settings, each at its default).",
        "Wrote new project/manifests/example.yaml (an example manifest with two customers)."]
    assert result.stdout.endswith("\n  cd 'new project' && reconciler --simulate plan\n")
    assert run_cli("validate", cwd=tmp_path / "new project").code == 0
    helped = run_cli("init", "--help", cwd=tmp_path)
    assert "Write a starter reconciler.yaml and manifests/example.yaml" in helped.stdout
    assert "--dir DIR" in helped.stdout
