#!/usr/bin/env bash
# Bundles the CNI ADD bench (it embeds the fake agent from test/fakes, and the agent test helpers for
# --agent real) and runs it as root:
#   bash bench/cni/run.sh [--runs 20] [--plugin bin/multi-nic] [--agent fake|real]
# Uses the built plugin: run `npx tsc -p tsconfig.build.json` (or `make build`) first. The bundle
# goes under build/ so its package imports (esbuild, yaml) resolve from node_modules.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f dist/cni/main.js ] || { echo "bench/cni: build first (npx tsc -p tsconfig.build.json)" >&2; exit 2; }
mkdir -p build/bench
out="$(mktemp -d build/bench/cni-XXXXXX)"
trap 'rm -rf "$out"' EXIT
npx esbuild bench/cni/add-4nic.bench.ts --bundle --packages=external --platform=node --format=esm --target=node20 --log-level=warning --outfile="$out/add-4nic.bench.mjs"
node "$out/add-4nic.bench.mjs" "$@"
