#!/usr/bin/env bash
# Agent RSS and socket throughput (needs root: a throwaway namespace), the agent as deployed (dist/:
# build first; Node 24 via scripts/node24.sh; --kube against the API stand-in, in-cluster over TLS unless
# --kubeconfig; needs openssl and unshare). Bundles the bench
# (and, for --launch bundle --file, the agent from src):
#   bash bench/agent/run.sh [pods] [rounds] [concurrency[,concurrency...]] [--node PATH] [--launch bin|cli|bundle] [--file | --kubeconfig]
set -euo pipefail
cd "$(dirname "$0")/../.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
banner="import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);"
npx esbuild src/agent/bin.ts --bundle --platform=node --format=esm --target=node20 --log-level=warning --external:./kube/index.js --banner:js="$banner" --outfile="$out/agent.mjs"
npx esbuild bench/agent/agent.bench.ts --bundle --platform=node --format=esm --target=node20 --log-level=warning --outfile="$out/agent.bench.mjs"
AGENT_BUNDLE="$out/agent.mjs" node "$out/agent.bench.mjs" "$@"
