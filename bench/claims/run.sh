#!/usr/bin/env bash
# Cluster-scale claims (no root, no namespaces): N simulated agents claiming 8 NICs each against
# the real API stand-in, the present one-CIDR compare-and-swap against claim-by-create, side by side.
#   bash bench/claims/run.sh [sizes, default 256,1024] [--nics 8] [--procs 2] [--inflight 64] [--cap-s 60]
set -euo pipefail
cd "$(dirname "$0")/../.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
banner="import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);"
npx esbuild bench/claims/claims.bench.ts --bundle --platform=node --format=esm --target=node20 --log-level=warning --banner:js="$banner" --outfile="$out/claims.bench.mjs"
node "$out/claims.bench.mjs" "$@"
