// The cluster-wide work only the leader does (docs/design.md §2): NADs in every target namespace, the
// networks' status, removal of departed nodes' claims (a node that is gone cannot remove itself),
// the migration of legacy CIDR host entries to CIDRClaims and each CIDR's bounded summary
// (docs/scale.md). Every write is idempotent and CAS-guarded, so a leader that loses its lease mid-round
// and a new leader that starts one cannot corrupt anything: the loser's writes either land
// (identical to what the winner would write) or fail with 409.
import { canonical, removeHosts } from '../../lib/cluster/claim.js';
import { CLAIMS_ANNOTATION, CLAIMS_ANNOTATION_VALUE, cidrOwnerRef, cidrSummarySpec, claimsFromCidr } from '../../lib/cluster/claim-objects.js';
import { effectiveMasterNets, GENERATED_LABEL, planNads, targetNamespaces } from '../../lib/cluster/nad.js';
import { claimErrors, computeStatus, sameStatus, usesMultiNicIpam } from '../../lib/cluster/status.js';
import type { CIDR, CIDRStatus, HostInterface, IPPool, MultiNicNetwork } from '../../lib/crds/types.gen.js';
import type { KubeObject } from '../../lib/k8s/meta.js';
import { R } from '../../lib/k8s/resources.js';
import { subnetOverlapRefusals } from '../../lib/network.js';
import { isAlreadyExists, isConflict, isNotFound, type KubeApi } from '../../kube/api.js';
import type { CidrViewCache } from './cidr-view.js';
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
  /** The CIDR views (CIDR + CIDRClaims); what status, NADs and departed-host removal read. */
  views: CidrViewCache;
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
  /** Legacy CIDR host entries turned into CIDRClaims this round. */
  migrated: number;
  /** CIDRs whose host entries left the object this round (all migrated; every agent claims by create). */
  summarized: string[];
  errors: string[];
}

/** At most this many shadowed entries are named in a CIDR's status (the count is the list's length otherwise). */
const MAX_SHADOWED = 20;

export class ClusterReconciler {
  private readonly now: () => Date;
  constructor(private readonly o: ClusterOptions) {
    this.now = o.now ?? (() => new Date());
  }

  private synced(): boolean {
    const { networks, cidrs, hostInterfaces, nodes, namespaces } = this.o.informers;
    return [networks, cidrs, hostInterfaces, nodes, namespaces].every((i: { isSynced: boolean }) => i.isSynced) && this.o.views.isSynced;
  }

  /** One full round. Failures are collected per object and retried next round. */
  async reconcile(): Promise<ClusterRound> {
    const round: ClusterRound = { nadsCreated: 0, nadsUpdated: 0, nadsDeleted: 0, statusWrites: 0, removedHosts: [], migrated: 0, summarized: [], errors: [] };
    if (!this.synced()) return round;
    const inf = this.o.informers;
    const fail = (what: string, e: unknown): string => {
      const msg = `${what}: ${(e as Error).message}`;
      round.errors.push(msg);
      this.o.log?.({ level: 'warn', msg: 'cluster reconcile step failed', error: msg });
      return msg;
    };

    const views = this.o.views;
    // 1. Departed nodes: in a CIDR view but no Node object (confirmed by GET, not the cache alone).
    const nodes = new Set(inf.nodes.list().map((n) => n.metadata?.name ?? ''));
    const candidates = new Set<string>();
    for (const c of views.list()) for (const e of c.spec.cidr) for (const h of e.hosts) if (!nodes.has(h.hostName)) candidates.add(h.hostName);
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
      // Their claims (every network): deleting a claim frees its index.
      const gone = new Map<string, string[]>();
      for (const cl of views.allClaims()) {
        const host = cl.spec.hostName;
        if (cl.spec.hostIndex === undefined || host === undefined || !departed.has(host)) continue;
        try {
          await this.o.api.delete(R.CIDRClaim, cl.metadata.name ?? '');
        } catch (e) {
          if (!isNotFound(e)) {
            fail(`delete CIDRClaim "${cl.metadata.name ?? ''}" of departed node "${host}"`, e);
            continue;
          }
        }
        const l = gone.get(cl.spec.network) ?? [];
        if (!l.includes(host)) l.push(host);
        gone.set(cl.spec.network, l);
      }
      for (const [network, hosts] of gone) {
        round.removedHosts.push(...hosts.map((h) => `${network}/${h}`));
        this.o.events?.record({ apiVersion: 'multinic.fms.io/v1', kind: 'CIDR', name: network }, 'HostRemoved', `removed departed node(s) ${hosts.join(', ')}; their host indexes are free`, 'Normal');
      }
      // And their legacy entries in CIDRs not migrated yet.
      for (const c of inf.cidrs.list()) {
        const r = removeHosts(c.spec, departed);
        if (r.removed.length === 0) continue;
        try {
          await this.o.api.replace<K<CIDR>>(R.CIDR, { ...c, spec: r.spec });
          const already = new Set(gone.get(c.metadata.name ?? '') ?? []);
          const fresh = r.removed.filter((h) => !already.has(h));
          round.removedHosts.push(...fresh.map((h) => `${c.metadata.name ?? ''}/${h}`));
          if (fresh.length === 0) continue;
          this.o.events?.record({ apiVersion: 'multinic.fms.io/v1', kind: 'CIDR', name: c.metadata.name ?? '' }, 'HostRemoved', `removed departed node(s) ${fresh.join(', ')}; their host indexes are free`, 'Normal');
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

    // 2. CIDRs: legacy host entries become claims; the object keeps config and a summary.
    const his0 = inf.hostInterfaces.list().filter((h) => !departed.has(h.spec.hostName) && nodes.has(h.spec.hostName));
    const everyAgentClaimsByCreate = his0.every((h) => h.metadata.annotations?.[CLAIMS_ANNOTATION] === CLAIMS_ANNOTATION_VALUE);
    for (const c of inf.cidrs.list()) await this.syncCidr(c, everyAgentClaimsByCreate, round, fail);

    // 3. NADs and 4. status, per network.
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
      const cidr = usesMultiNicIpam(net) ? views.cidr(name) : undefined;
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

  /**
   * One CIDR's migration and summary: legacy host entries no claim holds yet are created as claims
   * (same indexes: every host keeps its blocks); once none is left and every agent claims by
   * create, the host entries leave the object (an earlier agent would otherwise re-claim from the
   * emptied CIDR). Its interface entries follow the interface claims, and its status says how many
   * hosts and claims there are and what the migration could not honour.
   */
  private async syncCidr(c: K<CIDR>, everyAgentClaimsByCreate: boolean, round: ClusterRound, fail: (what: string, e: unknown) => string): Promise<void> {
    const name = c.metadata.name ?? '';
    const view = this.o.views.view(name);
    if (!view) return;
    const legacyHosts = c.spec.cidr.reduce((n, e) => n + e.hosts.length, 0);
    if (view.unmigrated > 0) {
      const have = new Set(this.o.views.claims(name).map((x) => x.metadata.name));
      const viewHosts = new Set(view.cidr.spec.cidr.flatMap((e) => e.hosts.map((h) => `${e.interfaceIndex}/${h.hostIndex}/${h.hostName}`)));
      // Only what the view serves: a legacy entry a claim contradicts is not made a claim.
      const legacy = { config: c.spec.config, cidr: c.spec.cidr.map((e) => ({ ...e, hosts: e.hosts.filter((h) => viewHosts.has(`${e.interfaceIndex}/${h.hostIndex}/${h.hostName}`)) })) };
      for (const want of claimsFromCidr(name, legacy, undefined, cidrOwnerRef(c))) {
        if (have.has(want.metadata.name)) continue;
        try {
          await this.o.api.create(R.CIDRClaim, want as never);
          if (want.spec.hostIndex !== undefined) round.migrated++;
        } catch (e) {
          if (!isAlreadyExists(e)) fail(`migrate CIDR "${name}" entry to CIDRClaim "${want.metadata.name ?? ''}"`, e);
        }
      }
      return; // the summary waits for the informer to show the claims
    }
    const summary = cidrSummarySpec(view.cidr.spec);
    const marked = c.metadata.annotations?.[CLAIMS_ANNOTATION] === CLAIMS_ANNOTATION_VALUE;
    const canDrop = legacyHosts === 0 || everyAgentClaimsByCreate;
    if (canDrop && (!marked || canonical(c.spec) !== canonical(summary))) {
      try {
        await this.o.api.replace<K<CIDR>>(R.CIDR, { ...c, metadata: { ...c.metadata, annotations: { ...c.metadata.annotations, [CLAIMS_ANNOTATION]: CLAIMS_ANNOTATION_VALUE } }, spec: summary });
        if (legacyHosts > 0) {
          round.summarized.push(name);
          this.o.events?.record({ apiVersion: 'multinic.fms.io/v1', kind: 'CIDR', name }, 'CIDRMigrated', `the ${legacyHosts} host entries of CIDR "${name}" are CIDRClaims now (every host kept its index); the CIDR keeps its config and a summary`, 'Normal');
        }
      } catch (e) {
        if (!isConflict(e)) fail(`summarize CIDR "${name}"`, e);
      }
      return; // status next round, on the object as written
    }
    const hosts = new Set(view.cidr.spec.cidr.flatMap((e) => e.hosts.map((h) => h.hostName)));
    const status: CIDRStatus = {
      ...(c.status?.observedGeneration === undefined ? {} : { observedGeneration: c.status.observedGeneration }),
      hosts: hosts.size,
      hostClaims: view.cidr.spec.cidr.reduce((n, e) => n + e.hosts.length, 0),
      unmigrated: view.unmigrated,
      ...(view.shadowed.length ? { shadowed: view.shadowed.slice(0, MAX_SHADOWED) } : {}),
    };
    const { lastSyncTime: _t, ...current } = c.status ?? {};
    if (canonical(current) === canonical(status)) return;
    try {
      await this.o.api.replace<K<CIDR>>(R.CIDR, { ...c, status: { ...status, lastSyncTime: this.now().toISOString() } }, { subresource: 'status' });
    } catch (e) {
      if (!isConflict(e)) fail(`update status of CIDR "${name}"`, e);
    }
  }
}

/** Label selector of the NADs the leader manages. */
export const GENERATED_NADS = `${GENERATED_LABEL}=true`;
