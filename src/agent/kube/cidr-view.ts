// The agent's view of every network's CIDR (docs/scale.md): the CIDR object (frozen config, a
// bounded summary, and on a cluster not migrated yet its legacy host entries) plus the network's
// CIDRClaims, assembled by cidrView into the upstream CIDR shape that routes, pools, status and DRA
// read. Fed by the CIDR and CIDRClaim informers; claims are indexed by network as they arrive and a
// network's view is rebuilt only when its CIDR or one of its claims changed, so a claim storm of
// 4,096 hosts costs one small update per event, not a regrouping of every claim.
import { cidrView, type CIDRClaim, type CidrView } from '../../lib/cluster/claim-objects.js';
import type { CIDR } from '../../lib/crds/types.gen.js';
import type { Informer } from './informer.js';
import type { K } from './kinds.js';

export class CidrViewCache {
  private readonly byNetwork = new Map<string, Map<string, CIDRClaim>>();
  private readonly memo = new Map<string, { source: CIDR; view: CidrView }>();
  private readonly listeners = new Set<(network: string) => void>();
  private readonly unsubs: Array<() => void> = [];

  constructor(
    private readonly cidrs: Informer<K<CIDR>>,
    private readonly claimInformer: Informer<K<CIDRClaim>>,
  ) {
    this.unsubs.push(
      claimInformer.onChange((type, c, old) => {
        const name = c.metadata.name ?? '';
        if (old && old.spec.network !== c.spec.network) this.drop(old.spec.network, name);
        if (type === 'DELETED') this.drop(c.spec.network, name);
        else {
          let m = this.byNetwork.get(c.spec.network);
          if (!m) this.byNetwork.set(c.spec.network, (m = new Map()));
          m.set(name, c);
          this.memo.delete(c.spec.network);
        }
        for (const l of [...this.listeners]) l(c.spec.network);
      }),
      cidrs.onChange((_t, c) => {
        this.memo.delete(c.metadata.name ?? '');
        for (const l of [...this.listeners]) l(c.metadata.name ?? '');
      }),
    );
  }

  private drop(network: string, name: string): void {
    const m = this.byNetwork.get(network);
    if (!m) return;
    m.delete(name);
    if (m.size === 0) this.byNetwork.delete(network);
    this.memo.delete(network);
  }

  /** Resolves once both informers have listed. */
  async synced(): Promise<void> {
    await Promise.all([this.cidrs.synced(), this.claimInformer.synced()]);
  }

  get isSynced(): boolean {
    return this.cidrs.isSynced && this.claimInformer.isSynced;
  }

  /** The stored claims of a network (every owner: cidrView keeps those of the current CIDR). */
  claims(network: string): CIDRClaim[] {
    return [...(this.byNetwork.get(network)?.values() ?? [])];
  }

  /** Every stored claim. */
  allClaims(): CIDRClaim[] {
    return [...this.byNetwork.values()].flatMap((m) => [...m.values()]);
  }

  /** The network's view, or undefined without a CIDR object. */
  view(network: string): CidrView | undefined {
    const source = this.cidrs.get(network);
    if (!source) return undefined;
    const m = this.memo.get(network);
    if (m && m.source === source) return m.view;
    const view = cidrView(source, this.claims(network));
    this.memo.set(network, { source, view });
    return view;
  }

  /** The view as a CIDR (what the CIDR informer's copy was before claims), or undefined. */
  cidr(network: string): K<CIDR> | undefined {
    return this.view(network)?.cidr as K<CIDR> | undefined;
  }

  /** Views of every CIDR. */
  list(): Array<K<CIDR>> {
    return this.cidrs.list().map((c) => this.cidr(c.metadata.name ?? '') ?? c);
  }

  /** Called with the network's name after a change of its CIDR or one of its claims. */
  onChange(listener: (network: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    for (const u of this.unsubs) u();
    this.listeners.clear();
  }
}
