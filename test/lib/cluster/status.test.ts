import { describe, expect, it } from 'vitest';
import { cidrFingerprint } from '../../../src/lib/cluster/claim.js';
import { CLAIM_ERRORS_ANNOTATION, ROUTES_ANNOTATION, claimErrors, computeStatus, MAX_HOST_MESSAGE, MAX_LISTED_HOSTS, parseRouteReports, withRouteReport, type RouteReport, terminalFailure } from '../../../src/lib/cluster/status.js';
import type { CIDRSpec, HostInterface, MultiNicNetwork } from '../../../src/lib/crds/types.gen.js';

const net = (vlanMode: string, multiNICIPAM = true, type = 'multi-nic-ipam'): MultiNicNetwork => ({
  apiVersion: 'multinic.fms.io/v1',
  kind: 'MultiNicNetwork',
  metadata: { name: 'net', generation: 3 },
  spec: { subnet: '192.168.0.0/16', ipam: JSON.stringify({ type, hostBlock: 6, interfaceBlock: 2, vlanMode }), multiNICIPAM, plugin: { cniVersion: '0.3.0', type: 'ipvlan' } },
});
const cidr: CIDRSpec = {
  config: { name: 'net', type: 'ipvlan', subnet: '192.168.0.0/16', masterNets: ['10.0.1.0/24'], hostBlock: 6, interfaceBlock: 2 },
  cidr: [{ netAddress: '10.0.1.0/24', interfaceIndex: 0, vlanCIDR: '192.168.0.0/18', hosts: ['a', 'b'].map((h, i) => ({ hostName: h, hostIndex: i, interfaceName: 'eth1', hostIP: `10.0.1.${i + 1}`, podCIDR: `192.168.${i}.0/24` })) }],
};
const fp = cidrFingerprint(cidr);
const hi = (name: string, report?: RouteReport): HostInterface => ({
  apiVersion: 'multinic.fms.io/v1',
  kind: 'HostInterface',
  metadata: { name, annotations: report ? { [ROUTES_ANNOTATION]: withRouteReport({}, 'net', report) } : {} },
  spec: { hostName: name, interfaces: [{ interfaceName: 'eth1', netAddress: '10.0.1.0/24' }] },
});
const now = new Date('2026-01-01T00:00:00Z');
const ok = (cidrFp = fp): RouteReport => ({ cidr: cidrFp, routes: 1, ok: true });

describe('computeStatus', () => {
  const rows: Array<[string, MultiNicNetwork, CIDRSpec | undefined, HostInterface[], string, string]> = [
    ['L3, every host reported current routes', net('l3'), cidr, [hi('a', ok()), hi('b', ok())], 'Success', 'Success'],
    ['L3, one host reported an older CIDR', net('l3'), cidr, [hi('a', ok()), hi('b', ok('00000000'))], 'WaitForRoutes', 'WaitForConfig'],
    ['L3, one host failed', net('l3'), cidr, [hi('a', ok()), hi('b', { cidr: fp, routes: 0, ok: false, message: 'RTNETLINK answers: Network is unreachable' })], 'Failed', 'WaitForConfig'],
    ['L3, no CIDR yet', net('l3'), undefined, [hi('a')], 'WaitForRoutes', 'WaitForConfig'],
    ['L2 multi-nic-ipam reaches Success once hosts are ready (upstream never did)', net('l2'), cidr, [hi('a', ok()), hi('b', ok())], 'N/A', 'Success'],
    ['not multi-nic-ipam: NADs are the whole config', net('', false, 'whereabouts'), undefined, [], 'N/A', 'Success'],
  ];
  it.each(rows)('%s', (_n, n, c, his, route, config) => {
    const s = computeStatus({ network: n, cidr: c, hostInterfaces: his, agents: his.length, now }, undefined);
    expect(s.routeStatus).toBe(route);
    expect(s.configStatus).toBe(config);
  });

  it('reports per-host readiness, upstream discovery counts and computeResults', () => {
    const s = computeStatus({ network: net('l3'), cidr, hostInterfaces: [hi('a', ok())], agents: 1, now }, undefined);
    // Ready hosts are counted, not listed (the status stays small at thousands of hosts).
    expect([s.readyHosts, s.notReadyHosts]).toEqual([1, 1]);
    expect(s.hosts).toEqual([{ hostName: 'b', ready: false, message: 'no HostInterface: agent not running on this node' }]);
    expect(s.discovery).toEqual({ existDaemon: 1, infoAvailable: 1, cidrProcessed: 2 });
    expect(s.computeResults).toEqual([{ netAddress: '10.0.1.0/24', numOfHosts: 2 }]);
    expect(s.message).toBe('waiting for route update');
    expect(s.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'Pending', message: '1/2 hosts ready' });
  });

  it('lists route failures first, then waiting hosts, at most MAX_LISTED_HOSTS, messages cut; counts them all', () => {
    const names = Array.from({ length: MAX_LISTED_HOSTS + 20 }, (_, i) => `h${String(i).padStart(3, '0')}`);
    const big: CIDRSpec = { ...cidr, cidr: [{ ...cidr.cidr[0]!, vlanCIDR: '192.168.0.0/16', hosts: names.map((h, i) => ({ hostName: h, hostIndex: i, interfaceName: 'eth1', hostIP: `10.0.1.${i + 1}`, podCIDR: `192.168.${i}.0/24` })) }] };
    const bigFp = cidrFingerprint(big);
    // h000..h009 ready, h010..h019 waiting (no report), the rest failed with a long message.
    const his = names.slice(20).map((h) => hi(h, { cidr: bigFp, routes: 0, ok: false, message: 'e'.repeat(1000) }));
    his.push(...names.slice(0, 10).map((h) => hi(h, ok(bigFp))), ...names.slice(10, 20).map((h) => hi(h)));
    const s = computeStatus({ network: net('l3'), cidr: big, hostInterfaces: his, agents: his.length, now }, undefined);
    expect([s.readyHosts, s.notReadyHosts, s.hosts?.length, s.routeStatus]).toEqual([10, names.length - 10, MAX_LISTED_HOSTS, 'Failed']);
    expect(s.hosts?.[0]).toEqual({ hostName: 'h020', ready: false, routes: 0, message: `${'e'.repeat(MAX_HOST_MESSAGE - 1)}…` });
    // 100 failed hosts (h020..h119) fill the list: the waiting ones are counted but not listed.
    expect(s.hosts?.at(-1)?.hostName).toBe('h119');
    expect(s.conditions?.find((c) => c.type === 'Ready')?.message).toBe(`10/${names.length} hosts ready`);
  });

  it('a NAD failure fails the config with upstream message', () => {
    const s = computeStatus({ network: net('l3'), cidr, hostInterfaces: [], agents: 0, nadError: 'namespace x is terminating', now }, undefined);
    expect(s.configStatus).toBe('Failed');
    expect(s.message).toBe('Failed to create net: namespace x is terminating');
  });

  it('a network refused for its subnet fails config and routes, says why, and its ConfigReady reason is SubnetOverlap', () => {
    const s = computeStatus({ network: net('l3'), cidr: undefined, hostInterfaces: [hi('a')], agents: 1, overlapError: 'subnet 192.168.0.0/16 overlaps subnet 192.168.0.0/17 of MultiNicNetwork "x"', planError: 'ignored', now }, undefined);
    expect([s.configStatus, s.routeStatus, s.message]).toEqual(['Failed', 'Failed', 'Refused net: subnet 192.168.0.0/16 overlaps subnet 192.168.0.0/17 of MultiNicNetwork "x"']);
    expect(s.conditions?.find((c) => c.type === 'ConfigReady')).toMatchObject({ status: 'False', reason: 'SubnetOverlap' });
    expect(s.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'Failed' });
  });

  it('is byte-identical when nothing changed (no write), and keeps transition times', () => {
    const input = { network: net('l3'), cidr, hostInterfaces: [hi('a', ok()), hi('b', ok())], agents: 2 };
    const first = computeStatus({ ...input, now }, undefined);
    const again = computeStatus({ ...input, now: new Date('2026-01-01T00:05:00Z') }, first);
    expect(again).toEqual(first);
    const changed = computeStatus({ ...input, hostInterfaces: [hi('a', ok())], now: new Date('2026-01-01T00:06:00Z') }, first);
    expect(changed.lastSyncTime).toBe('2026-01-01T00:06:00.000Z');
    expect(changed.conditions?.find((c) => c.type === 'ConfigReady')?.lastTransitionTime).toBe('2026-01-01T00:06:00.000Z');
  });
});

describe('route report annotation', () => {
  it('round-trips and ignores garbage', () => {
    const text = withRouteReport({ other: { cidr: 'x', routes: 2, ok: true } }, 'net', ok());
    expect(parseRouteReports(hi('a', undefined))).toEqual({});
    const h = hi('a');
    h.metadata.annotations = { [ROUTES_ANNOTATION]: text };
    expect(Object.keys(parseRouteReports(h))).toEqual(['net', 'other']);
    h.metadata.annotations = { [ROUTES_ANNOTATION]: '[1]' };
    expect(parseRouteReports(h)).toEqual({});
  });
});

describe('claimErrors', () => {
  it('collects per-network claim failures from every host, sorted by host, ignoring garbage', () => {
    const mk = (name: string, v: string): HostInterface => ({ apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name, annotations: { [CLAIM_ERRORS_ANNOTATION]: v } }, spec: { hostName: name, interfaces: [] } });
    const got = claimErrors([mk('b', '{"net":"no free host index"}'), mk('a', '{"net":"x","other":""}'), mk('c', 'not json')]);
    expect([...got]).toEqual([['net', 'a: x; b: no free host index']]);
  });
});

describe('terminalFailure', () => {
  const refused = { type: 'ConfigReady', status: 'False', reason: 'SubnetOverlap', message: 'Refused n: overlaps "m"', lastTransitionTime: '2026-01-01T00:00:00Z' };
  it.each([
    ['refused for this generation', 3, { observedGeneration: 3, conditions: [refused] }, 'Refused n: overlaps "m"'],
    ['refused for an older generation (the spec changed since)', 4, { observedGeneration: 3, conditions: [refused] }, undefined],
    ['a claim failure: the agent retries', 3, { observedGeneration: 3, conditions: [{ ...refused, reason: 'Failed' }] }, undefined],
    ['no status yet', 1, undefined, undefined],
  ])('%s', (_name, generation, status, want) => {
    expect(terminalFailure({ metadata: { generation }, status: status as never })).toBe(want);
  });
});
