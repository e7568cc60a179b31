import { describe, expect, it } from 'vitest';
import { DirtySet, ippoolLabels, renderIPPool } from '../../../src/lib/cluster/ippool.js';
import type { Allocation, PoolSpec } from '../../../src/lib/ipam/types.js';

const pool: PoolSpec = { name: 'net-192.168.0.0-26', network: 'net', hostName: 'node-a', interfaceName: 'eth1', podCIDR: '192.168.0.0/26', vlanCIDR: '192.168.0.0/18', excludes: ['192.168.0.8/30'], reserved: ['192.168.0.1'] };
const alloc = (index: number, pod: string, poolName = pool.name): Allocation => ({ pool: poolName, network: 'net', podUID: `uid-${pod}`, containerID: `c-${pod}`, interface: 'net1-0', address: `192.168.0.${index}`, index, podName: pod, namespace: 'default' });

describe('renderIPPool', () => {
  it('upstream shape plus our keys, sorted by index, only this pool, with usage', () => {
    const p = renderIPPool(pool, [alloc(5, 'b'), alloc(2, 'a'), alloc(3, 'x', 'other-pool')]);
    expect(p.metadata).toEqual({ name: 'net-192.168.0.0-26', labels: { hostname: 'node-a', netname: 'net' } });
    expect(p.spec).toEqual({
      podCIDR: '192.168.0.0/26',
      vlanCIDR: '192.168.0.0/18',
      netAttachDef: 'net',
      hostName: 'node-a',
      interfaceName: 'eth1',
      excludes: ['192.168.0.8/30'],
      allocations: [
        { pod: 'a', namespace: 'default', index: 2, address: '192.168.0.2', podUID: 'uid-a', containerID: 'c-a', interface: 'net1-0' },
        { pod: 'b', namespace: 'default', index: 5, address: '192.168.0.5', podUID: 'uid-b', containerID: 'c-b', interface: 'net1-0' },
      ],
    });
    // 64 addresses - network - broadcast - the /30 exclude - the reserved shim gateway: what the
    // allocator can hand out, the same figure plan and status show (poolCapacity).
    expect(p.status).toEqual({ used: 2, capacity: 57 });
  });
  it('drops label values Kubernetes would reject', () => {
    expect(ippoolLabels('x'.repeat(64), 'net')).toEqual({ netname: 'net' });
  });
});

describe('DirtySet', () => {
  it('coalesces repeated marks into one take', () => {
    const d = new DirtySet();
    for (let i = 0; i < 100; i++) d.mark(i % 2 ? 'b' : 'a');
    expect(d.take()).toEqual(['a', 'b']);
    expect(d.take()).toEqual([]);
  });
});
