// plan == apply (the plan is the contract): the host indexes `kubectl multinic plan` prints over
// the cluster are the ones the agents hold after `kubectl multinic apply`, host by host, even for a
// host whose agent is down at apply time; a host joining afterwards claims a free index and moves
// nobody. The built CLI against the API stand-in, with real agents.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeAgent } from '../../../src/agent/kube/index.js';
import { writeKubeconfig } from '../../../src/lab/apiserver/index.js';
import { duplicateClaims } from '../../../src/lib/cluster/claim.js';
import type { CIDR, CIDRSpec } from '../../../src/lib/crds/types.gen.js';
import { runCliAsync } from '../../helpers/cli.js';
import { agentFor, cidrOf, createNode, eventually, hostNics, seedNetwork, testCluster, type TestCluster } from './helpers.js';

let c: TestCluster;
let dir: string;
let kubeconfig: string;
const agents: KubeAgent[] = [];
const byName = new Map<string, KubeAgent>();
beforeEach(async () => {
  c = await testCluster();
  dir = mkdtempSync(join(tmpdir(), 'mnG-planapply-'));
  kubeconfig = join(dir, 'kubeconfig');
  await writeKubeconfig(kubeconfig, c.server.url);
});
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  byName.clear();
  await c.close();
  rmSync(dir, { recursive: true, force: true });
});

const NET = 'multi-nic-sample';
/** host → NIC network → "index podCIDR interface hostIP": what plan == apply compares. */
const byHost = (spec: CIDRSpec): Record<string, Record<string, string>> => {
  const out: Record<string, Record<string, string>> = {};
  for (const e of spec.cidr) for (const h of e.hosts) (out[h.hostName] ??= {})[e.netAddress] = `${h.hostIndex} ${h.podCIDR} ${h.interfaceName} ${h.hostIP}`;
  return out;
};

async function startHost(name: string, i: number): Promise<KubeAgent> {
  if (!c.server.store.get('v1', 'Node', name)) createNode(c, name);
  const a = await agentFor(c, name);
  agents.push(a);
  byName.set(name, a);
  await a.setNics(hostNics(i));
  return a;
}

describe('plan == apply', () => {
  it('the CIDR after apply equals the plan host by host; a host whose agent was down adopts its planned entry; a later host moves nobody', async () => {
    // Names chosen so that a race (first claimer gets index 0) disagrees with the plan's name order.
    const late = await startHost('host-a', 0);
    for (const [i, n] of ['host-b', 'host-c', 'host-d'].entries()) await startHost(n, i + 1);
    // host-a published its HostInterface, then its agent went down.
    await late.stop();
    agents.splice(agents.indexOf(late), 1);
    const file = join(dir, 'net.yaml');
    writeFileSync(file, stringify(seedNetwork()));

    const plan = await runCliAsync(['plan', '-f', file, '-o', 'json', '--kubeconfig', kubeconfig]);
    expect(plan.code, plan.stderr).toBe(0);
    const planned = JSON.parse(plan.stdout) as CIDR;
    expect(Object.keys(byHost(planned.spec))).toEqual(['host-a', 'host-b', 'host-c', 'host-d']);
    expect(byHost(planned.spec)['host-a']).toEqual({ '10.0.1.0/24': '0 192.168.0.0/24 eth1 10.0.1.1', '10.0.2.0/24': '0 192.168.64.0/24 eth2 10.0.2.1' });

    const apply = await runCliAsync(['apply', '-f', file, '--no-wait', '--kubeconfig', kubeconfig]);
    expect(apply.code, apply.stderr).toBe(0);
    // The running agents confirm their planned entries.
    await eventually(() => {
      for (const [i, n] of ['host-b', 'host-c', 'host-d'].entries()) expect(byName.get(n)?.last.claims[NET]?.claimed).toEqual({ '10.0.1.0/24': i + 1, '10.0.2.0/24': i + 1 });
    });
    expect(byHost(cidrOf(c, NET)!.spec)).toEqual(byHost(planned.spec));
    // Nobody raced: the one CIDR write is apply's create (plus its ownerReference patch).
    expect(agents.every((a) => a.last.claims[NET]?.wrote === false)).toBe(true);
    const cidr = cidrOf(c, NET)!;
    expect(cidr.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'MultiNicNetwork', name: NET, controller: true });
    expect(cidr.spec.config).toEqual(planned.spec.config);

    // host-a comes back: it adopts the entry the plan gave it.
    await startHost('host-a', 0);
    await eventually(() => expect(byName.get('host-a')?.last.claims[NET]?.claimed).toEqual({ '10.0.1.0/24': 0, '10.0.2.0/24': 0 }));
    expect(byHost(cidrOf(c, NET)!.spec)).toEqual(byHost(planned.spec));

    // A host joining afterwards claims the lowest free index; every planned entry stays.
    await startHost('host-0', 4);
    await eventually(() => expect(byHost(cidrOf(c, NET)!.spec)['host-0']).toEqual({ '10.0.1.0/24': '4 192.168.4.0/24 eth1 10.0.1.5', '10.0.2.0/24': '4 192.168.68.0/24 eth2 10.0.2.5' }));
    const after = byHost(cidrOf(c, NET)!.spec);
    delete after['host-0'];
    expect(after).toEqual(byHost(planned.spec));
    expect(duplicateClaims(cidrOf(c, NET)!.spec)).toEqual([]);
  });

  it('a network that does not fit: apply leaves out the host the plan left out, and that host claims nothing', async () => {
    // hostBlock 1: two host blocks per interface, three hosts. The plan places hosts in name order.
    for (const [i, n] of ['host-a', 'host-b', 'host-c'].entries()) await startHost(n, i);
    const file = join(dir, 'net.yaml');
    writeFileSync(file, stringify(seedNetwork({ ipam: JSON.stringify({ type: 'multi-nic-ipam', hostBlock: 1, interfaceBlock: 2, vlanMode: 'l3' }) })));

    const plan = await runCliAsync(['plan', '-f', file, '-o', 'json', '--kubeconfig', kubeconfig]);
    expect(plan.code, plan.stderr).toBe(1);
    const left = [...plan.stderr.matchAll(/(host-[a-c])\/eth\d on [^ ]+ was not placed/g)].map((m) => m[1]);
    expect(new Set(left).size, plan.stderr).toBe(1);
    const planned = byHost((JSON.parse(plan.stdout) as CIDR).spec);
    expect(Object.keys(planned)).toHaveLength(2);
    expect(planned).not.toHaveProperty(left[0]!);

    const apply = await runCliAsync(['apply', '-f', file, '--no-wait', '--kubeconfig', kubeconfig]);
    expect(apply.code, apply.stderr).toBe(0);
    await eventually(() => expect(byHost(cidrOf(c, NET)!.spec)).toEqual(planned));
    // The left-out host keeps trying and finds no free index: nobody planned is moved.
    await new Promise((r) => setTimeout(r, 1500));
    expect(byHost(cidrOf(c, NET)!.spec)).toEqual(planned);
    expect(byName.get(left[0]!)?.last.claims[NET]?.claimed ?? {}).toEqual({});
  });
});
