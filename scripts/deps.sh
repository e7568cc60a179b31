#!/usr/bin/env bash
# The Debian packages a make target needs, installed when missing (apt-get as root; otherwise a clear
# message). One list for `make demo`, `make test` and .ci/run, so a fresh machine needs no manual step.
#   scripts/deps.sh demo   the lab and check: iproute2, the reference CNI plugins, iperf3, nsenter
#   scripts/deps.sh test   the whole suite: the above, plus podman, kubectl, ping, tmux, setpriv, and
#                          the pinned User-Mode Linux kernel for the ipvlan stage (see `uml` below)
#   scripts/deps.sh uml    only the UML kernel: fetched with `apt-get download` (no root needed), checked
#                          against its pinned SHA-256 and unpacked into a cache dir, never installed
#                          system-wide; prints that dir on stdout. Exit 3 (with the reason on stderr)
#                          when it cannot be had here: scripts/uml-run.sh then skips its stage.
set -euo pipefail
target=${1:-test}

# The UML stage's kernel (Debian bookworm's user-mode-linux: 6.1.x, ipvlan.ko among its modules) and a
# static busybox for the guest's init (insmod, mount, poweroff: the host has no kmod). Pinned by
# version and SHA-256 so every run boots the same kernel; bump both together.
UML_PKGS=(
  "user-mode-linux=6.1um4+b13:0ce700f835c385ab09860ad33137817402403a29e424177510244bd75a81c687"
  "busybox-static=1:1.35.0-4+deb12u1+b1:3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744"
)
UML_CACHE=${MULTINIC_UML_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/kubectl-multinic/uml}

# fetch_uml: unpacks the pinned packages into $UML_CACHE/<sha-prefix>/root (once; later runs reuse it)
# and prints that root. Idempotent; a half-done unpack is never used (it is renamed into place last).
fetch_uml() {
  local key dir tmp e pv pkg ver sum deb
  key=$(printf '%s\n' "${UML_PKGS[@]}" | sha256sum | cut -c1-12)
  dir=$UML_CACHE/$key
  if [ -x "$dir/root/usr/bin/linux.uml" ] && [ -x "$dir/root/bin/busybox" ]; then echo "$dir/root"; return 0; fi
  if [ "$(uname -m)" != x86_64 ]; then echo "the pinned UML kernel is amd64; this machine is $(uname -m)" >&2; return 3; fi
  if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
    echo "fetching the UML kernel needs apt-get and dpkg-deb (Debian); not found" >&2; return 3
  fi
  mkdir -p "$UML_CACHE"
  tmp=$(mktemp -d "$UML_CACHE/.fetch.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" RETURN
  for e in "${UML_PKGS[@]}"; do
    pv=${e%:*} sum=${e##*:} pkg=${pv%%=*} ver=${pv#*=}
    echo "fetching $pkg $ver (apt-get download) into $UML_CACHE" >&2
    if ! (cd "$tmp" && apt-get download -qq "$pkg=$ver" >/dev/null 2>"$tmp/apt.err"); then
      echo "cannot fetch $pkg $ver: $(tail -n1 "$tmp/apt.err")" >&2
      echo "  (offline, or the mirror no longer has that version: bump UML_PKGS in scripts/deps.sh)" >&2
      return 3
    fi
    deb=$(ls "$tmp"/"${pkg}"_*.deb)
    if [ "$(sha256sum "$deb" | cut -d' ' -f1)" != "$sum" ]; then
      echo "$deb: SHA-256 differs from the pinned $sum; refusing to use it" >&2
      return 3
    fi
    dpkg-deb -x "$deb" "$tmp/root"
  done
  rm -rf "$dir" && mkdir -p "$dir" && mv "$tmp/root" "$dir/root"
  echo "$dir/root"
}

if [ "$target" = uml ]; then
  fetch_uml
  exit
fi

# command-or-path -> package
declare -a need=(
  "ip:iproute2"
  "/usr/lib/cni/macvlan:containernetworking-plugins"
  "iperf3:iperf3"
  "nsenter:util-linux"
)
if [ "$target" = test ]; then
  need+=("ping:iputils-ping" "podman:podman" "kubectl:kubectl" "tmux:tmux" "setpriv:util-linux")
elif [ "$target" != demo ]; then
  echo "usage: scripts/deps.sh demo|test|uml" >&2
  exit 2
fi

missing=()
for e in "${need[@]}"; do
  what=${e%%:*} pkg=${e#*:}
  if [[ $what == /* ]]; then [ -x "$what" ] && continue; else command -v "$what" >/dev/null && continue; fi
  [[ " ${missing[*]-} " == *" $pkg "* ]] || missing+=("$pkg")
done
# The UML kernel is fetched for `test` (the stage skips with the reason when it cannot be had).
if [ "$target" = test ]; then fetch_uml >/dev/null || true; fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "make $target needs these Debian packages: ${missing[*]}" >&2
  echo "  install them as root: apt-get install -y ${missing[*]}" >&2
  # The suite skips (with the reason) what it cannot run; the demo cannot run without them.
  [ "$target" = test ] && exit 0 || exit 2
fi
echo "installing ${missing[*]} (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# kubectl is not packaged on every mirror: install the rest regardless; tests that need it skip.
apt-get install -y -qq "${missing[@]}" >/dev/null || apt-get install -y -qq "${missing[@]/kubectl/}" >/dev/null
