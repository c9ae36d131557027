#!/usr/bin/env bash
# Azurite (the Azure Storage emulator) for the azureblob backend's tests.
#
#   scripts/azurite.sh install            npm-install the pinned Azurite into $AZURITE_HOME
#   scripts/azurite.sh start [PORT]       install if needed, start the blob service on loopback
#                                         in the background, wait until it answers, and print
#                                         the connection string (export it as
#                                         RECONCILER_TEST_AZURITE_CONNECTION_STRING to have the
#                                         tests use it instead of starting their own)
#
# The tests start their own Azurite (tests/state/azurite.py) when none is given, so a plain
# `pytest` works once `install` has run (it runs `install` itself if needed).
set -euo pipefail

AZURITE_VERSION=3.35.0   # runs on Node.js 20
ROOT=$(cd "$(dirname "$0")/.." && pwd)
AZURITE_HOME=${AZURITE_HOME:-$ROOT/.ci/.azurite}
BIN="$AZURITE_HOME/node_modules/.bin/azurite-blob"
ACCOUNT_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

install() {
  if [[ -x "$BIN" ]] && grep -q "\"version\": \"$AZURITE_VERSION\"" \
      "$AZURITE_HOME/node_modules/azurite/package.json" 2>/dev/null; then
    return 0
  fi
  command -v npm >/dev/null || { echo "azurite.sh: npm (Node.js 20) is needed" >&2; exit 1; }
  mkdir -p "$AZURITE_HOME"
  npm install --prefix "$AZURITE_HOME" --no-audit --no-fund --loglevel=error \
    "azurite@$AZURITE_VERSION" >&2
}

start() {
  local port=${1:-10000}
  local data
  data=$(mktemp -d)
  install
  "$BIN" --blobHost 127.0.0.1 --blobPort "$port" --location "$data" \
    --skipApiVersionCheck --disableTelemetry --loose --silent >"$data/azurite.log" 2>&1 &
  echo "$!" >"$data/azurite.pid"
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$ACCOUNT_KEY;BlobEndpoint=http://127.0.0.1:$port/devstoreaccount1;"
      echo "azurite.sh: pid $(cat "$data/azurite.pid"), data and log in $data" >&2
      return 0
    fi
    sleep 0.1
  done
  echo "azurite.sh: Azurite did not start; see $data/azurite.log" >&2
  exit 1
}

case "${1:-}" in
  install) install; echo "$BIN" ;;
  start) shift; start "$@" ;;
  *) echo "usage: $0 install | start [PORT]" >&2; exit 2 ;;
esac
