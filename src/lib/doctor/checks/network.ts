// Per-network checks: NADs where pods need them, the network's status (shared with `status`, so the
// two never disagree), hosts that do not fit the address plan, pool use and overlapping subnets. Pure.
import type { MultiNicNetwork } from '../../crds/types.gen.js';
import { isGeneratedFor, targetNamespaces } from '../../cluster/nad.js';
import { claimErrors } from '../../cluster/status.js';
import { nicsOf } from '../../inventory.js';
import { familyBits, overlaps, tryParseCidr } from '../../net/ip.js';
import { ipamConfigOf, MULTI_NIC_IPAM, subnetOverlapRefusals, validateNetwork, type ValidatedNetwork } from '../../network.js';
import { listPools, planNetwork, type UnplacedHost } from '../../plan/index.js';
import { buildStatusReport } from '../../status.js';
import type { Check, DoctorSnapshot, Finding } from '../types.js';
import { finding, nameOf, names } from '../util.js';

export const networkNads: Check = {
  id: 'network-nads',
  title: 'a NetworkAttachmentDefinition in every target namespace, none left behind',
  group: 'network',
  severity: 'fail',
  explain:
    'Pods select the network through a NetworkAttachmentDefinition of its name in their own namespace: one must exist in every namespace of spec.namespaces (every namespace when empty). Generated ones left in namespaces that left the list are stale.',
  run(s) {
    const out: Finding[] = [];
    for (const net of s.networks) {
      const name = nameOf(net);
      const nads = s.nads.filter((n) => n.metadata?.name === name);
      const have = new Set(nads.map((n) => n.metadata?.namespace ?? ''));
      const targets = targetNamespaces(net, s.namespaces);
      const missing = targets.filter((ns) => !have.has(ns));
      if (missing.length) {
        out.push(
          finding(
            this,
            { network: name },
            `NetworkAttachmentDefinition ${name} is missing in namespace${missing.length > 1 ? 's' : ''} ${names(missing)}`,
            'the leader agent has not (re)created it: it was deleted, the agents are down, or they lack RBAC on network-attachment-definitions',
            `the leader agent recreates it within seconds; if not: kubectl get lease -n multinic-system, and the leader agent's log`,
          ),
        );
      }
      const listed = new Set(targets);
      const stale = nads.filter((n) => !listed.has(n.metadata?.namespace ?? '') && isGeneratedFor(n, net)).map((n) => n.metadata?.namespace ?? '');
      if (stale.length) {
        out.push(finding(this, { network: name }, `NetworkAttachmentDefinition ${name} is left in namespace${stale.length > 1 ? 's' : ''} ${names(stale)}, no longer in spec.namespaces`, 'the leader has not cleaned it up yet', `kubectl -n ${stale[0]} delete network-attachment-definition ${name}`, 'warn'));
      }
    }
    return out;
  },
};

/** Unplaced host NICs of a multi-nic-ipam network, planned over the published NICs keeping the CIDR's indexes. */
function unplacedOf(s: DoctorSnapshot, net: MultiNicNetwork): { v: ValidatedNetwork; unplaced: UnplacedHost[] } | undefined {
  if (ipamConfigOf(net)?.type !== MULTI_NIC_IPAM) return undefined;
  let v: ValidatedNetwork;
  try {
    v = validateNetwork({ source: `MultiNicNetwork ${nameOf(net)}`, value: { apiVersion: net.apiVersion, kind: net.kind, metadata: { name: nameOf(net) }, spec: net.spec } });
  } catch {
    return undefined;
  }
  const previous = s.cidrs.find((c) => nameOf(c) === nameOf(net));
  const hosts = s.hostInterfaces.filter((h) => s.nodes.some((n) => nameOf(n) === (h.metadata.name ?? h.spec.hostName)));
  return { v, unplaced: planNetwork({ network: v, inventory: hosts, previous }).unplaced };
}

/** The smallest hostBlock above the current one with which every host fits, if any. */
function fittingHostBlock(s: DoctorSnapshot, v: ValidatedNetwork): number | undefined {
  const bits = familyBits(v.family);
  const used = v.subnet ? v.subnet.prefix + v.ipam.interfaceBlock : Math.min(...v.masterNets.map((m) => m.prefix), bits);
  for (let hb = v.ipam.hostBlock + 1; bits - used - hb >= 2; hb++) {
    const next: ValidatedNetwork = { ...v, ipam: { ...v.ipam, hostBlock: hb } };
    if (planNetwork({ network: next, inventory: s.hostInterfaces }).unplaced.length === 0) return hb;
  }
  return undefined;
}

export const networkHostFit: Check = {
  id: 'network-host-fit',
  title: 'every host with a NIC in the pool fits the address plan',
  group: 'network',
  severity: 'fail',
  explain: 'A host whose NIC network has no free host index left (hostBlock too small for the number of hosts, after excludes) gets no pod block: pods there get no interface on that NIC. The finding names the hostBlock that would fit.',
  run(s) {
    const out: Finding[] = [];
    for (const net of s.networks) {
      const r = unplacedOf(s, net);
      if (!r || r.unplaced.length === 0) continue;
      const fit = fittingHostBlock(s, r.v);
      const hb = r.v.ipam.hostBlock;
      const byNet = new Map<string, UnplacedHost[]>();
      for (const u of r.unplaced) byNet.set(u.netAddress, [...(byNet.get(u.netAddress) ?? []), u]);
      for (const [netAddr, us] of byNet) {
        const onNet = new Set(nicsOf(s.hostInterfaces, r.v.family).filter((n) => { const c = tryParseCidr(netAddr, { strict: false }); return c && overlaps(c, n.net); }).map((n) => n.hostName)).size;
        out.push(
          finding(
            this,
            { network: nameOf(net), ...(us.length === 1 ? { node: us[0]?.hostName, nic: us[0]?.interfaceName } : {}) },
            `${names(us.map((u) => u.hostName))} do${us.length === 1 ? 'es' : ''} not fit network ${nameOf(net)} on ${netAddr}: hostBlock ${hb} gives ${2 ** hb} host blocks${r.v.excludes.length ? ' (some excluded)' : ''}, ${onNet} hosts have a NIC there`,
            'the hostBlock in spec.ipam is too small for the number of hosts',
            fit !== undefined
              ? `set "hostBlock": ${fit} in spec.ipam (fits every host; every pod block moves, so restart running pods after) and kubectl multinic apply; preview with kubectl multinic plan`
              : 'no hostBlock fits with this subnet and interfaceBlock: use a larger spec.subnet or a smaller interfaceBlock',
          ),
        );
      }
    }
    const errs = claimErrors(s.hostInterfaces);
    for (const net of s.networks) {
      const e = errs.get(nameOf(net));
      if (e && !out.some((f) => f.where.network === nameOf(net))) out.push(finding(this, { network: nameOf(net) }, `claims failed: ${e}`, 'an agent could not claim its host index in the CIDR', 'see the message; kubectl multinic plan -f NETWORK.yaml shows the layout'));
    }
    return out;
  },
};

export const networkStatus: Check = {
  id: 'network-status',
  title: 'configStatus, routeStatus and per-host readiness',
  group: 'network',
  severity: 'fail',
  explain: 'The same readiness `kubectl multinic status` reports (the network\'s configStatus and routeStatus, every host with a NIC in the pool has claimed its blocks and reported its routes): doctor and status share this, so they never disagree.',
  run(s) {
    const out: Finding[] = [];
    const report = buildStatusReport(s);
    const unplaced = new Set<string>();
    for (const net of s.networks) for (const u of unplacedOf(s, net)?.unplaced ?? []) unplaced.add(`${nameOf(net)}|${u.hostName}`);
    for (const n of report.networks) {
      // Kernel truth (a route missing, a NIC down) is named by the node-* checks with its own fix.
      const kernel = new Set(n.hosts.flatMap((h) => (h.kernel ?? []).map((k) => `${h.hostName}: ${k}`)));
      for (const p of n.problems) {
        if (kernel.has(p)) continue;
        const host = /^(\S+) has NICs in the pool but no blocks/.exec(p)?.[1];
        if (host && unplaced.has(`${n.name}|${host}`)) continue; // network-host-fit names it, with the fix
        const hostOf = /^(\S+): routes not reported/.exec(p)?.[1] ?? host;
        out.push(
          finding(
            this,
            { network: n.name, ...(hostOf ? { node: hostOf } : {}) },
            `network ${n.name}: ${p}`,
            /configStatus/.test(p) ? 'the leader agent could not compute or publish the network (see the message)' : /routeStatus|routes not reported/.test(p) ? 'an agent has not installed (or reported) its routes for the current CIDR' : 'an agent has not claimed its blocks yet',
            'kubectl multinic status shows the grid; the agents\' logs say why',
          ),
        );
      }
    }
    return out;
  },
};

export const networkPoolUse: Check = {
  id: 'network-pool-use',
  title: 'pools not exhausted (warn at 85 %)',
  group: 'network',
  severity: 'warn',
  explain: 'Per host and NIC: addresses allocated in its IPPool against the pool capacity (usable addresses minus excludes minus the reserved L3 gateway). 85 % or more warns; a full pool fails pod ADD with code 102.',
  run(s) {
    const out: Finding[] = [];
    const pools = new Map(s.ippools.map((p) => [nameOf(p), p]));
    for (const cidr of s.cidrs) {
      for (const p of listPools(cidr)) {
        const used = pools.get(p.name)?.spec.allocations.length ?? 0;
        if (p.capacity <= 0n) continue;
        const full = BigInt(used) >= p.capacity;
        if (!full && BigInt(used) * 100n < p.capacity * 85n) continue;
        out.push(
          finding(
            this,
            { network: p.network, node: p.hostName, nic: p.interfaceName },
            `pool ${p.name} (${p.podCIDR}) on ${p.hostName}/${p.interfaceName}: ${used}/${p.capacity} addresses used${full ? ' (exhausted)' : ` (${Number((BigInt(used) * 1000n) / p.capacity) / 10} %)`}`,
            full ? 'every address is allocated: pod ADD on this host fails with code 102 (pool exhausted)' : 'the pool is nearly full',
            'release leaked addresses (kubectl multinic ipam check finds them), or give hosts bigger pod blocks (a smaller hostBlock; kubectl multinic plan shows capacities)',
            full ? 'fail' : 'warn',
          ),
        );
      }
    }
    return out;
  },
};

export const networkOverlap: Check = {
  id: 'network-overlap',
  title: 'no two networks share addresses',
  group: 'network',
  severity: 'fail',
  explain: 'The pod subnets of two MultiNicNetworks overlap: their policy rules would claim the same addresses. The agents and the leader refuse the one created later (no CIDR, no routes, its pods NotReady); the finding names it.',
  run(s) {
    // The agents' own rule (subnetOverlapRefusals), so doctor names the network they refuse.
    const cidrSubnets = new Map(s.cidrs.map((c) => [c.spec.config.name || nameOf(c), c.spec.config.subnet ?? ''] as const));
    return [...subnetOverlapRefusals(s.networks, cidrSubnets).values()]
      .sort((a, b) => (a.network < b.network ? -1 : 1))
      .map((r) =>
        finding(
          this,
          { network: r.network },
          `networks ${r.other} (${r.otherSubnet}) and ${r.network} (${r.subnet}) overlap`,
          `two networks' policy rules would claim the same addresses: the agents refuse ${r.network}, created after ${r.other} (no CIDR, no routes, its pods get NotReady)`,
          `give ${r.network} a subnet of its own (kubectl edit multinicnetwork ${r.network}); ${r.other} keeps serving its pods`,
        ),
      );
  },
};
