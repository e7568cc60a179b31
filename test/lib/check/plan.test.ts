import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { globToRegExp, hostPairs, networkFromCidr, networkFromHostInterfaces, nextRunnable, planCheck, validateCheckOptions } from '../../../src/lib/check/plan.js';
import { UserError } from '../../../src/lib/errors.js';
import { HOSTS, OPTS, sampleCidr, sampleHostInterfaces, sampleNetwork } from './sample.js';

describe('hostPairs', () => {
  it.each([
    ['all', ['c', 'a', 'b'], [['a', 'b'], ['a', 'c'], ['b', 'a'], ['b', 'c'], ['c', 'a'], ['c', 'b']]],
    ['ring', ['c', 'a', 'b'], [['a', 'b'], ['b', 'c'], ['c', 'a']]],
    ['ring', ['b', 'a'], [['a', 'b'], ['b', 'a']]],
    ['star', ['c', 'a', 'b'], [['b', 'a'], ['c', 'a']]],
    ['all', ['a'], []],
  ] as const)('%s over %j', (mode, hosts, want) => {
    expect(hostPairs([...hosts], mode)).toEqual(want);
  });

  it('property: all = n(n-1) distinct ordered pairs, ring = n (n>2), star = n-1, never a host with itself', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[a-z]{1,6}$/), { minLength: 2, maxLength: 12 }), (hosts) => {
        const n = hosts.length;
        const all = hostPairs(hosts, 'all');
        expect(new Set(all.map((p) => p.join('>'))).size).toBe(n * (n - 1));
        expect(hostPairs(hosts, 'ring')).toHaveLength(n === 2 ? 2 : n);
        expect(hostPairs(hosts, 'star')).toHaveLength(n - 1);
        for (const mode of ['all', 'ring', 'star'] as const) for (const [a, b] of hostPairs(hosts, mode)) expect(a).not.toBe(b);
        // ring: every host is a client once and a server once
        const ring = hostPairs(hosts, 'ring');
        expect(new Set(ring.map((p) => p[0])).size).toBe(n);
        expect(new Set(ring.map((p) => p[1])).size).toBe(n);
      }),
    );
  });
});

describe('networkFromCidr / networkFromHostInterfaces', () => {
  it('reads NICs in interface-index order with host blocks and link facts', () => {
    const net = networkFromCidr('fabric', sampleCidr(), sampleHostInterfaces({ physical: true, speed: 100000 }));
    expect(net.nics.map((n) => [n.index, n.netAddress])).toEqual([[0, '10.0.1.0/24'], [1, '10.0.2.0/24']]);
    expect(net.nics[1]?.endpoints.find((e) => e.host === 'host-b')).toEqual({
      host: 'host-b', interfaceName: 'eth2', hostIP: '10.0.2.2', podCIDR: '192.168.65.0/24', speedMbps: 100000, physical: true,
    });
    expect(net.routeTable).toBe('fabric');
    expect(net.shimGateway).toBe(true);
    const ipvlan = sampleCidr();
    ipvlan.spec.config.type = 'ipvlan';
    expect(networkFromCidr('fabric', ipvlan, []).shimGateway).toBe(false);
  });

  it('without a CIDR: masterNets order, else NIC networks sorted by address', () => {
    const his = sampleHostInterfaces();
    expect(networkFromHostInterfaces(sampleNetwork(['10.0.2.0/24', '10.0.1.0/24']), his).nics.map((n) => n.netAddress)).toEqual(['10.0.2.0/24', '10.0.1.0/24']);
    const sorted = networkFromHostInterfaces(sampleNetwork(), his);
    expect(sorted.nics.map((n) => n.netAddress)).toEqual(['10.0.1.0/24', '10.0.2.0/24']);
    expect(sorted.nics[0]?.endpoints.map((e) => `${e.host}:${e.interfaceName}`)).toEqual(['host-a:eth1', 'host-b:eth1', 'host-c:eth1']);
    expect(sorted.source).toBe('hostinterfaces');
    expect(sorted.shimGateway).toBe(false); // vlanMode unset
    const l3 = sampleNetwork();
    l3.spec.ipam = '{"type":"multi-nic-ipam","vlanMode":"l3"}';
    expect(networkFromHostInterfaces(l3, his).shimGateway).toBe(true);
  });
});

describe('planCheck', () => {
  const net = () => networkFromCidr('fabric', sampleCidr(), sampleHostInterfaces());

  it('--via claim with --keep-pods: refused when two host pairs share a host (kept claims would hold its NICs), allowed for one pair', () => {
    const net = [networkFromCidr('fabric', sampleCidr(), [])];
    const keep = { ...OPTS, via: 'claim' as const, keepPods: true };
    expect(() => planCheck(net, { ...keep, pairs: 'all' })).toThrow(/^--keep-pods with --via claim: host pairs fabric\/\S+ and fabric\/\S+ share host \S+, and the kept pods' claims would hold its NICs from the later pair$/);
    try {
      planCheck(net, { ...keep, pairs: 'all' });
    } catch (e) {
      expect((e as UserError).hint).toBe('keep the pods of one host pair at a time (e.g. --nodes A,B --pairs star), or drop --keep-pods');
    }
    const one = planCheck(net, { ...keep, pairs: 'star', nodes: [HOSTS[0]!, HOSTS[1]!] });
    expect(one.groups).toHaveLength(1);
    // Without --keep-pods, or by annotation, every pair runs (the run deletes a pair's pods before the next uses the host).
    expect(planCheck(net, { ...OPTS, via: 'claim', pairs: 'all' }).groups.length).toBeGreaterThan(1);
    expect(planCheck(net, { ...OPTS, keepPods: true, pairs: 'all' }).groups.length).toBeGreaterThan(1);
  });

  it('one test per NIC per ordered pair, grouped by host pair, ports unique per server host', () => {
    const plan = planCheck([net()], OPTS);
    expect(plan.hosts).toEqual(HOSTS);
    expect(plan.groups).toHaveLength(6);
    expect(plan.tests).toHaveLength(12);
    expect(plan.groups[0]?.tests.map((t) => t.id)).toEqual(['fabric/host-a->host-b/nic0', 'fabric/host-a->host-b/nic1']);
    for (const host of HOSTS) {
      const ports = plan.tests.filter((t) => t.serverHost === host).map((t) => t.port);
      expect(new Set(ports).size).toBe(ports.length);
      expect(Math.min(...ports)).toBe(5201);
    }
    const t = plan.tests[0];
    expect(t?.clientNic?.interfaceName).toBe('eth1');
    expect(t?.serverNic?.hostIP).toBe('10.0.1.2');
  });

  it('expectation: --expect-gbps, else the link speed of physical NICs only (veth says 10000 regardless)', () => {
    expect(planCheck([net()], { ...OPTS, expectGbps: 25 }).tests[0]).toMatchObject({ expectedGbps: 25, expectation: 'flag' });
    expect(planCheck([net()], OPTS).tests[0]).toMatchObject({ expectation: 'none' });
    expect(planCheck([net()], OPTS).tests[0]?.expectedGbps).toBeUndefined();
    const phys = networkFromCidr('fabric', sampleCidr(), sampleHostInterfaces({ physical: true, speed: 100000 }));
    expect(planCheck([phys], OPTS).tests[0]).toMatchObject({ expectedGbps: 100, expectation: 'link-speed' });
  });

  it('--nodes, node selector result and --test narrow the run', () => {
    expect(planCheck([net()], { ...OPTS, nodes: ['host-a', 'host-c'] }).tests.map((t) => t.group)).toEqual([
      'fabric/host-a->host-c', 'fabric/host-a->host-c', 'fabric/host-c->host-a', 'fabric/host-c->host-a',
    ]);
    expect(planCheck([net()], OPTS, ['host-b', 'host-c', 'not-a-host']).hosts).toEqual(['host-b', 'host-c']);
    expect(planCheck([net()], { ...OPTS, test: 'fabric/*->host-b/nic1' }).tests.map((t) => t.id)).toEqual(['fabric/host-a->host-b/nic1', 'fabric/host-c->host-b/nic1']);
  });

  it('a host missing from one NIC network still gets a test (it fails: not-in-cidr)', () => {
    const cidr = sampleCidr();
    cidr.spec.cidr[0]!.hosts = cidr.spec.cidr[0]!.hosts.filter((h) => h.hostName !== 'host-c');
    const plan = planCheck([networkFromCidr('fabric', cidr, [])], { ...OPTS, nodes: ['host-b', 'host-c'] });
    const t = plan.tests.find((x) => x.id === 'fabric/host-b->host-c/nic1');
    expect(t?.serverNic).toBeUndefined();
    expect(t?.clientNic?.interfaceName).toBe('eth2');
  });

  it.each([
    ['unknown node', { nodes: ['host-z'] }, /node "host-z" has no NIC/, /host-a, host-b, host-c/],
    ['one host left', { nodes: ['host-a'] }, /at least 2 hosts, found 1 \(host-a\)/, /--nodes/],
    ['glob matches nothing', { test: 'nope/*' }, /--test "nope\/\*" matches no test/, /fabric\/host-a->host-b\/nic0/],
    ['ports past 65535', { portBase: 65535 }, /server ports from 65535 pass 65535/, /--port-base/],
  ])('%s is a usage error with a hint', (_, o, msg, hint) => {
    const err = (() => {
      try {
        planCheck([net()], { ...OPTS, ...o });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(msg);
    expect((err as UserError).hint).toMatch(hint);
    expect((err as UserError).exitCode).toBe(2);
  });
});

describe('nextRunnable', () => {
  it('skips groups sharing a host with running ones', () => {
    const plan = planCheck([networkFromCidr('fabric', sampleCidr(), [])], OPTS);
    expect(nextRunnable(plan.groups, new Set())?.id).toBe('fabric/host-a->host-b');
    expect(nextRunnable(plan.groups, new Set(['host-a', 'host-b']))).toBeUndefined();
    expect(nextRunnable(plan.groups, new Set(['host-a']))?.id).toBe('fabric/host-b->host-c');
  });
});

describe('globToRegExp', () => {
  it('anchors, treats regex metacharacters literally', () => {
    expect(globToRegExp('net.a/*').test('net.a/x->y/nic0')).toBe(true);
    expect(globToRegExp('net.a/*').test('netXa/x->y/nic0')).toBe(false);
    expect(globToRegExp('*/nic?').test('n/a->b/nic1')).toBe(true);
    expect(globToRegExp('*/nic?').test('n/a->b/nic10')).toBe(false);
  });
});

describe('validateCheckOptions', () => {
  it.each([
    [{ duration: 0 }, '--duration'],
    [{ parallel: 1.5 }, '--parallel'],
    [{ concurrency: 0 }, '--concurrency'],
    [{ expectGbps: -1 }, '--expect-gbps'],
    [{ tolerance: 1 }, '--tolerance'],
    [{ portBase: 70000 }, '--port-base'],
    [{ image: ' ' }, '--image'],
  ])('%j names %s', (o, flag) => {
    expect(() => validateCheckOptions({ ...OPTS, ...o })).toThrow(new RegExp(`invalid ${flag}`));
  });
  it('accepts the defaults', () => expect(validateCheckOptions(OPTS)).toBe(OPTS));
});
