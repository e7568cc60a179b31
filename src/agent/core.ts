// The agent's request logic behind the socket (src/agent/server.ts): validate → select → allocate
// all-or-nothing → answer. The pod ADD hot path: no API round trip, only in-memory state, the
// discovery snapshot and one durable IPAM write.
import { AgentError, type AllocateRequest, type AllocateResponse, type AllocatedNic, type GcResponse, type LookupResponse, type ReleaseRequest, type ReleaseResponse } from '../lib/agent/protocol.js';
import { validateAllocate, validateGc, validateRelease } from '../lib/agent/requests.js';
import type { CidrEntry, HostInterfaceInfo, MultiNicNetwork } from '../lib/crds/types.gen.js';
import type { Allocation, AllocateItem, Ipam } from '../lib/ipam/types.js';
import { InvalidPoolError, PoolExhaustedError } from '../lib/ipam/allocator.js';
import { IpamStoreUnavailableError } from './ipam/store.js';
import type { DiscoveredNic } from '../lib/agent/discovery.js';
import { nicAddressing, type NicAddressing } from '../lib/agent/addressing.js';
import type { IpamConfig } from '../lib/network.js';
import { asksForEveryNic, PARTIAL_ATTACH_ANNOTATION, selectNics, type NicCandidate } from '../lib/select/select.js';
import { compareCidr, containsCidr, formatCidr, tryParseCidr, type Cidr } from '../lib/net/ip.js';
import { MULTI_NIC_IPAM } from '../lib/network.js';
import { InvalidSelectionError, NoMatchingNicError, UnknownDeviceClassError } from '../lib/select/errors.js';
import { ipamOfState, type AgentState, type NetworkState } from './state.js';
import { describeHolder, NicLentError, type LendingHolder, type NicLending } from './lending.js';

export { AgentError, HTTP_STATUS } from '../lib/agent/protocol.js';

export interface AgentCoreDeps {
  hostName: string;
  /**
   * DRA (docs/dra.md): the NICs of our driver in the pod's prepared ResourceClaims, in claim order,
   * or an empty list when the pod has none. When non-empty they are exactly the NICs the pod gets.
   */
  claimedNics?: (podUID: string) => Array<{ interfaceName: string; claim: string }>;
  /** DRA: told every successful ADD and every release (KEP-4817 claim status, src/agent/dra/status.ts); must not throw. */
  claimStatus?: { attached(podUID: string, netns: string | undefined, nics: AllocatedNic[]): void; released(podUID: string): void };
  state: AgentState;
  ipam: Ipam;
  /** The latest discovery snapshot, plus the NICs lent to pods (gone from the host while lent). */
  nics: () => DiscoveredNic[];
  /** NICs lent to pods by plugins that move the host NIC itself (host-device); absent: none are. */
  lending?: Pick<NicLending, 'lentTo' | 'lend' | 'giveBack'>;
  /** GC keeps allocations younger than this even when the runtime does not list them (default 60 s). */
  gcGraceMs?: number;
  /**
   * Why an allocation must survive a CNI GC that did not list it (its pod is known to be live), or
   * undefined when nothing says so. With --kube the agent answers from its cache of this node's
   * pods by the rule of its own leak GC (src/lib/cluster/gc.ts); without it only `keep` and the
   * grace period count.
   */
  liveReason?: (a: Allocation) => string | undefined;
  log?: (event: Record<string, unknown>) => void;
  now?: () => number;
  /** Told the pod netns path of every ADD (the prober reads pod interfaces there; it forgets released ones). */
  podNetns?: { set(containerID: string, path: string): void };
}

/** One host NIC of one network as this host sees it. */
interface HostNicOfNetwork {
  entry: CidrEntry;
  host: HostInterfaceInfo;
  addressing: NicAddressing;
}

const holderKey = (network: string, uid: string, containerID: string, ifName: string) => `${network}\0${uid}\0${containerID}\0${ifName}`;

export class AgentCore {
  /**
   * Allocations by holder (network + pod UID + container + CNI ifName), so the hot path never
   * scans every allocation. Built from the IPAM on first use and kept by allocate/release; the
   * agent drops it (invalidate) when something else may have changed the IPAM (state or pool sync).
   */
  private index: Map<string, Allocation[]> | undefined;
  /**
   * Per CIDR object: this host's NICs with their addressing, for the network object they were
   * computed from. A CIDR's config is frozen at creation, so a network update (plugin type or
   * vlanMode changed) keeps the same CIDR object: the entry counts only for the same network object.
   */
  private readonly hostNicCache = new WeakMap<object, { network: MultiNicNetwork; nics: HostNicOfNetwork[] }>();
  /**
   * Single-NIC IPAM networks: the NICs selected per holder. Memory only: the addresses belong to the
   * delegate's IPAM, and a DEL after an agent restart works from the runtime's prevResult (the CNI
   * deletes the pod links and runs the IPAM's DEL per interface).
   */
  private readonly selections = new Map<string, AllocateResponse>();
  /** When each holder was last allocated or selected (GC grace; memory only: none is in flight after a restart). */
  private readonly lastAdd = new Map<string, number>();

  constructor(private readonly deps: AgentCoreDeps) {}

  get hostName(): string {
    return this.deps.hostName;
  }

  async allocate(body: unknown): Promise<AllocateResponse> {
    const req = validateAllocate(body);
    const ns = this.networkOrThrow(req.network);
    const key = holderKey(req.network, req.pod.uid, req.pod.containerID, req.pod.ifName);
    this.lastAdd.set(key, this.now());
    if (req.pod.netns) this.deps.podNetns?.set(req.pod.containerID, req.pod.netns);
    if (this.passThrough(ns)) return this.selectOnly(req, ns, key);
    const mine = this.hostNics(ns);
    const existing = this.holders().get(key);
    if (existing?.length) {
      // A repeated ADD: the same addresses, re-confirmed by the IPAM (it answers held keys as they are).
      const again = await this.deps.ipam.allocate(
        existing.flatMap((a) => {
          const m = mine.find((x) => x.addressing.pool.name === a.pool);
          return m ? [{ pool: m.addressing.pool, key: { podUID: a.podUID, containerID: a.containerID, interface: a.interface }, podName: req.pod.name, namespace: req.pod.namespace }] : [];
        }),
      );
      this.holders().set(key, again);
      return this.respond(ns, mine, again);
    }

    const discovered = new Map(this.deps.nics().map((n) => [n.interfaceName, n]));
    const holder = lendingHolder(req);
    const present = mine.filter((m) => discovered.has(m.host.interfaceName) && !this.lentElsewhere(m.host.interfaceName, holder));
    if (present.length === 0) {
      throw new AgentError('NotReady', `host ${this.hostName} has no NIC of network "${req.network}" up (CIDR names ${mine.map((m) => m.host.interfaceName).join(', ') || 'none'} for this host)`, 'check `ip addr` on the host and the network masterNets');
    }
    const claimed = this.deps.claimedNics?.(req.pod.uid) ?? [];
    let chosen: NicCandidate[];
    if (claimed.length) chosen = this.fromClaims(req, mine, present, claimed);
    else {
      this.refuseFewerThanAll(req, ns, mine, present);
      chosen = await this.choose(req, ns, present.map((m) => {
        const d = discovered.get(m.host.interfaceName) as DiscoveredNic;
        return { nic: d, netAddress: m.entry.netAddress, interfaceIndex: m.entry.interfaceIndex };
      }));
    }
    this.refuseHeldGateways(req.network, chosen.map((c) => present.find((m) => m.host.interfaceName === c.name) as HostNicOfNetwork));
    await this.lend(req, ns, holder, chosen.map((c) => discovered.get(c.name) as DiscoveredNic));
    const items: AllocateItem[] = chosen.map((nic, i) => ({
      pool: (present.find((m) => m.host.interfaceName === nic.name) as HostNicOfNetwork).addressing.pool,
      key: { podUID: req.pod.uid, containerID: req.pod.containerID, interface: `${req.pod.ifName}-${i}` },
      podName: req.pod.name,
      namespace: req.pod.namespace,
    }));
    let allocs: Allocation[];
    try {
      allocs = await this.deps.ipam.allocate(items);
    } catch (e) {
      await this.deps.lending?.giveBack(holder);
      if (e instanceof PoolExhaustedError) {
        throw new AgentError('PoolExhausted', `network "${req.network}": ${e.message}`, 'release addresses (delete pods) or give the network larger host blocks (hostBlock)');
      }
      if (e instanceof IpamStoreUnavailableError || e instanceof InvalidPoolError) throw new AgentError('NotReady', `network "${req.network}": ${e.message}`);
      throw e;
    }
    this.holders().set(key, allocs);
    const res = this.respond(ns, mine, allocs);
    if (claimed.length) this.deps.claimStatus?.attached(req.pod.uid, req.pod.netns, res.nics);
    return res;
  }

  /**
   * The all-NICs rule (docs/nics.md): a pod that asks for every NIC of the network while one of
   * this host's NICs with a block in the CIDR is missing gets NotReady (CNI 11, the runtime retries)
   * naming the missing NICs, not fewer interfaces; a training job on 3 of 4 rails is worse than a
   * retried sandbox. The network's partial-attach annotation, or a `nics` count, opts out.
   */
  private refuseFewerThanAll(req: AllocateRequest, ns: NetworkState, mine: HostNicOfNetwork[], present: HostNicOfNetwork[]): void {
    const missing = mine.filter((m) => !present.includes(m));
    if (missing.length === 0) return;
    if (ns.network.metadata.annotations?.[PARTIAL_ATTACH_ANNOTATION] === 'allow') return;
    const spec = ns.network.spec.attachPolicy;
    if (!asksForEveryNic({ strategy: spec?.strategy, policyTarget: spec?.target, args: req.args, deviceIDs: req.deviceIDs })) return;
    const names = missing.map((m) => `${m.host.interfaceName} (${m.entry.netAddress}${this.whyMissing(m.host.interfaceName)})`);
    // The kubelet turns the CNI error into the pod's FailedCreatePodSandBox Event; the node's log says it too.
    this.deps.log?.({ level: 'warn', msg: 'refused a pod asking for every NIC: NICs missing', network: req.network, pod: `${req.pod.namespace}/${req.pod.name}`, missing: missing.map((m) => m.host.interfaceName), present: present.map((m) => m.host.interfaceName) });
    throw new AgentError(
      'NotReady',
      `network "${req.network}": the pod asks for every NIC, but ${missing.length === 1 ? 'NIC' : 'NICs'} ${names.join(', ')} of host ${this.hostName} ${missing.length === 1 ? 'is' : 'are'} missing (${present.length} of ${mine.length} present); not attaching fewer`,
      `the runtime retries until the NIC is back (check \`ip link\` on the host); to attach the NICs present instead, give the pod cni-args {"nics": ${present.length}} or annotate the MultiNicNetwork ${PARTIAL_ATTACH_ANNOTATION}=allow`,
    );
  }

  /**
   * DRA: the pod's claims decide, whatever attachPolicy or cni-args say: exactly the claimed NICs,
   * in claim order. A claimed NIC that is not a NIC of this network on this host is the claim's
   * mistake (NoMatchingNic, naming it); one of this network that is not up now is NotReady.
   */
  private fromClaims(req: AllocateRequest, mine: HostNicOfNetwork[], present: HostNicOfNetwork[], claimed: Array<{ interfaceName: string; claim: string }>): NicCandidate[] {
    const claims = [...new Set(claimed.map((c) => c.claim))].join(', ');
    const foreign = claimed.filter((c) => !mine.some((m) => m.host.interfaceName === c.interfaceName));
    if (foreign.length) {
      throw new AgentError(
        'NoMatchingNic',
        `network "${req.network}": the pod's ResourceClaim ${claims} holds ${foreign.map((c) => c.interfaceName).join(', ')}, not ${foreign.length === 1 ? 'a NIC' : 'NICs'} of this network on host ${this.hostName} (its NICs here: ${mine.map((m) => m.host.interfaceName).join(', ') || 'none'})`,
        `request the network's DeviceClass ${req.network}.multinic.fms.io in the claim (docs/dra.md), or attach the network the claimed NICs serve; then delete and re-create the pod so the claim is allocated again`,
      );
    }
    const down = claimed.filter((c) => !present.some((m) => m.host.interfaceName === c.interfaceName));
    if (down.length) throw new AgentError('NotReady', `network "${req.network}": claimed NIC ${down.map((c) => `${c.interfaceName}${this.whyMissing(c.interfaceName)}`).join(', ')} of ResourceClaim ${claims}`, 'the runtime retries until the NIC is back (check `ip link` on the host)');
    const discovered = new Map(this.deps.nics().map((n) => [n.interfaceName, n]));
    return claimed.map((c) => {
      const m = present.find((x) => x.host.interfaceName === c.interfaceName) as HostNicOfNetwork;
      const d = discovered.get(c.interfaceName);
      return { name: c.interfaceName, netAddress: m.entry.netAddress, interfaceIndex: m.entry.interfaceIndex, vendor: d?.vendor, product: d?.product, pciAddress: d?.pciAddress, numaNode: d?.numaNode, speed: d?.speed, allocations: 0 };
    });
  }

  /** Why a NIC of the CIDR is not a candidate now, for messages (lent to a pod, or not up in the host namespace). */
  private whyMissing(name: string): string {
    const lent = this.deps.lending?.lentTo(name);
    return lent ? `: lent to ${describeHolder(lent)}` : ': not up with an address in the host namespace';
  }

  /** The lending of `name` to an attachment other than `holder`, if any. */
  private lentElsewhere(name: string, holder: LendingHolder) {
    const l = this.deps.lending?.lentTo(name);
    return l && !(l.holder.network === holder.network && l.holder.containerID === holder.containerID && l.holder.ifName === holder.ifName) ? l : undefined;
  }

  /**
   * host-device moves the host NIC itself into the pod: lend the chosen NICs (durably) before the
   * CNI runs it. A NIC another ADD took meanwhile is NotReady (the runtime retries).
   */
  private async lend(req: AllocateRequest, ns: NetworkState, holder: LendingHolder, nics: DiscoveredNic[]): Promise<void> {
    if (!this.deps.lending || ns.network.spec.plugin.type !== 'host-device') return;
    try {
      await this.deps.lending.lend(holder, nics.map((nic, i) => ({ nic, podInterface: `${req.pod.ifName}-${i}` })), { pod: { namespace: req.pod.namespace, name: req.pod.name }, ...(req.pod.netns ? { netns: req.pod.netns } : {}) });
    } catch (e) {
      if (e instanceof NicLentError) throw new AgentError('NotReady', `network "${req.network}": ${e.message} (host-device gives a NIC to one pod at a time)`, 'the runtime retries once that pod is gone; or ask for fewer NICs (cni-args nics)');
      throw e;
    }
  }

  /** Runs the network's attach policy over `candidates` (all-or-nothing request errors mapped to the wire). */
  private async choose(req: AllocateRequest, ns: NetworkState, present: Array<{ nic: DiscoveredNic; netAddress: string; interfaceIndex: number }>): Promise<NicCandidate[]> {
    const strategy = ns.network.spec.attachPolicy?.strategy ?? 'none';
    const resources = (req.resourceName ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const needFacts = strategy === 'topology' || (resources.length > 0 && !req.deviceIDs);
    const facts = needFacts ? await this.deps.state.podFacts(req.pod.uid, resources) : { gpuNumaNodes: [], deviceIDs: [] };
    const counts = strategy === 'perfOpt' || strategy === 'costOpt' ? this.allocationsPerNic() : undefined;
    const candidates: NicCandidate[] = present.map(({ nic: d, netAddress, interfaceIndex }) => ({
      name: d.interfaceName,
      netAddress,
      interfaceIndex,
      vendor: d.vendor,
      product: d.product,
      pciAddress: d.pciAddress,
      numaNode: d.numaNode,
      speed: d.speed,
      allocations: counts?.get(d.interfaceName) ?? 0,
    }));
    try {
      return selectNics({
        strategy,
        policyTarget: ns.network.spec.attachPolicy?.target,
        candidates,
        args: req.args,
        deviceClasses: Object.fromEntries(Object.entries(this.deps.state.deviceClasses()).map(([k, v]) => [k, v.spec])),
        gpuNumaNodes: facts.gpuNumaNodes,
        deviceIDs: req.deviceIDs ?? facts.deviceIDs,
      }).nics;
    } catch (e) {
      if (e instanceof NoMatchingNicError || e instanceof UnknownDeviceClassError || e instanceof InvalidSelectionError) {
        throw new AgentError(e.code, `network "${req.network}": ${e.message}`, e.hint);
      }
      throw e;
    }
  }

  /** True when the network's IPAM is not multi-nic-ipam: no CIDR, no pools; the delegate's own IPAM gives addresses. */
  passThrough(ns: NetworkState): boolean {
    return this.ipamOf(ns).type !== MULTI_NIC_IPAM;
  }

  /**
   * Single-NIC IPAM network (upstream's pass-through): select NICs among this host's discovered NICs
   * on the network's masterNets (all NIC networks when empty, one NIC per network, lowest name
   * first, as the planner does) and answer them without addresses. A repeated ADD gets the same NICs.
   */
  private async selectOnly(req: AllocateRequest, ns: NetworkState, key: string): Promise<AllocateResponse> {
    const held = this.selections.get(key);
    if (held) return held;
    const holder = lendingHolder(req);
    const nics = this.deps.nics().filter((n) => !this.lentElsewhere(n.interfaceName, holder));
    const masterNets = (ns.network.spec.masterNets ?? []).map((t) => tryParseCidr(t, { strict: false })).filter((c): c is Cidr => c !== undefined);
    const parsed = nics.flatMap((n) => {
      const c = n.netAddress ? tryParseCidr(n.netAddress, { strict: false }) : undefined;
      return c ? [{ nic: n, net: c }] : [];
    });
    let pool: Cidr[] = masterNets;
    if (pool.length === 0) {
      const distinct = new Map<string, Cidr>();
      for (const p of parsed) distinct.set(formatCidr(p.net), p.net);
      pool = [...distinct.values()].sort(compareCidr);
    }
    const present: Array<{ nic: DiscoveredNic; netAddress: string; interfaceIndex: number }> = [];
    for (const [i, net] of pool.entries()) {
      const on = parsed.filter((p) => p.net.family === net.family && containsCidr(net, p.net)).sort((a, b) => (a.nic.interfaceName < b.nic.interfaceName ? -1 : 1));
      const first = on[0];
      if (first && !present.some((x) => x.nic.interfaceName === first.nic.interfaceName)) present.push({ nic: first.nic, netAddress: formatCidr(first.net), interfaceIndex: i });
    }
    if (present.length === 0) {
      const want = masterNets.length ? `on masterNets ${masterNets.map(formatCidr).join(', ')}` : 'at all';
      throw new AgentError('NotReady', `host ${this.hostName} has no secondary NIC up ${want} for network "${req.network}" (found ${nics.map((n) => `${n.interfaceName} ${n.netAddress ?? '-'}`).join(', ') || 'none'})`, 'check `ip addr` on the host and the network masterNets');
    }
    const chosen = await this.choose(req, ns, present);
    await this.lend(req, ns, holder, chosen.map((c) => present.find((p) => p.nic.interfaceName === c.name)?.nic as DiscoveredNic));
    const res: AllocateResponse = {
      ...this.envelope(ns),
      nics: chosen.map((c, i) => {
        const d = present.find((p) => p.nic.interfaceName === c.name)?.nic as DiscoveredNic;
        const nic: AllocatedNic = { index: i, podInterface: `${req.pod.ifName}-${i}`, master: c.name, netAddress: c.netAddress, address: '', routes: [], vlanCIDR: '', podCIDR: '', pool: '' };
        if (d.mtu) nic.mtu = d.mtu;
        if (d.pciAddress) nic.pciAddress = d.pciAddress;
        return nic;
      }),
    };
    this.selections.set(key, res);
    return res;
  }

  /**
   * CNI GC: releases every allocation (and single-NIC selection) of the network whose container ID
   * and ifName the runtime did not list in `keep`, except holders added within the grace period and
   * holders whose pod the agent knows to be live (`liveReason`: a runtime's list that misses a
   * running pod must not take its addresses).
   */
  async gc(body: unknown): Promise<GcResponse> {
    const req = validateGc(body);
    const keep = new Set(req.keep.map((k) => `${k.containerID}\0${k.ifName}`));
    const cutoff = this.now() - (this.deps.gcGraceMs ?? 60_000);
    const recent = (k: string) => (this.lastAdd.get(k) ?? -Infinity) > cutoff;
    const stale = new Map<string, { podUID: string; containerID: string; ifName: string; allocs: Allocation[] }>();
    for (const a of this.deps.ipam.list()) {
      if (a.network !== req.network) continue;
      const dash = a.interface.lastIndexOf('-');
      if (dash <= 0) continue;
      const ifName = a.interface.slice(0, dash);
      const k = holderKey(a.network, a.podUID, a.containerID, ifName);
      if (keep.has(`${a.containerID}\0${ifName}`) || recent(k)) continue;
      const h = stale.get(k) ?? { podUID: a.podUID, containerID: a.containerID, ifName, allocs: [] };
      h.allocs.push(a);
      stale.set(k, h);
    }
    let released = 0;
    let spared = 0;
    // Host-device NICs lent to the attachments released here are due back, as on a DEL.
    const gone: LendingHolder[] = [];
    for (const [k, h] of stale) {
      const why = this.deps.liveReason ? h.allocs.map((a) => this.deps.liveReason?.(a)).find((r) => r !== undefined) : undefined;
      if (why !== undefined) {
        spared += h.allocs.length;
        this.deps.log?.({ level: 'warn', msg: 'CNI GC: kept the addresses of a live pod the runtime did not list', network: req.network, pod: `${h.allocs[0]?.namespace}/${h.allocs[0]?.podName}`, containerID: h.containerID, ifName: h.ifName, why });
        continue;
      }
      released += (await this.deps.ipam.release({ podUID: h.podUID, containerID: h.containerID, ifPrefix: `${h.ifName}-`, network: req.network })).length;
      this.index?.delete(k);
      this.lastAdd.delete(k);
      gone.push({ network: req.network, containerID: h.containerID, ifName: h.ifName, podUID: h.podUID });
    }
    for (const [k, t] of this.lastAdd) if (t <= cutoff && !this.selections.has(k)) this.lastAdd.delete(k);
    for (const k of this.selections.keys()) {
      const [network, podUID = '', containerID = '', ifName = ''] = k.split('\0');
      if (network === req.network && !keep.has(`${containerID}\0${ifName}`) && !recent(k)) {
        this.selections.delete(k);
        this.lastAdd.delete(k);
        gone.push({ network: req.network, containerID, ifName, podUID });
      }
    }
    for (const holder of gone) await this.deps.lending?.giveBack(holder);
    return { apiVersion: 'v1', released, ...(spared ? { spared } : {}) };
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** Forgets the holder index; the next request rebuilds it from the IPAM. */
  invalidate(): void {
    this.index = undefined;
  }

  private holders(): Map<string, Allocation[]> {
    if (this.index) return this.index;
    const index = new Map<string, Allocation[]>();
    for (const a of this.deps.ipam.list()) {
      const dash = a.interface.lastIndexOf('-');
      if (dash <= 0) continue;
      const k = holderKey(a.network, a.podUID, a.containerID, a.interface.slice(0, dash));
      const list = index.get(k) ?? [];
      list.push(a);
      index.set(k, list);
    }
    for (const list of index.values()) list.sort((x, y) => ifIndex(x.interface) - ifIndex(y.interface));
    return (this.index = index);
  }

  async release(body: unknown): Promise<ReleaseResponse> {
    const req = validateRelease(body);
    let released = 0;
    for (const uid of this.uidsOf(req)) {
      const key = holderKey(req.network, uid, req.pod.containerID, req.pod.ifName);
      this.selections.delete(key);
      this.lastAdd.delete(key);
      released += (await this.deps.ipam.release({ podUID: uid, containerID: req.pod.containerID, ifPrefix: `${req.pod.ifName}-`, network: req.network })).length;
      this.index?.delete(key);
      this.deps.claimStatus?.released(uid);
    }
    // After the CNI's delegate DEL: host-device has moved the NICs back; restore them (lending
    // matches on network + container + ifName, never the UID).
    await this.deps.lending?.giveBack(lendingHolder(req));
    return { apiVersion: 'v1', released };
  }

  /**
   * The pod UIDs a release or lookup is for: the request's, or, when it has none (podman, ctr --cni
   * and cnitool send no K8S_POD_UID), every UID holding that container's ifName in the network
   * (the container ID is unique on a node), '' when nothing is held. Off the hot path: scans.
   */
  private uidsOf(req: ReleaseRequest): string[] {
    if (req.pod.uid !== '') return [req.pod.uid];
    const { containerID, ifName } = req.pod;
    const uids = new Set<string>();
    for (const a of this.deps.ipam.list()) {
      if (a.network === req.network && a.containerID === containerID && a.interface.startsWith(`${ifName}-`)) uids.add(a.podUID);
    }
    for (const k of this.selections.keys()) {
      const [network, uid, c, i] = k.split('\0');
      if (network === req.network && c === containerID && i === ifName) uids.add(uid ?? '');
    }
    return uids.size ? [...uids] : [''];
  }

  async lookup(body: unknown): Promise<LookupResponse> {
    const req = validateRelease(body);
    const ns = this.networkOrThrow(req.network);
    const uids = this.uidsOf(req);
    if (this.passThrough(ns)) {
      const held = uids.map((uid) => this.selections.get(holderKey(req.network, uid, req.pod.containerID, req.pod.ifName))).find((x) => x !== undefined);
      if (!held) throw new AgentError('NotFound', `no NICs selected in network "${req.network}" for pod ${req.pod.uid} container ${req.pod.containerID} ${req.pod.ifName} (single-NIC IPAM: the agent keeps selections in memory)`);
      return held;
    }
    // CHECK is not the hot path: read the IPAM itself rather than the index.
    const prefix = `${req.pod.ifName}-`;
    const held = this.deps.ipam
      .list()
      .filter((a) => a.network === req.network && a.podUID === uids[0] && a.containerID === req.pod.containerID && a.interface.startsWith(prefix))
      .sort((a, b) => ifIndex(a.interface) - ifIndex(b.interface));
    if (held.length === 0) throw new AgentError('NotFound', `no addresses held in network "${req.network}" for pod ${req.pod.uid} container ${req.pod.containerID} ${req.pod.ifName}`);
    return this.respond(ns, this.hostNics(ns), held);
  }

  /**
   * This host's NICs of a network whose shim gateway (macvlan L3) is held by a pod: allocated
   * before the network changed into that mode, when the gateway was an ordinary address. Until that
   * pod is released the host must not take the gateway (reconcile leaves it off the shim) and the
   * pool hands out nothing (allocate answers NotReady naming the pod). Empty for other modes.
   */
  gatewayConflicts(ns: NetworkState): Array<{ interfaceName: string; pool: string; gateway: string; holder: Allocation }> {
    const out: Array<{ interfaceName: string; pool: string; gateway: string; holder: Allocation }> = [];
    for (const m of this.hostNics(ns)) {
      const holder = this.gatewayHolder(m);
      if (holder) out.push({ interfaceName: m.host.interfaceName, pool: m.addressing.pool.name, gateway: holder.address, holder });
    }
    return out;
  }

  private gatewayHolder(m: HostNicOfNetwork): Allocation | undefined {
    const gateway = m.addressing.gateway;
    return gateway === undefined ? undefined : this.deps.ipam.list(m.addressing.pool.name).find((a) => a.address === gateway);
  }

  private refuseHeldGateways(network: string, nics: HostNicOfNetwork[]): void {
    for (const m of nics) {
      const holder = this.gatewayHolder(m);
      if (holder) throw new AgentError('NotReady', gatewayHeldMessage(network, this.hostName, m.host.interfaceName, holder.address, holder), `delete pod ${holder.namespace}/${holder.podName} (it was attached before the network's plugin or vlanMode changed), or change the network back`);
    }
  }

  /** Per NIC name, addresses allocated on it (all networks). */
  allocationsPerNic(): Map<string, number> {
    const byPool = new Map<string, string>();
    for (const ns of this.deps.state.networks()) {
      if (!ns.cidr) continue;
      for (const m of this.hostNics(ns)) byPool.set(m.addressing.pool.name, m.host.interfaceName);
    }
    const out = new Map<string, number>();
    for (const list of this.holders().values()) {
      for (const a of list) {
        const nic = byPool.get(a.pool);
        if (nic) out.set(nic, (out.get(nic) ?? 0) + 1);
      }
    }
    for (const sel of this.selections.values()) for (const n of sel.nics) out.set(n.master, (out.get(n.master) ?? 0) + 1);
    return out;
  }

  /** This host's NICs of a network, in interface-index order (NotReady without a CIDR entry). */
  hostNics(ns: NetworkState): HostNicOfNetwork[] {
    const name = ns.network.metadata.name ?? '';
    const ipam = this.ipamOf(ns);
    if (!ns.cidr) throw new AgentError('NotReady', `network "${name}" has no CIDR yet (not planned)`, 'wait for the network to be planned (kubectl multinic status)');
    const cached = this.hostNicCache.get(ns.cidr);
    if (cached?.network === ns.network) return cached.nics;
    const out: HostNicOfNetwork[] = [];
    for (const entry of [...ns.cidr.spec.cidr].sort((a, b) => a.interfaceIndex - b.interfaceIndex)) {
      for (const host of entry.hosts) {
        if (host.hostName === this.hostName) out.push({ entry, host, addressing: nicAddressing(ns.network, ipam, entry, host) });
      }
    }
    this.hostNicCache.set(ns.cidr, { network: ns.network, nics: out });
    return out;
  }

  /** The network's parsed spec.ipam (parsed once per network object, see NetworkState.ipam). */
  private ipamOf(ns: NetworkState): IpamConfig {
    const { config, error } = ipamOfState(ns);
    if (!config) throw new AgentError('NotReady', error, 'fix the MultiNicNetwork spec.ipam');
    return config;
  }

  private networkOrThrow(name: string): NetworkState {
    const ns = this.deps.state.network(name);
    if (!ns) {
      throw new AgentError('UnknownNetwork', `network "${name}" is not known to the agent on ${this.hostName}`, `create the MultiNicNetwork "${name}" (kubectl get multinicnetworks) or fix the NAD name`);
    }
    if (ns.refused) throw new AgentError('NotReady', ns.refused, 'give one of the two networks a subnet the other does not overlap (kubectl get multinicnetworks shows the subnets)');
    return ns;
  }

  /** What every answer for a network carries besides its NICs: the main plugin and the vlanMode. */
  private envelope(ns: NetworkState): Omit<AllocateResponse, 'nics'> {
    const plugin = ns.network.spec.plugin;
    return {
      apiVersion: 'v1',
      network: ns.network.metadata.name ?? '',
      plugin: { type: plugin.type, cniVersion: plugin.cniVersion, args: plugin.args ?? {} },
      vlanMode: this.ipamOf(ns).vlanMode,
    };
  }

  private respond(ns: NetworkState, mine: HostNicOfNetwork[], allocs: Allocation[]): AllocateResponse {
    const discovered = new Map(this.deps.nics().map((n) => [n.interfaceName, n]));
    const nics: AllocatedNic[] = allocs.map((a) => {
      const m = mine.find((x) => x.addressing.pool.name === a.pool);
      if (!m) throw new AgentError('Internal', `allocation ${a.address} is in pool ${a.pool}, which is no longer one of this host's pools`);
      const d = discovered.get(m.host.interfaceName);
      const nic: AllocatedNic = {
        index: ifIndex(a.interface),
        podInterface: a.interface,
        master: m.host.interfaceName,
        netAddress: m.entry.netAddress,
        address: `${a.address}/${m.addressing.prefix}`,
        routes: m.addressing.routes,
        vlanCIDR: m.entry.vlanCIDR,
        podCIDR: m.host.podCIDR,
        pool: a.pool,
      };
      if (m.addressing.gateway) nic.gateway = m.addressing.gateway;
      if (d?.mtu) nic.mtu = d.mtu;
      if (d?.pciAddress) nic.pciAddress = d.pciAddress;
      return nic;
    });
    return { ...this.envelope(ns), nics };
  }
}

/** Why a shim pool is not ready: its gateway address belongs to a pod. Shared by allocate and reconcile. */
export function gatewayHeldMessage(network: string, host: string, nic: string, gateway: string, holder: Allocation): string {
  return `network "${network}" on ${host}/${nic}: the shim gateway ${gateway} (macvlan vlanMode l3) is held by pod ${holder.namespace}/${holder.podName} (uid ${holder.podUID}, ${holder.interface}), attached before the network's mode changed; the host leaves the gateway to it and this NIC's pool takes no new pods until that pod is gone`;
}

const lendingHolder = (req: { network: string; pod: { uid: string; containerID: string; ifName: string } }): LendingHolder => ({ network: req.network, containerID: req.pod.containerID, ifName: req.pod.ifName, podUID: req.pod.uid });

const ifIndex = (podInterface: string): number => Number(podInterface.slice(podInterface.lastIndexOf('-') + 1));
