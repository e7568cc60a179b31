// Structured-parameters allocation of one ResourceClaim, as the kube-scheduler's DRA plugin does it,
// for the lab's scheduler stand-in (src/lab/dra.ts): per node, the devices of that node's
// ResourceSlices (newest pool generation) not allocated to another claim, filtered by the
// request's DeviceClass selectors and its own (CEL subset of ./cel.ts), `count` of them
// (allocationMode ExactCount, default 1) or all of them (All), with every `matchAttribute`
// constraint holding across the requests it names (none named: all). First fit in node order, then
// device order. `firstAvailable` and `distinctAttribute` are refused by name. Pure.
import { CelRuntimeError, UnsupportedCelError, evalCel, parseCel } from './cel.js';
import type { Device, DeviceAttribute, DeviceRequestAllocationResult, DraDeviceClass, ResourceClaimSpec, ResourceSlice } from './types.js';

export interface PoolDevice {
  driver: string;
  pool: string;
  device: Device;
}

export const deviceKey = (d: { driver: string; pool: string; device: string | Device }): string =>
  `${d.driver}/${d.pool}/${typeof d.device === 'string' ? d.device : d.device.name}`;

export type Allocation = { ok: true; node: string; results: DeviceRequestAllocationResult[] } | { ok: false; reasons: Array<{ node: string; reason: string }> };

export interface AllocateInput {
  spec: ResourceClaimSpec;
  /** Candidate nodes in the order to try (the pod's node alone when it is bound). */
  nodes: readonly string[];
  slices: readonly ResourceSlice[];
  classes: ReadonlyMap<string, DraDeviceClass>;
  /** deviceKey of every device allocated to another claim. */
  inUse: ReadonlySet<string>;
}

/** The devices a node offers: its slices and all-node slices, newest generation of each pool only. */
export function nodeDevices(slices: readonly ResourceSlice[], node: string): PoolDevice[] {
  const newest = new Map<string, number>();
  for (const s of slices) {
    const k = `${s.spec.driver}/${s.spec.pool.name}`;
    newest.set(k, Math.max(newest.get(k) ?? -1, s.spec.pool.generation));
  }
  const out: PoolDevice[] = [];
  const sorted = [...slices].sort((a, b) => a.spec.driver.localeCompare(b.spec.driver) || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  for (const s of sorted) {
    if (s.spec.nodeName !== node && !s.spec.allNodes) continue;
    if (s.spec.pool.generation !== newest.get(`${s.spec.driver}/${s.spec.pool.name}`)) continue;
    for (const d of s.spec.devices ?? []) out.push({ driver: s.spec.driver, pool: s.spec.pool.name, device: d });
  }
  return out;
}

/** A device's value of a fully qualified attribute (`domain/name`; the driver's own domain may be left off). */
export function attributeValue(d: PoolDevice, qualified: string): string | number | boolean | undefined {
  const slash = qualified.lastIndexOf('/');
  const domain = slash < 0 ? d.driver : qualified.slice(0, slash);
  const name = qualified.slice(slash + 1);
  const a: DeviceAttribute | undefined = d.device.attributes?.[`${domain}/${name}`] ?? (domain === d.driver ? d.device.attributes?.[name] : undefined);
  return a?.string ?? a?.int ?? a?.bool ?? a?.version;
}

interface Need {
  name: string;
  all: boolean;
  count: number;
  candidates: PoolDevice[];
}

/** Throws UnsupportedCelError for a selector outside the subset. */
function matches(d: PoolDevice, exprs: readonly string[], errors: string[]): boolean {
  for (const e of exprs) {
    try {
      if (!evalCel(parseCel(e), d.device, d.driver)) return false;
    } catch (err) {
      if (err instanceof CelRuntimeError) {
        errors.push(`${d.device.name}: ${err.message}`);
        return false;
      }
      throw err;
    }
  }
  return true;
}

const MAX_STEPS = 200_000;

function allocateOnNode(input: AllocateInput, node: string): { results: DeviceRequestAllocationResult[] } | { reason: string } {
  const requests = input.spec.devices?.requests ?? [];
  const constraints = input.spec.devices?.constraints ?? [];
  if (!requests.length) return { results: [] };
  for (const c of constraints) {
    if (c.distinctAttribute !== undefined) return { reason: `constraint distinctAttribute is not simulated by the lab scheduler` };
    if (!c.matchAttribute) return { reason: 'a constraint without matchAttribute' };
  }
  const free = nodeDevices(input.slices, node).filter((d) => !input.inUse.has(deviceKey(d)));
  const needs: Need[] = [];
  for (const r of requests) {
    if (!r.exactly) return { reason: `request "${r.name}": only "exactly" requests are simulated by the lab scheduler (not firstAvailable)` };
    const cls = input.classes.get(r.exactly.deviceClassName);
    if (!cls) return { reason: `request "${r.name}": DeviceClass ${r.exactly.deviceClassName} not found` };
    const exprs = [...(cls.spec.selectors ?? []), ...(r.exactly.selectors ?? [])].map((s) => s.cel.expression);
    const errors: string[] = [];
    const candidates = free.filter((d) => matches(d, exprs, errors));
    const all = r.exactly.allocationMode === 'All';
    const count = all ? candidates.length : (r.exactly.count ?? 1);
    if (all ? candidates.length === 0 : candidates.length < count) {
      const why = errors.length ? ` (${errors.slice(0, 2).join('; ')})` : '';
      return { reason: `request "${r.name}": ${candidates.length} free device(s) of DeviceClass ${r.exactly.deviceClassName} match its selectors, ${all ? 'at least 1' : count} wanted${why}` };
    }
    needs.push({ name: r.name, all, count, candidates });
  }
  const groups = constraints.map((c) => ({ attr: c.matchAttribute!, requests: new Set(c.requests?.length ? c.requests : requests.map((r) => r.name)) }));
  const chosen: Array<{ need: string; d: PoolDevice }> = [];
  const taken = new Set<string>();
  let steps = 0;
  const consistent = (): boolean =>
    groups.every((g) => {
      const vals = chosen.filter((c) => g.requests.has(c.need)).map((c) => attributeValue(c.d, g.attr));
      return vals.every((v) => v !== undefined && v === vals[0]);
    });
  const pick = (ni: number, from: number, left: number): boolean => {
    if (++steps > MAX_STEPS) return false;
    if (ni === needs.length) return true;
    const n = needs[ni]!;
    if (left === 0) return pick(ni + 1, 0, needs[ni + 1]?.count ?? 0);
    for (let i = from; i <= n.candidates.length - left; i++) {
      const d = n.candidates[i]!;
      const k = deviceKey(d);
      if (taken.has(k)) continue;
      chosen.push({ need: n.name, d });
      taken.add(k);
      if (consistent() && pick(ni, i + 1, left - 1)) return true;
      chosen.pop();
      taken.delete(k);
    }
    return false;
  };
  if (pick(0, 0, needs[0]!.count)) return { results: chosen.map((c) => ({ request: c.need, driver: c.d.driver, pool: c.d.pool, device: c.d.device.name })) };
  if (steps > MAX_STEPS) return { reason: `no allocation found within ${MAX_STEPS} steps` };
  const g = groups.find((x) => needs.some((n) => x.requests.has(n.name) && n.candidates.some((d) => attributeValue(d, x.attr) === undefined)));
  const lacking = g ? needs.filter((n) => g.requests.has(n.name)).flatMap((n) => n.candidates.filter((d) => attributeValue(d, g.attr) === undefined).map((d) => `${d.driver}/${d.device.name}`)) : [];
  const names = groups.map((x) => `matchAttribute ${x.attr} over ${[...x.requests].join(', ')}`).join(' and ');
  return { reason: `no choice of devices satisfies ${names}${lacking.length ? ` (without the attribute: ${[...new Set(lacking)].join(', ')})` : ''}` };
}

/** First node, in the given order, that can satisfy the whole claim; else why each node cannot. */
export function allocateClaim(input: AllocateInput): Allocation {
  const reasons: Array<{ node: string; reason: string }> = [];
  for (const node of input.nodes) {
    let r: { results: DeviceRequestAllocationResult[] } | { reason: string };
    try {
      r = allocateOnNode(input, node);
    } catch (e) {
      if (e instanceof UnsupportedCelError) r = { reason: e.message };
      else throw e;
    }
    if ('results' in r) return { ok: true, node, results: r.results };
    reasons.push({ node, reason: r.reason });
  }
  return { ok: false, reasons };
}
