// The AgentState port: what the agent knows about the cluster — networks with their CIDR,
// DeviceClasses, and the pod facts the selection policies need — with change notifications.
// `FileAgentState` reads a multi-document YAML file (tests, the lab before the API is wired);
// the Kubernetes-backed implementation plugs in behind the same interface.
import { readFile, readdir } from 'node:fs/promises';
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { CIDR, DeviceClass, MultiNicNetwork } from '../lib/crds/types.gen.js';
import { CRDS } from '../lib/crds/crds.gen.js';
import { validateSchema, type JsonSchema } from '../lib/k8s/schema.js';
import { gpuNumaNodes, parseKubeletCheckpoint, parseNvidiaGpuInformation, parseTopologyXml, podDevices } from '../lib/select/topology.js';
import { parseNumaNode } from '../lib/agent/sysfs.js';
import { UserError } from '../lib/errors.js';
import { parseIpamConfig, subnetOverlapRefusals, type IpamConfig } from '../lib/network.js';

export interface NetworkState {
  network: MultiNicNetwork;
  /** The network's CIDR (host blocks); absent until planned, and while the network is refused. */
  cidr?: CIDR;
  /**
   * Why the agent will not serve this network (its subnet overlaps an earlier network's, see
   * subnetOverlapRefusals): no routes, shims, pools or claims, and allocations answer NotReady.
   */
  refused?: string;
  /**
   * spec.ipam, parsed once per network object (so once per change: informers and reloads replace
   * the object): the config, or why it does not parse. Filled by every AgentState (networkIpam).
   */
  ipam?: ParsedIpam;
}

export type ParsedIpam = { config: IpamConfig; error?: undefined } | { config?: undefined; error: string };

const parsed = new WeakMap<MultiNicNetwork, ParsedIpam>();

/** The network's parsed spec.ipam: parsed on the first call for a network object, then cached. */
export function networkIpam(network: MultiNicNetwork): ParsedIpam {
  let p = parsed.get(network);
  if (!p) {
    try {
      p = { config: parseIpamConfig(network.metadata.name ?? '', network.spec.ipam) };
    } catch (e) {
      p = { error: (e as Error).message };
    }
    parsed.set(network, p);
  }
  return p;
}

/** The parsed spec.ipam of a network state (filled by its AgentState, else parsed now). */
export const ipamOfState = (ns: NetworkState): ParsedIpam => (ns.ipam ??= networkIpam(ns.network));

/** Device facts of one pod, read when a policy needs them (topology, device-plugin NICs). */
export interface PodFacts {
  /** NUMA node of each of the pod's GPUs (unknown ones left out). */
  gpuNumaNodes: number[];
  /** Device IDs the pod holds for the given resource names (PCI addresses for NIC resources). */
  deviceIDs: string[];
}

export interface AgentState {
  networks(): NetworkState[];
  network(name: string): NetworkState | undefined;
  deviceClasses(): Record<string, DeviceClass>;
  podFacts(podUID: string, resourceNames: readonly string[]): Promise<PodFacts>;
  /** Registers a listener called after every change; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
  close(): void;
}

/** Where the kubelet and the GPU stack keep their facts; every path is an option (tests feed fixtures). */
export interface PodFactsPaths {
  checkpoint?: string;
  topologyXml?: string;
  nvidiaGpusDir?: string;
  sysfsRoot?: string;
}

export const DEFAULT_POD_FACTS_PATHS: Required<PodFactsPaths> = {
  checkpoint: '/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint',
  topologyXml: '/var/run/nvidia-topologyd/virtualTopology.xml',
  nvidiaGpusDir: '/proc/driver/nvidia/gpus',
  sysfsRoot: '/sys',
};

const readText = (p: string) => readFile(p, 'utf8').catch(() => undefined);

/**
 * Reads pod facts from the kubelet checkpoint; GPU NUMA from the checkpoint itself, else the
 * topology XML, else sysfs `bus/pci/devices/<bus>/numa_node` (the device's own directory, not its
 * parent as upstream did).
 */
export async function readPodFacts(paths: PodFactsPaths, podUID: string, resourceNames: readonly string[]): Promise<PodFacts> {
  const p = { ...DEFAULT_POD_FACTS_PATHS, ...paths };
  const text = await readText(p.checkpoint);
  if (text === undefined) return { gpuNumaNodes: [], deviceIDs: [] };
  const entries = parseKubeletCheckpoint(text);
  const deviceIDs = resourceNames.length ? podDevices(entries, podUID, resourceNames) : [];
  const gpus = podDevices(entries, podUID, ['nvidia.com/gpu']);
  if (gpus.length === 0) return { gpuNumaNodes: [], deviceIDs };
  const uuidToBus: Record<string, string> = {};
  for (const dir of await readdir(p.nvidiaGpusDir).catch(() => [] as string[])) {
    const info = parseNvidiaGpuInformation((await readText(`${p.nvidiaGpusDir}/${dir}/information`)) ?? '');
    if (info) uuidToBus[info.uuid] = info.bus;
  }
  const xml = await readText(p.topologyXml);
  const busToNuma: Record<string, number> = xml ? parseTopologyXml(xml) : {};
  for (const bus of Object.values(uuidToBus)) {
    if (busToNuma[bus] !== undefined) continue;
    const n = parseNumaNode(await readText(`${p.sysfsRoot}/bus/pci/devices/${bus}/numa_node`));
    if (n >= 0) busToNuma[bus] = n;
  }
  return { gpuNumaNodes: gpuNumaNodes({ entries, podUID, uuidToBus, busToNuma }), deviceIDs };
}

const schemaOf = (kind: string): JsonSchema | undefined => {
  const crd = CRDS.find((c) => c.spec.names.kind === kind);
  return crd?.spec.versions[0]?.schema?.openAPIV3Schema as JsonSchema | undefined;
};

/** Parses a state file: MultiNicNetwork, CIDR and DeviceClass documents (others are an error). */
export function parseStateDocuments(text: string, source: string): { networks: Map<string, NetworkState>; classes: Record<string, DeviceClass> } {
  const networks = new Map<string, NetworkState>();
  const cidrs = new Map<string, CIDR>();
  const classes: Record<string, DeviceClass> = {};
  const docs = parseAllDocuments(text);
  for (const [i, doc] of docs.entries()) {
    if (doc.errors.length) throw new UserError(`${source}: document ${i + 1} is not valid YAML: ${doc.errors[0]?.message}`);
    const obj = doc.toJS() as { kind?: string; metadata?: { name?: string } } | null;
    if (obj === null || obj === undefined) continue;
    const where = `${source}: document ${i + 1} (${obj.kind ?? 'no kind'} ${obj.metadata?.name ?? ''})`;
    if (!obj.kind || !['MultiNicNetwork', 'CIDR', 'DeviceClass'].includes(obj.kind)) {
      throw new UserError(`${where}: kind must be MultiNicNetwork, CIDR or DeviceClass`);
    }
    const schema = schemaOf(obj.kind);
    const errs = schema ? validateSchema(schema, obj) : [];
    if (errs.length) throw new UserError(`${where}: ${errs.map((e) => `${e.field}: ${e.message}`).join('; ')}`);
    const name = obj.metadata?.name;
    if (!name) throw new UserError(`${where}: metadata.name is required`);
    if (obj.kind === 'MultiNicNetwork') networks.set(name, { network: obj as unknown as MultiNicNetwork, ipam: networkIpam(obj as unknown as MultiNicNetwork) });
    else if (obj.kind === 'CIDR') cidrs.set(name, obj as unknown as CIDR);
    else classes[name] = obj as unknown as DeviceClass;
  }
  for (const [name, cidr] of cidrs) {
    const n = networks.get(cidr.spec.config.name || name);
    if (n) n.cidr = cidr;
  }
  // The cluster's rule for overlapping subnets (without creationTimestamps: by name).
  const frozen = new Map([...networks].flatMap(([name, n]) => (n.cidr ? [[name, n.cidr.spec.config.subnet ?? ''] as const] : [])));
  for (const r of subnetOverlapRefusals([...networks.values()].map((n) => n.network), frozen).values()) {
    const n = networks.get(r.network);
    if (!n) continue;
    n.refused = `MultiNicNetwork "${r.network}": ${r.message}`;
    delete n.cidr;
  }
  return { networks, classes };
}

/**
 * AgentState from a YAML file, reloaded when the file changes (stat polling catches atomic
 * renames, which fs.watch on the file does not). A file that fails to parse on reload keeps the
 * previous state and reports the error through `onError`.
 */
export class FileAgentState implements AgentState {
  private nets = new Map<string, NetworkState>();
  private classes: Record<string, DeviceClass> = {};
  private readonly listeners = new Set<() => void>();
  private watching = false;
  private text = '';

  private constructor(
    readonly path: string,
    private readonly paths: PodFactsPaths,
    private readonly onError: (err: Error) => void,
  ) {}

  static async open(path: string, opts: { podFacts?: PodFactsPaths; watch?: boolean; pollMs?: number; onError?: (err: Error) => void } = {}): Promise<FileAgentState> {
    const s = new FileAgentState(path, opts.podFacts ?? {}, opts.onError ?? (() => undefined));
    const text = await readFile(path, 'utf8').catch((e: Error) => {
      throw new UserError(`cannot read the agent state file ${path}: ${e.message}`, { hint: 'pass --state-file with MultiNicNetwork/CIDR/DeviceClass documents' });
    });
    s.load(text);
    if (opts.watch ?? true) {
      s.watching = true;
      const interval = opts.pollMs ?? 500;
      watchFile(path, { interval, persistent: false }, (cur: Stats, prev: Stats) => {
        if (cur.mtimeMs !== prev.mtimeMs || cur.ino !== prev.ino || cur.size !== prev.size) void s.reload();
      });
      // watchFile takes its baseline stat asynchronously: a change landing between our read and that
      // stat would never be seen. One re-read once the watcher runs closes the gap (same text: no-op).
      setTimeout(() => void s.reload(), 2 * interval).unref();
    }
    return s;
  }

  /** Re-reads the file now; listeners are called when the content changed. */
  async reload(): Promise<void> {
    try {
      const text = await readFile(this.path, 'utf8');
      if (text === this.text) return;
      this.load(text);
      for (const l of this.listeners) l();
    } catch (e) {
      this.onError(e as Error);
    }
  }

  private load(text: string): void {
    const parsed = parseStateDocuments(text, this.path);
    this.nets = parsed.networks;
    this.classes = parsed.classes;
    this.text = text;
  }

  networks(): NetworkState[] {
    return [...this.nets.values()];
  }

  network(name: string): NetworkState | undefined {
    return this.nets.get(name);
  }

  deviceClasses(): Record<string, DeviceClass> {
    return this.classes;
  }

  podFacts(podUID: string, resourceNames: readonly string[]): Promise<PodFacts> {
    return readPodFacts(this.paths, podUID, resourceNames);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    if (this.watching) unwatchFile(this.path);
    this.listeners.clear();
  }
}
