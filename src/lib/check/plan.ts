// Check planning: which NICs each network has on which host (from the CIDR resource, or from the
// HostInterfaces when there is no CIDR), which host pairs to test, one test per NIC per pair, and
// server ports. Pure.
import type { CIDR, HostInterface, MultiNicNetwork } from '../crds/types.gen.js';
import { UserError } from '../errors.js';
import { compareCidr, tryParseCidr } from '../net/ip.js';
import { ipamConfigOf } from '../network.js';
import type { CheckGroup, CheckNetwork, CheckOptions, CheckPlan, CheckTest, Expectation, NicEndpoint, NicNetwork, PairMode } from './types.js';

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function nicFacts(his: HostInterface[], host: string, interfaceName: string): Pick<NicEndpoint, 'speedMbps' | 'physical'> {
  const nic = his.find((h) => h.spec.hostName === host || h.metadata.name === host)?.spec.interfaces.find((i) => i.interfaceName === interfaceName);
  return { speedMbps: nic?.speed ?? 0, physical: !!nic?.pciAddress };
}

/** A network's NIC layout from its CIDR resource (the agents' claimed host blocks). */
export function networkFromCidr(name: string, cidr: CIDR, his: HostInterface[]): CheckNetwork {
  const nics: NicNetwork[] = [...cidr.spec.cidr]
    .sort((a, b) => a.interfaceIndex - b.interfaceIndex)
    .map((e) => ({
      index: e.interfaceIndex,
      netAddress: e.netAddress,
      vlanCIDR: e.vlanCIDR,
      endpoints: e.hosts
        .map((h) => ({ host: h.hostName, interfaceName: h.interfaceName, hostIP: h.hostIP, podCIDR: h.podCIDR, ...nicFacts(his, h.hostName, h.interfaceName) }))
        .sort((a, b) => byName(a.host, b.host)),
    }));
  const shimGateway = cidr.spec.config.type === 'macvlan' && (cidr.spec.config.vlanMode === 'l3' || cidr.spec.config.vlanMode === 'l3s');
  return { name, source: 'cidr', routeTable: cidr.spec.config.name || name, subnet: cidr.spec.config.subnet || undefined, shimGateway, nics };
}

/**
 * A network's NIC layout from the HostInterfaces alone: NIC networks in `masterNets` order, or
 * every NIC network found sorted by address (docs/design.md §3.2 index order).
 */
export function networkFromHostInterfaces(net: MultiNicNetwork, his: HostInterface[]): CheckNetwork {
  const name = net.metadata.name ?? '';
  const found = new Set<string>();
  for (const hi of his) for (const i of hi.spec.interfaces) if (i.netAddress) found.add(i.netAddress);
  const order = net.spec.masterNets?.length
    ? net.spec.masterNets
    : [...found].sort((a, b) => {
        const ca = tryParseCidr(a);
        const cb = tryParseCidr(b);
        return ca && cb ? compareCidr(ca, cb) : byName(a, b);
      });
  const nics: NicNetwork[] = order.map((netAddress, index) => ({
    index,
    netAddress,
    endpoints: his
      .flatMap((hi) =>
        hi.spec.interfaces
          .filter((i) => i.netAddress === netAddress)
          .slice(0, 1)
          .map((i) => ({ host: hi.spec.hostName, interfaceName: i.interfaceName, hostIP: i.hostIP, speedMbps: i.speed ?? 0, physical: !!i.pciAddress })),
      )
      .sort((a, b) => byName(a.host, b.host)),
  }));
  const vlanMode = ipamConfigOf(net)?.vlanMode;
  const shimGateway = net.spec.plugin.type === 'macvlan' && (vlanMode === 'l3' || vlanMode === 'l3s');
  return { name, source: 'hostinterfaces', routeTable: name, shimGateway, nics };
}

/** Ordered (client, server) host pairs. `all`: every ordered pair; `ring`: each host to the next; `star`: every other host to the first. */
export function hostPairs(hosts: string[], mode: PairMode): Array<[client: string, server: string]> {
  const hs = [...new Set(hosts)].sort(byName);
  const out: Array<[string, string]> = [];
  if (hs.length < 2) return out;
  if (mode === 'all') {
    for (const a of hs) for (const b of hs) if (a !== b) out.push([a, b]);
  } else if (mode === 'ring') {
    const seen = new Set<string>();
    hs.forEach((a, i) => {
      const b = hs[(i + 1) % hs.length] as string;
      if (!seen.has(`${a}>${b}`)) out.push([a, b]);
      seen.add(`${a}>${b}`);
    });
  } else {
    const hub = hs[0] as string;
    for (const a of hs.slice(1)) out.push([a, hub]);
  }
  return out;
}

/** Compiles a shell-style glob (`*`, `?`) over a whole test id. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

export const testId = (network: string, client: string, server: string, nic: number): string => `${network}/${client}->${server}/nic${nic}`;

function expectationFor(client: NicEndpoint | undefined, server: NicEndpoint | undefined, opts: Pick<CheckOptions, 'expectGbps'>): { expectedGbps?: number; expectation: Expectation } {
  if (opts.expectGbps !== undefined) return { expectedGbps: opts.expectGbps, expectation: 'flag' };
  // A virtual NIC (veth, no PCI device) always reports a nominal 10000 Mb/s: no promise to test against.
  if (client?.physical && server?.physical && (client.speedMbps ?? 0) > 0 && (server.speedMbps ?? 0) > 0) {
    return { expectedGbps: Math.min(client.speedMbps ?? 0, server.speedMbps ?? 0) / 1000, expectation: 'link-speed' };
  }
  return { expectation: 'none' };
}

/**
 * Plans the run: hosts = every host on the networks, narrowed by `nodes` and `selectedHosts`
 * (the --node-selector result); per network, per host pair, one test per NIC network. Throws
 * UserError (exit 2) for input that cannot produce a test.
 */
export function planCheck(networks: CheckNetwork[], opts: CheckOptions, selectedHosts?: string[]): CheckPlan {
  const known = new Set(networks.flatMap((n) => n.nics.flatMap((nic) => nic.endpoints.map((e) => e.host))));
  for (const n of opts.nodes) {
    if (!known.has(n)) {
      throw new UserError(`node "${n}" has no NIC on ${networks.length === 1 ? `network "${networks[0]?.name}"` : 'the networks checked'}`, {
        hint: `hosts found: ${[...known].sort(byName).join(', ') || '(none)'}; check the name (kubectl get hostinterfaces)`,
      });
    }
  }
  let hosts = [...known].sort(byName);
  if (opts.nodes.length) hosts = hosts.filter((h) => opts.nodes.includes(h));
  if (selectedHosts) hosts = hosts.filter((h) => selectedHosts.includes(h));
  if (hosts.length < 2) {
    throw new UserError(`check needs at least 2 hosts, found ${hosts.length}${hosts.length ? ` (${hosts.join(', ')})` : ''}`, {
      hint: opts.nodes.length || opts.nodeSelector ? 'widen --nodes / --node-selector' : 'wait until the agent runs on 2 or more hosts (kubectl get hostinterfaces)',
    });
  }
  const filter = opts.test ? globToRegExp(opts.test) : undefined;
  const nextPort = new Map<string, number>();
  const groups: CheckGroup[] = [];
  const tests: CheckTest[] = [];
  for (const net of networks) {
    for (const [clientHost, serverHost] of hostPairs(hosts, opts.pairs)) {
      const group: CheckGroup = { id: `${net.name}/${clientHost}->${serverHost}`, network: net.name, clientHost, serverHost, tests: [] };
      for (const nic of net.nics) {
        const id = testId(net.name, clientHost, serverHost, nic.index);
        if (filter && !filter.test(id)) continue;
        const clientNic = nic.endpoints.find((e) => e.host === clientHost);
        const serverNic = nic.endpoints.find((e) => e.host === serverHost);
        const port = nextPort.get(serverHost) ?? opts.portBase;
        if (port > 65535) {
          throw new UserError(`too many tests for host "${serverHost}": server ports from ${opts.portBase} pass 65535`, { hint: 'lower --port-base, or narrow the run with --pairs ring, --nodes or --test' });
        }
        nextPort.set(serverHost, port + 1);
        group.tests.push({
          id,
          group: group.id,
          network: net.name,
          routeTable: net.routeTable,
          subnet: net.subnet,
          shimGateway: net.shimGateway,
          nicIndex: nic.index,
          netAddress: nic.netAddress,
          clientHost,
          serverHost,
          clientNic,
          serverNic,
          port,
          ...expectationFor(clientNic, serverNic, opts),
        });
      }
      if (group.tests.length) {
        groups.push(group);
        tests.push(...group.tests);
      }
    }
  }
  if (!tests.length) {
    throw new UserError(opts.test ? `--test "${opts.test}" matches no test` : 'no NIC to test on the selected networks', {
      hint: opts.test ? `test ids look like ${testId(networks[0]?.name ?? 'NETWORK', hosts[0] ?? 'A', hosts[1] ?? 'B', 0)}` : 'check the network has NICs (kubectl multinic status)',
    });
  }
  if (opts.via === 'claim' && opts.keepPods) {
    // A claimed NIC is held by one claim at a time: kept pods would hold their host's NICs from every later group there.
    const seen = new Map<string, string>();
    for (const g of groups) {
      for (const h of [g.clientHost, g.serverHost]) {
        const other = seen.get(h);
        if (other && other !== g.id) {
          throw new UserError(`--keep-pods with --via claim: host pairs ${other} and ${g.id} share host ${h}, and the kept pods' claims would hold its NICs from the later pair`, {
            hint: 'keep the pods of one host pair at a time (e.g. --nodes A,B --pairs star), or drop --keep-pods',
          });
        }
        seen.set(h, g.id);
      }
    }
  }
  return { networks, hosts, groups, tests };
}

/**
 * The next group to start: the first pending one whose hosts are not in a running group, so
 * concurrent pairs do not share a NIC and spoil each other's figures. When every pending group
 * shares a host with a running one, none (wait for one to finish).
 */
export function nextRunnable(pending: CheckGroup[], busyHosts: ReadonlySet<string>): CheckGroup | undefined {
  return pending.find((g) => !busyHosts.has(g.clientHost) && !busyHosts.has(g.serverHost));
}

/** Validates raw flag values; throws UserError naming the flag. */
export function validateCheckOptions(o: CheckOptions): CheckOptions {
  const bad = (flag: string, why: string, hint: string): never => {
    throw new UserError(`invalid --${flag}: ${why}`, { hint });
  };
  if (!(o.duration > 0) || o.duration > 3600) bad('duration', `${o.duration}`, 'give seconds between 1 and 3600, e.g. --duration 5');
  if (!Number.isInteger(o.parallel) || o.parallel < 1 || o.parallel > 128) bad('parallel', `${o.parallel}`, 'give a number of streams from 1 to 128');
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1) bad('concurrency', `${o.concurrency}`, 'give a number of host pairs tested at once, 1 or more');
  if (o.expectGbps !== undefined && !(o.expectGbps > 0)) bad('expect-gbps', `${o.expectGbps}`, 'give the expected Gbit/s per NIC, e.g. --expect-gbps 25');
  if (!(o.tolerance >= 0 && o.tolerance < 1)) bad('tolerance', `${o.tolerance}`, 'give the accepted shortfall as a fraction from 0 to below 1, e.g. 0.2');
  if (!Number.isInteger(o.portBase) || o.portBase < 1 || o.portBase > 65535) bad('port-base', `${o.portBase}`, 'give a TCP port from 1 to 65535');
  if (!o.image.trim()) bad('image', 'empty', 'give an image that has iperf3 ≥ 3.10, e.g. networkstatic/iperf3');
  return o;
}
