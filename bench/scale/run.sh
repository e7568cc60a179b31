#!/usr/bin/env bash
# The CLI at cluster scale (docs/scale.md): for each size, bench/claims claims N hosts x 8 NICs by
# create against the real API stand-in and keeps that cluster up (--keep: route reports, IPPools and
# the leader's status written by the agents' own code), then this runs the CLI as shipped
# (node bin/kubectl-multinic, from dist/: build first) against it, side by side with the baseline
# `kubectl get` of the same objects, and prints wall time and peak RSS (/usr/bin/time; the TUI:
# time until the screen shows the network, VmHWM of its process, in a tmux pane).
#   bash bench/scale/run.sh [sizes, default 256,1024,4096] [--repeat 3] [--kubeconfig PATH]
# --kubeconfig measures a cluster already kept (bench/claims N --designs claims --keep PATH), of the one size given.
# Needs: node, kubectl, tmux, /usr/bin/time; run under `flock /tmp/mn-priv.lock` on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
sizes=256,1024,4096
repeat=3
given=""
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) repeat="${2:?--repeat needs a number}"; shift 2 ;;
    --kubeconfig) given="${2:?--kubeconfig needs a path}"; shift 2 ;;
    [0-9]*) sizes="$1"; shift ;;
    *) echo "usage: bench/scale/run.sh [sizes, e.g. 256,1024,4096] [--repeat N]" >&2; exit 2 ;;
  esac
done
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || { echo "--repeat must be a whole number >= 1, not \"$repeat\"" >&2; exit 2; }
[[ "$sizes" =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "sizes must be like 256,1024,4096, not \"$sizes\"" >&2; exit 2; }
for t in kubectl tmux /usr/bin/time; do command -v "$t" >/dev/null || { echo "bench/scale needs $t" >&2; exit 2; }; done
[ -f dist/commands/status.js ] || { echo "dist/ is not built: run npx tsc -p tsconfig.build.json first" >&2; exit 2; }

work="$(mktemp -d)"
keeper=""
session="bn-scale-$$"
cleanup() {
  tmux kill-session -t "$session" 2>/dev/null || true
  if [ -n "$keeper" ]; then kill -TERM -- "-$keeper" 2>/dev/null || true; wait "$keeper" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
cli=(node bin/kubectl-multinic)

# median of the wall times and the RSS of that run: "<s> <MB> <exit>"
measure() {
  local i out=() code
  for ((i = 0; i < repeat; i++)); do
    code=0
    /usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$work/out" 2>"$work/err" || code=$?
    out+=("$(cat "$work/time" | tail -1) $code")
  done
  printf '%s\n' "${out[@]}" | sort -n | sed -n "$(((repeat + 1) / 2))p" | awk '{ printf "%.2f %.0f %s\n", $1, $2 / 1024, $3 }'
}

echo "# bench/scale: sizes $sizes, median of $repeat runs; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo '| nodes x 8 NICs | command | wall | peak RSS | exit | baseline (kubectl get) wall | peak RSS | wall ratio |'
echo '|---|---|---|---|---|---|---|---|'
for n in ${sizes//,/ }; do
  kc="$work/kubeconfig-$n"
  if [ -n "$given" ]; then
    [ -f "$given" ] || { echo "no kubeconfig at $given" >&2; exit 2; }
    kc="$given"
    echo "# kept" >"$work/claims-$n.log"
  else
    # Its own process group: the kill below must reach the bench's node process, not only its shell.
    setsid bash bench/claims/run.sh "$n" --designs claims --cap-s 900 --keep "$kc" >"$work/claims-$n.log" 2>&1 &
    keeper=$!
  fi
  until grep -q '^# kept' "$work/claims-$n.log" 2>/dev/null; do
    if [ -n "$keeper" ] && ! kill -0 "$keeper" 2>/dev/null; then echo "claims bench for $n ended before keeping its cluster:" >&2; cat "$work/claims-$n.log" >&2; exit 1; fi
    sleep 2
  done
  { grep '^# filled\|^# leader' "$work/claims-$n.log" || true; } | sed 's/^/# claims: /'
  kubectl --kubeconfig "$kc" get multinicnetwork scale -o yaml >"$work/net.yaml"
  objs=multinicnetworks,cidrs,cidrclaims,ippools,hostinterfaces,nodes
  base_json="$(measure kubectl --kubeconfig "$kc" get "$objs" -o json)"
  base_table="$(measure kubectl --kubeconfig "$kc" get "$objs")"
  row() { # label, baseline, command...
    local label="$1" base="$2" r
    shift 2
    r="$(measure "$@")"
    read -r s mb code <<<"$r"
    read -r bs bmb _ <<<"$base"
    echo "| $n | $label | $s s | $mb MB | $code | $bs s | $bmb MB | $(awk -v a="$s" -v b="$bs" 'BEGIN { printf "%.1fx", a / b }') |"
  }
  row 'status' "$base_table" "${cli[@]}" status --kubeconfig "$kc"
  row 'status -o json' "$base_json" "${cli[@]}" status -o json --kubeconfig "$kc"
  row 'doctor --timeout 0' "$base_json" "${cli[@]}" doctor --timeout 0 --kubeconfig "$kc"
  row 'plan -f network' "$base_json" "${cli[@]}" plan -f "$work/net.yaml" --kubeconfig "$kc"
  # The TUI: time until its first full screen names the network, and the peak RSS of its process.
  t0=$(date +%s.%N)
  pid=$(tmux new-session -d -P -F '#{pane_pid}' -s "$session" -x 200 -y 50 "exec ${cli[*]} ui --kubeconfig $kc")
  shown=""
  for ((i = 0; i < 600; i++)); do
    if tmux capture-pane -p -t "$session" 2>/dev/null | grep -q 'scale'; then shown=$(date +%s.%N); break; fi
    sleep 0.1
  done
  rss=$(awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$pid/status" 2>/dev/null || echo '?')
  tmux kill-session -t "$session" 2>/dev/null || true
  if [ -n "$shown" ]; then tui="$(awk -v a="$t0" -v b="$shown" 'BEGIN { printf "%.2f", b - a }') s"; else tui='not within 60 s'; fi
  echo "| $n | ui (first screen with the network) | $tui | $rss MB | - | | | |"
  if [ -n "$keeper" ]; then
    kill -TERM -- "-$keeper"
    wait "$keeper" 2>/dev/null || true
    keeper=""
  fi
  # bench/claims prints its row once the kept cluster is closed.
  { grep '^| '"$n"' |\|^|   |' "$work/claims-$n.log" || true; } | sed 's/^/# claims: /'
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
