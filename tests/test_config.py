"""Settings resolution (flag > env > file > default) and settings-file validation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.config import GlobalOptions, resolve
from reconciler.errors import ConfigError
from reconciler.settings import DEFAULT_ENDPOINT, LocalBackendSettings

FULL = """\
manifests: [waves/]
backend:
  type: local
  path: state/prod.json
partner_center:
  endpoint: https://partner.partnercenterapi.microsoftonline.cn
  tenant_id: 00000000-0000-0000-0000-000000000001
  client_id: 00000000-0000-0000-0000-000000000002
apply:
  parallelism: 8
  max_requests_per_minute: 120
"""


def test_defaults_without_settings_file(tmp_path: Path) -> None:
    settings = resolve(GlobalOptions(), env={}, cwd=tmp_path)
    assert settings.endpoint == DEFAULT_ENDPOINT
    assert settings.backend == LocalBackendSettings()
    assert settings.manifests == (Path("manifests"),)
    assert settings.parallelism == 16
    assert settings.max_requests_per_minute is None  # auto
    assert settings.config_path is None
    assert settings.color is True


def test_settings_file_is_read_from_working_directory(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(FULL)
    settings = resolve(GlobalOptions(), env={}, cwd=tmp_path)
    assert settings.manifests == (Path("waves"),)
    assert settings.backend.path == Path("state/prod.json")
    assert settings.endpoint == "https://partner.partnercenterapi.microsoftonline.cn"
    assert settings.parallelism == 8
    assert settings.max_requests_per_minute == 120
    assert settings.tenant_id == "00000000-0000-0000-0000-000000000001"


def test_paths_in_an_explicit_settings_file_are_relative_to_it(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "prod.yaml").write_text(FULL)
    settings = resolve(GlobalOptions(config=Path("conf/prod.yaml")), env={}, cwd=tmp_path)
    assert settings.manifests == (Path("conf/waves"),)
    assert settings.backend.path == Path("conf/state/prod.json")


def test_precedence_flag_over_env_over_file(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(FULL)
    env = {"PARTNER_CENTER_ENDPOINT": "http://127.0.0.1:9", "RECONCILER_STATE": "env.json"}
    from_env = resolve(GlobalOptions(), env=env, cwd=tmp_path)
    assert from_env.endpoint == "http://127.0.0.1:9"
    assert from_env.backend == LocalBackendSettings(path=Path("env.json"))
    from_flags = resolve(GlobalOptions(endpoint="http://localhost:8/", state=Path("flag.json")),
                         env=env, cwd=tmp_path)
    assert from_flags.endpoint == "http://localhost:8"
    assert from_flags.backend.path == Path("flag.json")


def test_config_from_environment_variable(tmp_path: Path) -> None:
    (tmp_path / "other.yaml").write_text("apply: {parallelism: 2}\n")
    settings = resolve(GlobalOptions(), env={"RECONCILER_CONFIG": "other.yaml"}, cwd=tmp_path)
    assert settings.parallelism == 2


def test_simulate_and_colour_switches(tmp_path: Path) -> None:
    settings = resolve(GlobalOptions(), env={"RECONCILER_SIMULATE": "1", "NO_COLOR": "1"},
                       cwd=tmp_path)
    assert settings.simulate is True
    assert settings.color is False
    assert resolve(GlobalOptions(simulate=True, no_color=True), env={}, cwd=tmp_path).simulate


def test_missing_explicit_settings_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"The settings file nope.yaml does not exist\."):
        resolve(GlobalOptions(config=Path("nope.yaml")), env={}, cwd=tmp_path)


@pytest.mark.parametrize(("text", "expected"), [
    ("apply:\n  paralelism: 8\n", "reconciler.yaml:2:3: apply: unknown field 'paralelism'"),
    ("color: true\n", "reconciler.yaml:1:1: the document: unknown field 'color'"),
    ("apply:\n  parallelism: many\n",
     "reconciler.yaml:2:16: apply.parallelism: expected an integer, found a string"),
    ("backend:\n  type: s3\n", "reconciler.yaml:2:9: backend.type: 's3' is not one of"),
    ("apply: {}\napply: {}\n", "reconciler.yaml:2:1: duplicate key 'apply'"),
    ("partner_center:\n  client_secret: hunter2hunter2\n",
     "reconciler.yaml:2:3: 'client_secret' is a secret and must not be in the settings file"),
    ("partner_center:\n  refresh_token: abc\n", "set PARTNER_CENTER_REFRESH_TOKEN"),
    ("backend:\n  connection_string: x\n", "set AZURE_STORAGE_CONNECTION_STRING"),
    ("backend:\n  type: azureblob\n", "The azureblob backend needs backend.account_url"),
    ("apply: &a {}\n", "anchor 'a' is not allowed"),
])
def test_invalid_settings_files(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "reconciler.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        resolve(GlobalOptions(config=Path("reconciler.yaml")), env={}, cwd=tmp_path)
    assert expected in info.value.message
    assert "hunter2" not in info.value.message


def test_a_duplicate_key_in_the_settings_file_hides_no_other_problem(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        "apply:\n  parallelism: 3\n  parallelism: 4\nbackend: &b {tpye: local}\n")
    with pytest.raises(ConfigError) as info:
        resolve(GlobalOptions(config=Path("reconciler.yaml")), env={}, cwd=tmp_path)
    assert info.value.message.splitlines()[1:] == [
        "reconciler.yaml:3:3: duplicate key 'parallelism' (first defined at line 2, column 3)",
        "reconciler.yaml:4:10: YAML anchor 'b' is not allowed (anchors and aliases are refused)",
        "reconciler.yaml:4:14: backend: unknown field 'tpye' (allowed: account_url, container, "
        "key, path, type)"]


def test_empty_settings_file_means_defaults(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text("# nothing yet\n")
    assert resolve(GlobalOptions(), env={}, cwd=tmp_path).parallelism == 16


@pytest.mark.parametrize(("value", "expected"), [("200", None), ("'5%'", "5%"), ("3", "3")])
def test_rollout_settings_are_read(tmp_path: Path, value: str, expected: str | None) -> None:
    (tmp_path / "reconciler.yaml").write_text(f"apply:\n  batch: 200\n  max_failures: {value}\n")
    settings = resolve(GlobalOptions(), env={}, cwd=tmp_path)
    assert settings.batch == 200
    assert settings.max_failures == (expected or value)


@pytest.mark.parametrize("value", ["0", "'lots'", "'0%'", "'150%'"])
def test_a_bad_failure_budget_in_the_settings_file_is_refused(tmp_path: Path,
                                                              value: str) -> None:
    (tmp_path / "reconciler.yaml").write_text(f"apply:\n  max_failures: {value}\n")
    with pytest.raises(ConfigError, match="max_failures"):
        resolve(GlobalOptions(), env={}, cwd=tmp_path)


def test_which_endpoints_only_the_settings_file_sets(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        "partner_center:\n  endpoint: https://pc.example.invalid\n"
        "  authority: https://login.example.invalid\n")
    alone = resolve(GlobalOptions(), env={}, cwd=tmp_path)
    assert alone.from_file_only == {"endpoint", "authority"}
    env = {"PARTNER_CENTER_AUTHORITY": "https://login.example.invalid"}
    assert resolve(GlobalOptions(endpoint="https://pc.example.invalid"), env=env,
                   cwd=tmp_path).from_file_only == frozenset()


@pytest.mark.parametrize(
    ("section", "env", "named"),
    [("  endpoint: https://pc.example.invalid\n", {"PARTNER_CENTER_ACCESS_TOKEN": "s3cret-tok"},
      "--endpoint or the PARTNER_CENTER_ENDPOINT environment variable"),
     ("  authority: https://login.example.invalid\n",
      {"PARTNER_CENTER_TENANT_ID": "00000000-0000-0000-0000-000000000001",
       "PARTNER_CENTER_CLIENT_ID": "00000000-0000-0000-0000-000000000002",
       "PARTNER_CENTER_CLIENT_SECRET": "s3cret-tok", "PARTNER_CENTER_REFRESH_TOKEN": "s3cret-rt"},
      "the PARTNER_CENTER_AUTHORITY environment variable")],
)
def test_credentials_never_follow_the_settings_file_to_another_host(
        run_cli: Callable[..., Any], tmp_path: Path, section: str, env: dict[str, str],
        named: str) -> None:
    """Issue 19, item 8: a committed reconciler.yaml alone cannot send secrets elsewhere."""
    (tmp_path / "reconciler.yaml").write_text("partner_center:\n" + section)
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "a.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: ProductUpgrades\nmetadata:\n  name: a\nspec:\n"
        "  productFamily: Azure\n  customers:\n    - id: 00000000-0000-4000-8000-000000000001\n")
    result = run_cli("plan", cwd=tmp_path, env=env)
    assert result.code == 1, result.stdout
    assert "is set only by partner_center." in result.stderr
    assert "reconciler.yaml" in result.stderr
    assert f"Set it with {named} if it is meant." in result.stderr
    assert "s3cret" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("value", "seconds"), [("10m", 600.0), ("1h30m", 5400.0),
                                                ("0s", None)])
def test_the_run_timeout_is_read_from_the_settings_file(tmp_path: Path, value: str,
                                                        seconds: float | None) -> None:
    (tmp_path / "reconciler.yaml").write_text(f"timeout: {value}\n")
    settings = resolve(GlobalOptions(), env={}, cwd=tmp_path)
    assert settings.timeout == seconds
    deadline = settings.deadline()
    if seconds is None:
        assert deadline is None
    else:
        assert deadline is not None
        assert deadline.reason == f"the run reached its timeout of {value} (set in " \
                                  "reconciler.yaml)"


def test_a_bad_run_timeout_in_the_settings_file_is_refused_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text("apply:\n  parallelism: 4\ntimeout: soon\n")
    with pytest.raises(ConfigError, match=r'reconciler.yaml:3:10: timeout: "soon" is not a '
                                          r"duration"):
        resolve(GlobalOptions(), env={}, cwd=tmp_path)
