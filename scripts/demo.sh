#!/usr/bin/env bash
# make demo: the main job on the embedded local default. A 3-host x 2-NIC lab on this machine,
# the agent installed, the seed network applied, every NIC checked with iperf3, then torn down.
set -euo pipefail
cd "$(dirname "$0")/.."
CLI=(node bin/kubectl-multinic)
PREFIX=${DEMO_PREFIX:-mndemo}
DIR=${TMPDIR:-/tmp}/kubectl-multinic-lab/$PREFIX
start=$(date +%s)
step() { printf '\n\033[1m== %s\033[0m (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

if [ "$(id -u)" != 0 ]; then echo "make demo needs root (network namespaces, veth, bridges): sudo make demo" >&2; exit 2; fi
bash scripts/deps.sh demo  # installs what is missing (also when demo.sh is run by hand)

# Always leave the machine as we found it, also on failure or Ctrl-C.
trap 'step "lab down"; "${CLI[@]}" lab down --prefix "$PREFIX" || true' EXIT
"${CLI[@]}" lab down --prefix "$PREFIX" >/dev/null 2>&1 || true

step "lab up: 3 hosts x 2 NICs as network namespaces, a local Kubernetes API, a node runner"
"${CLI[@]}" lab up --prefix "$PREFIX" --hosts 3 --nics 2
export KUBECONFIG=$DIR/kubeconfig

step "install: CRDs, RBAC and the agent DaemonSet (the lab runs one real agent per host)"
"${CLI[@]}" install --wait --timeout 60s

step "plan: the seed network over the NICs the agents published (read from the cluster)"
"${CLI[@]}" plan -f examples/lab-network.yaml

step "apply: create the network and wait until every host has claimed blocks and installed routes"
"${CLI[@]}" apply -f examples/lab-network.yaml --timeout 90s

step "status"
"${CLI[@]}" status

step "check: iperf3 over every NIC between neighbouring hosts (a ring: host1->host2->host3->host1)"
"${CLI[@]}" check --duration 2 --pairs ring

step "done in $(( $(date +%s) - start ))s"
