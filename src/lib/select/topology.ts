// GPU placement facts for the `topology` policy, parsed from the files a GPU node has (paths chosen
// by the agent; every parser takes text and returns plain data). Pure.

/** One device-plugin allocation from the kubelet checkpoint. */
export interface CheckpointEntry {
  podUID: string;
  containerName: string;
  resourceName: string;
  deviceIDs: string[];
  /** NUMA node per device ID when the kubelet recorded it (checkpoint v2 keys DeviceIDs by NUMA node). */
  numaByDevice: Record<string, number>;
}

/**
 * Parses /var/lib/kubelet/device-plugins/kubelet_internal_checkpoint. `DeviceIDs` is a list in old
 * kubelets and a map NUMA node → list since 1.20 (key "-1" when unknown); both are read.
 */
export function parseKubeletCheckpoint(text: string): CheckpointEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`kubelet checkpoint is not JSON: ${(e as Error).message}`, { cause: e });
  }
  const entries = (doc as { Data?: { PodDeviceEntries?: unknown } })?.Data?.PodDeviceEntries;
  if (!Array.isArray(entries)) return [];
  const out: CheckpointEntry[] = [];
  for (const raw of entries as Array<Record<string, unknown>>) {
    const ids = raw.DeviceIDs;
    const deviceIDs: string[] = [];
    const numaByDevice: Record<string, number> = {};
    if (Array.isArray(ids)) deviceIDs.push(...ids.map(String));
    else if (ids && typeof ids === 'object') {
      for (const [node, list] of Object.entries(ids as Record<string, unknown>)) {
        if (!Array.isArray(list)) continue;
        for (const id of list.map(String)) {
          deviceIDs.push(id);
          const n = Number(node);
          if (Number.isInteger(n) && n >= 0) numaByDevice[id] = n;
        }
      }
    }
    out.push({
      podUID: String(raw.PodUID ?? ''),
      containerName: String(raw.ContainerName ?? ''),
      resourceName: String(raw.ResourceName ?? ''),
      deviceIDs,
      numaByDevice,
    });
  }
  return out;
}

/** Device IDs the pod holds for any of `resources`, in checkpoint order, without repeats. */
export function podDevices(entries: CheckpointEntry[], podUID: string, resources: readonly string[]): string[] {
  const out: string[] = [];
  for (const e of entries) {
    if (e.podUID !== podUID || !resources.includes(e.resourceName)) continue;
    for (const id of e.deviceIDs) if (!out.includes(id)) out.push(id);
  }
  return out;
}

/**
 * Canonical PCI address: lower case, 4-digit domain. NVML prints an 8-digit domain
 * ("00000000:3B:00.0") where sysfs and the topology XML use 4 ("0000:3b:00.0"); upstream compared
 * them as they came (upstream.md §9.2 #15).
 */
export function normalizePci(addr: string): string {
  const s = addr.trim().toLowerCase();
  const m = /^(?:([0-9a-f]{1,8}):)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/.exec(s);
  if (!m) return s;
  const domain = (m[1] ?? '0').replace(/^0+(?=[0-9a-f]{4})/, '').padStart(4, '0').slice(-4);
  return `${domain}:${m[2]}:${m[3]}.${m[4]}`;
}

/**
 * Parses NCCL's virtual topology XML (/var/run/nvidia-topologyd/virtualTopology.xml):
 * `<system><cpu numaid="N"><pci busid="..."><pci busid="..."/></pci></cpu></system>`; every pci
 * element at any depth under a cpu belongs to that NUMA node. Returns PCI address → NUMA node.
 */
export function parseTopologyXml(xml: string): Record<string, number> {
  const out: Record<string, number> = {};
  const stack: Array<{ tag: string; numa: number | undefined }> = [];
  const tagRe = /<(\/?)([A-Za-z_][\w.-]*)([^>]*?)(\/?)>/g;
  for (let m = tagRe.exec(xml); m; m = tagRe.exec(xml)) {
    const [, closing, tag, attrs = '', selfClosing] = m as unknown as [string, string, string, string, string];
    if (tag.startsWith('?') || tag.startsWith('!')) continue;
    if (closing) {
      while (stack.length && stack.pop()?.tag !== tag) {
        /* unwind to the matching open tag */
      }
      continue;
    }
    const parent = stack[stack.length - 1]?.numa;
    let numa = parent;
    if (tag === 'cpu') {
      const n = Number(attr(attrs, 'numaid'));
      numa = Number.isInteger(n) ? n : undefined;
    } else if (tag === 'pci') {
      const bus = attr(attrs, 'busid');
      if (bus !== undefined && numa !== undefined) out[normalizePci(bus)] = numa;
    }
    if (!selfClosing) stack.push({ tag, numa });
  }
  return out;
}

function attr(attrs: string, name: string): string | undefined {
  const m = new RegExp(`\\b${name}\\s*=\\s*("([^"]*)"|'([^']*)')`).exec(attrs);
  return m ? (m[2] ?? m[3]) : undefined;
}

/**
 * Parses /proc/driver/nvidia/gpus/<bus>/information ("GPU UUID: GPU-..." and "Bus Location: ...")
 * into { uuid, bus }; undefined when either line is missing.
 */
export function parseNvidiaGpuInformation(text: string): { uuid: string; bus: string } | undefined {
  const uuid = /^GPU UUID:\s*(\S+)/m.exec(text)?.[1];
  const bus = /^Bus Location:\s*(\S+)/m.exec(text)?.[1];
  return uuid && bus ? { uuid, bus: normalizePci(bus) } : undefined;
}

/**
 * NUMA node of each GPU the pod holds. A GPU is known by UUID (the NVIDIA device plugin's IDs) or
 * by PCI address; the node comes from the checkpoint itself, else the topology map via the UUID→bus
 * map. GPUs whose node is unknown are left out.
 */
export function gpuNumaNodes(opts: {
  entries: CheckpointEntry[];
  podUID: string;
  resource?: string;
  uuidToBus: Record<string, string>;
  busToNuma: Record<string, number>;
}): number[] {
  const resource = opts.resource ?? 'nvidia.com/gpu';
  const out: number[] = [];
  for (const e of opts.entries) {
    if (e.podUID !== opts.podUID || e.resourceName !== resource) continue;
    for (const id of e.deviceIDs) {
      const fromCheckpoint = e.numaByDevice[id];
      const bus = opts.uuidToBus[id] ?? (/^[0-9a-fA-F:.]+$/.test(id) ? normalizePci(id) : undefined);
      const node = fromCheckpoint ?? (bus !== undefined ? opts.busToNuma[bus] : undefined);
      if (node !== undefined && node >= 0) out.push(node);
    }
  }
  return out;
}
