#!/usr/bin/env bash
# Installs the npm packages when node_modules is missing or older than the lock file,
# so both Quick-start commands work on a fresh clone. Fails loudly on the wrong Node.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

if ! command -v node >/dev/null 2>&1; then
  echo "hub: Node.js 20 (>= 20.19) is required and was not found on PATH" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
minor=$(node -p 'process.versions.node.split(".")[1]')
if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 19 ]; }; then
  echo "hub: Node.js >= 20.19 is required, found $(node --version)" >&2
  exit 1
fi

stamp=node_modules/.hub-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "hub: installing npm packages (npm ci)..."
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
