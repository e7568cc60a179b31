#!/usr/bin/env bash
# Prints the path of a Node 24 binary: the runtime the image ships (node:24-slim) and the one the CNI
# SEA embeds. The `node` on PATH when it is v24, else --node PATH, else the official build from the
# npm registry (package node-<os>-<arch>@24, the same binary `npm install node@24` installs), cached
# by scripts/npm-fetch.sh under build/cache/node-<os>-<arch>-24/. Used by scripts/build-cni.sh and the benches (they run what ships).
#
#   scripts/node24.sh [--node PATH]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
major=24
node24=
case "${1:-}" in
  --node) node24=${2:?--node needs a path} ;;
  '') ;;
  *) echo "node24: unknown argument $1" >&2; exit 2 ;;
esac
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ -z "$node24" ] && [ "$(node_major node)" = "$major" ]; then node24=$(command -v node); fi
if [ -z "$node24" ]; then
  case "$(uname -m)" in x86_64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) echo "node24: unsupported arch $(uname -m)" >&2; exit 2 ;; esac
  os=$(uname -s | tr '[:upper:]' '[:lower:]')
  node24=$(bash "$root/scripts/npm-fetch.sh" "node-$os-$arch@$major" bin/node) \
    || { echo "node24: no Node $major from the npm registry; pass --node PATH to a Node $major binary" >&2; exit 3; }
fi
[ "$(node_major "$node24")" = "$major" ] || { echo "node24: $node24 is not Node $major" >&2; exit 2; }
echo "$node24"
