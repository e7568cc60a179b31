#!/usr/bin/env bash
# Bundles the IPAM store bench from src (no build step needed) and runs it: bash bench/ipam/run.sh [N] [rounds]
set -euo pipefail
cd "$(dirname "$0")/../.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
npx esbuild bench/ipam/store.bench.ts --bundle --platform=node --format=esm --target=node20 --log-level=warning --outfile="$out/store.bench.mjs"
node "$out/store.bench.mjs" "$@"
