#!/usr/bin/env bash
# CPU per continuous-health round, 32 hosts x 8 NICs, against the same round with probes off
# (bench/health/health.bench.ts). Unprivileged. Usage: bash bench/health/run.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/../.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
banner="import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);"
npx esbuild bench/health/health.bench.ts --bundle --platform=node --format=esm --target=node20 --log-level=warning --banner:js="$banner" --outfile="$out/health.bench.mjs"
node "$out/health.bench.mjs" "$@"
