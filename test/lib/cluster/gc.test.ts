import { describe, expect, it } from 'vitest';
import { LeakClock, heldKey, leakReason, networkStatus, type HeldAddress, type PodFact } from '../../../src/lib/cluster/gc.js';

const a: HeldAddress = { podUID: 'u1', containerID: 'c1', interface: 'net1-0', podName: 'p', namespace: 'ns', network: 'net', address: '192.168.0.5' };
const pod = (p: Partial<PodFact>): PodFact => ({ namespace: 'ns', name: 'p', uid: 'u1', phase: 'Running', ...p });
const status = (ips: string[], name = 'ns/net') => ({ 'k8s.v1.cni.cncf.io/network-status': JSON.stringify([{ name: 'cbr0', ips: ['10.1.0.4'], default: true }, { name, interface: 'net1-0', ips }]) });

const merged = (ips: string[]) => ({ 'k8s.v1.cni.cncf.io/network-status': JSON.stringify([{ name: 'ns/net', interface: 'net1-1', ips, mac: '02:00:00:00:00:02', dns: {} }]) });
const perInterface = (ips0: string[], ips1: string[]) => ({
  'k8s.v1.cni.cncf.io/network-status': JSON.stringify([
    { name: 'ns/net', interface: 'net1-0', ips: ips0, dns: {} },
    { name: 'ns/net', interface: 'net1-1', ips: ips1, dns: {} },
  ]),
});

describe('leakReason', () => {
  const rows: Array<[string, PodFact | undefined, string | undefined]> = [
    ['pod gone', undefined, 'pod ns/p no longer exists'],
    ['same name, new UID (StatefulSet)', pod({ uid: 'u2' }), 'pod ns/p was replaced (uid u2, allocation for u1)'],
    ['Pending with another sandbox: never', pod({ phase: 'Pending', annotations: status(['192.168.0.9']) }), undefined],
    ['being deleted: keep until gone', pod({ deleting: true, phase: 'Running', annotations: status(['192.168.0.9']) }), undefined],
    ['Succeeded', pod({ phase: 'Succeeded' }), 'pod ns/p is Succeeded'],
    ['Running, no network-status yet', pod({}), undefined],
    ['Running, network-status lists the address (with prefix)', pod({ annotations: status(['192.168.0.5/18']) }), undefined],
    ['Running, network-status lists another address', pod({ annotations: status(['192.168.0.9/18']) }), "address 192.168.0.5 is not in pod ns/p's network-status for net"],
    ['Running, deprecated networks-status, another address', pod({ annotations: { 'k8s.v1.cni.cncf.io/networks-status': JSON.stringify([{ name: 'net', ips: ['192.168.0.9'] }]) } }), "address 192.168.0.5 is not in pod ns/p's network-status for net"],
    ['Running, network-status without our network (Multus has not written it)', pod({ annotations: status(['1.2.3.4'], 'ns/other') }), undefined],
    // Multus v4.0.2 writes one merged entry per attachment: every address, the last interface only.
    ['Running, merged entry (Multus v4.0.2) lists the address of net1-0 under net1-1', pod({ annotations: merged(['192.168.64.5', '192.168.0.5']) }), undefined],
    ['Running, merged entry lists other addresses', pod({ annotations: merged(['192.168.0.9', '192.168.64.9']) }), "address 192.168.0.5 is not in pod ns/p's network-status for net"],
    ['Running, per-interface entries, ours on the second', pod({ annotations: perInterface(['192.168.64.5'], ['192.168.0.5']) }), undefined],
    ['Running, per-interface entries, ours on neither', pod({ annotations: perInterface(['192.168.64.5'], ['192.168.0.9']) }), "address 192.168.0.5 is not in pod ns/p's network-status for net"],
    ['Running, unreadable annotation', pod({ annotations: { 'k8s.v1.cni.cncf.io/network-status': '{' } }), undefined],
  ];
  it.each(rows)('%s', (_n, p, want) => expect(leakReason(a, p)).toBe(want));

  it('an attachment without pod name and UID (podman, ctr --cni: no K8S_POD_*) is never a leak of a pod', () => {
    expect(leakReason({ ...a, podName: '', namespace: '', podUID: '' }, undefined)).toBeUndefined();
    // A name without a UID still belongs to a pod, and is checked as before.
    expect(leakReason({ ...a, podUID: '' }, undefined)).toBe('pod ns/p no longer exists');
  });
});

describe('networkStatus', () => {
  it('prefers the v4 annotation over the deprecated one', () => {
    const ann = { ...status(['1.1.1.1']), 'k8s.v1.cni.cncf.io/networks-status': '[{"name":"x"}]' };
    expect(networkStatus(ann)?.map((e) => e.name)).toEqual(['cbr0', 'ns/net']);
  });
});

describe('LeakClock', () => {
  it('releases only after a full grace, and restarts the clock when a suspect recovers', () => {
    const c = new LeakClock(60_000);
    const k = heldKey(a);
    expect(c.observe(0, [k])).toEqual([]);
    expect(c.observe(59_999, [k])).toEqual([]);
    expect(c.observe(60_000, [k])).toEqual([k]);
    expect(c.observe(61_000, [])).toEqual([]);
    expect(c.size).toBe(0);
    expect(c.observe(62_000, [k])).toEqual([]);
    expect(c.observe(121_999, [k])).toEqual([]);
    expect(c.observe(122_000, [k])).toEqual([k]);
  });
});
