#!/usr/bin/env bash
# Builds the self-contained `multi-nic` CNI executable: it must run on a host without Node.js, from
# the host's CNI bin dir, exec'd by Multus with whatever environment the runtime passes (maybe none).
#
#   scripts/build-cni.sh [--entry FILE] [--out FILE] [--runtime bun|node] [--mode sea|runtime]
#                        [--node PATH] [--no-strip]
#
# --runtime bun (default, what ships; chosen with bench/cni-startup and bench/cni/run.sh ab):
#    `bun build --compile --bytecode`, one executable. Against the Node 24 SEA, same run: VERSION in
#    ~0.35x the CPU and ~0.55x the peak RSS, and the 4-NIC ADD and DEL at a fraction of the SEA's CPU
#    (figures in bench/cni-startup/README.md). No Node start-up can get there: `node -e 0` alone costs
#    more CPU than the whole Bun VERSION. Bun (JavaScriptCore, via glibc's pthread_getattr_np) reads
#    /proc/self/maps and aborts when /proc is not mounted; a CNI plugin is always exec'd by the
#    runtime (containerd, CRI-O) or Multus in a mount namespace with /proc, so this only bites in a
#    bare chroot (the SEA survives one: --runtime node). The Bun binary is the npm package
#    @oven/bun-linux-<arch>@$bun_version (glibc; x64-baseline on x86-64), cached by
#    scripts/npm-fetch.sh under build/cache/.
# --runtime node: the Node 24 builds below.
# 1. esbuild bundles ENTRY (default src/cni/main.ts) and everything it imports into one ES module.
# 2. --mode sea (default for node): a Node single-executable application whose
#    main is the bundle itself, as CommonJS. CommonJS on purpose: an ES module graph makes Node build
#    an ESM facade for every built-in it imports, and node:http's facade evaluates its lazy getters,
#    which loads undici and crypto (~30 ms of a ~70 ms start, measured with --cpu-prof).
#    One file: atomic to install.
#    --mode runtime: OUT is a /bin/sh launcher next to OUT.d/{node,plugin.cjs} (the measured
#    alternative; three files to keep in step on the host).
# The Node 24 binary is the one running this script when it is v24 (the Containerfile's build stage),
# else --node PATH, else the official build from the npm registry (package node-<os>-<arch>@24, the
# same binary `npm install node@24` installs), cached under build/cache/.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
entry=src/cni/main.ts
out=build/cni/multi-nic
mode=
node24=
strip_binary=1
major=24
runtime=
bun_version=1.4.5

usage() { sed -n '5,6p' "$0" | sed 's/^# *//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --entry) entry=${2:?--entry needs a file}; shift 2 ;;
    --out) out=${2:?--out needs a path}; shift 2 ;;
    --mode) mode=${2:?--mode needs sea or runtime}; shift 2 ;;
    --node) node24=${2:?--node needs a path}; shift 2 ;;
    --no-strip) strip_binary=0; shift ;;
    --runtime) runtime=${2:?--runtime needs node or bun}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "build-cni: unknown argument $1" >&2; usage ;;
  esac
done
# --mode is Node's: given alone it implies --runtime node.
[ -n "$runtime" ] || { [ -n "$mode" ] && runtime=node || runtime=bun; }
[ -n "$mode" ] || mode=sea
case "$mode" in sea|runtime) ;; *) echo "build-cni: --mode must be sea or runtime, not $mode" >&2; exit 2 ;; esac
case "$runtime" in node|bun) ;; *) echo "build-cni: --runtime must be node or bun, not $runtime" >&2; exit 2 ;; esac
cd "$root"
[ -f "$entry" ] || { echo "build-cni: entry $entry not found" >&2; exit 2; }

if [ "$runtime" = bun ]; then
  [ "$mode" = sea ] || { echo "build-cni: --runtime bun builds one executable; --mode $mode is for node" >&2; exit 2; }
  # x64: Bun's baseline build (no AVX2 needed): the executable runs on every x86-64 host, as the
  # Node SEA does, not only on those whose (virtual) CPU has AVX2.
  case "$(uname -m)" in x86_64) arch=x64-baseline ;; aarch64|arm64) arch=aarch64 ;; *) echo "build-cni: unsupported arch $(uname -m)" >&2; exit 2 ;; esac
  bun=$(bash scripts/npm-fetch.sh "@oven/bun-linux-$arch@$bun_version" bin/bun) || exit $?
  mkdir -p "$(dirname "$out")"
  tmp=$out.new.$$
  trap 'rm -f "$tmp"' EXIT
  # --bytecode: JavaScriptCore bytecode embedded, no parse at start (0.76x CPU per ADD against
  # without it). Whitespace and syntax minification only, as for node. Never strip(1) the
  # result: the program is embedded in the ELF file.
  "$bun" build --compile --bytecode --minify-whitespace --minify-syntax --sourcemap=none \
    --target="bun-linux-$arch" "$entry" --outfile "$tmp" >/dev/null
  chmod 0755 "$tmp"
  mv -f "$tmp" "$out"
  echo "build-cni: $out (bun $("$bun" --version), $(du -sh "$out" | awk '{print $1}'))" >&2
  exit 0
fi
esbuild=node_modules/.bin/esbuild
postject=node_modules/.bin/postject
[ -x "$esbuild" ] || { echo "build-cni: $esbuild missing; run npm ci first" >&2; exit 2; }

# Resolve a Node $major binary (see header; scripts/node24.sh).
node24=$(bash scripts/node24.sh ${node24:+--node "$node24"}) || exit $?

work=$(dirname "$out")/.work-$(basename "$out")
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

# Whitespace and syntax minification only: identifiers stay readable in stack traces.
"$esbuild" "$entry" --bundle --platform=node --format=cjs --target="node$major" \
  --minify-whitespace --minify-syntax --legal-comments=none --log-level=warning \
  --outfile="$work/plugin.cjs"

copy_node() {
  cp "$node24" "$1"
  chmod u+w "$1"
  # The official binary carries ~18 MB of debug info; the executable runs the same without it.
  if [ "$strip_binary" = 1 ] && command -v strip >/dev/null; then strip "$1"; fi
}

if [ "$mode" = sea ]; then
  cat >"$work/sea-config.json" <<EOF
{ "main": "$work/plugin.cjs", "output": "$work/sea.blob", "disableExperimentalSEAWarning": true,
  "useCodeCache": ${MULTINIC_SEA_CODE_CACHE:-false} }
EOF
  "$node24" --experimental-sea-config "$work/sea-config.json" >"$work/sea.log" 2>&1 || { cat "$work/sea.log" >&2; exit 1; }
  copy_node "$work/multi-nic"
  "$postject" "$work/multi-nic" NODE_SEA_BLOB "$work/sea.blob" \
    --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2 >/dev/null 2>"$work/postject.log" \
    || { cat "$work/postject.log" >&2; exit 1; }
  chmod 0755 "$work/multi-nic"
  mv -f "$work/multi-nic" "$out"
else
  dir="$out.d"
  rm -rf "$dir.new"
  mkdir -p "$dir.new"
  copy_node "$dir.new/node"
  cp "$work/plugin.cjs" "$dir.new/plugin.cjs"
  # ${0%/*}: no dirname(1), so it works with an empty environment (no PATH).
  printf '%s\n' '#!/bin/sh' "exec \"\${0%/*}/$(basename "$dir")/node\" \"\${0%/*}/$(basename "$dir")/plugin.cjs\" \"\$@\"" >"$work/launcher"
  chmod 0755 "$work/launcher"
  rm -rf "$dir"
  mv "$dir.new" "$dir"
  mv -f "$work/launcher" "$out"
fi
echo "build-cni: $out ($mode, node $("$node24" --version), $(du -sh "$out" ${dir:+"$dir"} | awk '{print $1}' | paste -sd+))" >&2
