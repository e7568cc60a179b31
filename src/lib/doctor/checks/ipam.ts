// IPAM consistency, in the spirit of `calicoctl ipam check`: the IPPool mirrors against the pods
// that exist, against each other, against Multus' network-status, and against each node's journal
// (as its agent reports it in diagnostics.allocations). `kubectl multinic ipam check` runs these
// alone. Pure.
import type { Allocation, IPPool } from '../../crds/types.gen.js';
import { networkAddresses, readNetworkStatus } from '../../multus.js';
import { ipamConfigOf, MULTI_NIC_IPAM } from '../../network.js';
import type { Check, Finding } from '../types.js';
import { allocationKey, allocationsPartial, diagnosticsByNode, finding, nameOf, names, nsName } from '../util.js';

const holder = (a: Allocation): string => `${a.namespace}/${a.pod}${a.interface ? ` ${a.interface}` : ''}`;

export const ipamLeaked: Check = {
  id: 'ipam-leaked',
  title: 'no allocation of a pod that no longer exists',
  group: 'ipam',
  severity: 'warn',
  explain: 'An IPPool allocation whose pod (by UID) is gone leaks its address: the pod was deleted without a CNI DEL. The agent\'s GC releases such allocations after --gc-grace (60 s); one that stays means the GC is not running on that node.',
  run(s) {
    const uids = new Set(s.pods.map((p) => p.metadata?.uid).filter(Boolean));
    const byName = new Set(s.pods.map(nsName));
    const out: Finding[] = [];
    for (const p of s.ippools) {
      for (const a of p.spec.allocations) {
        const exists = a.podUID ? uids.has(a.podUID) : byName.has(`${a.namespace}/${a.pod}`);
        if (exists) continue;
        out.push(
          finding(
            this,
            { network: p.spec.netAttachDef, node: p.spec.hostName, nic: p.spec.interfaceName, pod: `${a.namespace}/${a.pod}` },
            `${a.address} in ${nameOf(p)} is held by pod ${holder(a)}${a.podUID ? ` (uid ${a.podUID})` : ''}, which no longer exists`,
            'the pod was deleted without a CNI DEL (node crash, runtime bug): the address leaks',
            `the agent on ${p.spec.hostName} releases it after its --gc-grace; now: kubectl multinic ipam release ${a.address} --node ${p.spec.hostName} (or ipam release --leaked --yes); if it stays, restart that agent`,
          ),
        );
      }
    }
    return out;
  },
};

export const ipamDuplicate: Check = {
  id: 'ipam-duplicate',
  title: 'no address held twice',
  group: 'ipam',
  severity: 'fail',
  explain: 'One address of a network held by two different allocations (in one IPPool or across two): two pods answer for one address.',
  run(s) {
    const seen = new Map<string, Array<{ pool: IPPool; a: Allocation }>>();
    for (const p of s.ippools) {
      for (const a of p.spec.allocations) {
        const k = `${p.spec.netAttachDef}|${a.address}`;
        seen.set(k, [...(seen.get(k) ?? []), { pool: p, a }]);
      }
    }
    const out: Finding[] = [];
    for (const [k, list] of [...seen].sort()) {
      const holders = new Set(list.map((x) => `${x.a.podUID ?? holder(x.a)}|${x.a.interface ?? ''}`));
      if (holders.size < 2) continue;
      const [network, address] = k.split('|');
      out.push(
        finding(
          this,
          { network, ...(new Set(list.map((x) => x.pool.spec.hostName)).size === 1 ? { node: list[0]?.pool.spec.hostName } : {}) },
          `address ${address} of network ${network} is held ${holders.size} times: ${names(list.map((x) => `${holder(x.a)} (${nameOf(x.pool)})`))}`,
          'an IPPool was edited by hand, restored from an old backup, or two hosts share a pod block',
          'delete every pod but one that holds it (they get fresh addresses), then kubectl multinic ipam check',
        ),
      );
    }
    return out;
  },
};

export const ipamUnallocated: Check = {
  id: 'ipam-unallocated',
  title: 'every pod interface has its allocation',
  group: 'ipam',
  severity: 'fail',
  explain: 'A pod whose Multus network-status lists an interface with an address on one of our multi-nic-ipam networks, but no IPPool allocation holds it for that pod: the address may be handed to another pod.',
  run(s) {
    const ours = new Set(
      s.networks
        .filter((n) => ipamConfigOf(n)?.type === MULTI_NIC_IPAM)
        .map(nameOf),
    );
    const held = new Set<string>();
    for (const p of s.ippools) for (const a of p.spec.allocations) held.add(`${p.spec.netAttachDef}|${a.address}|${a.podUID ?? `${a.namespace}/${a.pod}`}`);
    const out: Finding[] = [];
    for (const pod of s.pods) {
      const st = readNetworkStatus(pod.metadata?.annotations) ?? [];
      for (const net of ours) {
        for (const { address: addr, interface: iface } of networkAddresses(st, net, pod.metadata?.namespace)) {
          if (held.has(`${net}|${addr}|${pod.metadata?.uid ?? ''}`) || held.has(`${net}|${addr}|${nsName(pod)}`)) continue;
          out.push(
            finding(
              this,
              { network: net, pod: nsName(pod), ...((pod.spec as { nodeName?: string } | undefined)?.nodeName ? { node: (pod.spec as { nodeName: string }).nodeName } : {}) },
              `pod ${nsName(pod)} has ${addr}${iface ? ` on ${iface}` : ''} (network-status) but no IPPool allocation holds it`,
              'its allocation was released while the pod runs (a GC that misjudged it, or an IPPool edited by hand): the address may be handed out again',
              `restart the pod (kubectl -n ${pod.metadata?.namespace} delete pod ${pod.metadata?.name}) so it gets a held address`,
            ),
          );
        }
      }
    }
    return out;
  },
};

export const ipamMirror: Check = {
  id: 'ipam-mirror',
  title: 'IPPool mirrors match each node\'s journal',
  group: 'ipam',
  severity: 'warn',
  explain: 'The journal on the node is the truth; the IPPool resources are its published copy (written asynchronously). Allocations in one and not the other mean the mirror is stuck (the agent cannot write IPPools) or an IPPool was edited.',
  run(s) {
    const out: Finding[] = [];
    // A node asked to probe that did not answer has stale diagnostics: allocations made since would
    // look missing from its journal. Compare only fresh truth (or, with no probe, what was published).
    const stale = new Set(s.probes.filter((p) => !p.answered).map((p) => p.node));
    for (const [node, d] of diagnosticsByNode(s)) {
      if (stale.has(node)) continue;
      const journal = new Map(d.allocations.map((a) => [allocationKey(a.pool, a), a]));
      const pools = s.ippools.filter((p) => p.spec.hostName === node);
      const mirror = new Map(pools.flatMap((p) => p.spec.allocations.map((a) => [allocationKey(nameOf(p), a), { p, a }] as const)));
      const onlyJournal = [...journal].filter(([k]) => !mirror.has(k)).map(([, a]) => `${a.address} (${a.pod} ${a.podInterface}, ${a.pool})`);
      // A node with more allocations than its diagnostics list (allocationCount): the listed ones are
      // in the journal, so they must be mirrored; what the mirror holds beyond them is judged by count.
      const partial = allocationsPartial(d);
      const onlyMirror = partial ? [] : [...mirror].filter(([k]) => !journal.has(k)).map(([, x]) => `${x.a.address} (${holder(x.a)}, ${nameOf(x.p)})`);
      if (partial && mirror.size > d.allocationCount!) {
        const n = mirror.size - d.allocationCount!;
        out.push(finding(this, { node }, `${node}'s IPPools hold ${mirror.size} allocations, ${n} more than its journal's ${d.allocationCount}`, 'an IPPool was edited or restored by hand, or the journal lost records', 'the agent rewrites its IPPools from the journal; if it persists, kubectl multinic ipam check and the agent log'));
      }
      if (onlyJournal.length) {
        out.push(finding(this, { node }, `${onlyJournal.length} allocation${onlyJournal.length === 1 ? '' : 's'} in ${node}'s journal missing from its IPPools: ${names(onlyJournal, 3)}`, 'the agent has not mirrored them (API unreachable, RBAC on ippools, or just now allocated)', `if it persists, the agent log on ${node}`));
      }
      if (onlyMirror.length) {
        out.push(finding(this, { node }, `${onlyMirror.length} IPPool allocation${onlyMirror.length === 1 ? '' : 's'} on ${node} not in its journal: ${names(onlyMirror, 3)}`, 'an IPPool was edited or restored by hand, or the journal lost records', 'the agent rewrites its IPPools from the journal; if it persists, kubectl multinic ipam check and the agent log'));
      }
    }
    return out;
  },
};
