// DRA end to end in the lab (prefix dr): the lab's scheduler/claim-controller/kubelet stand-in
// (src/lab/dra.ts) allocates a pod's ResourceClaim from the agents' ResourceSlices, the real
// agent's DRA plugin prepares it over gRPC, and the real multi-nic CNI with the real macvlan
// attaches exactly the claimed NICs into the pod's real network namespace; the claim's
// status.devices names them with the addresses the pod has. A claim that cannot be satisfied (too
// few free NICs; NICs without the GPUs' PCIe root) leaves the pod Pending with the reason; deleting
// the pod unprepares its claim and frees its NICs for the pod that waited.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeApi } from '../../src/kube/api.js';
import type { CIDR } from '../../src/lib/crds/types.gen.js';
import type { ResourceClaim } from '../../src/lib/dra/types.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import { R } from '../../src/lib/k8s/resources.js';
import { labHostDir } from '../../src/lab/agents.js';
import type { DraPod } from '../../src/lab/dra.js';
import { repoRoot } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { installedLab, nodeSlice, type InstalledLab } from '../helpers/lab.js';
import { hasCniPlugins, privileged } from '../helpers/privileged.js';

const prefix = 'dr';
const ready = privileged.ok && hasCniPlugins;
const why = !privileged.ok ? privileged.reason : 'needs containernetworking-plugins in /usr/lib/cni';
const HOST = 'host1';
let lab: InstalledLab | undefined;
let dir = '';
let kube: KubeApi;
const cli = (args: string[], timeoutMs?: number) => lab!.cli(args, timeoutMs);

const template = (name: string, devices: Record<string, unknown>): KubeObject => ({ apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaimTemplate', metadata: { name, namespace: 'default' }, spec: { spec: { devices } } } as KubeObject);
const pod = (name: string, claimTemplate: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/networks': 'multi-nic-sample' } },
  spec: { resourceClaims: [{ name: 'nics', resourceClaimTemplateName: claimTemplate }], containers: [{ name: 'main', image: 'lab' }] },
} as KubeObject);
const getPod = (name: string) => kube.get<DraPod>(R.Pod, name, 'default');
const claimOf = async (name: string): Promise<ResourceClaim> => {
  const p = await getPod(name);
  const cn = p?.status?.resourceClaimStatuses?.[0]?.resourceClaimName;
  expect(cn, `${name} has a generated claim`).toBeTruthy();
  return (await kube.get<ResourceClaim>(R.ResourceClaim, cn!, 'default'))!;
};
const netnsOf = (p: DraPod) => `${prefix}-p${(p.metadata?.uid ?? '').replace(/-/g, '').slice(0, 10)}`;
/** The pod's interfaces other than lo, read from its network namespace. */
function podLinks(p: DraPod): Array<{ ifname: string; address: string; kind?: string; addrs: string[] }> {
  const j = JSON.parse(execFileSync('ip', ['-n', netnsOf(p), '-j', '-d', 'addr', 'show'], { encoding: 'utf8' })) as Array<{ ifname: string; address: string; linkinfo?: { info_kind?: string }; addr_info: Array<{ family: string; local: string; prefixlen: number }> }>;
  return j.filter((l) => l.ifname !== 'lo').sort((a, b) => a.ifname.localeCompare(b.ifname)).map((l) => ({ ifname: l.ifname, address: l.address, kind: l.linkinfo?.info_kind, addrs: l.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`) }));
}
const prepared = (): string[] => {
  const f = join(labHostDir(join(dir, 'lab'), HOST), 'data', 'dra-prepared.json');
  return (JSON.parse(readFileSync(f, 'utf8')) as { claims: Array<{ uid: string }> }).claims.map((c) => c.uid);
};

describe.skipIf(!ready)(`lab DRA claims${ready ? '' : ` (skipped: ${why})`}`, () => {
  beforeAll(async () => {
    // The lab network over all three NICs.
    const net = (await import('yaml')).parse(readFileSync(join(repoRoot, 'examples/lab-network.yaml'), 'utf8')) as KubeObject & { spec: { masterNets: string[] } };
    net.spec.masterNets = ['10.0.1.0/24', '10.0.2.0/24', '10.0.3.0/24'];
    lab = await installedLab({
      prefix, tmpPrefix: 'dr-claims-', hosts: 1, nics: 3, install: ['--dra'],
      network: (d) => {
        writeFileSync(join(d, 'net.yaml'), stringify(net));
        return join(d, 'net.yaml');
      },
    });
    ({ dir, kube } = lab);
    await eventually(async () => {
      const s = await nodeSlice(kube, HOST);
      expect(s?.spec.devices?.map((d) => d.attributes?.networks?.string)).toEqual(['multi-nic-sample', 'multi-nic-sample', 'multi-nic-sample']);
    }, 60_000, 250);
    await kube.create(R.ResourceClaimTemplate, template('two-nics', {
      requests: [{ name: 'nics', exactly: { deviceClassName: 'multi-nic-sample.multinic.fms.io', count: 2, selectors: [{ cel: { expression: 'device.attributes["multinic.fms.io"].interfaceName != "eth1"' } }] } }],
    }));
    await kube.create(R.ResourceClaimTemplate, template('gpu-and-nic', {
      requests: [
        { name: 'gpu', exactly: { deviceClassName: 'gpu.example.com', count: 1 } },
        { name: 'nics', exactly: { deviceClassName: 'multi-nic-sample.multinic.fms.io', count: 1 } },
      ],
      constraints: [{ requests: ['gpu', 'nics'], matchAttribute: 'resource.kubernetes.io/pcieRoot' }],
    }));
  }, 400_000);

  afterAll(async () => {
    await lab?.down();
  }, 60_000);

  let firstClaim: ResourceClaim;

  it('a pod claiming 2 NICs gets exactly those in its netns, and the claim status names them with its addresses', async () => {
    await kube.create(R.Pod, pod('claim-a', 'two-nics'));
    const p = await eventually(async () => {
      const x = await getPod('claim-a');
      expect(x?.status?.phase, JSON.stringify(x?.status)).toBe('Running');
      return x!;
    }, 90_000, 250);
    expect(p.spec?.nodeName).toBe(HOST);
    const claim = await claimOf('claim-a');
    firstClaim = claim;
    expect(claim.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Pod', name: 'claim-a', uid: p.metadata?.uid });
    expect(claim.status?.reservedFor).toEqual([{ resource: 'pods', name: 'claim-a', uid: p.metadata?.uid }]);
    expect(claim.status?.allocation?.devices?.results?.map((r) => `${r.driver}/${r.pool}/${r.device}`)).toEqual(['multinic.fms.io/host1/eth2', 'multinic.fms.io/host1/eth3']);
    expect(prepared()).toContain(claim.metadata.uid);
    // Exactly the two claimed NICs, as macvlan links, named in claim order (net1-0 is the first).
    const links = podLinks(p);
    expect(links.map((l) => `${l.ifname}:${l.kind}`)).toEqual(['net1-0:macvlan', 'net1-1:macvlan']);
    // Their addresses come from the pod blocks of eth2's and eth3's NIC networks (10.0.2/24, 10.0.3/24).
    const cidr = (await kube.get<CIDR>(R.CIDR, 'multi-nic-sample'))!;
    const vlanOf = (net: string) => cidr.spec.cidr.find((e) => e.netAddress === net)!.vlanCIDR;
    const inBlock = (ip: string, block: string) => {
      const [b, bits] = block.split('/');
      const n = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
      const mask = 2 ** 32 - 2 ** (32 - Number(bits));
      return (n(ip) & mask) >>> 0 === (n(b!) & mask) >>> 0;
    };
    expect(inBlock(links[0]!.addrs[0]!.split('/')[0]!, vlanOf('10.0.2.0/24')), `${links[0]!.addrs[0]} in ${vlanOf('10.0.2.0/24')}`).toBe(true);
    expect(inBlock(links[1]!.addrs[0]!.split('/')[0]!, vlanOf('10.0.3.0/24')), `${links[1]!.addrs[0]} in ${vlanOf('10.0.3.0/24')}`).toBe(true);
    const withStatus = await eventually(async () => {
      const c = (await kube.get<ResourceClaim>(R.ResourceClaim, claim.metadata.name!, 'default'))!;
      expect(c.status?.devices?.length).toBe(2);
      return c;
    }, 30_000, 250);
    const byDevice = Object.fromEntries((withStatus.status?.devices ?? []).map((d) => [d.device, d]));
    for (const [device, link] of [['eth2', links[0]!], ['eth3', links[1]!]] as const) {
      expect(byDevice[device]?.networkData).toEqual({ interfaceName: link.ifname, ips: link.addrs, hardwareAddress: link.address });
      expect(byDevice[device]?.conditions?.map((c) => `${c.type}=${c.status}`).sort()).toEqual(['NetworkReady=True', 'Ready=True']);
    }
  }, 150_000);

  it("doctor's node-claims names a claimed NIC set down, with its claim and pod", async () => {
    execFileSync('ip', ['-n', `${prefix}-${HOST}`, 'link', 'set', 'eth3', 'down']);
    try {
      const finding = await eventually(async () => {
        const r = await cli(['doctor', '-o', 'json', '--timeout', '20s'], 120_000);
        const rep = JSON.parse(r.stdout) as { findings: Array<{ check: string; where: { node?: string; nic?: string; pod?: string }; seen: string; fix: string }> };
        const f = rep.findings.find((x) => x.check === 'node-claims');
        expect(f, r.stdout).toBeDefined();
        return f!;
      }, 90_000, 1000);
      expect(finding.where).toEqual({ node: HOST, nic: 'eth3', pod: 'default/claim-a' });
      expect(finding.seen).toBe(`NIC eth3 on ${HOST}, held by claim default/${firstClaim.metadata.name} for pod default/claim-a, is down`);
      expect(finding.fix).toBe(`ip link set eth3 up on ${HOST}`);
    } finally {
      execFileSync('ip', ['-n', `${prefix}-${HOST}`, 'link', 'set', 'eth3', 'up']);
    }
  }, 200_000);

  it('a claim that cannot be satisfied leaves the pod Pending, unbound, with the reason', async () => {
    await kube.create(R.Pod, pod('claim-b', 'two-nics'));
    await kube.create(R.Pod, pod('claim-gpu', 'gpu-and-nic'));
    const reason = async (name: string) =>
      eventually(async () => {
        const x = await getPod(name);
        const c = x?.status?.conditions?.find((k) => k.type === 'PodScheduled');
        expect(c?.status).toBe('False');
        return { pod: x!, cond: c! };
      }, 30_000, 250);
    const b = await reason('claim-b');
    expect(b.pod.spec?.nodeName).toBeUndefined();
    expect(b.pod.status?.phase).toBe('Pending');
    expect(b.cond.reason).toBe('Unschedulable');
    expect(b.cond.message).toMatch(/^0\/1 nodes are available: host1: claim claim-b-nics-\w+: request "nics": 0 free device\(s\) of DeviceClass multi-nic-sample\.multinic\.fms\.io match its selectors, 2 wanted$/);
    // The lab's NICs are veths: no PCIe root, so none can share one with a GPU.
    const g = await reason('claim-gpu');
    expect(g.cond.message).toContain('no choice of devices satisfies matchAttribute resource.kubernetes.io/pcieRoot over gpu, nics (without the attribute: multinic.fms.io/eth1)');
    const events = (await kube.list<KubeObject & { reason?: string; message?: string; involvedObject?: { name?: string } }>(R.Event, { namespace: 'default' })).items;
    expect(events.some((e) => e.reason === 'FailedScheduling' && e.involvedObject?.name === 'claim-b' && e.message === b.cond.message)).toBe(true);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(netnsOf(b.pod));
  }, 60_000);

  it('deleting the pod unprepares its claim and frees its NICs: the waiting pod gets them', async () => {
    await kube.delete(R.Pod, 'claim-a', 'default');
    await eventually(async () => expect(await getPod('claim-a')).toBeUndefined(), 60_000, 250);
    await eventually(async () => expect(await kube.get(R.ResourceClaim, firstClaim.metadata.name!, 'default')).toBeUndefined(), 30_000, 250);
    const b = await eventually(async () => {
      const x = await getPod('claim-b');
      expect(x?.status?.phase).toBe('Running');
      return x!;
    }, 60_000, 250);
    expect(prepared()).not.toContain(firstClaim.metadata.uid);
    const bClaim = await claimOf('claim-b');
    expect(prepared()).toContain(bClaim.metadata.uid);
    expect(bClaim.status?.allocation?.devices?.results?.map((r) => r.device)).toEqual(['eth2', 'eth3']);
    expect(podLinks(b).map((l) => l.ifname)).toEqual(['net1-0', 'net1-1']);
    // And claim-b's pod goes the same way: its netns, its claim and its prepared record.
    await kube.delete(R.Pod, 'claim-b', 'default');
    await eventually(async () => expect(await getPod('claim-b')).toBeUndefined(), 60_000, 250);
    await eventually(() => expect(prepared()).not.toContain(bClaim.metadata.uid), 30_000, 250);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(netnsOf(b));
  }, 180_000);
});
