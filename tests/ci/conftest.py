"""A workspace like a manifests repository's, and a GitHub job over it, for tests/ci.

Documented substitutions make the unchanged examples and action run here: the embedded
simulator instead of Partner Center (``RECONCILER_SIMULATE=1``), a local state file instead of
the example's blob container (``RECONCILER_STATE``), the action's input ``install: "false"``
(reconciler is installed in this environment already, and installing needs PyPI), and a fake
GitHub API on loopback (``GITHUB_API_URL``) for the pull-request comment.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ci.fake_github import REPOSITORY, FakeGitHub
from tests.ci.github_actions import Job

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples" / "ci"
TOKEN = "ghs_fake-token-for-tests"
PULL_REQUEST = 7


def base_env() -> dict[str, str]:
    """This process's environment less anything CI- or reconciler-specific, plus the
    substitutions that make the examples run offline."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("RECONCILER_", "PARTNER_CENTER_", "GITHUB_", "TF_BUILD",
                                 "AGENT_", "RUNNER_"))}
    return {**base, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{base.get('PATH', '')}",
            "RECONCILER_SIMULATE": "1", "RECONCILER_STATE": ".reconciler/state.json",
            "RECONCILER_SIMULATE_COMPLETION": "0", "NO_COLOR": "1"}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A checkout of a manifests repository: the example manifests and reconciler.yaml."""
    root = tmp_path / "workspace"
    root.mkdir()
    shutil.copytree(ROOT / "manifests", root / "manifests")
    shutil.copy(EXAMPLES / "reconciler.yaml", root / "reconciler.yaml")
    return root


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    github = FakeGitHub(TOKEN).start()
    try:
        yield github
    finally:
        github.stop()


@pytest.fixture
def github_job(workspace: Path, fake_github: FakeGitHub) -> Job:
    """A job of a pull-request run on a runner, its API pointed at the fake GitHub."""
    temp = workspace.parent / "runner-temp"
    temp.mkdir()
    env = {**base_env(), "GITHUB_ACTIONS": "true", "RUNNER_TEMP": str(temp),
           "GITHUB_WORKSPACE": str(workspace), "GITHUB_REPOSITORY": REPOSITORY,
           "GITHUB_API_URL": fake_github.url, "GITHUB_SERVER_URL": "https://github.com",
           "GITHUB_RUN_ID": "4242", "GITHUB_STEP_SUMMARY": str(temp / "step-summary.md")}
    context = {"event_name": "pull_request", "token": TOKEN, "repository": REPOSITORY,
               "server_url": "https://github.com", "run_id": "4242",
               "workspace": str(workspace),
               "event": {"pull_request": {"number": PULL_REQUEST}}}
    return Job(workspace, env, context, input_overrides={"install": "false"})
