#!/usr/bin/env bash
# The Debian packages a make target needs, installed when missing (apt-get as root; otherwise a clear
# message). One list for `make demo`, `make test` and .ci/run, so a fresh machine needs no manual step.
#   scripts/deps.sh demo   the lab and check: iproute2, the reference CNI plugins, iperf3, nsenter
#   scripts/deps.sh test   the whole suite: the above, plus podman, kubectl, ping, tmux, setpriv
set -euo pipefail
target=${1:-test}

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
  echo "usage: scripts/deps.sh demo|test" >&2
  exit 2
fi

missing=()
for e in "${need[@]}"; do
  what=${e%%:*} pkg=${e#*:}
  if [[ $what == /* ]]; then [ -x "$what" ] && continue; else command -v "$what" >/dev/null && continue; fi
  [[ " ${missing[*]-} " == *" $pkg "* ]] || missing+=("$pkg")
done
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
