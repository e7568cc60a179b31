#!/usr/bin/env bash
# Builds the krew archives of the CLI: one self-contained directory per platform, so `kubectl
# multinic` runs where there is no Node.js, packed as tar.gz with its sha256, and the krew Plugin
# manifest plugins/multinic.yaml filled from them.
#
#   scripts/build-dist.sh [--runtime node|bun] [--arch amd64|arm64]... [--out DIR] [--base-url URL] [--manifest FILE]
#
# An archive holds:
#   kubectl-multinic, kubectl_complete-multinic   /bin/sh launchers (krew links the first into its bin)
#   lib/node (or lib/bun)                         the runtime for that platform, stripped of debug info
#   lib/app/                                      package.json, oclif.manifest.json, dist/, bin/ and
#                                                 the production node_modules (npm ci --omit=dev)
#   LICENSE, README.md
# Why a directory and not one file: oclif finds commands and hooks by importing files from dist/
# at run time, which a single bundled file does not have; krew installs archives into a directory
# anyway. The app files are the same for every platform; only the runtime binary differs.
# Runtimes: the official Node 24 build (npm package node-linux-<arch>@24) by default, or Bun
# (@oven/bun-linux-<x64|aarch64>); bench/krew measured both (docs/krew.md). Both are fetched from
# the npm registry into build/cache/ once, by scripts/npm-fetch.sh as scripts/build-cni.sh does.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
runtime=node
arches=()
out=build/dist
base_url=${MULTINIC_RELEASE_URL:-https://github.com/kubectl-multinic/kubectl-multinic/releases/download}
manifest=plugins/multinic.yaml
node_major=24
bun_version=1.4.5

usage() { sed -n '6,6p' "$0" | sed 's/^# *//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --runtime) runtime=${2:?--runtime needs node or bun}; shift 2 ;;
    --arch) arches+=("${2:?--arch needs amd64 or arm64}"); shift 2 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --base-url) base_url=${2:?--base-url needs a URL}; shift 2 ;;
    --manifest) manifest=${2:?--manifest needs a file}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "build-dist: unknown argument $1" >&2; usage ;;
  esac
done
case "$runtime" in node|bun) ;; *) echo "build-dist: --runtime must be node or bun, not $runtime" >&2; exit 2 ;; esac
[ ${#arches[@]} -gt 0 ] || arches=(amd64 arm64)
for a in "${arches[@]}"; do case "$a" in amd64|arm64) ;; *) echo "build-dist: --arch must be amd64 or arm64, not $a" >&2; exit 2 ;; esac; done
case "$base_url" in https://*) ;; *) echo "build-dist: --base-url must be an https:// URL, not $base_url" >&2; exit 2 ;; esac
cd "$root"
[ -f oclif.manifest.json ] && [ -d dist/commands ] || { echo "build-dist: run make build first (dist/ and oclif.manifest.json)" >&2; exit 2; }
version=$(node -p 'require("./package.json").version')
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "build-dist: package.json version $version is not MAJOR.MINOR.PATCH" >&2; exit 2; }

# runtime_for ARCH -> path of the runtime binary (fetched by scripts/npm-fetch.sh, the cache the
# other build scripts share).
runtime_for() {
  local arch=$1
  if [ "$runtime" = node ]; then
    bash scripts/npm-fetch.sh "node-linux-$([ "$arch" = amd64 ] && echo x64 || echo arm64)@$node_major" bin/node
  else
    bash scripts/npm-fetch.sh "@oven/bun-linux-$([ "$arch" = amd64 ] && echo x64 || echo aarch64)@$bun_version" bin/bun
  fi
}

mkdir -p "$out"
work=$out/.work.$$
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/app"

# The app: the same files on every platform.
cp package.json package-lock.json oclif.manifest.json "$work/app/"
cp -r dist bin "$work/app/"
(cd "$work/app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error >/dev/null) \
  || { echo "build-dist: npm ci --omit=dev failed" >&2; exit 3; }
# Not read at run time: type declarations, source maps, the lock file.
find "$work/app/node_modules" \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -type f -delete
rm -f "$work/app/package-lock.json"

# A launcher: follows the symlink krew (or the user) puts on PATH to find its directory. POSIX sh and
# readlink only; the environment is passed through untouched.
launcher() {
  local rt=$1 script=$2
  cat <<EOF
#!/bin/sh
# kubectl-multinic $version ($runtime): runs the CLI with the runtime shipped next to it.
self=\$(readlink -f "\$0" 2>/dev/null || printf '%s' "\$0")
dir=\${self%/*}
exec "\$dir/lib/$rt" "\$dir/lib/app/bin/$script" "\$@"
EOF
}

rt=$runtime
manifest_platforms=""
for arch in "${arches[@]}"; do
  bin=$(runtime_for "$arch")
  name=kubectl-multinic_v${version}_linux_${arch}
  stage=$work/$name
  mkdir -p "$stage/lib"
  cp "$bin" "$stage/lib/$rt"
  chmod u+w "$stage/lib/$rt"
  # Node's official build carries ~20 MB of symbols it runs the same without. Bun is never stripped:
  # its executable must stay as built. strip(1) of the host handles the other architecture's ELF
  # only when binutils has it (multiarch); else the binary ships unstripped.
  if [ "$rt" = node ] && command -v strip >/dev/null; then strip "$stage/lib/$rt" 2>/dev/null || echo "build-dist: note: strip cannot handle linux/$arch; shipping $rt unstripped" >&2; fi
  chmod 0755 "$stage/lib/$rt"
  cp -r "$work/app" "$stage/lib/app"
  launcher "$rt" kubectl-multinic >"$stage/kubectl-multinic"
  launcher "$rt" kubectl_complete-multinic >"$stage/kubectl_complete-multinic"
  chmod 0755 "$stage/kubectl-multinic" "$stage/kubectl_complete-multinic"
  cp README.md "$stage/"
  if [ -f LICENSE ]; then cp LICENSE "$stage/"; else printf 'See %s\n' "https://github.com/kubectl-multinic/kubectl-multinic" >"$stage/LICENSE"; fi
  # Reproducible: sorted names, fixed owner and time.
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2020-01-01 00:00Z' -C "$work" -cf - "$name" | gzip -n -9 >"$out/$name.tar.gz.new"
  mv -f "$out/$name.tar.gz.new" "$out/$name.tar.gz"
  sum=$(sha256sum "$out/$name.tar.gz" | awk '{print $1}')
  printf '%s  %s\n' "$sum" "$name.tar.gz" >"$out/$name.tar.gz.sha256"
  echo "build-dist: $out/$name.tar.gz ($rt, $(du -h "$out/$name.tar.gz" | awk '{print $1}'), sha256 $sum)" >&2
  manifest_platforms+="    - selector:
        matchLabels:
          os: linux
          arch: $arch
      uri: $base_url/v$version/$name.tar.gz
      sha256: $sum
      bin: kubectl-multinic
      files:
        - from: $name/*
          to: .
"
done

mkdir -p "$(dirname "$manifest")"
cat >"$manifest.new" <<EOF
# krew Plugin manifest (https://krew.sigs.k8s.io/docs/developer-guide/plugin-manifest/), written by
# scripts/build-dist.sh (make dist) from the archives it built: do not edit the sha256 by hand.
apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: multinic
spec:
  version: v$version
  homepage: https://github.com/kubectl-multinic/kubectl-multinic
  shortDescription: Multi-NIC pod networking - plan, install, diagnose
  description: |
    Several high-speed secondary NICs for every pod that needs them (GPU and AI clusters with
    RoCE, EFA or 100-400G Ethernet NICs), from one network definition for the whole NIC pool.
    Plans the address layout per host and NIC, installs the node agent and CNI plugin, applies
    networks, checks every NIC with iperf3 and diagnoses pods that did not get their interfaces.
    Compatible with IBM Multi-NIC CNI's multinic.fms.io/v1 resources. Needs no Node.js: the
    runtime ships in the archive.
  caveats: |
    Completion through kubectl (1.26+) needs kubectl_complete-multinic on PATH: link it from
    the plugin's directory (kubectl krew info multinic shows where it was installed), or use
    'kubectl multinic completion bash|zsh|fish'.
  platforms:
${manifest_platforms%$'\n'}
EOF
mv -f "$manifest.new" "$manifest"
echo "build-dist: $manifest (v$version, ${#arches[@]} platform(s))" >&2
