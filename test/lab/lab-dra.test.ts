// DRA in the lab (prefix r1d): real agents in network namespaces over veth NICs publish one
// ResourceSlice per host with what the kernel tells about a veth (and none of the PCI facts it
// lacks), the networks each NIC serves, and the DeviceClass apply renders; each host's kubelet
// plugin answers a real gRPC GetInfo on its registration socket in the host's lab dir.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as GrpcJs from '@grpc/grpc-js';
import type { KubeApi } from '../../src/kube/api.js';
import type { HostInterface } from '../../src/lib/crds/types.gen.js';
import type { ResourceSlice } from '../../src/lib/dra/types.js';
import { R } from '../../src/lib/k8s/resources.js';
import { labKubeletDir } from '../../src/lab/agents.js';
import { loadProtos, pluginSockets } from '../../src/agent/dra/plugin.js';
import { repoRoot } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { installedLab, nodeSlice, type InstalledLab } from '../helpers/lab.js';
import { hasCniPlugins, privileged } from '../helpers/privileged.js';

const prefix = 'r1d';
const ready = privileged.ok && hasCniPlugins;
const why = !privileged.ok ? privileged.reason : 'needs containernetworking-plugins in /usr/lib/cni';
let lab: InstalledLab | undefined;
let dir = '';
let kube: KubeApi;

describe.skipIf(!ready)(`lab DRA${ready ? '' : ` (skipped: ${why})`}`, () => {
  beforeAll(async () => {
    lab = await installedLab({ prefix, tmpPrefix: 'r1-dra-', hosts: 2, nics: 2, install: ['--dra'], network: () => join(repoRoot, 'examples/lab-network.yaml') });
    ({ dir, kube } = lab);
  }, 400_000);

  afterAll(async () => {
    await lab?.down();
  }, 60_000);

  it('publishes one slice per host with the veth NICs as the kernel reports them, and nothing invented', async () => {
    const hosts = (await kube.list<HostInterface>(R.HostInterface)).items;
    expect(hosts.length).toBe(2);
    for (const h of hosts) {
      const node = h.metadata.name ?? '';
      const slice = await eventually(async () => {
        const s = await nodeSlice(kube, node);
        expect(s?.spec.devices?.map((d) => d.attributes?.networks?.string)).toEqual(h.spec.interfaces.map(() => 'multi-nic-sample'));
        return s as ResourceSlice;
      }, 30_000, 200);
      expect(slice.spec.pool.name).toBe(node);
      expect(slice.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Node', name: node });
      for (const nic of h.spec.interfaces) {
        const d = slice.spec.devices?.find((x) => x.attributes?.interfaceName?.string === nic.interfaceName);
        const a = d?.attributes ?? {};
        expect(a.netAddress?.string).toBe(nic.netAddress);
        expect(a.mtu?.int).toBe(nic.mtu);
        expect(a.state?.string).toBe(nic.state);
        if (nic.speed) expect(a.speed?.int).toBe(nic.speed);
        // The lab's NICs are veths: no PCI device, so none of these exist in sysfs and none are published.
        for (const k of ['pciAddress', 'vendor', 'product', 'rdma', 'resource.kubernetes.io/pcieRoot', 'resource.kubernetes.io/numaNode']) expect(a[k], `${node}/${nic.interfaceName} ${k}`).toBeUndefined();
        // And the kernel agrees there is no device behind the veth.
        const hasDevice = execFileSync('ip', ['netns', 'exec', `${prefix}-${node}`, 'sh', '-c', `test -e /sys/class/net/${nic.interfaceName}/device && echo yes || echo no`], { encoding: 'utf8' }).trim();
        expect(hasDevice).toBe('no');
      }
    }
    const dc = await kube.get(R.DraDeviceClass, 'multi-nic-sample.multinic.fms.io');
    expect(JSON.stringify(dc?.spec)).toContain(',multi-nic-sample,');
  });

  it('serves the kubelet registration service on each host\'s plugin socket', async () => {
    const hosts = (await kube.list<HostInterface>(R.HostInterface)).items.map((h) => h.metadata.name ?? '');
    const { grpc, regPackage } = await loadProtos();
    const Reg = (regPackage.pluginregistration as GrpcJs.GrpcObject).Registration as GrpcJs.ServiceClientConstructor;
    for (const host of hosts) {
      const sockets = pluginSockets(labKubeletDir(join(dir, 'lab'), host), 'multinic.fms.io');
      const client = new Reg(`unix://${sockets.registrationSocket}`, grpc.credentials.createInsecure());
      const info = await new Promise<{ name: string; endpoint: string; supported_versions: string[] }>((resolve, reject) =>
        (client as unknown as { GetInfo: (r: unknown, cb: (e: Error | null, r: unknown) => void) => void }).GetInfo({}, (e, r) => (e ? reject(e) : resolve(r as never))),
      );
      client.close();
      expect(info).toEqual({ type: 'DRAPlugin', name: 'multinic.fms.io', endpoint: sockets.draSocket, supported_versions: ['v1.DRAPlugin'] });
    }
  });
});
