#!/usr/bin/env bash
# Pods to Running on the lab, as root (issue 14, in the spirit of Spiderpool's IPAM benchmark):
# time from creating N pods x 4 NICs at once until every one runs, our network (one multi-nic
# attachment of 4 NICs) against 4 reference macvlan + host-local attachments, rounds alternating;
# then the "exactly as many addresses as pods" variant (every address of every pool taken, 0 failures).
#   bash bench/pods/run.sh [--hosts 4] [--pods 64] [--rounds 3] [--prefix mnpods]
# It builds the CNI executable that ships (scripts/build-cni.sh, into build/cni, where the lab's node
# runner finds it first), brings its own lab up (4 NICs per host) and takes it down. Prints a table.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" != 0 ]; then echo "bench/pods needs root (the lab: network namespaces, veth)" >&2; exit 2; fi
out="$(mktemp -d -p "$PWD/bench/pods" .build-XXXXXX)"
trap 'rm -rf "$out"' EXIT
bash scripts/build-cni.sh --out build/cni/multi-nic >&2
npx esbuild bench/pods/pods.bench.ts --bundle --platform=node --format=esm --target=node20 --packages=external --log-level=warning --outfile="$out/pods.bench.mjs"
node "$out/pods.bench.mjs" "$@"
