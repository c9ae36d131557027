#!/usr/bin/env bash
# Step "install" of action.yml: reconciler from this action's own checkout, so the version is
# the action's ref (partnercenter-reconciler/partnercenter-reconciler@v1 installs v1), into a
# virtual environment of its own (runner images refuse pip installs into the system Python),
# which is then put on PATH for the later steps of the job.
set -euo pipefail

venv="$RUNNER_TEMP/partnercenter-reconciler-venv"
spec="$GITHUB_ACTION_PATH"
if [ -n "${EXTRAS:-}" ]; then
  spec="${spec}[${EXTRAS}]"
fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$spec"
echo "$venv/bin" >> "$GITHUB_PATH"
"$venv/bin/reconciler" --version
