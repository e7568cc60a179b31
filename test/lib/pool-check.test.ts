import { describe, expect, it } from 'vitest';
import type { HostInterface } from '../../src/lib/crds/types.gen.js';
import { checkPool } from '../../src/lib/pool-check.js';
import { host, network, type NetOpts } from './plan/fixtures.js';

interface Row {
  name: string;
  net?: NetOpts;
  hosts: HostInterface[];
  want: Array<[string, RegExp]>;
}

const full = (n: string, i: number, extra: Array<Record<string, number>> = []) =>
  host(n, [
    ['eth1', '10.0.1.0/24', `10.0.1.${i}`, extra[0]],
    ['eth2', '10.0.2.0/24', `10.0.2.${i}`, extra[1]],
  ]);

const rows: Row[] = [
  { name: 'a healthy pool gives no warning', hosts: [full('a', 1), full('b', 2)], want: [] },
  {
    name: 'a host lacking a NIC network the pool has',
    hosts: [full('a', 1), full('b', 2), host('c', [['eth1', '10.0.1.0/24', '10.0.1.3']])],
    want: [['HostMissingNetwork', /1 host\(s\) have no NIC on 10\.0\.2\.0\/24: c/]],
  },
  {
    name: 'a masterNets network no host has',
    net: { masterNets: ['10.0.1.0/24', '10.0.2.0/24', '10.0.3.0/24'] },
    hosts: [full('a', 1), full('b', 2)],
    want: [['HostMissingNetwork', /no host has a NIC on 10\.0\.3\.0\/24/]],
  },
  {
    name: 'a NIC network seen on one host only',
    hosts: [full('a', 1), host('b', [['eth1', '10.0.1.0/24', '10.0.1.2'], ['eth2', '10.0.2.0/24', '10.0.2.2'], ['eth3', '10.0.3.0/24', '10.0.3.2']])],
    want: [
      ['HostMissingNetwork', /1 host\(s\) have no NIC on 10\.0\.3\.0\/24: a/],
      ['SingleHostNetwork', /10\.0\.3\.0\/24 is seen on one host only \(b\)/],
    ],
  },
  {
    name: 'duplicate host IPs',
    hosts: [full('a', 1), full('b', 1)],
    want: [
      ['DuplicateHostIP', /10\.0\.1\.1 is used by 2 NICs: a\/eth1, b\/eth1/],
      ['DuplicateHostIP', /10\.0\.2\.1 is used by 2 NICs: a\/eth2, b\/eth2/],
    ],
  },
  {
    name: 'a host with two NICs on one network',
    hosts: [full('a', 1), host('b', [['eth1', '10.0.1.0/24', '10.0.1.2'], ['eth2', '10.0.2.0/24', '10.0.2.2'], ['eth9', '10.0.1.0/24', '10.0.1.9']])],
    want: [['DuplicateNicOnNetwork', /b has 2 NICs on 10\.0\.1\.0\/24 \(eth1, eth9\): only eth1 gets a pod block/]],
  },
  {
    name: 'NICs no masterNets entry covers',
    net: { masterNets: ['10.0.1.0/24'] },
    hosts: [full('a', 1), full('b', 2)],
    want: [['UncoveredNic', /10\.0\.2\.0\/24 \(a\/eth2, b\/eth2\) is not covered by any masterNets entry/]],
  },
  {
    name: 'MTU and speed mismatches within one NIC network (unknown values ignored)',
    hosts: [full('a', 1, [{ mtu: 9000, speed: 100000 }]), full('b', 2, [{ mtu: 1500, speed: 25000 }]), full('c', 3, [{ mtu: 9000 }])],
    want: [
      ['MtuMismatch', /MTU differs within NIC network 10\.0\.1\.0\/24: 1500 on b; 9000 on a, c/],
      ['SpeedMismatch', /speed \(Mb\/s\) differs within NIC network 10\.0\.1\.0\/24: 25000 on b; 100000 on a/],
    ],
  },
];

describe('checkPool', () => {
  it.each(rows)('$name', ({ net, hosts, want }) => {
    const got = checkPool(network(net), hosts);
    expect(got.map((w) => w.code)).toEqual(want.map(([c]) => c));
    got.forEach((w, i) => expect(w.message).toMatch(want[i]![1]));
    expect(got.every((w) => w.network === 'net')).toBe(true);
  });
  it('caps host lists so a large pool stays readable', () => {
    const hosts = [full('a', 1), ...Array.from({ length: 40 }, (_, i) => host(`n${String(i).padStart(2, '0')}`, [['eth1', '10.0.1.0/24', `10.0.1.${i + 10}`]]))];
    const [w] = checkPool(network(), hosts);
    expect(w?.message).toBe('40 host(s) have no NIC on 10.0.2.0/24: n00, n01, n02, n03, n04 and 35 more; pods there get fewer interfaces');
  });
});
