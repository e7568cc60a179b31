// Publishes this node's NICs as its ResourceSlice (src/lib/dra/slices.ts builds it) and keeps it
// current: on every node round of the KubeAgent (NIC, network and CIDR changes, and the periodic
// resync) the desired devices are compared with the live slice, and only a change is written, with
// the pool generation bumped. The slice is owned by the Node, so the API's garbage collector
// removes it when the node goes. Also reads the sysfs facts only DRA uses (PCIe root, RDMA).
import { readdir, realpath } from 'node:fs/promises';
import type { InterfaceInfo } from '../../lib/crds/types.gen.js';
import { interfaceOfDevice, nodeSlice, networksAttr, type SliceNic } from '../../lib/dra/slices.js';
import { DRIVER, type ResourceSlice } from '../../lib/dra/types.js';
import { R } from '../../lib/k8s/resources.js';
import { isAlreadyExists, isConflict, isNotFound, type KubeApi } from '../../kube/api.js';

const PCI_ROOT = /^pci[0-9a-f]{4}:[0-9a-f]{2}$/;

/** PCIe root and RDMA of a netdev from sysfs; both absent for a NIC without a PCI device (veth, virtual). */
export async function readDraFacts(sysfsRoot: string, ifname: string): Promise<Pick<SliceNic, 'pcieRoot' | 'rdma'>> {
  const dev = await realpath(`${sysfsRoot}/class/net/${ifname}/device`).catch(() => undefined);
  if (!dev) return {};
  const root = dev.split('/').find((p) => PCI_ROOT.test(p));
  if (!root) return {};
  const rdma = await readdir(`${dev}/infiniband`).then((e) => e.length > 0, () => false);
  return { pcieRoot: root, rdma };
}

export interface SlicePublisherOptions {
  api: KubeApi;
  nodeName: string;
  sysfsRoot?: string;
  driver?: string;
  log?: (event: Record<string, unknown>) => void;
}

const devicesKey = (s: ResourceSlice | undefined): string => JSON.stringify(s?.spec.devices ?? []);

export class SlicePublisher {
  private live: ResourceSlice | undefined;
  private warned = '';
  constructor(private readonly o: SlicePublisherOptions) {}

  /** The interface name of one of our devices as last published (the DRA plugin resolves claims with it). */
  nicOf = (device: string): string | undefined => interfaceOfDevice(this.live, device);

  /** The slice as last read or written. */
  current(): ResourceSlice | undefined {
    return this.live;
  }

  /** Writes the node's slice when its devices differ from the live one. Returns whether it wrote. */
  async sync(nics: readonly InterfaceInfo[], networksOf: (nic: InterfaceInfo) => string[]): Promise<boolean> {
    const log = this.o.log ?? (() => undefined);
    const withFacts: SliceNic[] = await Promise.all(nics.map(async (n) => ({ ...n, ...(await readDraFacts(this.o.sysfsRoot ?? '/sys', n.interfaceName)) })));
    const dropped = withFacts.flatMap((n) => networksAttr(networksOf(n)).dropped.map((d) => `${n.interfaceName}:${d}`));
    if (dropped.join() !== this.warned) {
      this.warned = dropped.join();
      if (dropped.length) log({ level: 'warn', msg: 'networks attribute over 64 characters: some networks are not in the ResourceSlice', dropped, hint: 'DRA string attributes hold 64 characters; use shorter MultiNicNetwork names for NICs serving many networks' });
    }
    const node = await this.o.api.get(R.Node, this.o.nodeName);
    for (let attempt = 0; attempt < 5; attempt++) {
      const name = nodeSlice({ node: this.o.nodeName, nics: [], networksOf: () => [], generation: 1, driver: this.o.driver }).metadata.name ?? '';
      const live = await this.o.api.get<ResourceSlice>(R.ResourceSlice, name);
      const want = nodeSlice({ node: this.o.nodeName, nodeUid: node?.metadata?.uid, nics: withFacts, networksOf, generation: (live?.spec.pool.generation ?? 0) + 1, driver: this.o.driver ?? DRIVER });
      try {
        if (!live) {
          this.live = await this.o.api.create(R.ResourceSlice, want);
          log({ level: 'info', msg: 'published ResourceSlice', slice: name, devices: want.spec.devices?.map((d) => d.name), generation: want.spec.pool.generation });
          return true;
        }
        if (devicesKey(live) === devicesKey(want) && JSON.stringify(live.metadata.ownerReferences ?? []) === JSON.stringify(want.metadata.ownerReferences ?? [])) {
          this.live = live;
          return false;
        }
        this.live = await this.o.api.replace(R.ResourceSlice, { ...want, metadata: { ...live.metadata, ownerReferences: want.metadata.ownerReferences } });
        log({ level: 'info', msg: 'updated ResourceSlice', slice: name, devices: want.spec.devices?.map((d) => d.name), generation: want.spec.pool.generation });
        return true;
      } catch (e) {
        if (isConflict(e) || isAlreadyExists(e) || isNotFound(e)) continue;
        throw e;
      }
    }
    throw new Error(`failed to publish ResourceSlice of node "${this.o.nodeName}": conflicting writes 5 times in a row`);
  }
}
