// CNI selection from DRA claims in the agent core: a pod whose prepared claims hold NICs of our
// driver gets exactly those, in claim order, whatever attachPolicy or cni-args say; a claim holding
// NICs that are not this network's is a NoMatchingNic error naming them; a claimed NIC that is down
// is NotReady; pods without claims keep the policy path (annotation pods alongside).
import { describe, expect, it } from 'vitest';
import { AgentCore, AgentError } from '../../../src/agent/core.js';
import type { DiscoveredNic } from '../../../src/lib/agent/discovery.js';
import { FakeIpam } from '../../fakes/ipam.js';
import { StaticState, testCidr, testNetwork } from '../helpers/network.js';

const nic = (name: string, net: number): DiscoveredNic => ({ ifindex: 0, interfaceName: name, netAddress: `10.0.${net}.0/24`, hostIP: `10.0.${net}.1`, numaNode: -1, speed: 0, mtu: 1500, state: 'up' });
const NICS = [nic('eth1', 1), nic('eth2', 2), nic('eth3', 3)];
const pod = (uid: string, containerID = `c-${uid}`) => ({ namespace: 'default', name: uid, uid, containerID, ifName: 'net1' });

function setup(claims: Record<string, string[]>, nics = NICS) {
  const nets = [1, 2, 3].map((n) => ({ dev: `eth${n}`, net: n }));
  const state = new StaticState([{ network: testNetwork({ strategy: 'none' }), cidr: testCidr(['h1'], 'mnet', nets) }, { network: testNetwork({ name: 'other' }), cidr: testCidr(['h1'], 'other', [{ dev: 'eth9', net: 9 }]) }]);
  const ipam = new FakeIpam();
  const core = new AgentCore({ hostName: 'h1', state, ipam, nics: () => nics, claimedNics: (uid) => (claims[uid] ?? []).map((interfaceName) => ({ interfaceName, claim: `default/${uid}-nics` })) });
  return { core, ipam };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AgentError) return `${e.code}: ${e.message} (${e.hint ?? ''})`;
    throw e;
  }
  return 'resolved';
}

describe('selection from DRA claims', () => {
  it('attaches exactly the claimed NICs in claim order, over attachPolicy none (all NICs) and cni-args', async () => {
    const { core, ipam } = setup({ p1: ['eth3', 'eth1'] });
    const res = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('p1'), args: { nics: 3, masters: ['eth2'] } });
    expect(res.nics.map((n) => `${n.podInterface}=${n.master}`)).toEqual(['net1-0=eth3', 'net1-1=eth1']);
    expect(ipam.list().map((a) => a.interface).sort()).toEqual(['net1-0', 'net1-1']);
    // A repeated ADD answers the same NICs and addresses.
    expect((await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('p1') })).nics).toEqual(res.nics);
  });

  it('keeps the policy for a pod without claims (annotation pods alongside)', async () => {
    const { core } = setup({ p1: ['eth3'] });
    const res = await core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('annot'), args: { nics: 2 } });
    expect(res.nics.map((n) => n.master)).toEqual(['eth1', 'eth2']);
  });

  it('refuses a claim holding another network\'s NIC, naming it and the fix, and allocates nothing', async () => {
    const { core, ipam } = setup({ p2: ['eth1', 'eth9'] }, [...NICS, nic('eth9', 9)]);
    const msg = await code(core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('p2') }));
    expect(msg).toContain('NoMatchingNic: network "mnet": the pod\'s ResourceClaim default/p2-nics holds eth9, not a NIC of this network on host h1 (its NICs here: eth1, eth2, eth3)');
    expect(msg).toContain('DeviceClass mnet.multinic.fms.io');
    expect(ipam.list()).toEqual([]);
  });

  it('answers NotReady when a claimed NIC of the network is not up', async () => {
    const { core, ipam } = setup({ p3: ['eth2'] }, [nic('eth1', 1), nic('eth3', 3)]);
    expect(await code(core.allocate({ apiVersion: 'v1', network: 'mnet', pod: pod('p3') }))).toMatch(/^NotReady: network "mnet": claimed NIC eth2: not up with an address in the host namespace of ResourceClaim default\/p3-nics/);
    expect(ipam.list()).toEqual([]);
  });
});
