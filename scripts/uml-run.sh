#!/usr/bin/env bash
# Runs test files inside a User-Mode Linux guest: a second, real Linux kernel (Debian's pinned
# user-mode-linux, 6.1.x, with ipvlan) booted as an ordinary process, for the tests that need a kernel
# feature this machine's kernel lacks. Used by `make test-uml` (which `make test` runs).
#
#   scripts/uml-run.sh [--mem 1G] [--timeout 900] [--filter WORDS] [--] FILE...
#                                         vitest files (repo-relative), optionally only tests whose name
#                                         matches WORDS (vitest -t)
#   scripts/uml-run.sh --shell CMD                               any command in the guest (debugging)
#
# The guest's root is this machine's / through hostfs, read-only (so node, ip, iperf3 and the CNI
# plugins are the host's own); the repo is mounted read-write at the same path; /tmp, /run, /var/lib/cni
# and /dev/shm are the guest's own tmpfs. Network namespaces made in the guest live in the guest kernel,
# so the stage needs neither root on the host nor the suite's netns lock. The guest runs
# `npx vitest run FILE...` with MULTINIC_UML_GUEST=1; this script streams its output and exits with
# its status. Exit 0 with "SKIP: <reason>" when this machine cannot run UML (see uml_reason below, and
# a kernel that never starts the guest's init); once the init has started ("guest: init started",
# its first line), anything short of a result is a failure (exit 1).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd -P)

mem=1G
limit=900
shell_cmd=
filter=
while [ $# -gt 0 ]; do
  case $1 in
    --mem) mem=$2; shift 2 ;;
    --timeout) limit=$2; shift 2 ;;
    --shell) shell_cmd=$2; shift 2 ;;
    --filter) filter=$2; shift 2 ;;
    --) shift; break ;;
    -*) echo "scripts/uml-run.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ -z "$shell_cmd" ] && [ $# -eq 0 ]; then
  echo "usage: scripts/uml-run.sh [--mem 1G] [--timeout SECONDS] [--filter WORDS] [--] TEST_FILE... | --shell CMD" >&2
  exit 2
fi
for f in "$@"; do
  # Names go into the guest's shell script: repo-relative paths of plain characters only.
  if ! [[ $f =~ ^[A-Za-z0-9._/-]+$ ]] || [[ $f == /* ]] || [[ $f == *..* ]] || [ ! -f "$f" ]; then
    echo "scripts/uml-run.sh: $f: not a test file under $repo (repo-relative path, [A-Za-z0-9._/-] only)" >&2
    exit 2
  fi
done
[[ $filter =~ ^[A-Za-z0-9\ ._-]*$ ]] || { echo "scripts/uml-run.sh: --filter $filter: letters, digits, spaces and ._- only" >&2; exit 2; }
[[ $mem =~ ^[0-9]+[MG]$ ]] || { echo "scripts/uml-run.sh: --mem $mem: want e.g. 768M or 1G" >&2; exit 2; }
[[ $limit =~ ^[0-9]+$ ]] || { echo "scripts/uml-run.sh: --timeout $limit: want seconds" >&2; exit 2; }

# A machine that cannot run UML skips the stage with the reason; MULTINIC_UML_REQUIRED=1 (.ci/run sets
# it: CI is known to run UML) turns every skip into a failure, so the stage cannot vanish silently.
skip() {
  if [ "${MULTINIC_UML_REQUIRED-}" = 1 ]; then echo "UML stage FAILED (MULTINIC_UML_REQUIRED=1): $*" >&2; exit 1; fi
  echo "SKIP: UML stage not run: $*" >&2
  exit 0
}

# What UML needs from this machine: the kernel (amd64, fetched by deps.sh), ptrace of its own children
# (how UML runs guest processes; Yama ptrace_scope 3 or a seccomp filter forbids it), an exec-able
# tmpfs for guest memory (UML maps a file from $TMPDIR, else /dev/shm, else /tmp) and node for the guest.
uml_reason() {
  local scope
  scope=$(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null || echo 0)
  [ "$scope" = 3 ] && { echo "ptrace is disabled (kernel.yama.ptrace_scope=3); UML runs guest processes under ptrace"; return; }
  local memdir=${TMPDIR:-/dev/shm}
  [ -d "$memdir" ] && [ -w "$memdir" ] || memdir=/tmp
  [ -w "$memdir" ] || { echo "no writable directory for the guest's memory file (\$TMPDIR, /dev/shm, /tmp)"; return; }
  if findmnt -no OPTIONS --target "$memdir" 2>/dev/null | grep -qw noexec; then
    echo "$memdir is mounted noexec; UML maps its memory file executable (set TMPDIR to an exec tmpfs)"; return
  fi
  command -v node >/dev/null || { echo "node is not on PATH"; return; }
  [ -x node_modules/.bin/vitest ] || { echo "node_modules is not installed (npm ci)"; return; }
}
reason=$(uml_reason)
[ -z "$reason" ] || skip "$reason"
root=$(bash scripts/deps.sh uml) || skip "the pinned UML kernel is not available here (see above)"
kernel=$root/usr/bin/linux.uml
bb=$root/bin/busybox
modbase=$(ls -d "$root"/usr/lib/uml/modules/*/ | head -n1)

# Modules the tests need, each after its dependencies (modules.dep lists them nearest-first; there is
# no modprobe in the guest). ipvlan needs ipv6; bridge needs stp and llc.
want=(drivers/net/veth.ko drivers/net/ipvlan/ipvlan.ko drivers/net/macvlan.ko net/bridge/bridge.ko)
declare -A seen=()
order=()
add_mod() {
  local m=$1 deps d
  [ -n "${seen[$m]-}" ] && return
  seen[$m]=1
  deps=$(awk -v m="kernel/$m:" '$1 == m { $1 = ""; print }' "$modbase/modules.dep")
  for d in $(printf '%s\n' $deps | tac); do add_mod "${d#kernel/}"; done
  order+=("$m")
}
for m in "${want[@]}"; do add_mod "$m"; done

run=$repo/build/uml/run.$$
rm -rf "$run" && mkdir -p "$run"
# One worker (the guest has one CPU); timeouts scaled for a guest where a process start takes seconds.
guest_cmd=${shell_cmd:-"npx vitest run --reporter=verbose --maxWorkers=1 --testTimeout=240000 --hookTimeout=600000 ${filter:+-t '$filter' }$*"}
{
  echo '#!/bin/sh'
  echo "# Generated by scripts/uml-run.sh: the UML guest's init (pid 1)."
  # First of all, the marker that the kernel ran our init: from here on a failure is the stage's.
  echo 'echo "guest: init started" >&2'
  printf 'B=%q\nREPO=%q\nRUN=%q\nMODS=%q\nJOB=%q\n' "$bb" "$repo" "$run" "$modbase/kernel" "$guest_cmd"
  printf 'LOAD="%s"\n' "${order[*]}"
  cat <<'INIT'
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
for d in /tmp /run /var/lib/cni /dev/shm; do $B mount -t tmpfs tmpfs "$d" 2>/dev/null; done
$B mkdir -p "$REPO"; $B mount -t hostfs -o "$REPO" hostfs "$REPO" || { echo "guest: mounting $REPO over hostfs failed" >&2; $B poweroff -f; }
for m in $LOAD; do $B insmod "$MODS/$m" || echo "guest: insmod $m failed" >&2; done
ip link set lo up
echo "guest: booted in $($B cut -d' ' -f1 /proc/uptime)s, kernel $($B uname -r), $($B free -m | $B awk '/^Mem:/ {print $2}') MB" >&2
cd "$REPO"
export HOME=/tmp CI=1 MULTINIC_UML_GUEST=1 NO_COLOR=1
# Peak memory in use, sampled every second while the job runs (for the stage's summary line).
( peak=0; while :; do u=$($B free -m | $B awk '/^Mem:/ {print $3}'); [ "$u" -gt "$peak" ] && peak=$u && echo "$peak" >/run/peak; $B sleep 1; done ) &
sampler=$!
sh -c "$JOB" </dev/null >"$RUN/out" 2>&1
echo $? >"$RUN/status.tmp" && $B mv "$RUN/status.tmp" "$RUN/status"
kill $sampler
echo "guest: job done at $($B cut -d' ' -f1 /proc/uptime)s, peak memory in use $($B cat /run/peak 2>/dev/null || echo '?') MB" >&2
$B sync
$B poweroff -f
INIT
} >"$run/init"
chmod +x "$run/init"

echo "UML stage: booting $(basename "$modbase") (mem=$mem) to run: ${shell_cmd:-vitest $*}" >&2
start=$(date +%s.%N)
touch "$run/out"
tail -n +1 -F "$run/out" 2>/dev/null &
tailer=$!
# ubd0=/dev/null: UML probes a block device by default; there is none, the root is hostfs.
set +e
timeout --kill-after=10 "$limit" "$kernel" mem="$mem" root=/dev/root rootfstype=hostfs rootflags=/ ro \
  init="$run/init" con0=null,fd:1 con=null ubd0=/dev/null quiet >"$run/console" 2>&1
uml=$?
set -e
sleep 0.3
kill "$tailer" 2>/dev/null || true
wait "$tailer" 2>/dev/null || true
secs=$(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo '?')
if ! grep -q '^guest: booted' "$run/console"; then
  if grep -q '^guest: init started' "$run/console"; then
    # The kernel ran our init and it failed before the tests (hostfs, a module, the init itself):
    # UML works here, so this is the stage failing, never a skip.
    [ "$uml" = 124 ] && why="timed out after ${limit}s" || why="UML exit $uml"
    echo "UML stage FAILED: the guest's init started but stopped before \"guest: booted\" ($why). Console:" >&2
    tail -n 40 "$run/console" >&2
    exit 1
  fi
  # The kernel never reached our init: this machine cannot run UML (a seccomp filter or a sandbox
  # forbidding ptrace, no memory file...), not a test failure.
  skip "the UML kernel did not start our init here (exit $uml): $(grep -v '^ \[' "$run/console" | tail -n 3 | tr '\n' ' ')"
fi
if [ ! -f "$run/status" ]; then
  [ "$uml" = 124 ] && why="timed out after ${limit}s" || why="UML exit $uml"
  echo "UML stage FAILED: the guest stopped without a result ($why). Console:" >&2
  tail -n 40 "$run/console" >&2
  exit 1
fi
status=$(cat "$run/status")
grep -h '^guest:' "$run/console" >&2 || true
echo "UML stage: guest exit $status after ${secs}s wall (console log: ${run#"$repo"/}/console)" >&2
# Keep the last few runs' logs only.
ls -dt "$repo"/build/uml/run.* 2>/dev/null | tail -n +4 | xargs -r rm -rf
exit "$status"
