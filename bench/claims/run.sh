#!/usr/bin/env bash
# Cluster-scale claims (no root, no namespaces): N simulated agents claiming 8 NICs each against
# the real API stand-in, the present one-CIDR compare-and-swap against claim-by-create, side by side.
#   bash bench/claims/run.sh [sizes, default 256,1024] [--nics 8] [--procs 2] [--inflight 16] [--cap-s 60]
#     [--watchers 2] [--designs cidr,claims] [--keep KUBECONFIG]
# BENCH_NODE_ARGS is passed to node in the bench and its claimer processes, e.g.
#   BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" (one .cpuprofile per process).
# CLAIMER_NODE_ARGS is passed to the claimer processes only (the agents' flags, not the stand-in's).
set -euo pipefail
cd "$(dirname "$0")/../.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
banner="import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);"
npx esbuild bench/claims/claims.bench.ts --bundle --platform=node --format=esm --target=node20 --log-level=warning --banner:js="$banner" --outfile="$out/claims.bench.mjs"
# shellcheck disable=SC2086 # BENCH_NODE_ARGS is a list of node flags
node ${BENCH_NODE_ARGS:-} "$out/claims.bench.mjs" "$@"
