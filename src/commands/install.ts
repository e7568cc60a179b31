import { Flags } from '@oclif/core';
import { applyObject } from '../cluster/apply-object.js';
import { BaseCommand } from '../cli/base.js';
import { objectNames, outputFlags, renderData } from '../cli/output.js';
import { ExitCode, UserError, wrapError } from '../lib/errors.js';
import type { KubeApi } from '../kube/api.js';
import { parseDuration } from '../kube/client.js';
import { waitFor } from '../cli/wait.js';
import type { KubeObject } from '../lib/k8s/meta.js';
import { R } from '../lib/k8s/resources.js';
import { detectCniBinDir, displayName, isOurs, withHash, type ApplyAction, type CniBinDir } from '../lib/install/apply.js';
import { NAD_CRD_NAME } from '../lib/install/nad-crd.js';
import { DEFAULT_METRICS_PORT } from '../lib/agent/listen.js';
import { AGENT_NAME, DEFAULT_CNI_BIN_DIR, DEFAULT_KUBELET_DIR, DEFAULT_NAMESPACE, DEFAULT_PRIORITY_CLASS, DEFAULT_RESOURCES, defaultImage, parseMaxUnavailable, parseNodeSelector, parseToleration, renderInstall, type InstallOptions } from '../lib/install/render.js';

/** One object install handled. */
export interface InstalledObject {
  /** With kind it names the type (group/version, v1 for the core group). */
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  action: ApplyAction;
}

/** Machine shape of what `install` did (returned by run(); the objects themselves are what -o prints). */
export interface InstallResult {
  apiVersion: 'multinic.fms.io/v1';
  kind: 'InstallResult';
  namespace: string;
  image: string;
  cniBinDir: CniBinDir;
  dryRun: 'none' | 'client' | 'server';
  objects: InstalledObject[];
  /** Set with --wait: the DaemonSet's readiness when install returned. */
  rollout?: { ready: number; desired: number; done: boolean };
}

const dryRunFlag = Flags.option({
  description: 'client: print what would be applied, touch no cluster; server: send everything with dryRun=All; none: apply.',
  options: ['none', 'client', 'server'] as const,
  default: 'none' as const,
})();

export default class InstallCommand extends BaseCommand<typeof InstallCommand> {
  static override summary = 'Install (or upgrade) the CRDs, RBAC and the multinic agent DaemonSet.';
  static override description = `Applies, in order: our CustomResourceDefinitions (and the NetworkAttachmentDefinition CRD when Multus has not installed it), the namespace, the agent's ServiceAccount and least-privilege RBAC, and the agent DaemonSet, whose init container copies the self-contained multi-nic CNI executable into each host's CNI bin dir.

Idempotent: run it again to repair drift or, with a new --image, to upgrade (existing objects are replaced with their resourceVersion, keeping what the server and other tools own). -n/--namespace is the namespace to install into (default ${DEFAULT_NAMESPACE}; the kubeconfig context's namespace is not used).

The CNI bin dir is taken from --cni-bin-dir, else from the cnibin volume of the Multus DaemonSet (label app=multus, as upstream does), else ${DEFAULT_CNI_BIN_DIR}.

--dra runs the agents with the DRA side (docs/dra.md): each publishes its node's NICs as a resource.k8s.io/v1 ResourceSlice and serves the kubelet DRA plugin, so ResourceClaims choose pods' NICs; the DaemonSet then also mounts the kubelet's plugins and plugins_registry dirs (under --kubelet-dir) and the ClusterRole grants the ResourceSlice and ResourceClaim calls. Needs Kubernetes 1.34+.

--dry-run=client -o yaml prints every manifest (multi-document YAML; -o json: a v1 List) for GitOps without contacting a cluster.`;
  static override examples = [
    '<%= config.bin %> install',
    '<%= config.bin %> install --dry-run=client -o yaml > multinic.yaml',
    '<%= config.bin %> install --image registry.example.com/multinic/agent:v0.2.0 --wait',
    '<%= config.bin %> install --service-monitor --prometheus-rule',
    '<%= config.bin %> install --dra',
    '<%= config.bin %> install --no-default-tolerations --toleration nvidia.com/gpu:NoSchedule --memory-limit 512Mi',
    '<%= config.bin %> install --node-selector nvidia.com/gpu.present=true --max-unavailable 10% --image-pull-secret regcred',
  ];
  static override flags = {
    image: Flags.string({ description: 'Agent image (default: the image matching this CLI version).' }),
    'cni-bin-dir': Flags.string({ description: `Host CNI bin dir (default: from the Multus DaemonSet, else ${DEFAULT_CNI_BIN_DIR}).` }),
    'dry-run': dryRunFlag,
    ...outputFlags({ name: true }),
    'install-nad-crd': Flags.option({
      description: 'NetworkAttachmentDefinition CRD: auto installs it only when missing (Multus normally owns it).',
      options: ['auto', 'always', 'never'] as const,
      default: 'auto' as const,
    })(),
    toleration: Flags.string({ description: 'Extra toleration KEY[=VALUE][:EFFECT] for the agent. Repeatable.', multiple: true }),
    'no-default-tolerations': Flags.boolean({ description: 'Drop the default "tolerate every taint" (operator Exists).', default: false }),
    'cpu-request': Flags.string({ description: 'Agent CPU request.', default: DEFAULT_RESOURCES.cpuRequest }),
    'memory-request': Flags.string({ description: 'Agent memory request.', default: DEFAULT_RESOURCES.memoryRequest }),
    'memory-limit': Flags.string({ description: 'Agent memory limit.', default: DEFAULT_RESOURCES.memoryLimit }),
    'cpu-limit': Flags.string({ description: 'Agent CPU limit (default none: a throttled agent delays pod ADDs).' }),
    'node-selector': Flags.string({ description: 'Run agents only on nodes with label KEY=VALUE (repeatable; all must match; kubernetes.io/os=linux always).', multiple: true }),
    'max-unavailable': Flags.string({ description: 'Agents a rollout replaces at once: a number or a percentage (DaemonSet rollingUpdate.maxUnavailable).', default: '1' }),
    'priority-class': Flags.string({ description: `PriorityClass of the agent pods ('' for none).`, default: DEFAULT_PRIORITY_CLASS }),
    'image-pull-secret': Flags.string({ description: 'Secret in the agent namespace to pull the image with (repeatable).', multiple: true }),
    'pod-netns-access': Flags.boolean({ description: 'Grant the agent CAP_SYS_ADMIN so it reads pods\' network namespaces (doctor\'s pod interface check, MACs in DRA claim status); off by default (docs/install.md#capabilities).', default: false }),
    'metrics-port': Flags.integer({ description: `Host port of the agent's Prometheus /metrics and its /healthz and /readyz probes (default ${DEFAULT_METRICS_PORT}; see docs/metrics.md).` }),
    'pod-monitor': Flags.boolean({ description: 'Also apply a Prometheus Operator PodMonitor scraping the agents (needs the monitoring.coreos.com CRDs).', default: false }),
    'service-monitor': Flags.boolean({ description: 'Also apply a headless Service over the agents\' metrics port and a Prometheus Operator ServiceMonitor on it.', default: false }),
    'prometheus-rule': Flags.boolean({ description: 'Also apply a Prometheus Operator PrometheusRule with the agents\' alerts (docs/metrics.md).', default: false }),
    'health-interval': Flags.integer({ description: 'Seconds between the agents\' per-NIC health rounds: a test attachment through the real delegate on every NIC (needs --pod-netns-access) and a probe of every peer over it; 0 turns it off (default: the agent\'s, 60; docs/metrics.md#continuous-health).' }),
    dra: Flags.boolean({ description: 'Run the agents with DRA: NICs as ResourceSlices and the kubelet DRA plugin (Kubernetes 1.34+; docs/dra.md).', default: false }),
    'kubelet-dir': Flags.string({ description: `With --dra: the kubelet's root dir on the hosts (default ${DEFAULT_KUBELET_DIR}).` }),
    wait: Flags.boolean({ description: 'Wait until every scheduled agent pod is ready.', default: false }),
    timeout: Flags.string({ description: 'How long --wait waits (e.g. 90s, 5m, 1m30s).', default: '5m' }),
  };

  async run(): Promise<InstallResult> {
    const f = this.flags;
    const dryRun = f['dry-run'];
    const tolerations = [...(f['no-default-tolerations'] ? [] : [{ operator: 'Exists' as const }]), ...(f.toleration ?? []).map(parseToleration)];
    const timeoutMs = parseDuration(f.timeout);
    const opts: InstallOptions = {
      version: this.config.version,
      image: f.image,
      namespace: f.namespace ?? DEFAULT_NAMESPACE,
      tolerations,
      cpuRequest: f['cpu-request'],
      memoryRequest: f['memory-request'],
      memoryLimit: f['memory-limit'],
      ...(f['cpu-limit'] !== undefined ? { cpuLimit: f['cpu-limit'] } : {}),
      nodeSelector: Object.fromEntries((f['node-selector'] ?? []).map(parseNodeSelector)),
      maxUnavailable: parseMaxUnavailable(f['max-unavailable']),
      priorityClassName: f['priority-class'],
      imagePullSecrets: f['image-pull-secret'] ?? [],
      podNetnsAccess: f['pod-netns-access'],
      ...(f['metrics-port'] !== undefined ? { metricsPort: f['metrics-port'] } : {}),
      podMonitor: f['pod-monitor'],
      serviceMonitor: f['service-monitor'],
      prometheusRule: f['prometheus-rule'],
      dra: f.dra,
      ...(f['kubelet-dir'] !== undefined ? { kubeletDir: f['kubelet-dir'] } : {}),
      ...(f['health-interval'] !== undefined ? { healthInterval: f['health-interval'] } : {}),
    };
    // Validate every flag before touching a cluster: bad input never leaves a half-done install.
    renderInstall({ ...opts, cniBinDir: f['cni-bin-dir'] });

    if (dryRun === 'client') {
      const cniBinDir = detectCniBinDir(f['cni-bin-dir'], []);
      if (!f['cni-bin-dir']) cniBinDir.source = 'default; client dry run does not look up Multus';
      const nad = f['install-nad-crd'] === 'always';
      if (f['install-nad-crd'] === 'auto') this.note('note: client dry run: the NetworkAttachmentDefinition CRD is left out (Multus provides it); use --install-nad-crd=always to include it');
      // Stamped like a real apply, so a later `install` sees GitOps-applied objects as unchanged.
      const objects = renderInstall({ ...opts, cniBinDir: cniBinDir.path, nadCrd: nad }).map(withHash);
      if (this.printsObjects()) await this.emitObjects(objects);
      else for (const o of objects) this.out(`${displayName(o)} created (dry run)`);
      return this.result(opts, cniBinDir, dryRun, objects.map((o) => entry(o, 'create')));
    }

    const api = await this.kube();
    await api.version();
    const cniBinDir = await this.findCniBinDir(api, f['cni-bin-dir']);
    // auto: install the NAD CRD when it is missing, and keep managing it when it is ours.
    const existingNadCrd = f['install-nad-crd'] === 'auto' ? await api.get(R.CustomResourceDefinition, NAD_CRD_NAME) : undefined;
    const nadCrd = f['install-nad-crd'] === 'always' || (f['install-nad-crd'] === 'auto' && (!existingNadCrd || isOurs(existingNadCrd)));
    const objects = renderInstall({ ...opts, cniBinDir: cniBinDir.path, nadCrd });
    const human = !this.printsObjects();
    const say = (text: string) => (human ? this.out(text) : this.note(text));
    say(`installing into namespace ${opts.namespace} with image ${objects.length ? imageOf(objects) : ''}; CNI bin dir ${cniBinDir.path} (${cniBinDir.source})`);

    const done: InstalledObject[] = [];
    const applied: KubeObject[] = [];
    // A server dry run creates nothing, so objects in a namespace it would create cannot be sent
    // (the API answers 404 for the namespace, as kube-apiserver does for kubectl apply --dry-run=server).
    const unborn = new Set<string>();
    for (const desired of objects) {
      const ns = desired.metadata?.namespace;
      if (ns && unborn.has(ns)) {
        done.push(entry(desired, 'create'));
        applied.push(desired);
        say(`${displayName(desired)} created (server dry run; not sent: namespace ${ns} does not exist yet)`);
        continue;
      }
      const { action, object } = await applyOne(api, desired, dryRun === 'server');
      if (dryRun === 'server' && desired.kind === 'Namespace' && action === 'create') unborn.add(desired.metadata?.name ?? '');
      done.push(entry(desired, action));
      applied.push(object);
      const verb = { create: 'created', update: 'configured', unchanged: 'unchanged', keep: 'unchanged (not ours)' }[action];
      say(`${displayName(desired)} ${verb}${dryRun === 'server' ? ' (server dry run)' : ''}`);
    }
    if (this.printsObjects()) await this.emitObjects(applied);
    const result = this.result(opts, cniBinDir, dryRun, done);
    if (f.wait && dryRun === 'none') {
      result.rollout = await this.waitForRollout(api, opts.namespace!, timeoutMs);
      if (!result.rollout.done) {
        throw new UserError(
          `timed out after ${f.timeout} waiting for DaemonSet ${opts.namespace}/${AGENT_NAME}: ${result.rollout.ready}/${result.rollout.desired} agent pods ready`,
          { hint: `see why with: kubectl -n ${opts.namespace} get pods -l app.kubernetes.io/name=${AGENT_NAME}; kubectl -n ${opts.namespace} describe daemonset ${AGENT_NAME}`, exitCode: ExitCode.Problems },
        );
      }
    }
    return result;
  }

  /** -o asks for the objects (yaml: one document each, json: a v1 List, name, jsonpath over the List) rather than progress lines. */
  private printsObjects(): boolean {
    return this.flags.output !== undefined && this.flags.output.format !== 'human';
  }

  private async emitObjects(objects: KubeObject[]): Promise<void> {
    const list = { apiVersion: 'v1', kind: 'List', metadata: {}, items: objects };
    await this.emit({ data: list, human: () => '', names: () => objectNames(list), yaml: () => yamlDocuments(objects) });
  }

  private result(opts: InstallOptions, cniBinDir: CniBinDir, dryRun: InstallResult['dryRun'], objects: InstalledObject[]): InstallResult {
    return {
      apiVersion: 'multinic.fms.io/v1',
      kind: 'InstallResult',
      namespace: opts.namespace!,
      image: opts.image ?? defaultImage(opts.version),
      cniBinDir,
      dryRun,
      objects,
    };
  }

  private async findCniBinDir(api: KubeApi, explicit: string | undefined): Promise<CniBinDir> {
    if (explicit) return detectCniBinDir(explicit, []);
    const selector = { labelSelector: 'app=multus' };
    const found: KubeObject[] = (await api.list(R.DaemonSet, selector)).items;
    if (!found.length) found.push(...(await api.list(R.Pod, selector)).items);
    return detectCniBinDir(undefined, found);
  }

  /**
   * Polls the agent DaemonSet until numberReady == desiredNumberScheduled for the current generation
   * (src/cli/wait.ts: one progress line, an unreachable API waited through).
   */
  private async waitForRollout(api: KubeApi, namespace: string, timeoutMs: number): Promise<{ ready: number; desired: number; done: boolean }> {
    this.note(`waiting for DaemonSet ${namespace}/${AGENT_NAME} (numberReady == desiredNumberScheduled), up to ${Math.round(timeoutMs / 1000)}s`);
    const r = await waitFor({
      poll: async () => {
        const ds = await api.get(R.DaemonSet, AGENT_NAME, namespace);
        const st = (ds?.status ?? {}) as { numberReady?: number; desiredNumberScheduled?: number; observedGeneration?: number; updatedNumberScheduled?: number };
        const desired = st.desiredNumberScheduled ?? 0;
        const ready = st.numberReady ?? 0;
        const observed = st.observedGeneration !== undefined && st.observedGeneration >= (ds?.metadata?.generation ?? 0);
        const updated = st.updatedNumberScheduled ?? desired;
        return { ready, desired, observed, done: observed && ready === desired && updated === desired };
      },
      settled: (v) => v.done,
      line: (v) => `agents ready: ${v.ready}/${v.desired}${v.observed ? '' : ' (DaemonSet not yet observed by its controller)'}`,
      timeoutMs,
      intervalMs: 1000,
      note: (t) => this.note(t),
    });
    return { ready: r.value.ready, desired: r.value.desired, done: r.value.done };
  }
}

/** Applies one object (src/cluster/apply-object.ts); a failure names the object. */
async function applyOne(api: KubeApi, desired: KubeObject, dryRun: boolean): Promise<{ action: ApplyAction; object: KubeObject }> {
  try {
    return await applyObject(api, desired, { dryRun });
  } catch (e) {
    throw wrapError(`failed to apply ${desired.kind} "${desired.metadata?.namespace ? `${desired.metadata.namespace}/` : ''}${desired.metadata?.name ?? ''}"`, e);
  }
}

function entry(o: KubeObject, action: ApplyAction): InstalledObject {
  return { apiVersion: o.apiVersion ?? '', kind: o.kind ?? '', name: o.metadata?.name ?? '', ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}), action };
}

function imageOf(objects: KubeObject[]): string {
  const ds = objects.find((o) => o.kind === 'DaemonSet');
  return (ds?.spec as { template: { spec: { containers: { image: string }[] } } } | undefined)?.template.spec.containers[0]?.image ?? '';
}

/** Multi-document YAML: what `kubectl apply -f` takes back. */
async function yamlDocuments(objects: KubeObject[]): Promise<string> {
  const docs = await Promise.all(objects.map((o) => renderData(o, 'yaml')));
  return docs.map((d) => `---\n${d}`).join('');
}
