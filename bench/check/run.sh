#!/usr/bin/env bash
# Bundles and runs the check benchmark against a running lab, as root:
#   kubectl multinic lab up && kubectl multinic install && kubectl multinic apply -f NETWORK.yaml
#   bash bench/check/run.sh [--dir LABDIR] [--network NAME] [--duration 5] [--runs 3] [--parallel 1]
# LABDIR defaults to the default lab's ($TMPDIR/kubectl-multinic-lab/mnlab). Prints JSON on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
# The bundle lives under the repo so its package imports resolve from node_modules.
out="$(mktemp -d -p "$PWD/bench/check" .build-XXXXXX)"
trap 'rm -rf "$out"' EXIT
npx esbuild bench/check/check.bench.ts --bundle --platform=node --format=esm --target=node20 --packages=external --log-level=warning --outfile="$out/check.bench.mjs"
node "$out/check.bench.mjs" "$@"
