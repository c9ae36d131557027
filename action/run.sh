#!/usr/bin/env bash
# Step "run" of action.yml: one reconciler command, its whole output kept in one folder (the
# artifact), and what the later steps need written to $GITHUB_OUTPUT.
#
# reconciler's exit code never fails this step: a failed plan must still reach the
# pull-request comment and the artifact. The action's last step fails the job on exit code 1.
set -euo pipefail

case "${COMMAND:-}" in
  plan | apply | drift) ;;
  *)
    echo "::error title=partnercenter-reconciler::The input 'command' must be plan, apply or drift."
    exit 1
    ;;
esac

out="$RUNNER_TEMP/reconciler-$COMMAND"
rm -rf "$out"
mkdir -p "$out"
# Split on spaces on purpose: the input 'args' is documented as space-separated, unquoted.
read -r -a extra <<< "${ARGS:-}"
lock=(--lock-timeout "${LOCK_TIMEOUT:-0s}")
output() { echo "$1=$2" >> "$GITHUB_OUTPUT"; }
output dir "$out"
output artifact-name "${ARTIFACT_NAME:-reconciler-$COMMAND}"

set +e
case "$COMMAND" in
  plan)
    # The markdown is the comment; the text plan, for the log and the artifact, comes from
    # the saved plan below, so Partner Center is read once.
    reconciler plan --detailed-exitcode "${lock[@]}" --out "$out/plan.json" \
      --format markdown "${extra[@]}" > "$out/plan.md"
    code=$?
    markdown="$out/plan.md"
    ;;
  apply)
    reconciler plan "${lock[@]}" --out "$out/plan.json" | tee "$out/plan.txt"
    code=${PIPESTATUS[0]}
    if [ "$code" -eq 0 ]; then
      reconciler apply "$out/plan.json" "${lock[@]}" "${extra[@]}" | tee "$out/apply.txt"
      code=${PIPESTATUS[0]}
    fi
    markdown=""
    ;;
  drift)
    reconciler drift --format markdown --junit-xml "$out/drift.xml" "${extra[@]}" \
      > "$out/drift.md"
    code=$?
    markdown="$out/drift.md"
    cat "$markdown"
    ;;
esac
set -e

if [ -n "$markdown" ]; then
  output markdown-file "$markdown"
fi
if [ -s "$out/plan.json" ]; then
  output plan-file "$out/plan.json"
fi
if [ -s "$out/drift.xml" ]; then
  output junit-file "$out/drift.xml"
fi
if [ "$COMMAND" = plan ] && [ -s "$out/plan.json" ]; then
  reconciler show "$out/plan.json" | tee "$out/plan.txt"
fi
# reconciler adds a successful run's markdown to the step summary itself; a failed one's
# body is added here, so the summary says why too.
if [ "$code" -eq 1 ] && [ -n "$markdown" ] && [ -s "$markdown" ] \
    && [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  cat "$markdown" >> "$GITHUB_STEP_SUMMARY"
fi
output exit-code "$code"
