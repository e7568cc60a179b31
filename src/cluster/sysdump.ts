// Gathers what `kubectl multinic sysdump` archives, through the API only: every resource of ours,
// the NADs, the agent DaemonSet, nodes (without their images), our events and those of pods on our
// networks, each node's diagnostics, the doctor's report, versions, Multus network-status of pods,
// and agent pod logs (the pod log endpoint, tail-bounded). Secrets are never read; everything else
// passes src/lib/sysdump/redact.ts. Each step is bounded by the overall deadline and the size
// budget; a step that fails or is cut is recorded in sysdump.json instead of aborting the dump.
import type { KubeApi } from '../kube/api.js';
import { runDoctor } from '../lib/doctor/report.js';
import { AGENT_NAME } from '../lib/install/render.js';
import type { KubeObject } from '../lib/k8s/meta.js';
import { R } from '../lib/k8s/resources.js';
import { redactObject, redactText } from '../lib/sysdump/redact.js';
import type { TarEntry } from '../lib/sysdump/tar.js';
import { listAllClaims, listCidrViews } from './cidr-view.js';
import { gatherDoctorSnapshot } from './snapshot.js';

export interface SysdumpOptions {
  cliVersion: string;
  /** Wall-clock budget for everything. */
  timeoutMs: number;
  /** Size budget for the uncompressed files. */
  maxBytes: number;
  /** Last lines of each agent log. */
  logTailLines: number;
  /** And at most this many bytes of it. */
  logLimitBytes: number;
  /** How long the agents get to answer the doctor's probe. */
  probeTimeoutMs: number;
  now?: () => number;
}

export interface SysdumpManifest {
  apiVersion: 'multinic.fms.io/v1';
  kind: 'Sysdump';
  createdAt: string;
  cliVersion: string;
  server: string;
  files: Array<{ name: string; bytes: number }>;
  /** Files left out, with why (size budget). */
  skipped: Array<{ name: string; reason: string }>;
  /** Steps that failed or ran out of time; the rest of the dump is still there. */
  errors: Array<{ step: string; error: string }>;
}

const NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks';
const NETWORK_STATUS_ANNOTATION = 'k8s.v1.cni.cncf.io/network-status';
const OUR_KINDS = new Set(['MultiNicNetwork', 'CIDR', 'IPPool', 'HostInterface', 'DeviceClass', 'CIDRClaim']);

class Budget {
  readonly entries: TarEntry[] = [];
  readonly manifest: SysdumpManifest;
  private used = 0;
  constructor(private readonly maxBytes: number, head: Omit<SysdumpManifest, 'files' | 'skipped' | 'errors'>) {
    this.manifest = { ...head, files: [], skipped: [], errors: [] };
  }
  add(name: string, content: string | unknown): void {
    const text = typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`;
    const data = Buffer.from(text, 'utf8');
    if (this.used + data.length > this.maxBytes) {
      this.manifest.skipped.push({ name, reason: `size budget: ${data.length} bytes would pass --max-size (${this.maxBytes} bytes, ${this.used} used)` });
      return;
    }
    this.used += data.length;
    this.entries.push({ name, data });
    this.manifest.files.push({ name, bytes: data.length });
  }
  error(step: string, e: unknown): void {
    this.manifest.errors.push({ step, error: e instanceof Error ? e.message : String(e) });
  }
}

/** A file-name-safe form of a Kubernetes name (they are DNS names already; anything else is replaced). */
const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 63) || '_';

/** Nodes without images and volumes in use (large, and not ours to debug). */
function nodeSummary(n: KubeObject): unknown {
  const st = (n.status ?? {}) as Record<string, unknown>;
  return { apiVersion: 'v1', kind: 'Node', metadata: { name: n.metadata?.name, labels: n.metadata?.labels, annotations: n.metadata?.annotations }, spec: { taints: (n.spec as { taints?: unknown } | undefined)?.taints, unschedulable: (n.spec as { unschedulable?: unknown } | undefined)?.unschedulable }, status: { conditions: st.conditions, addresses: st.addresses, nodeInfo: st.nodeInfo } };
}

export async function gatherSysdump(kube: KubeApi, o: SysdumpOptions): Promise<{ entries: TarEntry[]; manifest: SysdumpManifest }> {
  const now = o.now ?? Date.now;
  const deadline = now() + o.timeoutMs;
  const b = new Budget(o.maxBytes, { apiVersion: 'multinic.fms.io/v1', kind: 'Sysdump', createdAt: new Date(now()).toISOString(), cliVersion: o.cliVersion, server: kube.server });
  /** Runs a step within what is left of the deadline; failures and time-outs are recorded. */
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T | undefined> => {
    const left = deadline - now();
    if (left <= 0) {
      b.error(name, new Error('not run: the --timeout was used up by earlier steps'));
      return undefined;
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([fn(), new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out (--timeout ${Math.round(o.timeoutMs / 1000)}s)`)), left)))]);
    } catch (e) {
      b.error(name, e);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  };

  await step('version', async () => {
    const server = await kube.version().catch((e: Error) => ({ error: e.message }));
    b.add('version.json', { cli: o.cliVersion, server });
  });

  const snap = await step('doctor', async () => {
    const s = await gatherDoctorSnapshot(kube, { cliVersion: o.cliVersion, probeTimeoutMs: Math.min(o.probeTimeoutMs, Math.max(0, deadline - now() - 1000)) });
    b.add('doctor.json', runDoctor(s, {}));
    return s;
  });

  const list = (r: (typeof R)[keyof typeof R], opts?: { namespace?: string }) => kube.list(r, opts).then((l) => l.items);
  const resources: Array<[string, () => Promise<unknown[]>]> = [
    ['multinicnetworks', async () => snap?.networks ?? list(R.MultiNicNetwork)],
    // The CIDR objects as stored (a summary once claims hold the host entries), the CIDRClaims as
    // stored, and the views every reader assembles from them (docs/scale.md).
    ['cidrs', () => list(R.CIDR)],
    ['cidrclaims', () => listAllClaims(kube)],
    ['cidr-views', async () => snap?.cidrs ?? listCidrViews(kube)],
    ['ippools', async () => snap?.ippools ?? list(R.IPPool)],
    ['hostinterfaces', async () => snap?.hostInterfaces ?? list(R.HostInterface)],
    ['deviceclasses', () => list(R.DeviceClass)],
    ['networkattachmentdefinitions', async () => snap?.nads ?? list(R.NetworkAttachmentDefinition)],
    ['customresourcedefinitions', async () => snap?.crds ?? (await list(R.CustomResourceDefinition)).filter((c) => (c.spec as { group?: string } | undefined)?.group === 'multinic.fms.io')],
    ['daemonsets', async () => snap?.daemonSets ?? (await list(R.DaemonSet)).filter((d) => (d.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector?.matchLabels?.['app.kubernetes.io/name'] === AGENT_NAME)],
    ['nodes', async () => (snap?.nodes ?? (await list(R.Node))).map((n) => nodeSummary(n))],
  ];
  for (const [name, get] of resources) {
    await step(`list ${name}`, async () => {
      const items = await get();
      b.add(`resources/${name}.json`, redactObject({ apiVersion: 'v1', kind: 'List', items }));
    });
  }

  const pods = await step('list pods', async () => snap?.pods ?? list(R.Pod));
  if (pods) {
    const ours = pods.filter((p) => p.metadata?.annotations?.[NETWORKS_ANNOTATION] !== undefined);
    b.add('pods/network-status.json', redactObject(ours.map((p) => ({
      pod: `${p.metadata?.namespace}/${p.metadata?.name}`,
      uid: p.metadata?.uid,
      node: (p.spec as { nodeName?: string } | undefined)?.nodeName,
      phase: (p.status as { phase?: string } | undefined)?.phase,
      networks: p.metadata?.annotations?.[NETWORKS_ANNOTATION],
      networkStatus: p.metadata?.annotations?.[NETWORK_STATUS_ANNOTATION],
    }))));
    const podKeys = new Set(ours.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`));
    const agents = pods.filter((p) => p.metadata?.labels?.['app.kubernetes.io/name'] === AGENT_NAME);
    if (agents.length === 0) b.add('logs/README.txt', 'no agent pods (label app.kubernetes.io/name=multinic-agent) in the cluster: no agent logs\n');
    for (const p of agents) {
      const ns = p.metadata?.namespace ?? '';
      const name = p.metadata?.name ?? '';
      const containers = ((p.spec as { containers?: Array<{ name: string }> } | undefined)?.containers ?? []).map((c) => c.name);
      for (const c of containers.length ? containers : [undefined]) {
        await step(`log ${ns}/${name}${c ? ` ${c}` : ''}`, async () => {
          const text = await kube.podLog(ns, name, { ...(c ? { container: c } : {}), tailLines: o.logTailLines, limitBytes: o.logLimitBytes });
          b.add(`logs/${safe(ns)}/${safe(name)}${c && containers.length > 1 ? `.${safe(c)}` : ''}.log`, redactText(text));
        });
      }
    }
    await step('list events', async () => {
      const events = await list(R.Event);
      const mine = events.filter((e) => {
        const io = (e as { involvedObject?: { kind?: string; namespace?: string; name?: string } }).involvedObject;
        return (io?.kind !== undefined && OUR_KINDS.has(io.kind)) || (io?.kind === 'Pod' && podKeys.has(`${io.namespace}/${io.name}`)) || agents.some((a) => a.metadata?.namespace === e.metadata?.namespace);
      });
      b.add('resources/events.json', redactObject({ apiVersion: 'v1', kind: 'List', items: mine }));
    });
  }

  for (const hi of snap?.hostInterfaces ?? []) {
    const st = hi.status as { diagnostics?: unknown; conditions?: unknown; release?: unknown } | undefined;
    b.add(`nodes/${safe(hi.metadata.name ?? '')}.json`, redactObject({ node: hi.metadata.name, conditions: st?.conditions ?? null, diagnostics: st?.diagnostics ?? null, release: st?.release ?? null }));
  }
  if (snap) b.add('probes.json', snap.probes);

  b.entries.unshift({ name: 'sysdump.json', data: Buffer.from(`${JSON.stringify(b.manifest, null, 2)}\n`) });
  return { entries: b.entries, manifest: b.manifest };
}
