#!/usr/bin/env bash
# Bundles the CNI ADD bench (it embeds the fake agent from test/fakes) and runs it as root:
#   bash bench/cni/run.sh [--runs 20] [--plugin bin/multi-nic]
# Uses the built plugin: run `npx tsc -p tsconfig.build.json` (or `make build`) first.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f dist/cni/main.js ] || { echo "bench/cni: build first (npx tsc -p tsconfig.build.json)" >&2; exit 2; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
npx esbuild bench/cni/add-4nic.bench.ts --bundle --platform=node --format=esm --target=node20 --log-level=warning --outfile="$out/add-4nic.bench.mjs"
node "$out/add-4nic.bench.mjs" "$@"
