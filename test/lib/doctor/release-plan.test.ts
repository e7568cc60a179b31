// Where `ipam release` reads allocations: each node's journal as its agent publishes it, and the
// IPPool mirror for what the journal view does not cover (no diagnostics, or a capped list).
import { describe, expect, it } from 'vitest';
import { releaseCandidates } from '../../../src/lib/doctor/release-plan.js';
import type { DoctorSnapshot } from '../../../src/lib/doctor/types.js';
import { diag, healthy } from './fixtures.js';

const host1Pool = (s: DoctorSnapshot) => s.ippools.find((p) => p.spec.hostName === 'host1' && p.spec.interfaceName === 'eth1')!;
const host1 = (s: DoctorSnapshot) => releaseCandidates(s).filter((c) => c.node === 'host1').map((c) => `${c.address} ${c.pod} ${c.source}`);

describe('releaseCandidates', () => {
  it('a node with whole diagnostics: its journal only (an IPPool entry it lacks is not the node\'s to release)', () => {
    const s = healthy();
    const p = host1Pool(s);
    p.spec.allocations.push({ ...p.spec.allocations[0]!, address: '192.168.0.7', index: 7, pod: 'gone', podUID: 'uid-gone', containerID: 'c-gone' });
    expect(host1(s)).toEqual(['192.168.0.2 default/p1 journal']);
  });

  it('a node whose diagnostics list fewer allocations than it holds: the IPPools add the unlisted ones, once each', () => {
    const s = healthy();
    diag(s, 'host1').allocationCount = 2;
    const p = host1Pool(s);
    p.spec.allocations.push({ ...p.spec.allocations[0]!, address: '192.168.0.7', index: 7, pod: 'gone', podUID: 'uid-gone', containerID: 'c-gone' });
    expect(host1(s)).toEqual(['192.168.0.2 default/p1 journal', '192.168.0.7 default/gone ippool']);
  });

  it('a node without diagnostics: its IPPools', () => {
    const s = healthy();
    s.hostInterfaces = s.hostInterfaces.map((h) => (h.metadata.name === 'host1' ? { ...h, status: {} } : h));
    expect(host1(s)).toEqual(['192.168.0.2 default/p1 ippool']);
  });
});
