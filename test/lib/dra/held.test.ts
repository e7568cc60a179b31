// heldNics → the per-network view plan prints: only NICs of the network's plan, sorted, and the
// CLAIMED BY cell that groups a host's NICs by claim.
import { describe, expect, it } from 'vitest';
import { heldCell, heldInPlan, type HeldNic } from '../../../src/lib/dra/held.js';

const h = (node: string, device: string, claim: string, pods: string[], interfaceName: string | undefined = device): HeldNic => ({ node, device, ...(interfaceName ? { interfaceName } : {}), claim, pods });
const pools = [
  { hostName: 'host1', interfaceName: 'eth1' },
  { hostName: 'host1', interfaceName: 'eth2' },
  { hostName: 'host2', interfaceName: 'eth1' },
];

describe('heldInPlan', () => {
  it.each<[string, HeldNic[], Array<{ host: string; nic: string; claim: string }>]>([
    ['none held', [], []],
    ['a NIC of another network (not in the plan) is left out', [h('host2', 'eth2', 'ml/a', ['ml/p'])], []],
    ['a host outside the plan is left out', [h('host9', 'eth1', 'ml/a', ['ml/p'])], []],
    ['sorted by host, NIC, claim', [h('host2', 'eth1', 'ml/b', ['ml/q']), h('host1', 'eth2', 'ml/a', ['ml/p']), h('host1', 'eth1', 'ml/a', ['ml/p'])], [
      { host: 'host1', nic: 'eth1', claim: 'ml/a' },
      { host: 'host1', nic: 'eth2', claim: 'ml/a' },
      { host: 'host2', nic: 'eth1', claim: 'ml/b' },
    ]],
    ['a device the slice no longer lists matches by its device name', [h('host1', 'eth2', 'ml/a', ['ml/p'], undefined)], [{ host: 'host1', nic: 'eth2', claim: 'ml/a' }]],
  ])('%s', (_n, held, want) => {
    expect(heldInPlan(held, pools).map(({ host, nic, claim }) => ({ host, nic, claim }))).toEqual(want);
  });
});

describe('heldCell', () => {
  it("groups one host's NICs by claim, '-' for a host with none", () => {
    const held = heldInPlan([h('host1', 'eth1', 'ml/a', ['ml/p1', 'ml/p0']), h('host1', 'eth2', 'ml/a', ['ml/p1', 'ml/p0']), h('host2', 'eth1', 'ml/b', ['ml/q'])], pools);
    expect(heldCell(held, 'host1')).toBe('eth1,eth2: ml/p0,ml/p1 (claim ml/a)');
    expect(heldCell(held, 'host2')).toBe('eth1: ml/q (claim ml/b)');
    expect(heldCell(held, 'host3')).toBe('-');
  });
});
