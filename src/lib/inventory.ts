// The host inventory: HostInterface objects as a v1 List, a typed List (`kubectl get
// hostinterfaces -o yaml`) or multi-document YAML/JSON. Parsing validates each object against the
// CRD schema and its addresses; nicsOf() gives the planner and the pool checks one flat, parsed
// view. Pure.
import type { HostInterface } from './crds/types.gen.js';
import { checkObject, NetworkInputError } from './objects.js';
import { flattenLists, type ManifestDoc } from './manifest.js';
import { containsAddr, formatCidr, parseCidr, parseIp, tryParseCidr, type Cidr, type Family } from './net/ip.js';

/** One host NIC on a network of the requested family, addresses parsed. */
export interface Nic {
  hostName: string;
  interfaceName: string;
  /** The NIC's network (normalised: host bits cleared). */
  net: Cidr;
  /** `formatCidr(net)`, formatted once per distinct network text. */
  key: string;
  /** The host's ordinal among the distinct host names, in inventory order (array index for per-host state). */
  host: number;
  /** The NIC's address text as the inventory gives it ('' when missing). */
  hostIP: string;
  mtu: number | undefined;
  /** Mb/s; undefined when unknown (0 in the resource). */
  speed: number | undefined;
}

/**
 * Parses HostInterface documents (Lists are flattened). Throws NetworkInputError for another kind,
 * schema violations, unparsable or inconsistent addresses, or a host listed twice.
 */
export function parseInventory(docs: readonly ManifestDoc[]): HostInterface[] {
  const hosts: HostInterface[] = [];
  const seen = new Map<string, string>();
  // Thousands of NICs share a few network texts: each distinct valid one is parsed once.
  const nets = new Map<string, Cidr>();
  for (const doc of flattenLists(docs)) {
    const hi = checkObject(doc, 'HostInterface') as unknown as HostInterface;
    const at = `${doc.source} (HostInterface "${hi.metadata.name ?? ''}")`;
    const prev = seen.get(hi.spec.hostName);
    if (prev) throw new NetworkInputError(at, 'spec.hostName', `host "${hi.spec.hostName}" is already described by ${prev}`, 'keep one HostInterface per host');
    seen.set(hi.spec.hostName, doc.source);
    hi.spec.interfaces.forEach((ifc, i) => {
      checkAddress(at, i, ifc.netAddress, ifc.hostIP, 4, nets);
      checkAddress(at, i, ifc.netAddressV6, ifc.hostIPv6, 6, nets);
    });
    hosts.push(hi);
  }
  return hosts;
}

function checkAddress(at: string, i: number, net: string | undefined, ip: string | undefined, family: Family, nets: Map<string, Cidr>): void {
  const netKey = family === 4 ? 'netAddress' : 'netAddressV6';
  const ipKey = family === 4 ? 'hostIP' : 'hostIPv6';
  const field = `spec.interfaces[${i}]`;
  let c: Cidr | undefined;
  if (net) {
    try {
      c = nets.get(net);
      if (!c) nets.set(net, (c = parseCidr(net)));
    } catch (e) {
      throw new NetworkInputError(at, `${field}.${netKey}`, (e as Error).message, 'write the NIC network with host bits zero, e.g. 10.0.1.0/24');
    }
  }
  if (ip) {
    let a: { family: Family; addr: bigint };
    try {
      a = parseIp(ip);
    } catch (e) {
      throw new NetworkInputError(at, `${field}.${ipKey}`, (e as Error).message, 'write the NIC address without a prefix, e.g. 10.0.1.1');
    }
    if (c && !containsAddr(c, a.family, a.addr)) {
      throw new NetworkInputError(at, `${field}.${ipKey}`, `${ip} is not inside ${netKey} ${formatCidr(c)}`, `fix ${ipKey} or ${netKey} so the address lies in the NIC network`);
    }
  }
}

/**
 * Every NIC with a network of `family` (IPv4: netAddress/hostIP; IPv6: netAddressV6/hostIPv6, or
 * netAddress/hostIP when those hold IPv6). NICs without a parsable network are left out: this is
 * also called by the agent on inventories that were never through parseInventory.
 */
export function nicsOf(hosts: readonly HostInterface[], family: Family): Nic[] {
  const out: Nic[] = [];
  // Thousands of NICs share a few network texts: parse each distinct one once (Cidr is immutable).
  const nets = new Map<string, { net: Cidr; key: string } | undefined>();
  const hostNo = new Map<string, number>();
  for (const h of hosts) {
    let no = hostNo.get(h.spec.hostName);
    if (no === undefined) hostNo.set(h.spec.hostName, (no = hostNo.size));
    for (const ifc of h.spec.interfaces) {
      let netText = ifc.netAddress;
      let ip = ifc.hostIP;
      if (family === 6 && ifc.netAddressV6) {
        netText = ifc.netAddressV6;
        ip = ifc.hostIPv6;
      }
      if (!netText) continue;
      let parsed = nets.get(netText);
      if (parsed === undefined && !nets.has(netText)) {
        const net = tryParseCidr(netText, { strict: false });
        nets.set(netText, (parsed = net && { net, key: formatCidr(net) }));
      }
      if (!parsed || parsed.net.family !== family) continue;
      out.push({
        hostName: h.spec.hostName,
        interfaceName: ifc.interfaceName,
        net: parsed.net,
        key: parsed.key,
        host: no,
        hostIP: ip ?? '',
        mtu: ifc.mtu,
        speed: ifc.speed ? ifc.speed : undefined,
      });
    }
  }
  return out;
}
