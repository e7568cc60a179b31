#!/usr/bin/env bash
# The lab on ipvlan L3, where the kernel has ipvlan: boots the UML guest (scripts/uml-run.sh) and runs
# there, end to end, what `make demo` runs here on macvlan: `lab up` (2 hosts x 2 NICs), `install`,
# `apply -f examples/network.yaml` (the seed network: ipvlan L3, the product's main upstream mode),
# `check` (iperf3 pod<->pod over every NIC, through pods attached by the real CNI), then iperf3
# host<->host over the same NICs as the baseline, a table of both, and `lab down`.
#
#   bash scripts/uml-lab.sh [--duration 5]     (any user; the guest is root in its own kernel)
#
# Figures are the UML guest's (a single virtual CPU under ptrace): compare pod<->pod with host<->host
# from the same run, not with the host kernel's lab.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=5
while [ $# -gt 0 ]; do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    *) echo "usage: scripts/uml-lab.sh [--duration SECONDS]" >&2; exit 2 ;;
  esac
done
[[ $duration =~ ^[0-9]+$ ]] || { echo "scripts/uml-lab.sh: --duration $duration: want seconds" >&2; exit 2; }
if [ "${MULTINIC_UML_GUEST-}" != 1 ]; then
  exec bash scripts/uml-run.sh --timeout 2400 --shell "bash scripts/uml-lab.sh --duration $duration"
fi

CLI=(node bin/kubectl-multinic)
PREFIX=mnuml
start=$(cut -d' ' -f1 /proc/uptime)
step() { printf '\n== %s (guest uptime %ss)\n' "$*" "$(cut -d' ' -f1 /proc/uptime)"; }
trap 'step "lab down"; "${CLI[@]}" lab down --prefix "$PREFIX" || true' EXIT

step "lab up: 2 hosts x 2 NICs in the UML kernel"
"${CLI[@]}" lab up --prefix "$PREFIX" --hosts 2 --nics 2 -o json >/tmp/lab.json
export KUBECONFIG
KUBECONFIG=$(node -e 'console.log(JSON.parse(require("fs").readFileSync("/tmp/lab.json","utf8")).kubeconfig)')
step "install"
"${CLI[@]}" install --wait --timeout 15m
step "apply examples/network.yaml (ipvlan L3)"
"${CLI[@]}" apply -f examples/network.yaml --timeout 15m
"${CLI[@]}" status || echo "(status: not everything ready yet; check decides)"
step "check: iperf3 pod<->pod over every NIC, ${duration}s each"
set +e
"${CLI[@]}" check --pairs ring --duration "$duration" --concurrency 1 -o json >/tmp/check.json
check_rc=$?
set -e
step "iperf3 host<->host over the same NICs and directions (baseline), ${duration}s each"
# For each check test CLIENT->SERVER/nicI: iperf3 from CLIENT's host netns to SERVER's NIC address.
# (No process substitution: the guest's /dev is the host's, read-only, without /dev/fd.)
node -e '
  const s = JSON.parse(require("fs").readFileSync("/tmp/lab.json", "utf8"));
  for (const [a, b] of [[0, 1], [1, 0]]) {
    const c = s.hosts[a], v = s.hosts[b];
    c.nics.forEach((n, i) => console.log([`${c.name}->${v.name}/nic${i}`, c.netns, v.netns, v.nics[i].address.split("/")[0], i].join(" ")));
  }' >/tmp/pairs
# Like check, a host pair's NICs are measured at the same time (on the guest's one CPU, they share it).
for dir in host1-host2 host2-host1; do
  grep "^${dir%-*}->${dir#*-}/" /tmp/pairs >/tmp/pairs.dir
  while read -r id cns sns addr i; do
    ip netns exec "$sns" iperf3 -s -1 -B "$addr" -p $((5301 + i)) </dev/null >/dev/null 2>&1 &
  done </tmp/pairs.dir
  sleep 2
  while read -r id cns sns addr i; do
    ip netns exec "$cns" iperf3 -c "$addr" -p $((5301 + i)) -t "$duration" -J </dev/null >"/tmp/host-${id//[^a-z0-9]/_}.json" &
  done </tmp/pairs.dir
  wait || true
done
node -e '
  const fs = require("fs");
  const check = JSON.parse(fs.readFileSync("/tmp/check.json", "utf8"));
  const pod = new Map((check.tests ?? []).map((t) => [String(t.id).replace(/^[^/]*\//, ""), t.gbps]));
  const rows = [];
  for (const line of fs.readFileSync("/tmp/pairs", "utf8").trim().split("\n")) {
    const id = line.split(" ")[0];
    let host = NaN;
    try { host = JSON.parse(fs.readFileSync(`/tmp/host-${id.replace(/[^a-z0-9]/g, "_")}.json`, "utf8")).end.sum_received.bits_per_second / 1e9; } catch {}
    const p = pod.get(id) ?? NaN;
    rows.push(`${id.padEnd(18)} pod<->pod (ipvlan L3) ${p.toFixed(2).padStart(6)} Gbit/s   host<->host ${host.toFixed(2).padStart(6)} Gbit/s   ratio ${(p / host).toFixed(2)}`);
  }
  console.log(rows.join("\n"));
  console.log("check summary:", JSON.stringify(check.summary ?? {}));'
step "done in $(echo "$(cut -d' ' -f1 /proc/uptime) - $start" | bc)s"
exit "$check_rc"
