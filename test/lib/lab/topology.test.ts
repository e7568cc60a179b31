import { describe, expect, it } from 'vitest';
import { checkLabOptions, labTopology } from '../../../src/lib/lab/topology.js';

describe('labTopology', () => {
  const t = labTopology({ prefix: 'mnlab', hosts: 3, nics: 2, ipv6: true });

  it('gives each NIC index its own fabric and IPv4 network, host n address .n', () => {
    expect(t.fabrics.map((f) => f.network)).toEqual(['10.0.1.0/24', '10.0.2.0/24']);
    expect(t.hosts.map((h) => h.nics.map((n) => `${n.name}=${n.ipv4}`))).toEqual([
      ['eth1=10.0.1.1', 'eth2=10.0.2.1'],
      ['eth1=10.0.1.2', 'eth2=10.0.2.2'],
      ['eth1=10.0.1.3', 'eth2=10.0.2.3'],
    ]);
    expect(t.hosts[1]?.nics[1]?.ipv6).toBe('fd00:0:2::2');
  });

  it('prefixes every namespace and root-side link, and keeps link names within 15 characters', () => {
    const names = [t.mgmtBridge, t.fabricNetns, ...t.hosts.flatMap((h) => [h.netns, h.mgmtPeer])];
    for (const n of names) expect(n.startsWith('mnlab')).toBe(true);
    const big = labTopology({ prefix: 'abcdef', hosts: 200, nics: 16, ipv6: false });
    for (const h of big.hosts) {
      expect(h.mgmtPeer.length).toBeLessThanOrEqual(15);
      for (const n of h.nics) expect(n.peer.length).toBeLessThanOrEqual(15);
    }
    expect(new Set(big.hosts.map((h) => h.mgmtIp)).size).toBe(200);
  });

  it('gives labs with different prefixes different management networks', () => {
    const a = labTopology({ prefix: 'mnlab', hosts: 1, nics: 1, ipv6: false });
    const b = labTopology({ prefix: 'mne2e', hosts: 1, nics: 1, ipv6: false });
    expect(a.mgmtGateway).not.toBe(b.mgmtGateway);
    expect(a.hosts[0]?.mgmtIp.split('.').slice(0, 2)).toEqual(a.mgmtGateway.split('.').slice(0, 2));
  });

  it('rejects bad options naming the flag', () => {
    expect(checkLabOptions({ prefix: 'mnlab', hosts: 0, nics: 2, ipv6: false })).toMatch(/--hosts/);
    expect(checkLabOptions({ prefix: 'mnlab', hosts: 3, nics: 17, ipv6: false })).toMatch(/--nics/);
    expect(checkLabOptions({ prefix: 'Bad-Prefix', hosts: 3, nics: 2, ipv6: false })).toMatch(/--prefix/);
    expect(checkLabOptions({ prefix: 'mnlab', hosts: 3, nics: 2, ipv6: false })).toBeUndefined();
  });
});
