// The lab's stand-in for the DRA parts of the control plane and the kubelet (docs/dra.md says
// which parts, and that production uses the real kube-scheduler, resourceclaim controller and
// kubelet). Small on purpose:
// - resourceclaim controller: a pod's `resourceClaimTemplateName` becomes a ResourceClaim owned by
//   the pod (annotation resource.kubernetes.io/pod-claim-name, pod status.resourceClaimStatuses);
//   when the pod is gone its generated claims go (the API's garbage collector) and it leaves the
//   reservedFor of shared ones, which are deallocated once nobody holds them.
// - scheduler: a pod with claims and no node gets its claims allocated on the first lab host that
//   can satisfy all of them (src/lib/dra/allocate.ts: DeviceClass and request CEL selectors in a
//   subset, count or All, matchAttribute), status.allocation and reservedFor written, then the pod
//   is bound; otherwise it stays Pending with PodScheduled=False, reason Unschedulable, the
//   per-host reasons in the message, and a FailedScheduling Event. The hosts it tries are narrowed
//   by the pod's required node affinity on `metadata.name` (matchFields, In) and a nodeSelector on
//   `kubernetes.io/hostname` (the lab's hosts are named by it), the forms that pin a pod to a node.
// - kubelet: before the CNI, NodePrepareResources over the host's registered DRA plugins (found
//   as the kubelet's plugin watcher finds them: GetInfo on every socket in plugins_registry); after
//   the CNI DEL, NodeUnprepareResources.
// - a fake GPU driver (gpu.example.com): a ResourceSlice per host with GPUs on PCIe roots and its
//   DeviceClass, and no kubelet plugin (a claim that gets one of its GPUs fails at Prepare, as on a
//   node without that driver).
// - with MULTINIC_LAB_PCIE_ROOTS=1 (lab up's environment): the lab's veth NICs placed on those
//   PCIe roots too, through a sysfs-shaped tree per host that the agents read the DRA facts from
//   (--dra-sysfs-root; labPcieTree), and four GPUs per host, two per root, so a claim aligning
//   GPUs and NICs on one root can be satisfied in the lab (docs/dra.md); the fake GPU driver then
//   has a kubelet plugin on each host (the agent's plugin code under the driver name
//   gpu.example.com, its devices the host's GPUs, its record under the host's kubelet dir), so
//   such a claim is prepared and the pod runs.
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type * as GrpcJs from '@grpc/grpc-js';
import { loadProtos, startDraPlugin, type DraPlugin } from '../agent/dra/plugin.js';
import { PreparedClaims } from '../agent/dra/prepared.js';
import { allocateClaim, deviceKey } from '../lib/dra/allocate.js';
import type { DraDeviceClass, ResourceClaim, ResourceClaimTemplate, ResourceSlice } from '../lib/dra/types.js';
import type { KubeObject } from '../lib/k8s/meta.js';
import { R } from '../lib/k8s/resources.js';
import type { LabTopology } from '../lib/lab/topology.js';
import type { KubeApi } from '../kube/api.js';

export const FAKE_GPU_DRIVER = 'gpu.example.com';
export const POD_CLAIM_NAME_ANNOTATION = 'resource.kubernetes.io/pod-claim-name';

export interface DraPod extends KubeObject {
  spec?: {
    nodeName?: string;
    nodeSelector?: Record<string, string>;
    affinity?: { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: Array<{ matchFields?: Array<{ key: string; operator: string; values?: string[] }> }> } } };
    resourceClaims?: Array<{ name: string; resourceClaimName?: string; resourceClaimTemplateName?: string }>;
  };
  status?: { phase?: string; resourceClaimStatuses?: Array<{ name: string; resourceClaimName?: string }>; conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> };
}

/** A claim the kubelet stand-in prepared for a pod: what Unprepare needs once the claim may be gone. */
export interface PreparedRef {
  namespace: string;
  name: string;
  uid: string;
  drivers: string[];
}

export interface LabDraOptions {
  kube: KubeApi;
  topology: LabTopology;
  /** The host's kubelet root dir (plugins_registry under it). */
  kubeletDir: (host: string) => string;
  /** GPUs per host of the fake GPU driver (default 2; 0: none). */
  gpusPerHost?: number;
  intervalMs?: number;
  log?: (line: string) => void;
}

/** The fake GPU driver's PCIe root for GPU g of host index h: two roots per host. */
export const fakeGpuRoot = (h: number, g: number): string => `pci0000:${((0x3a + h * 0x40 + (g % 2) * 0x20) % 0x100).toString(16).padStart(2, '0')}`;

/** MULTINIC_LAB_PCIE_ROOTS=1: the lab's NICs sit on the fake GPUs' PCIe roots (labPcieTree), four GPUs per host. */
export const labPcieRoots = (env: NodeJS.ProcessEnv = process.env): boolean => env.MULTINIC_LAB_PCIE_ROOTS === '1';

/** The PCIe root of the i-th NIC (0-based, topology order) of host index h: the roots alternate, eth1 on the first. */
export const labNicRoot = (h: number, i: number): string => fakeGpuRoot(h, i);

/**
 * Writes (afresh) a sysfs-shaped tree under `root` for host index `h`: `class/net/<nic>/device`
 * linking to `devices/<root>/<bdf>` as the kernel links a PCI NIC, so the agent's DRA facts
 * (src/agent/dra/slices.ts readDraFacts) read the root of labNicRoot. Only the agent's
 * --dra-sysfs-root points here: discovery, speed and link state still come from the real veths.
 */
export function labPcieTree(root: string, h: number, nics: readonly string[]): void {
  rmSync(root, { recursive: true, force: true });
  nics.forEach((nic, i) => {
    const pci = labNicRoot(h, i);
    const bus = pci.slice(-2);
    const dev = join('devices', pci, `0000:${bus}:${(i + 1).toString(16).padStart(2, '0')}.0`);
    mkdirSync(join(root, dev), { recursive: true });
    mkdirSync(join(root, 'class', 'net', nic), { recursive: true });
    symlinkSync(join('..', '..', '..', dev), join(root, 'class', 'net', nic, 'device'));
  });
}

export class LabDra {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly told = new Map<string, string>();
  private readonly gpuPlugins: DraPlugin[] = [];
  private readonly log: (line: string) => void;

  constructor(private readonly o: LabDraOptions) {
    this.log = o.log ?? (() => undefined);
  }

  async start(): Promise<void> {
    await this.publishFakeGpus().catch((e) => this.log(`dra: fake GPU slices: ${(e as Error).message}`));
    if (labPcieRoots() && (this.o.gpusPerHost ?? 4) > 0) await this.startGpuPlugins().catch((e) => this.log(`dra: fake GPU plugins: ${(e as Error).message}`));
    const tick = async () => {
      if (this.stopped) return;
      try {
        await this.reconcile();
      } catch (e) {
        this.log(`dra: ${(e as Error).message}`);
      }
      if (!this.stopped) this.timer = setTimeout(tick, this.o.intervalMs ?? 1000);
    };
    void tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const p of this.gpuPlugins.splice(0)) void p.stop().catch(() => undefined);
  }

  /** MULTINIC_LAB_PCIE_ROOTS=1: a kubelet plugin of the fake GPU driver on every host; Prepare takes the claim's GPUs of that host. */
  private async startGpuPlugins(): Promise<void> {
    for (const host of this.o.topology.hosts) {
      const kubeletDir = this.o.kubeletDir(host.name);
      const prepared = await PreparedClaims.open(join(kubeletDir, `${FAKE_GPU_DRIVER}-prepared.json`));
      const gpus = new Set(Array.from({ length: this.o.gpusPerHost ?? 4 }, (_, g) => `gpu${g}`));
      this.gpuPlugins.push(await startDraPlugin({ api: this.o.kube, nodeName: host.name, kubeletDir, prepared, driver: FAKE_GPU_DRIVER, nicOf: (d) => (gpus.has(d) ? d : undefined) }));
    }
  }

  private async publishFakeGpus(): Promise<void> {
    const n = this.o.gpusPerHost ?? (labPcieRoots() ? 4 : 2);
    if (n <= 0) return;
    if (!(await this.o.kube.get(R.DraDeviceClass, FAKE_GPU_DRIVER))) {
      await this.o.kube.create(R.DraDeviceClass, { apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name: FAKE_GPU_DRIVER }, spec: { selectors: [{ cel: { expression: `device.driver == "${FAKE_GPU_DRIVER}"` } }] } } as KubeObject);
    }
    for (const [h, host] of this.o.topology.hosts.entries()) {
      const name = `${host.name}-${FAKE_GPU_DRIVER}`;
      if (await this.o.kube.get(R.ResourceSlice, name)) continue;
      const devices = Array.from({ length: n }, (_, g) => ({ name: `gpu${g}`, attributes: { 'resource.kubernetes.io/pcieRoot': { string: fakeGpuRoot(h, g) }, model: { string: 'lab-fake' } } }));
      await this.o.kube.create(R.ResourceSlice, { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice', metadata: { name }, spec: { driver: FAKE_GPU_DRIVER, nodeName: host.name, pool: { name: host.name, generation: 1, resourceSliceCount: 1 }, devices } } as KubeObject);
    }
  }

  /** One round: release claims of gone pods, then schedule pods that wait for their claims. */
  async reconcile(): Promise<void> {
    const pods = (await this.o.kube.list<DraPod>(R.Pod, {})).items;
    const claims = (await this.o.kube.list<ResourceClaim>(R.ResourceClaim, {})).items;
    const live = new Set(pods.map((p) => p.metadata?.uid));
    for (const c of claims) {
      const reserved = c.status?.reservedFor ?? [];
      const keep = reserved.filter((r) => r.resource !== 'pods' || live.has(r.uid));
      if (keep.length === reserved.length) continue;
      const owned = c.metadata.ownerReferences?.some((r) => r.kind === 'Pod' && !live.has(r.uid));
      if (owned) continue; // the garbage collector deletes it with its pod
      const status = keep.length ? { ...c.status, reservedFor: keep } : {};
      await this.o.kube.replace(R.ResourceClaim, { ...c, status } as KubeObject, { subresource: 'status' }).catch((e: unknown) => this.log(`dra: release ${c.metadata.namespace}/${c.metadata.name}: ${(e as Error).message}`));
      this.log(`dra: claim ${c.metadata.namespace}/${c.metadata.name} ${keep.length ? 'released by a gone pod' : 'deallocated'}`);
    }
    for (const p of pods) {
      if (p.spec?.nodeName || !p.spec?.resourceClaims?.length || p.metadata?.deletionTimestamp) continue;
      if (!this.o.topology.hosts.length) continue;
      await this.schedule(p, claims).catch((e) => this.log(`dra: schedule ${p.metadata?.namespace}/${p.metadata?.name}: ${(e as Error).message}`));
    }
  }

  private async podClaims(pod: DraPod, claims: ResourceClaim[]): Promise<{ claims: ResourceClaim[] } | { reason: string }> {
    const ns = pod.metadata?.namespace ?? 'default';
    const out: ResourceClaim[] = [];
    const statuses = [...(pod.status?.resourceClaimStatuses ?? [])];
    for (const pc of pod.spec?.resourceClaims ?? []) {
      if (pc.resourceClaimName) {
        const c = claims.find((x) => x.metadata.namespace === ns && x.metadata.name === pc.resourceClaimName);
        if (!c) return { reason: `resourceclaim "${pc.resourceClaimName}" not found` };
        out.push(c);
        continue;
      }
      if (!pc.resourceClaimTemplateName) return { reason: `pod claim "${pc.name}" names neither a resourceClaimName nor a resourceClaimTemplateName` };
      let c = claims.find((x) => x.metadata.namespace === ns && x.metadata.annotations?.[POD_CLAIM_NAME_ANNOTATION] === pc.name && x.metadata.ownerReferences?.some((r) => r.uid === pod.metadata?.uid));
      if (!c) {
        const t = await this.o.kube.get<ResourceClaimTemplate>(R.ResourceClaimTemplate, pc.resourceClaimTemplateName, ns);
        if (!t) return { reason: `resourceclaimtemplate "${pc.resourceClaimTemplateName}" not found` };
        c = await this.o.kube.create<ResourceClaim>(R.ResourceClaim, {
          apiVersion: 'resource.k8s.io/v1',
          kind: 'ResourceClaim',
          metadata: {
            generateName: `${pod.metadata?.name}-${pc.name}-`,
            namespace: ns,
            labels: t.spec.metadata?.labels,
            annotations: { ...t.spec.metadata?.annotations, [POD_CLAIM_NAME_ANNOTATION]: pc.name },
            ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: pod.metadata!.name!, uid: pod.metadata!.uid!, controller: true, blockOwnerDeletion: true }],
          },
          spec: structuredClone(t.spec.spec),
        } as unknown as ResourceClaim);
        claims.push(c);
      }
      if (!statuses.some((s) => s.name === pc.name)) statuses.push({ name: pc.name, resourceClaimName: c.metadata.name! });
      out.push(c);
    }
    if (statuses.length !== (pod.status?.resourceClaimStatuses ?? []).length) {
      await this.o.kube.patch(R.Pod, pod.metadata!.name!, { status: { resourceClaimStatuses: statuses } }, { namespace: ns, subresource: 'status' });
    }
    return { claims: out };
  }

  private async schedule(pod: DraPod, all: ResourceClaim[]): Promise<void> {
    const id = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const got = await this.podClaims(pod, all);
    if ('reason' in got) return this.unschedulable(pod, `0/${this.o.topology.hosts.length} nodes are available: ${got.reason}`);
    const slices = (await this.o.kube.list<ResourceSlice>(R.ResourceSlice, {})).items;
    const classes = new Map((await this.o.kube.list<DraDeviceClass>(R.DraDeviceClass, {})).items.map((c) => [c.metadata.name ?? '', c]));
    const mine = new Set(got.claims.map((c) => c.metadata.uid));
    const inUse = new Set(all.filter((c) => !mine.has(c.metadata.uid)).flatMap((c) => (c.status?.allocation?.devices?.results ?? []).map(deviceKey)));
    // A claim already allocated (shared) pins the node.
    const pinned = got.claims.map((c) => nodeOfAllocation(c)).find(Boolean);
    const allowed = this.o.topology.hosts.map((h) => h.name).filter((h) => nodeAllowed(pod, h));
    const nodes = pinned ? [pinned].filter((h) => allowed.includes(h)) : allowed;
    if (!nodes.length) return this.unschedulable(pod, `0/${this.o.topology.hosts.length} nodes are available: ${this.o.topology.hosts.length} node(s) didn't match Pod's node affinity/selector${pinned ? ` (its claim is allocated on ${pinned})` : ''}`);
    const reasons: string[] = [];
    for (const node of nodes) {
      const taken = new Set(inUse);
      const plan: Array<{ claim: ResourceClaim; results: NonNullable<NonNullable<ResourceClaim['status']>['allocation']>['devices'] }> = [];
      let why = '';
      for (const c of got.claims) {
        if (c.status?.allocation) continue;
        const a = allocateClaim({ spec: c.spec, nodes: [node], slices, classes, inUse: taken });
        if (!a.ok) {
          why = `claim ${c.metadata.name}: ${a.reasons[0]?.reason ?? 'cannot allocate'}`;
          break;
        }
        for (const r of a.results) taken.add(deviceKey(r));
        plan.push({ claim: c, results: { results: a.results } });
      }
      if (why) {
        reasons.push(`${node}: ${why}`);
        continue;
      }
      const now = new Date().toISOString();
      for (const c of got.claims) {
        const p = plan.find((x) => x.claim === c);
        const cur = (await this.o.kube.get<ResourceClaim>(R.ResourceClaim, c.metadata.name!, c.metadata.namespace)) ?? c;
        const reservedFor = [...(cur.status?.reservedFor ?? []).filter((r) => r.uid !== pod.metadata?.uid), { resource: 'pods', name: pod.metadata!.name!, uid: pod.metadata!.uid! }];
        const allocation = p
          ? { devices: { ...p.results, config: [] }, nodeSelector: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }] }, allocationTimestamp: now }
          : cur.status?.allocation;
        await this.o.kube.replace(R.ResourceClaim, { ...cur, status: { ...cur.status, allocation, reservedFor } } as KubeObject, { subresource: 'status' });
      }
      await this.o.kube.patch(R.Pod, pod.metadata!.name!, { spec: { nodeName: node } }, { namespace: pod.metadata!.namespace });
      this.log(`dra: bound ${id} to ${node} (claims ${got.claims.map((c) => c.metadata.name).join(', ')})`);
      return;
    }
    await this.unschedulable(pod, `0/${nodes.length} nodes are available: ${reasons.join('; ')}`);
  }

  private async unschedulable(pod: DraPod, message: string): Promise<void> {
    const ns = pod.metadata?.namespace ?? 'default';
    const cond = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (cond?.message === message && this.told.get(pod.metadata!.uid!) === message) return;
    this.told.set(pod.metadata!.uid!, message);
    const now = new Date().toISOString();
    await this.o.kube.patch(R.Pod, pod.metadata!.name!, { status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastTransitionTime: now }] } }, { namespace: ns, subresource: 'status' });
    await this.o.kube
      .create(R.Event, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${pod.metadata!.name}.`, namespace: ns } as never,
        involvedObject: { kind: 'Pod', namespace: ns, name: pod.metadata!.name, uid: pod.metadata!.uid },
        type: 'Warning',
        reason: 'FailedScheduling',
        message,
        source: { component: 'default-scheduler' },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      })
      .catch(() => undefined);
  }

  /**
   * The kubelet's NodePrepareResources for a pod bound to `host`: each of its claims on every
   * driver the allocation names, through that driver's registered plugin. Throws with the kubelet's
   * wording when a claim is unallocated, a driver is not registered, or a plugin reports an error.
   */
  async prepare(host: string, pod: DraPod): Promise<PreparedRef[]> {
    const ns = pod.metadata?.namespace ?? 'default';
    const names = (pod.spec?.resourceClaims ?? []).map((pc) => pc.resourceClaimName ?? pod.status?.resourceClaimStatuses?.find((s) => s.name === pc.name)?.resourceClaimName);
    const refs: PreparedRef[] = [];
    for (const name of names) {
      if (!name) throw new Error('failed to prepare dynamic resources: a pod claim has no ResourceClaim yet');
      const c = await this.o.kube.get<ResourceClaim>(R.ResourceClaim, name, ns);
      if (!c?.status?.allocation) throw new Error(`failed to prepare dynamic resources: ResourceClaim ${ns}/${name} is not allocated`);
      const drivers = [...new Set((c.status.allocation.devices?.results ?? []).map((r) => r.driver))];
      refs.push({ namespace: ns, name, uid: c.metadata.uid!, drivers });
    }
    const plugins = await this.plugins(host);
    for (const ref of refs) {
      for (const d of ref.drivers) {
        const ep = plugins.get(d);
        if (!ep) throw new Error(`failed to prepare dynamic resources: DRA driver ${d} is not registered on node ${host}`);
        const res = await this.call<{ claims: Record<string, { error?: string }> }>(ep, 'NodePrepareResources', { claims: [{ namespace: ref.namespace, uid: ref.uid, name: ref.name }] });
        const err = res.claims?.[ref.uid]?.error;
        if (err || !res.claims?.[ref.uid]) throw new Error(`failed to prepare dynamic resources: NodePrepareResources failed for ResourceClaim ${ref.namespace}/${ref.name}: ${err || 'no result for the claim'}`);
      }
    }
    return refs;
  }

  /** The kubelet's NodeUnprepareResources after the pod's sandbox is gone; errors are logged. */
  async unprepare(host: string, refs: readonly PreparedRef[]): Promise<void> {
    const plugins = await this.plugins(host).catch(() => new Map<string, string>());
    for (const ref of refs) {
      for (const d of ref.drivers) {
        const ep = plugins.get(d);
        if (!ep) continue;
        const res = await this.call<{ claims: Record<string, { error?: string }> }>(ep, 'NodeUnprepareResources', { claims: [{ namespace: ref.namespace, uid: ref.uid, name: ref.name }] }).catch((e: Error) => ({ claims: { [ref.uid]: { error: e.message } } }));
        const err = res.claims?.[ref.uid]?.error;
        if (err) this.log(`dra: unprepare ${ref.namespace}/${ref.name} on ${host}: ${err}`);
      }
    }
  }

  /** driver → DRA endpoint, from GetInfo on each registration socket (the kubelet's plugin watcher). */
  private async plugins(host: string): Promise<Map<string, string>> {
    const dir = join(this.o.kubeletDir(host), 'plugins_registry');
    const files = await readdir(dir).catch(() => [] as string[]);
    const out = new Map<string, string>();
    for (const f of files.filter((x) => x.endsWith('.sock'))) {
      const info = await this.call<{ type: string; name: string; endpoint: string }>(join(dir, f), 'GetInfo', {}, 'registration').catch(() => undefined);
      if (info?.type === 'DRAPlugin' && info.name) out.set(info.name, info.endpoint || join(dir, f));
    }
    return out;
  }

  private async call<T>(socket: string, method: string, req: unknown, service: 'dra' | 'registration' = 'dra'): Promise<T> {
    const { grpc, draPackage, regPackage } = await loadProtos();
    const ctor = service === 'registration'
      ? ((regPackage.pluginregistration as GrpcJs.GrpcObject).Registration as GrpcJs.ServiceClientConstructor)
      : (((((((draPackage.k8s as GrpcJs.GrpcObject).io as GrpcJs.GrpcObject).kubelet as GrpcJs.GrpcObject).pkg as GrpcJs.GrpcObject).apis as GrpcJs.GrpcObject).dra as GrpcJs.GrpcObject).v1 as GrpcJs.GrpcObject).DRAPlugin as GrpcJs.ServiceClientConstructor;
    const client = new ctor(`unix://${socket}`, grpc.credentials.createInsecure());
    try {
      const fn = (client as unknown as Record<string, (r: unknown, o: { deadline: Date }, cb: (e: Error | null, r: unknown) => void) => void>)[method]!.bind(client);
      return await new Promise<T>((resolve, reject) => fn(req, { deadline: new Date(Date.now() + 10_000) }, (e, r) => (e ? reject(e) : resolve(r as T))));
    } finally {
      client.close();
    }
  }
}

/**
 * Whether the pod may run on lab host `node`: its nodeSelector's `kubernetes.io/hostname` (other
 * labels are not known in the lab: they fail) and its required node affinity's terms (ORed), of
 * which the lab knows `matchFields` on `metadata.name` with In / NotIn; any other term fails.
 */
export function nodeAllowed(pod: DraPod, node: string): boolean {
  for (const [k, v] of Object.entries(pod.spec?.nodeSelector ?? {})) if (k !== 'kubernetes.io/hostname' || v !== node) return false;
  const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (!terms?.length) return true;
  return terms.some((t) => {
    const fields = t.matchFields ?? [];
    if (!fields.length || Object.keys(t).some((k) => k !== 'matchFields')) return false;
    return fields.every((f) => f.key === 'metadata.name' && ((f.operator === 'In' && !!f.values?.includes(node)) || (f.operator === 'NotIn' && !f.values?.includes(node))));
  });
}

function nodeOfAllocation(c: ResourceClaim): string | undefined {
  const sel = c.status?.allocation?.nodeSelector as { nodeSelectorTerms?: Array<{ matchFields?: Array<{ key: string; values?: string[] }> }> } | undefined;
  return sel?.nodeSelectorTerms?.[0]?.matchFields?.find((f) => f.key === 'metadata.name')?.values?.[0];
}
