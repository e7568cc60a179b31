#!/usr/bin/env bash
# Bundles an IPAM bench from src (no build step needed) and runs it:
#   bash bench/ipam/run.sh [N] [rounds]     durable allocations through the store (store.bench.ts)
#   bash bench/ipam/run.sh allocator        next-address cost in big pools, mass release (allocator.bench.ts)
set -euo pipefail
cd "$(dirname "$0")/../.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
bench=store
if [[ "${1:-}" == allocator ]]; then bench=allocator; shift; fi
npx esbuild "bench/ipam/$bench.bench.ts" --bundle --platform=node --format=esm --target=node20 --log-level=warning --outfile="$out/$bench.bench.mjs"
node "$out/$bench.bench.mjs" "$@"
