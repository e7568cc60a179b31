#!/usr/bin/env bash
# Prints the path of a Node 24 binary: the runtime the image ships (node:24-slim) and the one the CNI
# SEA embeds. The `node` on PATH when it is v24, else --node PATH, else the official build from the
# npm registry (package node-<os>-<arch>@24, the same binary `npm install node@24` installs), cached
# under build/cache/. Used by scripts/build-cni.sh and the benches (they run what ships).
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
  cache=$root/build/cache/node$major-$os-$arch
  if [ ! -x "$cache/bin/node" ]; then
    # Fetched into a private dir and renamed into place: concurrent builds never see half a binary.
    fetch=$cache.fetch.$$
    rm -rf "$fetch"
    mkdir -p "$fetch"
    echo "node24: fetching node-$os-$arch@$major from the npm registry into $cache" >&2
    tgz=$(cd "$fetch" && npm pack --silent "node-$os-$arch@$major" 2>/dev/null | tail -1)
    [ -n "$tgz" ] && [ -f "$fetch/$tgz" ] || { rm -rf "$fetch"; echo "node24: npm pack node-$os-$arch@$major failed (no registry access?); pass --node PATH to a Node $major binary" >&2; exit 3; }
    tar -xzf "$fetch/$tgz" -C "$fetch" --strip-components=1 package/bin/node
    rm -f "$fetch/$tgz"
    mv -T "$fetch" "$cache" 2>/dev/null || rm -rf "$fetch"
  fi
  node24=$cache/bin/node
fi
[ "$(node_major "$node24")" = "$major" ] || { echo "node24: $node24 is not Node $major" >&2; exit 2; }
echo "$node24"
