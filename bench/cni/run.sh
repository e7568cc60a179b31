#!/usr/bin/env bash
# Bundles a CNI bench (it embeds the fake agent from test/fakes, and the agent test helpers for
# --agent real) and runs it as root:
#   bash bench/cni/run.sh [add-4nic] [--runs 20] [--plugin build/cni/multi-nic] [--agent real|fake]
#   bash bench/cni/run.sh concurrent [--pods 100] [--rounds 3] [--plugin build/cni/multi-nic] [--agent real|fake]
#   bash bench/cni/run.sh ab --a build/cni/multi-nic --b OTHER [--runs 15] [--agent real|fake]
# Measures what ships: the plugin is the self-contained executable (make cni, build/cni/multi-nic)
# and the real agent runs as the DaemonSet runs it (Node 24, --kube, API stand-in): run
# `npx tsc -p tsconfig.build.json` (or `make build`) and `make cni` first. The bundle
# goes under build/ so its package imports (esbuild, yaml) resolve from node_modules.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f dist/cni/main.js ] || { echo "bench/cni: build first (npx tsc -p tsconfig.build.json)" >&2; exit 2; }
bench=add-4nic
case "${1:-}" in add-4nic|concurrent|ab) bench=$1; shift ;; esac
mkdir -p build/bench
out="$(mktemp -d build/bench/cni-XXXXXX)"
trap 'rm -rf "$out"' EXIT
npx esbuild "bench/cni/$bench.bench.ts" --bundle --packages=external --platform=node --format=esm --target=node20 --log-level=warning --outfile="$out/$bench.bench.mjs"
node "$out/$bench.bench.mjs" "$@"
