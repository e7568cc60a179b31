// The cluster-wide work only the leader does (design §2): NADs in every target namespace, the
// networks' status, and removal of departed nodes from CIDRs (a node that is gone cannot remove
// itself). Every write is idempotent and CAS-guarded, so a leader that loses its lease mid-round
// and a new leader that starts one cannot corrupt anything: the loser's writes either land
// (identical to what the winner would write) or fail with 409.
import { removeHosts } from '../../lib/cluster/claim.js';
import { effectiveMasterNets, GENERATED_LABEL, planNads, targetNamespaces } from '../../lib/cluster/nad.js';
import { claimErrors, computeStatus, sameStatus, usesMultiNicIpam } from '../../lib/cluster/status.js';
import type { CIDR, HostInterface, IPPool, MultiNicNetwork } from '../../lib/crds/types.gen.js';
import type { KubeObject } from '../../lib/k8s/meta.js';
import { R } from '../../lib/k8s/resources.js';
import { subnetOverlapRefusals } from '../../lib/network.js';
import { isConflict, isNotFound, type KubeApi } from '../../kube/api.js';
import type { EventRecorder } from './events.js';
import type { Informer } from './informer.js';
import { cidrSubnets } from './state.js';
import type { K } from './kinds.js';

export interface ClusterInformers {
  networks: Informer<K<MultiNicNetwork>>;
  cidrs: Informer<K<CIDR>>;
  hostInterfaces: Informer<K<HostInterface>>;
  nodes: Informer<KubeObject>;
  namespaces: Informer<KubeObject>;
  nads: Informer<KubeObject>;
}

export interface ClusterOptions {
  api: KubeApi;
  informers: ClusterInformers;
  events?: EventRecorder;
  log?: (event: Record<string, unknown>) => void;
  now?: () => Date;
}

export interface ClusterRound {
  nadsCreated: number;
  nadsUpdated: number;
  nadsDeleted: number;
  statusWrites: number;
  removedHosts: string[];
  errors: string[];
}

export class ClusterReconciler {
  private readonly now: () => Date;
  constructor(private readonly o: ClusterOptions) {
    this.now = o.now ?? (() => new Date());
  }

  private synced(): boolean {
    const { networks, cidrs, hostInterfaces, nodes, namespaces } = this.o.informers;
    return [networks, cidrs, hostInterfaces, nodes, namespaces].every((i: { isSynced: boolean }) => i.isSynced);
  }

  /** One full round. Failures are collected per object and retried next round. */
  async reconcile(): Promise<ClusterRound> {
    const round: ClusterRound = { nadsCreated: 0, nadsUpdated: 0, nadsDeleted: 0, statusWrites: 0, removedHosts: [], errors: [] };
    if (!this.synced()) return round;
    const inf = this.o.informers;
    const fail = (what: string, e: unknown): string => {
      const msg = `${what}: ${(e as Error).message}`;
      round.errors.push(msg);
      this.o.log?.({ level: 'warn', msg: 'cluster reconcile step failed', error: msg });
      return msg;
    };

    // 1. Departed nodes: in a CIDR but no Node object (confirmed by GET, not the cache alone).
    const nodes = new Set(inf.nodes.list().map((n) => n.metadata?.name ?? ''));
    const candidates = new Set<string>();
    for (const c of inf.cidrs.list()) for (const e of c.spec.cidr) for (const h of e.hosts) if (!nodes.has(h.hostName)) candidates.add(h.hostName);
    // User-managed HostInterfaces (upstream's multi-nic-unmanaged label) are never ours to delete.
    for (const h of inf.hostInterfaces.list()) if (!nodes.has(h.spec.hostName) && h.metadata.labels?.['multi-nic-unmanaged'] !== 'true') candidates.add(h.spec.hostName);
    const departed = new Set<string>();
    for (const n of candidates) {
      try {
        if (!(await this.o.api.get(R.Node, n))) departed.add(n);
      } catch (e) {
        fail(`check Node "${n}"`, e);
      }
    }
    if (departed.size) {
      for (const c of inf.cidrs.list()) {
        const r = removeHosts(c.spec, departed);
        if (r.removed.length === 0) continue;
        try {
          await this.o.api.replace<K<CIDR>>(R.CIDR, { ...c, spec: r.spec });
          round.removedHosts.push(...r.removed.map((h) => `${c.metadata.name ?? ''}/${h}`));
          this.o.events?.record({ apiVersion: 'multinic.fms.io/v1', kind: 'CIDR', name: c.metadata.name ?? '' }, 'HostRemoved', `removed departed node(s) ${r.removed.join(', ')}; their host indexes are free`, 'Normal');
        } catch (e) {
          if (!isConflict(e)) fail(`remove departed hosts from CIDR "${c.metadata.name ?? ''}"`, e);
        }
      }
      for (const n of departed) {
        try {
          if (inf.hostInterfaces.get(n)?.metadata.labels?.['multi-nic-unmanaged'] !== 'true') await this.o.api.delete(R.HostInterface, n);
          const pools = await this.o.api.list<K<IPPool>>(R.IPPool, { labelSelector: `hostname=${n}` });
          for (const p of pools.items) if (p.spec.hostName === n) await this.o.api.delete(R.IPPool, p.metadata.name ?? '');
        } catch (e) {
          fail(`clean up departed node "${n}"`, e);
        }
      }
    }

    // 2. NADs and 3. status, per network.
    const namespaces = inf.namespaces.list().map((n) => ({ name: n.metadata?.name ?? '', phase: (n as { status?: { phase?: string } }).status?.phase }));
    const his = inf.hostInterfaces.list().filter((h) => !departed.has(h.spec.hostName));
    const agents = his.filter((h) => nodes.has(h.spec.hostName)).length;
    // Every agent reports its failed claims on its own HostInterface.
    const planErrors = claimErrors(his);
    const overlaps = subnetOverlapRefusals(inf.networks.list(), cidrSubnets(inf.cidrs.list()));
    for (const net of inf.networks.list()) {
      const name = net.metadata.name ?? '';
      if (net.metadata.deletionTimestamp) continue;
      const overlap = overlaps.get(name);
      if (overlap) this.o.events?.record({ apiVersion: net.apiVersion, kind: net.kind, name, uid: net.metadata.uid }, 'SubnetOverlap', overlap.message);
      const cidr = usesMultiNicIpam(net) ? inf.cidrs.get(name) : undefined;
      let nadError: string | undefined;
      if (!inf.nads.isSynced) nadError = 'cannot list NetworkAttachmentDefinitions: is the k8s.cni.cncf.io CRD installed (Multus installs it)?';
      else try {
        const existing = inf.nads.list().filter((n) => n.metadata?.name === name);
        const plan = planNads(net, targetNamespaces(net, namespaces), effectiveMasterNets(net, cidr?.spec, his), existing);
        for (const nad of plan.create) {
          try {
            await this.o.api.create(R.NetworkAttachmentDefinition, nad);
            round.nadsCreated++;
          } catch (e) {
            nadError ??= fail(`create NetworkAttachmentDefinition ${nad.metadata.namespace}/${name}`, e);
          }
        }
        for (const nad of plan.update) {
          try {
            await this.o.api.replace(R.NetworkAttachmentDefinition, nad);
            round.nadsUpdated++;
          } catch (e) {
            if (!isConflict(e)) nadError ??= fail(`update NetworkAttachmentDefinition ${nad.metadata.namespace}/${name}`, e);
          }
        }
        for (const d of plan.delete) {
          try {
            await this.o.api.delete(R.NetworkAttachmentDefinition, d.name, d.namespace);
            round.nadsDeleted++;
          } catch (e) {
            if (!isNotFound(e)) fail(`delete NetworkAttachmentDefinition ${d.namespace}/${d.name}`, e);
          }
        }
      } catch (e) {
        nadError = fail(`render NetworkAttachmentDefinitions for "${name}"`, e);
      }
      if (nadError) this.o.events?.record({ apiVersion: net.apiVersion, kind: net.kind, name, uid: net.metadata.uid }, 'NADFailed', nadError);

      const next = computeStatus({ network: net, cidr: overlap ? undefined : cidr?.spec, hostInterfaces: his, agents, nadError, planError: planErrors.get(name), overlapError: overlap?.message, now: this.now() }, net.status);
      if (net.status && sameStatus(net.status, next)) continue;
      try {
        await this.o.api.replace<K<MultiNicNetwork>>(R.MultiNicNetwork, { ...net, status: next }, { subresource: 'status' });
        round.statusWrites++;
      } catch (e) {
        if (!isConflict(e)) fail(`update status of MultiNicNetwork "${name}"`, e);
      }
    }
    return round;
  }
}

/** Label selector of the NADs the leader manages. */
export const GENERATED_NADS = `${GENERATED_LABEL}=true`;
