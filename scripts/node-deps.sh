#!/usr/bin/env bash
# Installs the npm packages the tests run as real peers (anvil, solc, the
# reference IPFS importer) into scripts/node/node_modules, from the lock file.
set -euo pipefail
cd "$(dirname "$0")/node"
command -v node >/dev/null || { echo "error: node is required" >&2; exit 1; }
if [ ! -x node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil ] || [ package-lock.json -nt node_modules ]; then
  echo "== installing npm packages (anvil, solc, IPFS importer)"
  npm ci --no-audit --no-fund --loglevel=error
fi
