// `kubectl multinic doctor pod NS/NAME`: why one pod has (or lacks) its interfaces. Its networks
// annotation, the network and the NAD in its namespace, its sandbox events, and Multus'
// network-status against the agent's allocations (IPPool) and what is really in the pod (the
// node's diagnostics). Each check does nothing unless the snapshot has a target pod. Pure.
import type { KubeObject } from '../../k8s/meta.js';
import { NETWORKS_ANNOTATION, networkAddresses, parseNetworksAnnotation, readNetworkStatus, type NetworkSelection } from '../../multus.js';
import { classifyCniFailure } from '../cni-codes.js';
import type { Check, DoctorSnapshot, Finding } from '../types.js';
import { diagnosticsOf, finding, hostInterfacesByNode, nameOf, names } from '../util.js';

interface Target {
  pod?: KubeObject;
  ref: string;
  namespace: string;
  node?: string;
}

function target(s: DoctorSnapshot): Target | undefined {
  if (!s.target) return undefined;
  const pod = s.pods.find((p) => p.metadata?.namespace === s.target?.namespace && p.metadata?.name === s.target?.name);
  return { pod, ref: `${s.target.namespace}/${s.target.name}`, namespace: s.target.namespace, node: (pod?.spec as { nodeName?: string } | undefined)?.nodeName };
}

/** The pod's selections, or the parse error. */
function selections(pod: KubeObject | undefined): { list: NetworkSelection[]; error?: string; raw?: string } {
  const raw = pod?.metadata?.annotations?.[NETWORKS_ANNOTATION];
  if (raw === undefined) return { list: [] };
  try {
    return { list: parseNetworksAnnotation(raw), raw };
  } catch (e) {
    return { list: [], error: (e as Error).message, raw };
  }
}

export const podAnnotation: Check = {
  id: 'pod-annotation',
  title: 'the pod exists and its networks annotation parses',
  group: 'pod',
  severity: 'fail',
  explain: `The pod's ${NETWORKS_ANNOTATION} annotation is a JSON list of selections or Multus' short form; bad JSON is named with its position. A pod without it asks for no secondary network.`,
  run(s) {
    const t = target(s);
    if (!t) return [];
    const where = { pod: t.ref, ...(t.node ? { node: t.node } : {}) };
    if (!t.pod) return [finding(this, where, `pod ${t.ref} not found`, 'it was deleted, or the name or namespace is wrong', `kubectl get pods -n ${t.namespace}`)];
    const sel = selections(t.pod);
    if (sel.error) {
      return [finding(this, where, `${sel.error}; the annotation is ${JSON.stringify(sel.raw)}`, 'the annotation was written by hand with a typo: Multus rejects the pod before any network is attached', `fix it, e.g. ${NETWORKS_ANNOTATION}: '[{"name": "NETWORK", "cni-args": {"nics": 1}}]', and recreate the pod`)];
    }
    if (sel.list.length === 0) return [finding(this, where, `pod ${t.ref} has no ${NETWORKS_ANNOTATION} annotation: it asks for no secondary network`, 'the annotation is missing (or on the Deployment instead of its pod template)', `add ${NETWORKS_ANNOTATION}: NETWORK to the pod template's metadata.annotations`, 'warn')];
    return [];
  },
};

export const podNetwork: Check = {
  id: 'pod-network',
  title: 'the networks the pod asks for exist, with a NAD in its namespace',
  group: 'pod',
  severity: 'fail',
  explain: 'Each network the pod selects must be a MultiNicNetwork (or another NAD) and have a NetworkAttachmentDefinition in the namespace the selection names (the pod\'s own by default).',
  run(s) {
    const t = target(s);
    if (!t?.pod) return [];
    const out: Finding[] = [];
    const known = s.networks.map(nameOf);
    for (const sel of selections(t.pod).list) {
      const ns = sel.namespace ?? t.namespace;
      const where = { pod: t.ref, network: sel.name, ...(t.node ? { node: t.node } : {}) };
      const nad = s.nads.find((n) => n.metadata?.name === sel.name && n.metadata?.namespace === ns);
      const net = s.networks.find((n) => nameOf(n) === sel.name);
      if (!net && !nad) {
        out.push(finding(this, where, `network ${sel.name} does not exist (no MultiNicNetwork, no NetworkAttachmentDefinition in ${ns})`, 'a typo in the annotation, or the network was deleted', `networks in the cluster: ${names(known) || '(none)'}; fix the annotation or kubectl multinic apply -f NETWORK.yaml`));
        continue;
      }
      if (net && !nad) {
        const listed = net.spec.namespaces ?? [];
        const excluded = listed.length > 0 && !listed.includes(ns);
        out.push(
          finding(
            this,
            where,
            `MultiNicNetwork ${sel.name} exists but has no NetworkAttachmentDefinition in namespace ${ns}`,
            excluded ? `${ns} is not in its spec.namespaces (${listed.join(', ')})` : 'the leader agent has not created it (deleted, or the agents are down)',
            excluded ? `add ${ns} to spec.namespaces of ${sel.name} (kubectl edit multinicnetwork ${sel.name})` : 'the leader agent recreates it within seconds; kubectl multinic doctor checks the agents',
          ),
        );
      }
    }
    return out;
  },
};

export const podEvents: Check = {
  id: 'pod-events',
  title: 'no failed sandbox (CNI ADD) in the pod\'s events',
  group: 'pod',
  severity: 'fail',
  explain: 'FailedCreatePodSandBox events carry the CNI error: its code (ours 100-199 or the spec\'s) or message is mapped to a cause and a fix.',
  run(s) {
    const t = target(s);
    if (!t?.pod) return [];
    const failed = s.events
      .filter((e) => (e as { reason?: string }).reason === 'FailedCreatePodSandBox')
      .sort((a, b) => String((a as { lastTimestamp?: string }).lastTimestamp ?? '').localeCompare(String((b as { lastTimestamp?: string }).lastTimestamp ?? '')));
    const byMsg = new Map<string, { count: number; last: string }>();
    for (const e of failed) {
      const ev = e as { message?: string; count?: number; lastTimestamp?: string };
      const m = ev.message ?? '';
      const cur = byMsg.get(m);
      byMsg.set(m, { count: (cur?.count ?? 0) + (ev.count ?? 1), last: ev.lastTimestamp ?? '' });
    }
    const running = (t.pod.status as { phase?: string } | undefined)?.phase === 'Running';
    return [...byMsg].map(([msg, { count, last }]) => {
      const m = classifyCniFailure(msg);
      return finding(
        this,
        { pod: t.ref, ...(t.node ? { node: t.node } : {}) },
        `FailedCreatePodSandBox${count > 1 ? ` x${count}` : ''}${last ? ` (last ${last})` : ''}: ${msg}${m ? ` [${m.code !== undefined ? `code ${m.code}: ` : ''}${m.title}]` : ''}`,
        m?.cause ?? 'not a failure this tool recognises: read the message',
        m?.fix ?? `kubectl describe pod -n ${t.namespace} ${t.pod?.metadata?.name ?? ''}; the agent log on ${t.node ?? 'its node'}`,
        running ? 'warn' : 'fail',
      );
    });
  },
};

export const podAttachments: Check = {
  id: 'pod-attachments',
  title: 'network-status, allocations and the pod\'s real interfaces agree',
  group: 'pod',
  severity: 'fail',
  explain:
    'Multus\' network-status (what the runtime was told), the IPPool allocations (what the agent handed out) and the node\'s diagnostics (what the pod\'s network namespace really has: interface, address, routes) must name the same interfaces and addresses.',
  run(s) {
    const t = target(s);
    if (!t?.pod) return [];
    const out: Finding[] = [];
    const where = { pod: t.ref, ...(t.node ? { node: t.node } : {}) };
    const uid = t.pod.metadata?.uid;
    const entries = readNetworkStatus(t.pod.metadata?.annotations) ?? [];
    // Either form Multus writes (one merged entry per attachment, or one per interface): addresses,
    // with the interface only where the entry says which.
    const status = s.networks.flatMap((n) => networkAddresses(entries, nameOf(n), t.namespace).map((a) => ({ ...a, network: nameOf(n) })));
    const allocs = s.ippools.flatMap((p) => p.spec.allocations.filter((a) => (a.podUID ? a.podUID === uid : a.namespace === t.namespace && a.pod === t.pod?.metadata?.name)).map((a) => ({ network: p.spec.netAttachDef, pool: nameOf(p), a })));
    const held = new Set(allocs.map((x) => `${x.network}|${x.a.address}`));
    const listed = new Set(status.map((x) => `${x.network}|${x.address}`));
    for (const x of status) {
      if (!held.has(`${x.network}|${x.address}`)) out.push(finding(this, { ...where, network: x.network }, `network-status lists ${x.interface ? `${x.interface} ` : ''}${x.address} but no IPPool allocation holds it for this pod`, 'the allocation was released while the pod runs, or the IPPool mirror is behind', 'kubectl multinic ipam check; restart the pod if it persists'));
    }
    const phase = (t.pod.status as { phase?: string } | undefined)?.phase;
    for (const x of allocs) {
      if (!listed.has(`${x.network}|${x.a.address}`) && phase === 'Running') {
        out.push(finding(this, { ...where, network: x.network }, `IPPool ${x.pool} holds ${x.a.address} for ${x.a.interface ?? '?'} but the pod's network-status does not list it`, 'Multus did not record the attachment (an older Multus, or the status write failed)', 'check Multus\' log on the node', 'warn'));
      }
    }
    const d = t.node ? diagnosticsOf(hostInterfacesByNode(s).get(t.node)) : undefined;
    if (d) {
      for (const a of d.allocations.filter((x) => (uid && x.podUID ? x.podUID === uid : x.pod === t.ref))) {
        if (a.state === 'present' || a.state === 'unknown') continue;
        const what = a.state === 'netns-gone' ? 'its network namespace is gone' : a.state === 'interface-missing' ? `${a.podInterface} is missing` : a.state === 'address-missing' ? `${a.podInterface} lost ${a.address}` : `${a.podInterface} lost a route${a.detail ? `: ${a.detail}` : ''}`;
        out.push(finding(this, { ...where, network: a.network }, `in the pod (seen by the agent on ${t.node}): ${what}`, 'something inside the pod changed its network after it started', `restart the pod: kubectl -n ${t.namespace} delete pod ${t.pod.metadata?.name}`));
      }
    } else if (t.node && status.length > 0) {
      out.push(finding(this, where, `the agent on ${t.node} publishes no diagnostics: the pod's real interfaces and routes cannot be compared`, 'an agent release without kernel-truth diagnostics', 'upgrade the agent: kubectl multinic install', 'info'));
    }
    return out;
  },
};
