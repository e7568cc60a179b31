// docs/dra.md's complete example, as the doc writes it, in the lab (prefix dx): the YAML is read
// out of the doc (the DeviceClass apply makes, the ResourceClaimTemplate asking for two GPUs and
// two NICs on one PCIe root, the pod), so the doc cannot drift from what runs. The lab runs with
// MULTINIC_LAB_PCIE_ROOTS=1: its veth NICs sit on the fake GPU driver's PCIe roots (eth1 and eth3
// on the first root of host1, eth2 on the second; two GPUs on each) and the fake GPU driver has a
// kubelet plugin (src/lab/dra.ts). The pod gets exactly the two NICs on the GPUs' root, as real
// macvlans in its real netns, with addresses from those NICs' pod blocks and the network's
// routes, and the claim's status names them.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeApi } from '../../src/kube/api.js';
import type { CIDR } from '../../src/lib/crds/types.gen.js';
import type { DraDeviceClass, ResourceClaim } from '../../src/lib/dra/types.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import { R } from '../../src/lib/k8s/resources.js';
import { fakeGpuRoot, type DraPod } from '../../src/lab/dra.js';
import { listCidrViews } from '../../src/cluster/cidr-view.js';
import { repoRoot } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { installedLab, nodeSlice, type InstalledLab } from '../helpers/lab.js';
import { hasCniPlugins, privileged } from '../helpers/privileged.js';

const prefix = 'dx';
const ready = privileged.ok && hasCniPlugins;
const why = !privileged.ok ? privileged.reason : 'needs containernetworking-plugins in /usr/lib/cni';
const HOST = 'host1';
let lab: InstalledLab | undefined;
let kube: KubeApi;

/** The ```yaml blocks of docs/dra.md under the heading `heading` (up to the next heading of that level or higher). */
function docYaml(heading: string): KubeObject[] {
  const doc = readFileSync(join(repoRoot, 'docs/dra.md'), 'utf8');
  const at = doc.indexOf(`\n${heading}\n`);
  expect(at, `docs/dra.md has "${heading}"`).toBeGreaterThan(0);
  const level = heading.split(' ')[0]!;
  const rest = doc.slice(at + heading.length + 2);
  const end = rest.search(new RegExp(`\\n#{1,${level.length}} `));
  const section = end < 0 ? rest : rest.slice(0, end);
  return [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].flatMap((m) => parseAllDocuments(m[1]!).map((d) => d.toJS() as KubeObject));
}

const inBlock = (ip: string, block: string): boolean => {
  const [b, bits] = block.split('/');
  const n = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const mask = 2 ** 32 - 2 ** (32 - Number(bits));
  return (n(ip) & mask) >>> 0 === (n(b!) & mask) >>> 0;
};

describe.skipIf(!ready)(`docs/dra.md complete example in the lab${ready ? '' : ` (skipped: ${why})`}`, () => {
  beforeAll(async () => {
    const net = parse(readFileSync(join(repoRoot, 'examples/lab-network.yaml'), 'utf8')) as KubeObject & { spec: { masterNets: string[] } };
    net.spec.masterNets = ['10.0.1.0/24', '10.0.2.0/24', '10.0.3.0/24'];
    lab = await installedLab({ prefix, tmpPrefix: 'dx-example-', hosts: 1, nics: 3, install: ['--dra'], env: { MULTINIC_LAB_PCIE_ROOTS: '1' } });
    ({ kube } = lab);
    // The example's namespace first, so the network's NAD is generated there as in every namespace it allows.
    await kube.create(R.Namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'training' } });
    writeFileSync(join(lab.dir, 'net.yaml'), stringify(net));
    const applied = await lab.cli(['apply', '-f', join(lab.dir, 'net.yaml'), '--timeout', '120s']);
    expect(applied.code, applied.stderr).toBe(0);
    await eventually(async () => {
      const s = await nodeSlice(kube, HOST);
      expect(s?.spec.devices?.map((d) => `${d.name}:${d.attributes?.['resource.kubernetes.io/pcieRoot']?.string}:${d.attributes?.networks?.string}`)).toEqual([
        `eth1:${fakeGpuRoot(0, 0)}:multi-nic-sample`, `eth2:${fakeGpuRoot(0, 1)}:multi-nic-sample`, `eth3:${fakeGpuRoot(0, 0)}:multi-nic-sample`,
      ]);
    }, 60_000, 250);
  }, 400_000);

  afterAll(async () => {
    await lab?.down();
  }, 60_000);

  it("the doc's DeviceClass is the one apply made for the network", async () => {
    const [dc, ...more] = docYaml('### DeviceClass per network');
    expect(more).toEqual([]);
    expect(dc?.kind).toBe('DeviceClass');
    const live = await kube.get<DraDeviceClass>(R.DraDeviceClass, dc!.metadata!.name!);
    expect(live?.spec).toEqual((dc as unknown as DraDeviceClass).spec);
  });

  it('the pod of the example gets exactly the 2 NICs on its GPUs\' PCIe root, with addresses, routes and claim status', async () => {
    const objs = docYaml('## Complete example: two NICs on the GPUs\' PCIe root');
    expect(objs.map((o) => `${o.kind}/${o.metadata?.namespace}/${o.metadata?.name}`)).toEqual(['ResourceClaimTemplate/training/gpu-and-nics', 'Pod/training/trainer-0']);
    const [template, pod] = objs as [KubeObject & { spec: { spec: { devices: { constraints: unknown[] } } } }, KubeObject];
    expect(template.spec.spec.devices.constraints).toEqual([{ requests: ['gpu', 'nics'], matchAttribute: 'resource.kubernetes.io/pcieRoot' }]);
    await kube.create(R.ResourceClaimTemplate, template);
    await kube.create(R.Pod, pod);
    const p = await eventually(async () => {
      const x = await kube.get<DraPod>(R.Pod, 'trainer-0', 'training');
      expect(x?.status?.phase, JSON.stringify(x?.status)).toBe('Running');
      return x!;
    }, 90_000, 250);
    const claimName = p.status?.resourceClaimStatuses?.find((s) => s.name === 'accel')?.resourceClaimName;
    const claim = (await kube.get<ResourceClaim>(R.ResourceClaim, claimName!, 'training'))!;
    // Two GPUs and the two NICs on one root: eth2 (the other root) is left out.
    const results = claim.status?.allocation?.devices?.results ?? [];
    expect(results.map((r) => `${r.request}:${r.driver}/${r.pool}/${r.device}`)).toEqual(['gpu:gpu.example.com/host1/gpu0', 'gpu:gpu.example.com/host1/gpu2', 'nics:multinic.fms.io/host1/eth1', 'nics:multinic.fms.io/host1/eth3']);
    const gpuSlice = (await nodeSlice(kube, HOST, 'gpu.example.com'))!;
    const nicSlice = (await nodeSlice(kube, HOST))!;
    const rootOf = (r: (typeof results)[number]) => (r.driver === 'gpu.example.com' ? gpuSlice : nicSlice).spec.devices?.find((d) => d.name === r.device)?.attributes?.['resource.kubernetes.io/pcieRoot']?.string;
    expect(new Set(results.map(rootOf))).toEqual(new Set([fakeGpuRoot(0, 0)]));
    // In the pod's netns: exactly two macvlan links, in claim order, addresses from eth1's and eth3's pod blocks.
    const ns = `${prefix}-p${(p.metadata?.uid ?? '').replace(/-/g, '').slice(0, 10)}`;
    const links = (JSON.parse(execFileSync('ip', ['-n', ns, '-j', '-d', 'addr', 'show'], { encoding: 'utf8' })) as Array<{ ifname: string; address: string; linkinfo?: { info_kind?: string }; addr_info: Array<{ family: string; local: string; prefixlen: number }> }>)
      .filter((l) => l.ifname !== 'lo')
      .sort((a, b) => a.ifname.localeCompare(b.ifname))
      .map((l) => ({ ifname: l.ifname, kind: l.linkinfo?.info_kind, mac: l.address, addrs: l.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`) }));
    expect(links.map((l) => `${l.ifname}:${l.kind}`)).toEqual(['net1-0:macvlan', 'net1-1:macvlan']);
    const cidr = (await kube.get<CIDR>(R.CIDR, 'multi-nic-sample'))!;
    const vlanOf = (net: string) => cidr.spec.cidr.find((e) => e.netAddress === net)!.vlanCIDR;
    expect(inBlock(links[0]!.addrs[0]!.split('/')[0]!, vlanOf('10.0.1.0/24')), `${links[0]!.addrs[0]} in ${vlanOf('10.0.1.0/24')}`).toBe(true);
    expect(inBlock(links[1]!.addrs[0]!.split('/')[0]!, vlanOf('10.0.3.0/24')), `${links[1]!.addrs[0]} in ${vlanOf('10.0.3.0/24')}`).toBe(true);
    // Routes: each NIC's network reached through its own pod link, via the host's L3 gateway (the
    // first address of the host's pod block on that NIC, held by its macvlan shim), and the block on-link.
    // Host entries live in CIDRClaims: read the view readers assemble (docs/scale.md).
    const view = (await listCidrViews(kube)).find((c) => c.metadata.name === 'multi-nic-sample')!;
    const entry = (net: string) => view.spec.cidr.find((e) => e.netAddress === net)!.hosts.find((h) => h.hostName === HOST)!;
    const gw = (block: string) => {
      const [b] = block.split('/');
      const o = b!.split('.').map(Number);
      return `${o[0]}.${o[1]}.${o[2]}.${o[3]! + 1}`;
    };
    const routes = (JSON.parse(execFileSync('ip', ['-n', ns, '-j', '-4', 'route', 'show'], { encoding: 'utf8' })) as Array<{ dst: string; gateway?: string; dev: string }>).map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}`).sort();
    expect(routes).toEqual([
      `${vlanOf('10.0.1.0/24')} via ${gw(entry('10.0.1.0/24').podCIDR)} dev net1-0`,
      `${entry('10.0.1.0/24').podCIDR} dev net1-0`,
      `${vlanOf('10.0.3.0/24')} via ${gw(entry('10.0.3.0/24').podCIDR)} dev net1-1`,
      `${entry('10.0.3.0/24').podCIDR} dev net1-1`,
    ].sort());
    // The claim's KEP-4817 status: each claimed NIC with the pod interface, addresses and MAC as in the netns.
    const withStatus = await eventually(async () => {
      const c = (await kube.get<ResourceClaim>(R.ResourceClaim, claimName!, 'training'))!;
      expect(c.status?.devices?.filter((d) => d.driver === 'multinic.fms.io').length).toBe(2);
      return c;
    }, 30_000, 250);
    const byDevice = Object.fromEntries((withStatus.status?.devices ?? []).filter((d) => d.driver === 'multinic.fms.io').map((d) => [d.device, d]));
    for (const [device, link] of [['eth1', links[0]!], ['eth3', links[1]!]] as const) {
      expect(byDevice[device]?.networkData).toEqual({ interfaceName: link.ifname, ips: link.addrs, hardwareAddress: link.mac });
      expect(byDevice[device]?.conditions?.map((c) => `${c.type}=${c.status}`).sort()).toEqual(['NetworkReady=True', 'Ready=True']);
    }
    // The GPUs were prepared by the fake GPU driver's plugin: nothing of ours in the claim status for them.
    expect((withStatus.status?.devices ?? []).filter((d) => d.driver !== 'multinic.fms.io')).toEqual([]);
  }, 150_000);
});
