#!/usr/bin/env bash
# doctor wall time on a lab of H hosts x N NICs (needs root: it brings the lab up and down), against
# a baseline run side by side: `kubectl get` of the objects doctor reads (our resources, NADs, pods,
# nodes, DaemonSets) as JSON, one call. Both are the shipped executables (bin/kubectl-multinic from
# dist/, /usr/bin/kubectl), interleaved run by run; medians and their ratio are printed as one JSON
# line, with doctor --timeout 0 (no probe: the gather and checks alone) and the default (every agent
# probed on demand, waiting for every answer); and the CLI's own start-up (`version --client`), to
# tell what of doctor's time is Node/oclif start-up rather than work.
#   bash bench/doctor/run.sh [HOSTS NICS] [RUNS]     (default 3 2 7)
set -euo pipefail
cd "$(dirname "$0")/../.."
hosts=${1:-3}; nics=${2:-2}; runs=${3:-7}
prefix=d1b
dir=$(mktemp -d /tmp/mn-bench-doctor-XXXX)
cli=bin/kubectl-multinic
cleanup() { $cli lab down --prefix "$prefix" --dir "$dir/lab" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
kc=$($cli lab up --prefix "$prefix" --hosts "$hosts" --nics "$nics" --dir "$dir/lab" -o json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).kubeconfig))')
$cli install --wait --timeout 300s --kubeconfig "$kc" >/dev/null
masters=$(for i in $(seq 1 "$nics"); do printf '  - 10.0.%d.0/24\n' "$i"; done)
cat > "$dir/net.yaml" <<YAML
apiVersion: multinic.fms.io/v1
kind: MultiNicNetwork
metadata: {name: bench}
spec:
  subnet: "192.168.0.0/16"
  ipam: '{"type": "multi-nic-ipam", "hostBlock": 6, "interfaceBlock": 2, "vlanMode": "l3"}'
  multiNICIPAM: true
  masterNets:
$masters
  plugin: {cniVersion: "0.3.0", type: macvlan, args: {mode: bridge}}
YAML
$cli apply -f "$dir/net.yaml" --timeout 300s --kubeconfig "$kc" >/dev/null
now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
base=(); d0=(); dp=(); vs=()
for i in $(seq 1 "$runs"); do
  t=$(now); kubectl --kubeconfig "$kc" get multinicnetworks,cidrs,ippools,hostinterfaces,deviceclasses,network-attachment-definitions,pods,nodes,daemonsets,customresourcedefinitions -A -o json >/dev/null; base+=("$(ms "$t" "$(now)")")
  t=$(now); $cli version --client >/dev/null 2>&1 || true; vs+=("$(ms "$t" "$(now)")")
  t=$(now); $cli doctor -o json --timeout 0 --kubeconfig "$kc" >/dev/null || true; d0+=("$(ms "$t" "$(now)")")
  t=$(now); $cli doctor -o json --kubeconfig "$kc" > "$dir/last.json" || true; dp+=("$(ms "$t" "$(now)")")
done
answered=$(node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));console.log(`${r.summary.answered}/${r.summary.probed}`)' "$dir/last.json" 2>/dev/null || echo '?')
node -e '
const [hosts,nics,answered,...rest]=process.argv.slice(1);
const n=rest.length/4, b=rest.slice(0,n).map(Number), d0=rest.slice(n,2*n).map(Number), dp=rest.slice(2*n,3*n).map(Number), v=rest.slice(3*n).map(Number);
const med=(x)=>{const s=[...x].sort((a,c)=>a-c);const m=s.length>>1;return s.length%2?s[m]:(s[m-1]+s[m])/2;};
const r2=(x)=>Math.round(x*100)/100;
console.log(JSON.stringify({bench:"doctor",lab:`${hosts}x${nics}`,runs:n,kubectlGetMs:med(b),doctorNoProbeMs:med(d0),doctorMs:med(dp),cliStartupMs:med(v),ratioNoProbe:r2(med(d0)/med(b)),ratio:r2(med(dp)/med(b)),probesAnswered:answered,load:require("os").loadavg().map(r2)}));
' "$hosts" "$nics" "$answered" "${base[@]}" "${d0[@]}" "${dp[@]}" "${vs[@]}"
