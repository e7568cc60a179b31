// KubeAgentState: E's AgentState port fed by informers on the Kubernetes API (MultiNicNetworks,
// CIDRs, DeviceClasses). Reads are served from the informer caches, so the pod ADD path never
// makes an API round trip; listeners hear about every change (debounced, so a storm of CIDR writes
// while agents claim is one reconcile).
import type { CIDR, DeviceClass, MultiNicNetwork } from '../../lib/crds/types.gen.js';
import { subnetOverlapRefusals, type SubnetOverlapRefusal } from '../../lib/network.js';
import { networkIpam, readPodFacts, type AgentState, type NetworkState, type PodFacts, type PodFactsPaths } from '../state.js';
import type { CidrViewCache } from './cidr-view.js';
import type { Informer } from './informer.js';
import type { K } from './kinds.js';

export interface KubeAgentStateOptions {
  networks: Informer<K<MultiNicNetwork>>;
  cidrs: Informer<K<CIDR>>;
  deviceClasses: Informer<K<DeviceClass>>;
  /** The CIDR views (CIDR + its CIDRClaims, docs/scale.md); without it a network's CIDR is the CIDR object alone. */
  views?: CidrViewCache;
  podFacts?: PodFactsPaths;
  /** Coalescing window for change notifications (default 50 ms). */
  debounceMs?: number;
}

export class KubeAgentState implements AgentState {
  private readonly listeners = new Set<() => void>();
  private readonly unsubs: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** subnetOverlapRefusals over the caches, dropped on every network or CIDR event. */
  private refusalCache: Map<string, SubnetOverlapRefusal> | undefined;

  constructor(private readonly o: KubeAgentStateOptions) {
    const fire = () => {
      if (this.closed || this.timer) return;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        for (const l of [...this.listeners]) l();
      }, o.debounceMs ?? 50);
    };
    this.unsubs.push(
      o.networks.onChange(() => {
        this.refusalCache = undefined;
        fire();
      }),
      o.cidrs.onChange(() => {
        this.refusalCache = undefined;
        fire();
      }),
      o.deviceClasses.onChange(fire),
      ...(o.views ? [o.views.onChange(fire)] : []),
    );
  }

  /** Resolves once every informer behind the state has listed. */
  async synced(): Promise<void> {
    await Promise.all([this.o.networks.synced(), this.o.cidrs.synced(), this.o.deviceClasses.synced(), this.o.views?.synced()]);
  }

  networks(): NetworkState[] {
    return this.o.networks
      .list()
      .filter((n) => !n.metadata.deletionTimestamp)
      .sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1))
      .map((network) => this.withCidr(network));
  }

  network(name: string): NetworkState | undefined {
    const n = this.o.networks.get(name);
    return n && !n.metadata.deletionTimestamp ? this.withCidr(n) : undefined;
  }

  /**
   * Networks refused because their subnet overlaps one created earlier (the same rule on every
   * agent and the leader, so a MultiNicNetwork applied without `kubectl multinic apply` is caught).
   */
  refusals(): Map<string, SubnetOverlapRefusal> {
    return (this.refusalCache ??= subnetOverlapRefusals(this.o.networks.list(), cidrSubnets(this.o.cidrs.list())));
  }

  private withCidr(network: MultiNicNetwork): NetworkState {
    // A refused network is served as unplanned: its CIDR (if one was made before) is not used.
    const refused = this.refusals().get(network.metadata.name ?? '');
    if (refused) return { network, ipam: networkIpam(network), refused: `MultiNicNetwork "${refused.network}": ${refused.message}` };
    const cidr = this.o.views ? this.o.views.cidr(network.metadata.name ?? '') : this.o.cidrs.get(network.metadata.name ?? '');
    // A CIDR left from an earlier network of the same name (another uid) is not this network's plan.
    const owner = cidr?.metadata.ownerReferences?.find((r) => r.kind === 'MultiNicNetwork');
    if (cidr && (!owner || !network.metadata.uid || owner.uid === network.metadata.uid)) return { network, ipam: networkIpam(network), cidr };
    return { network, ipam: networkIpam(network) };
  }

  deviceClasses(): Record<string, DeviceClass> {
    return Object.fromEntries(this.o.deviceClasses.list().map((d) => [d.metadata.name ?? '', d]));
  }

  podFacts(podUID: string, resourceNames: readonly string[]): Promise<PodFacts> {
    return readPodFacts(this.o.podFacts ?? {}, podUID, resourceNames);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const u of this.unsubs) u();
    this.listeners.clear();
  }
}

/** The subnet each network's policy rule uses, from its CIDR (config frozen at creation). */
export function cidrSubnets(cidrs: readonly CIDR[]): Map<string, string> {
  return new Map(cidrs.map((c) => [c.spec.config.name || (c.metadata.name ?? ''), c.spec.config.subnet ?? ''] as const));
}
