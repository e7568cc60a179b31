// Publishes this node's NICs as its ResourceSlice (src/lib/dra/slices.ts builds it) and keeps it
// current: on every node round of the KubeAgent (NIC, network and CIDR changes, and the periodic
// resync) the desired devices are compared with the slice as last read or written, and only a
// change is written, with the pool generation bumped. An unchanged round makes no request: the
// Node comes from the agent's informer cache, the slice from the last read or write, which is
// read again only after `revalidateMs` (so a slice deleted behind the agent's back comes back) or
// after a write met a conflict or a 404. The slice is owned by the Node, so the API's garbage
// collector removes it when the node goes. Also reads the sysfs facts only DRA uses (PCIe root, RDMA).
import { readdir, realpath } from 'node:fs/promises';
import type { InterfaceInfo } from '../../lib/crds/types.gen.js';
import { interfaceOfDevice, nodeSlice, networksAttr, type SliceNic } from '../../lib/dra/slices.js';
import { DRIVER, type ResourceSlice } from '../../lib/dra/types.js';
import type { KubeObject } from '../../lib/k8s/meta.js';
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
  /** The Node as the agent's informer has it; the publisher GETs it only while this has none. */
  node?: () => KubeObject | undefined;
  /** How long the slice as last read or written is trusted before a round reads it again (default 5 min). */
  revalidateMs?: number;
  now?: () => number;
}

export const SLICE_REVALIDATE_MS = 5 * 60_000;

const devicesKey = (s: ResourceSlice | undefined): string => JSON.stringify(s?.spec.devices ?? []);

export class SlicePublisher {
  private live: ResourceSlice | undefined;
  /** When `live` was last read or written (ms, `now()`); 0: never. */
  private liveAt = 0;
  /** The Node's uid as last seen (cache or GET): the owner reference, without a GET per round. */
  private nodeUid: string | undefined;
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
    const now = this.o.now ?? Date.now;
    const cached = this.o.node?.();
    if (cached) this.nodeUid = cached.metadata?.uid;
    else if (this.nodeUid === undefined) this.nodeUid = (await this.o.api.get(R.Node, this.o.nodeName))?.metadata?.uid;
    const name = nodeSlice({ node: this.o.nodeName, nics: [], networksOf: () => [], generation: 1, driver: this.o.driver }).metadata.name ?? '';
    // The slice as last read or written, while fresh; after a conflict or a 404 it is read again.
    let trusted = this.live !== undefined && now() - this.liveAt < (this.o.revalidateMs ?? SLICE_REVALIDATE_MS);
    for (let attempt = 0; attempt < 5; attempt++) {
      const live = trusted ? this.live : await this.o.api.get<ResourceSlice>(R.ResourceSlice, name);
      if (!trusted) this.remember(live, now());
      const want = nodeSlice({ node: this.o.nodeName, nodeUid: this.nodeUid, nics: withFacts, networksOf, generation: (live?.spec.pool.generation ?? 0) + 1, driver: this.o.driver ?? DRIVER });
      try {
        if (!live) {
          this.remember(await this.o.api.create(R.ResourceSlice, want), now());
          log({ level: 'info', msg: 'published ResourceSlice', slice: name, devices: want.spec.devices?.map((d) => d.name), generation: want.spec.pool.generation });
          return true;
        }
        if (devicesKey(live) === devicesKey(want) && JSON.stringify(live.metadata.ownerReferences ?? []) === JSON.stringify(want.metadata.ownerReferences ?? [])) return false;
        this.remember(await this.o.api.replace(R.ResourceSlice, { ...want, metadata: { ...live.metadata, ownerReferences: want.metadata.ownerReferences } }), now());
        log({ level: 'info', msg: 'updated ResourceSlice', slice: name, devices: want.spec.devices?.map((d) => d.name), generation: want.spec.pool.generation });
        return true;
      } catch (e) {
        if (isConflict(e) || isAlreadyExists(e) || isNotFound(e)) {
          trusted = false;
          continue;
        }
        throw e;
      }
    }
    throw new Error(`failed to publish ResourceSlice of node "${this.o.nodeName}": conflicting writes 5 times in a row`);
  }

  private remember(slice: ResourceSlice | undefined, at: number): void {
    this.live = slice;
    this.liveAt = at;
  }
}
