// NIC selection policies (upstream.md §5, docs/policies.md): which of a host's NICs in a network a
// pod gets. Pure: the agent gathers the host NICs, the network's policy, the pod's arguments and the
// pod's device facts, and this returns the chosen NICs in pod-interface order or a typed error.
import type { DeviceClassSpec } from '../crds/types.gen.js';
import { formatBandwidth, parseBandwidth } from './bandwidth.js';
import { InvalidSelectionError, NoMatchingNicError, UnknownDeviceClassError } from './errors.js';
import { normalizePci } from './topology.js';

/** A host NIC that belongs to the network (it has a host entry in the network's CIDR). */
export interface NicCandidate {
  name: string;
  /** The NIC's network, e.g. 10.0.1.0/24 (the CIDR entry's netAddress). */
  netAddress: string;
  /** Interface index in the network (masterNets order); candidates are tried in this order. */
  interfaceIndex: number;
  vendor?: string;
  product?: string;
  pciAddress?: string;
  /** -1 or undefined when unknown. */
  numaNode?: number;
  /** Mb/s; 0 or undefined when unknown. */
  speed?: number;
  /** Addresses currently allocated on this NIC (all networks), for perfOpt tie-breaks. */
  allocations?: number;
}

export type Strategy = 'none' | 'costOpt' | 'perfOpt' | 'devClass' | 'topology';

export interface SelectionRequest {
  /** The network's attachPolicy.strategy; unknown or empty means `none` (as upstream). */
  strategy?: string;
  /** The network's attachPolicy.target (the pod's `target` arg wins). */
  policyTarget?: string;
  candidates: NicCandidate[];
  /** Pod arguments (cni-args). `master` is the seed docs' spelling of `masters`. */
  args?: { nics?: number; masters?: string[]; master?: string[] | string; class?: string; target?: string };
  deviceClasses?: Record<string, DeviceClassSpec>;
  /** NUMA node of each GPU of the pod (topology). */
  gpuNumaNodes?: number[];
  /** PCI addresses a device plugin allocated to the pod for the network's resourceName. */
  deviceIDs?: string[];
}

export interface SelectionResult {
  /** Chosen NICs in pod-interface order (net1-0 is the first). */
  nics: NicCandidate[];
  /** Which rule decided, for logs and `agent state`. */
  reason: 'deviceIDs' | 'masters' | Strategy;
}

const STRATEGIES: readonly string[] = ['none', 'costOpt', 'perfOpt', 'devClass', 'topology'];

/** Applies the network's policy to the pod's request. Throws NoMatchingNicError, UnknownDeviceClassError, InvalidSelectionError. */
export function selectNics(req: SelectionRequest): SelectionResult {
  const args = req.args ?? {};
  const all = [...req.candidates].sort((a, b) => a.interfaceIndex - b.interfaceIndex || cmp(a.name, b.name));
  const names = all.map((n) => n.name);
  const nics = args.nics ?? 0;
  if (!Number.isInteger(nics) || nics < 0) throw new InvalidSelectionError(`nics must be a non-negative integer, got ${JSON.stringify(args.nics)}`, 'set cni-args "nics" to a count such as 2, or leave it out for every NIC');

  // Device-plugin path first, whatever the strategy: the device plugin already chose the devices.
  if (req.deviceIDs && req.deviceIDs.length > 0) {
    const chosen: NicCandidate[] = [];
    const missing: string[] = [];
    for (const id of req.deviceIDs) {
      const nic = all.find((n) => n.pciAddress !== undefined && normalizePci(n.pciAddress) === normalizePci(id));
      if (nic) {
        if (!chosen.includes(nic)) chosen.push(nic);
      } else missing.push(id);
    }
    if (missing.length) {
      throw new NoMatchingNicError(`the device-plugin devices ${missing.join(', ')}`, all.map((n) => `${n.name}${n.pciAddress ? ` (${n.pciAddress})` : ''}`), 'the device plugin allocated devices that are not NICs of this network on this host; check the NAD resourceName and masterNets');
    }
    return { nics: chosen, reason: 'deviceIDs' };
  }

  const masters = mastersOf(args);
  if (masters.length > 0) {
    const absent = masters.filter((m) => !names.includes(m));
    if (absent.length) throw new NoMatchingNicError(`masters [${masters.join(', ')}] (absent: ${absent.join(', ')})`, names);
    const dup = masters.find((m, i) => masters.indexOf(m) !== i);
    if (dup) throw new InvalidSelectionError(`masters names ${dup} twice`, 'list each host NIC once');
    return { nics: masters.map((m) => all.find((n) => n.name === m) as NicCandidate), reason: 'masters' };
  }

  const strategy = (STRATEGIES.includes(req.strategy ?? '') ? req.strategy : 'none') as Strategy;
  const targetText = args.target ?? req.policyTarget;
  switch (strategy) {
    case 'devClass': {
      let pool = all;
      if (args.class) {
        const spec = req.deviceClasses?.[args.class];
        if (!spec) throw new UnknownDeviceClassError(args.class, Object.keys(req.deviceClasses ?? {}).sort());
        pool = all.filter((n) => inClass(n, spec));
        if (pool.length === 0) {
          throw new NoMatchingNicError(`DeviceClass "${args.class}" (${describeClass(spec)})`, all.map((n) => `${n.name} (${n.vendor ?? '?'}:${n.product ?? '?'})`));
        }
      }
      return { nics: take(pool, nics, all), reason: 'devClass' };
    }
    case 'topology':
      return { nics: topology(all, nics, req.gpuNumaNodes ?? []), reason: 'topology' };
    case 'perfOpt':
      return { nics: perfOpt(all, nics, targetText), reason: 'perfOpt' };
    case 'costOpt':
      return { nics: costOpt(all, nics, targetText), reason: 'costOpt' };
    default:
      return { nics: take(all, nics, all), reason: 'none' };
  }
}

/**
 * MultiNicNetwork annotation: with the value `allow`, a pod that asks for every NIC gets the NICs
 * present when some of the host's NICs of the network are missing, instead of an error (docs/nics.md).
 */
export const PARTIAL_ATTACH_ANNOTATION = 'multinic.fms.io/partial-attach';

/**
 * True when the pod leaves the count to a policy that gives every candidate: no device-plugin
 * devices, no `masters`, no `nics`, and strategy none (or unknown), topology, devClass without
 * `class`, or perfOpt without a target. Such a pod expects the host's whole NIC pool, so a NIC of
 * the pool that is missing right now must not silently shrink what it gets.
 */
export function asksForEveryNic(req: Pick<SelectionRequest, 'strategy' | 'policyTarget' | 'args' | 'deviceIDs'>): boolean {
  const args = req.args ?? {};
  if (req.deviceIDs && req.deviceIDs.length > 0) return false;
  if (mastersOf(args).length > 0 || (args.nics ?? 0) > 0) return false;
  const strategy = STRATEGIES.includes(req.strategy ?? '') ? req.strategy : 'none';
  if (strategy === 'devClass') return !args.class;
  if (strategy === 'perfOpt') return !(args.target ?? req.policyTarget);
  return strategy === 'none' || strategy === 'topology';
}

function mastersOf(args: NonNullable<SelectionRequest['args']>): string[] {
  const raw = args.masters ?? args.master;
  if (raw === undefined) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map(String).map((s) => s.trim()).filter((s) => s !== '');
}

function take(pool: NicCandidate[], nics: number, all: NicCandidate[]): NicCandidate[] {
  if (nics === 0) return pool;
  if (nics > pool.length) {
    throw new NoMatchingNicError(`nics: ${nics}`, pool.length === all.length ? pool.map((n) => n.name) : all.map((n) => n.name), `this host has ${pool.length} NIC(s) that qualify; ask for at most ${pool.length}`);
  }
  return pool.slice(0, nics);
}

const hex = (s: string | undefined): string => (s ?? '').trim().toLowerCase().replace(/^0x/, '');

function inClass(n: NicCandidate, spec: DeviceClassSpec): boolean {
  return spec.ids.some((id) => hex(id.vendor) === hex(n.vendor) && id.products.some((p) => hex(p) === hex(n.product)));
}

function describeClass(spec: DeviceClassSpec): string {
  return spec.ids.map((id) => `${hex(id.vendor)}:{${id.products.map(hex).join(',')}}`).join(' ');
}

/**
 * Prefers NICs on the NUMA nodes of the pod's GPUs: weight = GPUs on the NIC's node; stable by
 * interface order. Only reorders when the pod asked for fewer NICs than there are (as upstream);
 * NICs with unknown NUMA keep weight 0 instead of being dropped.
 */
function topology(all: NicCandidate[], nics: number, gpuNodes: number[]): NicCandidate[] {
  if (nics === 0 || nics >= all.length) return take(all, nics, all);
  const weight = (n: NicCandidate) => (n.numaNode === undefined || n.numaNode < 0 ? 0 : gpuNodes.filter((g) => g === n.numaNode).length);
  const ranked = [...all].sort((a, b) => weight(b) - weight(a) || a.interfaceIndex - b.interfaceIndex);
  return byIndex(ranked.slice(0, nics));
}

function targetMbps(text: string | undefined): number | undefined {
  return text === undefined || text === '' ? undefined : parseBandwidth(text);
}

const speedOf = (n: NicCandidate) => (n.speed !== undefined && n.speed > 0 ? n.speed : 0);
const byIndex = (list: NicCandidate[]) => [...list].sort((a, b) => a.interfaceIndex - b.interfaceIndex);

/**
 * perfOpt: fastest NICs first (speed desc, then fewest allocations, then interface order), taken
 * until their speeds reach the target; without a target, the `nics` fastest (all when nics is 0).
 */
function perfOpt(all: NicCandidate[], nics: number, target: string | undefined): NicCandidate[] {
  const want = targetMbps(target);
  const ranked = [...all].sort((a, b) => speedOf(b) - speedOf(a) || (a.allocations ?? 0) - (b.allocations ?? 0) || a.interfaceIndex - b.interfaceIndex);
  if (want === undefined) return byIndex(take(ranked, nics, all));
  const out: NicCandidate[] = [];
  let sum = 0;
  for (const n of ranked) {
    if (sum >= want) break;
    out.push(n);
    sum += speedOf(n);
  }
  if (sum < want) throw unreachable(want, all);
  if (nics > 0 && out.length > nics) throw new NoMatchingNicError(`target ${formatBandwidth(want)} within nics: ${nics}`, all.map(label), `the ${nics} fastest NICs give ${formatBandwidth(ranked.slice(0, nics).reduce((s, n) => s + speedOf(n), 0))}`);
  return byIndex(out);
}

/**
 * costOpt: the fewest NICs whose speeds reach the target; among sets of that size, the one that
 * over-provisions least (smallest total speed), then fewest allocations, then interface order —
 * leaving the fast NICs for pods that need them.
 */
function costOpt(all: NicCandidate[], nics: number, target: string | undefined): NicCandidate[] {
  const want = targetMbps(target);
  if (want === undefined) {
    // No target: the cheapest answer is one NIC (or `nics`), the least loaded in interface order.
    const ranked = [...all].sort((a, b) => (a.allocations ?? 0) - (b.allocations ?? 0) || a.interfaceIndex - b.interfaceIndex);
    return byIndex(take(ranked, nics || 1, all));
  }
  const desc = [...all].sort((a, b) => speedOf(b) - speedOf(a));
  let k = 0;
  for (let sum = 0; k < desc.length && sum < want; k++) sum += speedOf(desc[k] as NicCandidate);
  if (desc.slice(0, k).reduce((s, n) => s + speedOf(n), 0) < want) throw unreachable(want, all);
  if (nics > 0 && k > nics) throw new NoMatchingNicError(`target ${formatBandwidth(want)} within nics: ${nics}`, all.map(label));
  let best: NicCandidate[] | undefined;
  let bestKey: number[] = [];
  const consider = (set: NicCandidate[]) => {
    const total = set.reduce((s, n) => s + speedOf(n), 0);
    if (total < want) return;
    const key = [total, set.reduce((s, n) => s + (n.allocations ?? 0), 0), ...set.map((n) => n.interfaceIndex).sort((a, b) => a - b)];
    if (!best || lexLess(key, bestKey)) {
      best = set;
      bestKey = key;
    }
  };
  if (binomial(all.length, k) <= 20_000) combinations(all, k, consider);
  else consider(desc.slice(0, k));
  return byIndex(best as unknown as NicCandidate[]);
}

function unreachable(want: number, all: NicCandidate[]): NoMatchingNicError {
  const total = all.reduce((s, n) => s + speedOf(n), 0);
  return new NoMatchingNicError(`target ${formatBandwidth(want)}`, all.map(label), `all NICs together give ${formatBandwidth(total)}; lower the target`);
}

const label = (n: NicCandidate) => `${n.name} (${speedOf(n) ? formatBandwidth(speedOf(n)) : 'speed unknown'})`;

function lexLess(a: number[], b: number[]): boolean {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return (a[i] as number) < (b[i] as number);
  return a.length < b.length;
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

function combinations<T>(items: T[], k: number, visit: (set: T[]) => void, start = 0, acc: T[] = []): void {
  if (acc.length === k) {
    visit([...acc]);
    return;
  }
  for (let i = start; i <= items.length - (k - acc.length); i++) {
    acc.push(items[i] as T);
    combinations(items, k, visit, i + 1, acc);
    acc.pop();
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
