#!/usr/bin/env bash
# make bench: every benchmark in bench/, each reporting ratios against a baseline run side by side
# in the same process or script. Privileged ones (namespaces, the lab) need root and say so.
# Select some with BENCH="plan ipam ..."; default: all but check (which needs a running lab) and
# doctor and pods (which bring up their own labs: DOCTOR_HOSTS x DOCTOR_NICS, default 3 x 2;
# PODS_HOSTS hosts x 4 NICs with PODS_N pods, default 4 and 64).
set -uo pipefail
cd "$(dirname "$0")/.."
all="plan plan-cli cli-startup ipam ipam-allocator agent cni cni-fake cni-concurrent cni-startup claims krew health"
sel=${BENCH:-$all}
status=0
run() {
  local name=$1; shift
  printf '\n\033[1m== bench %s\033[0m: %s\n' "$name" "$*"
  if ! "$@"; then echo "bench $name FAILED" >&2; status=1; fi
}
# The CNI benches measure the executable that ships (make cni), rebuilt once per run, against the
# real agent as deployed (Node 24, --kube, API stand-in; cni-fake: the fake agent).
cni_built=0
need_cni() { [ "$cni_built" = 1 ] || { bash scripts/build-cni.sh --out build/cni/multi-nic && cni_built=1; }; }
for b in $sel; do
  case $b in
    plan) run plan node bench/plan/run.mjs ;;
    plan-cli) run plan-cli node bench/plan/cli.mjs --runs 5 ;;
    cli-startup) run cli-startup node bench/cli-startup/bench.mjs --runs 10 ;;
    ipam) run ipam bash bench/ipam/run.sh 2000 3 ;;
    ipam-allocator) run ipam-allocator bash bench/ipam/run.sh allocator ;;
    agent) run agent bash bench/agent/run.sh ;;
    health) run health bash bench/health/run.sh 20 ;;
    cni) need_cni && run cni bash bench/cni/run.sh --runs 15 --plugin build/cni/multi-nic ;;
    cni-fake) need_cni && run cni-fake bash bench/cni/run.sh --runs 15 --agent fake --plugin build/cni/multi-nic ;;
    cni-concurrent) need_cni && run cni-concurrent bash bench/cni/run.sh concurrent --pods 100 --rounds 3 --plugin build/cni/multi-nic ;;
    cni-startup) need_cni && run cni-startup node bench/cni-startup/bench.mjs --runs 20 ;;
    claims) run claims bash bench/claims/run.sh 256,1024 ;;
    krew) { ls build/dist/*_linux_*.tar.gz >/dev/null 2>&1 || bash scripts/build-dist.sh --out build/dist; } && run krew node bench/krew/bench.mjs --runs 20 ;;
    doctor) run doctor bash bench/doctor/run.sh "${DOCTOR_HOSTS:-3}" "${DOCTOR_NICS:-2}" ;;
    pods) run pods bash bench/pods/run.sh --hosts "${PODS_HOSTS:-4}" --pods "${PODS_N:-64}" ;;
    check) run check bash bench/check/run.sh --dir "${LAB_DIR:-${TMPDIR:-/tmp}/kubectl-multinic-lab/mnlab}" ;;
    *) echo "unknown bench $b (known: $all check doctor pods)" >&2; status=2 ;;
  esac
done
exit $status
