// macvlan L3 shims (docs/design.md §4): for each host NIC carrying a macvlan + vlanMode l3 network, a
// host-side macvlan sibling in bridge mode holding the gateway (first usable address of the host's
// pod block) with the pod block's prefix. Needed because a macvlan child cannot reach its parent's
// own addresses: the pods' gateway has to be a sibling on the same parent. Only links named
// `mnshim<parent ifindex>` are ever changed.
import type { CIDR, MultiNicNetwork } from '../lib/crds/types.gen.js';
import { SHIM_PREFIX } from '../lib/agent/discovery.js';
import { shimGateway, usesShim } from '../lib/agent/addressing.js';
import { networkIpam, type ParsedIpam } from './state.js';
import { parseCidr } from '../lib/net/ip.js';
import type { HostLink, HostNetwork, LinkOp } from './hostnet.js';

/** Shim name for a parent NIC: ≤ 15 chars (IFNAMSIZ) for any ifindex below 10^9. */
export const shimName = (parentIndex: number): string => `${SHIM_PREFIX}${parentIndex}`;

/**
 * Desired shim addresses, per parent NIC name: `<gateway>/<pod block prefix>`. A gateway in
 * `heldByPods` is left off: a pod attached before the network changed into shim mode holds that
 * address, and the host taking it too would cut the pod off (the agent reports the pool NotReady).
 */
export function desiredShims(nets: Array<{ network: MultiNicNetwork; cidr?: CIDR; ipam?: ParsedIpam }>, hostName: string, heldByPods: ReadonlySet<string> = new Set()): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const { network, cidr, ipam: parsed } of nets) {
    if (!cidr) continue;
    // An ipam that does not parse is reported where it matters: allocation answers NotReady naming the field.
    const ipam = (parsed ?? networkIpam(network)).config;
    if (!ipam) continue;
    if (!usesShim(network.spec.plugin.type, ipam.vlanMode)) continue;
    for (const e of cidr.spec.cidr) {
      for (const h of e.hosts) {
        if (h.hostName !== hostName) continue;
        const gateway = shimGateway(h.podCIDR);
        if (heldByPods.has(gateway)) continue;
        const addr = `${gateway}/${parseCidr(h.podCIDR).prefix}`;
        const list = out.get(h.interfaceName) ?? [];
        if (!list.includes(addr)) list.push(addr);
        out.set(h.interfaceName, list);
      }
    }
  }
  return out;
}

export interface ShimReconcileResult {
  ops: LinkOp[];
  /** Parent NICs wanted but absent on the host (nothing created for them). */
  missingParents: string[];
}

/** Operations from the links now to the desired shims. Pure given `links`. */
export function diffShims(links: HostLink[], want: Map<string, string[]>): ShimReconcileResult {
  const ops: LinkOp[] = [];
  const missingParents: string[] = [];
  const wantedNames = new Set<string>();
  for (const [parent, addrs] of [...want].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const p = links.find((l) => l.name === parent);
    if (!p) {
      missingParents.push(parent);
      continue;
    }
    const name = shimName(p.ifindex);
    wantedNames.add(name);
    const shim = links.find((l) => l.name === name);
    const moved = shim !== undefined && shim.parent !== undefined && shim.parent !== parent;
    if (moved) {
      ops.push({ op: 'link-del', name });
    }
    const fresh = !shim || moved;
    if (fresh) ops.push({ op: 'macvlan-add', name, parent });
    const have = fresh ? [] : shim.addresses;
    for (const a of have) if (!addrs.includes(a)) ops.push({ op: 'addr-del', dev: name, address: a });
    for (const a of addrs) if (!have.includes(a)) ops.push({ op: 'addr-add', dev: name, address: a });
    if (fresh || !shim.up) ops.push({ op: 'link-up', name });
  }
  for (const l of links) {
    if (l.name.startsWith(SHIM_PREFIX) && /^\d+$/.test(l.name.slice(SHIM_PREFIX.length)) && !wantedNames.has(l.name)) ops.push({ op: 'link-del', name: l.name });
  }
  return { ops, missingParents };
}

/**
 * Reconciles shims. A failure part-way through undoes the shims this call created (docs/conventions.md §8) and
 * rejects naming what was rolled back; existing shims are left for the next pass.
 */
export async function reconcileShims(hostNet: HostNetwork, want: Map<string, string[]>): Promise<ShimReconcileResult> {
  const res = diffShims(await hostNet.links(), want);
  if (res.ops.length === 0) return res;
  try {
    await hostNet.apply(res.ops);
  } catch (e) {
    const created = res.ops.filter((o) => o.op === 'macvlan-add').map((o) => o.name);
    const after = new Set((await hostNet.links().catch(() => [] as HostLink[])).map((l) => l.name));
    const undo = created.filter((n) => after.has(n));
    for (const name of undo) await hostNet.apply([{ op: 'link-del', name }]).catch(() => undefined);
    throw new Error(`failed to reconcile macvlan shims: ${(e as Error).message}${undo.length ? ` (rolled back: removed ${undo.join(', ')})` : ''}`, { cause: e });
  }
  return res;
}
