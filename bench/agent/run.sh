#!/usr/bin/env bash
# Agent RSS and socket throughput (needs root: a throwaway namespace). Bundles the agent and the
# bench from src (no build step; --launch cli and --kube run dist/, so build first):
#   bash bench/agent/run.sh [pods] [rounds] [concurrency[,concurrency...]] [--node PATH] [--launch bundle|cli] [--kube]
set -euo pipefail
cd "$(dirname "$0")/../.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
banner="import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);"
npx esbuild src/agent/bin.ts --bundle --platform=node --format=esm --target=node20 --log-level=warning --external:./kube/index.js --banner:js="$banner" --outfile="$out/agent.mjs"
npx esbuild bench/agent/agent.bench.ts --bundle --platform=node --format=esm --target=node20 --log-level=warning --outfile="$out/agent.bench.mjs"
AGENT_BUNDLE="$out/agent.mjs" node "$out/agent.bench.mjs" "$@"
