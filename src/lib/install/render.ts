// Pure rendering of everything `kubectl multinic install` puts into a cluster: CRDs, the agent's
// namespace, identity and least-privilege RBAC, and the agent DaemonSet with the init container that
// drops the self-contained `multi-nic` CNI executable into the host's CNI bin dir. Plain options in,
// plain objects out; the same output feeds `--dry-run=client -o yaml` (GitOps) and the real apply.
import { CRDS } from '../crds/crds.gen.js';
import { DEFAULT_METRICS_PORT } from '../agent/listen.js';
import { UserError } from '../errors.js';
import type { KubeObject } from '../k8s/meta.js';
import { DEFAULT_AGENT_SOCKET } from '../agent/protocol.js';
import { nadCrd } from './nad-crd.js';
import { renderPodMonitor, renderPrometheusRule, renderServiceMonitor } from './monitoring.js';

export const DEFAULT_NAMESPACE = 'multinic-system';
/** Repository of the agent image built from the repo's Containerfile; tagged with the package version. */
export const IMAGE_REPOSITORY = 'ghcr.io/kubectl-multinic/agent';
export const DEFAULT_CNI_BIN_DIR = '/opt/cni/bin';
/** Where the Containerfile puts the self-contained CNI executable inside the image. */
export const IMAGE_CNI_PATH = '/opt/multinic/cni/multi-nic';
/** Where the Containerfile puts the CLI (the agent is `kubectl-multinic agent`). */
export const IMAGE_CLI_PATH = '/usr/local/bin/kubectl-multinic';
/**
 * The agent's own executable in the image (bin/multinic-agent: src/agent/bin.ts without oclif). The
 * DaemonSet runs it rather than `kubectl-multinic agent`: the CLI framework costs ~15 MiB of RSS that a
 * long-running node process keeps (bench/agent, --launch cli vs bin).
 */
export const IMAGE_AGENT_PATH = '/usr/local/bin/multinic-agent';
/** The CNI plugin's file name in the host CNI bin dir: the `type` every generated NAD names. */
export const CNI_BINARY_NAME = 'multi-nic';

export const AGENT_NAME = 'multinic-agent';
/** The headless Service a ServiceMonitor selects (rendered only with serviceMonitor). */
export const AGENT_METRICS_SERVICE = 'multinic-agent-metrics';
export const LEADER_ELECTION_ROLE = 'multinic-agent-leader-election';
/**
 * The agent's default requests and limit. Memory request: bench/agent measured the deployed agent
 * (bin/multinic-agent, Node 24, --kube, in-cluster over TLS as in its pod) at 84 MiB RSS idle,
 * 97 MiB holding 1,000 pods x 2 NICs and 156 MiB holding 10,000 (the limit leaves room for that).
 */
export const DEFAULT_RESOURCES = { cpuRequest: '50m', memoryRequest: '96Mi', memoryLimit: '256Mi' } as const;
/**
 * The agent pods' PriorityClass: built into every cluster for pods a node cannot work without (the
 * CNI among them), so the kubelet evicts them last and the scheduler preempts for them
 * (https://kubernetes.io/docs/tasks/administer-cluster/guaranteed-scheduling-critical-addon-pods/).
 */
export const DEFAULT_PRIORITY_CLASS = 'system-node-critical';

/** Label on every object we install; `uninstall` uses it to tell our objects from pre-existing ones. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'kubectl-multinic';
export const PART_OF_LABEL = 'app.kubernetes.io/part-of';
/** Label upstream puts on the NADs it generates (we keep it so upstream tools see the same thing). */
export const GENERATED_LABEL = 'multi-nic-cni-generated';

export const defaultImage = (version: string): string => `${IMAGE_REPOSITORY}:v${version}`;

export interface Toleration {
  key?: string;
  operator: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export interface InstallOptions {
  /** The CLI's package version: labels and the default image tag. */
  version: string;
  /** Agent image; defaults to `defaultImage(version)`. */
  image?: string;
  namespace?: string;
  /** The host's CNI bin dir (resolved by the caller: flag, Multus DaemonSet, or default). */
  cniBinDir?: string;
  /** Replaces the default "tolerate everything" when given (an empty list tolerates nothing). */
  tolerations?: Toleration[];
  cpuRequest?: string;
  memoryRequest?: string;
  memoryLimit?: string;
  /** Include our five CRDs (default true). */
  crds?: boolean;
  /** Include the NetworkAttachmentDefinition CRD (default false; Multus normally owns it). */
  nadCrd?: boolean;
  /** Host port of the agent's metrics and probes (`--metrics-addr :PORT`; default DEFAULT_METRICS_PORT). */
  metricsPort?: number;
  /** Also render a Prometheus Operator PodMonitor scraping the agents (default false). */
  podMonitor?: boolean;
  /** Also render a headless Service and a ServiceMonitor scraping the agents (default false). */
  serviceMonitor?: boolean;
  /** Also render a PrometheusRule with the alerts of src/lib/install/monitoring.ts (default false). */
  prometheusRule?: boolean;
  /** Add CAP_SYS_ADMIN so the agent reads pod network namespaces (default false; see AGENT_CAPABILITIES). */
  podNetnsAccess?: boolean;
  /** Schedule agents only on nodes with these labels (default: every Linux node). */
  nodeSelector?: Record<string, string>;
  /** DaemonSet rollingUpdate.maxUnavailable: a whole number >= 1 or a percentage (default 1). */
  maxUnavailable?: number | string;
  /** The agent pods' PriorityClass (default system-node-critical; '' for none). */
  priorityClassName?: string;
  /** Secrets (in the agent namespace) to pull the image with. */
  imagePullSecrets?: string[];
  /** CPU limit of the agent (default none: a CNI agent throttled mid-ADD makes pods wait). */
  cpuLimit?: string;
  /** Run the agent with --dra: ResourceSlices and the kubelet DRA plugin (docs/dra.md; default false). */
  dra?: boolean;
  /** The kubelet's root dir on the hosts (default DEFAULT_KUBELET_DIR); only with dra. */
  kubeletDir?: string;
  /** Seconds between the agents' per-NIC health rounds (`--health-interval`; 0 = off; default: the agent's, 60). */
  healthInterval?: number;
}

/** Options with every default applied and every value checked. */
export interface ResolvedInstallOptions {
  version: string;
  image: string;
  namespace: string;
  cniBinDir: string;
  tolerations: Toleration[];
  cpuRequest: string;
  memoryRequest: string;
  memoryLimit: string;
  crds: boolean;
  nadCrd: boolean;
  metricsPort: number;
  podMonitor: boolean;
  serviceMonitor: boolean;
  prometheusRule: boolean;
  podNetnsAccess: boolean;
  nodeSelector: Record<string, string>;
  maxUnavailable: number | string;
  priorityClassName: string;
  imagePullSecrets: string[];
  cpuLimit?: string;
  dra: boolean;
  kubeletDir: string;
  healthInterval?: number;
}

/** The kubelet's --root-dir unless the distribution moved it (k0s, microk8s, RKE). */
export const DEFAULT_KUBELET_DIR = '/var/lib/kubelet';

/**
 * A hostPath the agent pod mounts, and why. The DaemonSet mounts exactly these (a test holds it to
 * that), so the list is also the audit answer to "what does the agent touch on my host?".
 */
export interface HostMount {
  name: string;
  hostPath: string;
  mountPath: string;
  readOnly: boolean;
  type: 'Directory' | 'DirectoryOrCreate';
  /** Only the init container mounts it. */
  initOnly?: boolean;
  propagation?: 'HostToContainer';
  why: string;
}

export function hostMounts(cniBinDir: string, dra?: { kubeletDir: string }): HostMount[] {
  return [
    { name: 'run-multinic', hostPath: '/run/multinic', mountPath: '/run/multinic', readOnly: false, type: 'DirectoryOrCreate', why: 'the agent socket the CNI plugin calls' },
    { name: 'state', hostPath: '/var/lib/multinic', mountPath: '/var/lib/multinic', readOnly: false, type: 'DirectoryOrCreate', why: 'the IPAM journal (survives agent restarts)' },
    { name: 'cni-bin', hostPath: cniBinDir, mountPath: '/host/cni-bin', readOnly: true, type: 'DirectoryOrCreate', why: 'the init container installs the multi-nic executable here (writable for it alone); the agent reads it to report the CNI executables it finds' },
    { name: 'iproute2', hostPath: '/etc/iproute2', mountPath: '/etc/iproute2', readOnly: false, type: 'DirectoryOrCreate', why: 'rt_tables: one named policy table per network' },
    { name: 'device-plugins', hostPath: '/var/lib/kubelet/device-plugins', mountPath: '/var/lib/kubelet/device-plugins', readOnly: true, type: 'DirectoryOrCreate', why: 'kubelet checkpoint: which GPUs a pod got (topology policy)' },
    // Optional by nature: DirectoryOrCreate keeps the pod starting on hosts without the daemon.
    { name: 'nvidia-topologyd', hostPath: '/var/run/nvidia-topologyd', mountPath: '/var/run/nvidia-topologyd', readOnly: true, type: 'DirectoryOrCreate', why: 'GPU/NIC topology from nvidia-topologyd, when present' },
    // CNI_NETNS is a bind mount created after the agent started, so it needs HostToContainer
    // propagation to be visible inside the agent (CHECK and GC open it by path).
    { name: 'netns', hostPath: '/run/netns', mountPath: '/run/netns', readOnly: true, type: 'DirectoryOrCreate', propagation: 'HostToContainer', why: 'pod network namespaces by path (CNI_NETNS)' },
    // DRA: the kubelet dials the socket path the plugin reports in GetInfo as a host path, so both
    // dirs are mounted at their host paths (not under /host).
    ...(dra
      ? [
          { name: 'kubelet-plugins', hostPath: `${dra.kubeletDir}/plugins`, mountPath: `${dra.kubeletDir}/plugins`, readOnly: false, type: 'DirectoryOrCreate' as const, why: 'the DRA plugin socket the kubelet calls (plugins/multinic.fms.io/dra.sock)' },
          { name: 'kubelet-plugins-registry', hostPath: `${dra.kubeletDir}/plugins_registry`, mountPath: `${dra.kubeletDir}/plugins_registry`, readOnly: false, type: 'DirectoryOrCreate' as const, why: 'the registration socket the kubelet plugin watcher finds (multinic.fms.io-reg.sock)' },
        ]
      : []),
  ];
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUANTITY = /^(\d+(\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const MEMORY_UNITS: Record<string, number> = {
  '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60, m: 1e-3,
};

/** A Kubernetes resource quantity in base units (bytes for memory, cores for CPU). */
export function parseQuantity(text: string, flag: string): number {
  const m = QUANTITY.exec(text.trim());
  if (!m) {
    throw new UserError(`--${flag} "${text}" is not a Kubernetes quantity`, { hint: 'use e.g. 50m or 0.5 for CPU, 64Mi or 1Gi for memory' });
  }
  return Number(m[1]) * MEMORY_UNITS[m[3] ?? '']!;
}

const EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;

/**
 * Parses `KEY[=VALUE][:EFFECT]` (kubectl taint syntax). Without VALUE the toleration matches any
 * value (operator Exists); without EFFECT it matches every effect.
 */
export function parseToleration(text: string): Toleration {
  const m = /^([^=:\s]+)(?:=([^:\s]*))?(?::([A-Za-z]+))?$/.exec(text.trim());
  const bad = (why: string): UserError =>
    new UserError(`--toleration "${text}": ${why}`, { hint: 'use KEY[=VALUE][:EFFECT], e.g. nvidia.com/gpu:NoSchedule or dedicated=ai:NoExecute' });
  if (!m) throw bad('not of the form KEY[=VALUE][:EFFECT]');
  const [, key, value, effect] = m;
  if (effect !== undefined && !(EFFECTS as readonly string[]).includes(effect)) throw bad(`effect must be one of ${EFFECTS.join(', ')}`);
  const t: Toleration = value === undefined ? { key: key!, operator: 'Exists' } : { key: key!, operator: 'Equal', value };
  if (effect) t.effect = effect as Toleration['effect'];
  return t;
}

/** Applies defaults and checks every option; throws UserError naming the flag. */
export function resolveInstallOptions(opts: InstallOptions): ResolvedInstallOptions {
  const namespace = opts.namespace ?? DEFAULT_NAMESPACE;
  if (!DNS1123_LABEL.test(namespace) || namespace.length > 63) {
    throw new UserError(`--namespace "${namespace}" is not a valid namespace name`, { hint: 'use lower-case letters, digits and "-" (at most 63), e.g. multinic-system' });
  }
  const image = opts.image ?? defaultImage(opts.version);
  if (!/^[A-Za-z0-9][^\s]*[A-Za-z0-9_]$/.test(image) || image.startsWith('-')) {
    throw new UserError(`--image "${image}" is not an image reference`, { hint: `use REPOSITORY[:TAG|@DIGEST], e.g. ${defaultImage(opts.version)}` });
  }
  const cniBinDir = opts.cniBinDir ?? DEFAULT_CNI_BIN_DIR;
  if (!cniBinDir.startsWith('/') || cniBinDir.split('/').includes('..') || /\s/.test(cniBinDir)) {
    throw new UserError(`--cni-bin-dir "${cniBinDir}" must be an absolute host path without ".." or spaces`, { hint: `e.g. ${DEFAULT_CNI_BIN_DIR} (where the host's CNI plugins live)` });
  }
  const cpuRequest = opts.cpuRequest ?? DEFAULT_RESOURCES.cpuRequest;
  const memoryRequest = opts.memoryRequest ?? DEFAULT_RESOURCES.memoryRequest;
  const memoryLimit = opts.memoryLimit ?? DEFAULT_RESOURCES.memoryLimit;
  if (/[KMGTPE]i?$/.test(cpuRequest)) {
    throw new UserError(`--cpu-request "${cpuRequest}" uses a memory unit`, { hint: 'CPU is in cores or millicores, e.g. 50m or 0.5' });
  }
  parseQuantity(cpuRequest, 'cpu-request');
  const req = parseQuantity(memoryRequest, 'memory-request');
  const lim = parseQuantity(memoryLimit, 'memory-limit');
  if (req > lim) {
    throw new UserError(`--memory-request ${memoryRequest} is above --memory-limit ${memoryLimit}`, { hint: 'the API server rejects a request above its limit; raise the limit or lower the request' });
  }
  if (opts.kubeletDir !== undefined && !opts.dra) {
    throw new UserError('--kubelet-dir is only used with --dra', { hint: 'add --dra to run the kubelet DRA plugin, or drop --kubelet-dir' });
  }
  const kubeletDir = opts.kubeletDir ?? DEFAULT_KUBELET_DIR;
  if (!kubeletDir.startsWith('/') || kubeletDir.split('/').includes('..') || /[\s"'$`\\]/.test(kubeletDir) || kubeletDir.length > 64) {
    throw new UserError(`--kubelet-dir "${kubeletDir}" must be an absolute host path without "..", spaces or quotes, at most 64 characters`, { hint: `the kubelet's --root-dir, e.g. ${DEFAULT_KUBELET_DIR} (unix socket paths under it are limited to 107 bytes)` });
  }
  const metricsPort = opts.metricsPort ?? DEFAULT_METRICS_PORT;
  if (!Number.isInteger(metricsPort) || metricsPort < 1 || metricsPort > 65535) {
    throw new UserError(`--metrics-port "${String(opts.metricsPort)}" is not a port from 1 to 65535`, { hint: `the agent listens there on every host address (host network) for /metrics, /healthz and /readyz; default ${DEFAULT_METRICS_PORT}` });
  }
  if (opts.healthInterval !== undefined && (!Number.isInteger(opts.healthInterval) || opts.healthInterval < 0 || (opts.healthInterval > 0 && opts.healthInterval < 5) || opts.healthInterval > 86_400)) {
    throw new UserError(`--health-interval "${String(opts.healthInterval)}" is neither 0 (off) nor a whole number of seconds from 5 to 86400`, { hint: 'how often each agent tests an attachment on every NIC and probes its peers, e.g. 60 (the default) or 0 to turn it off' });
  }
  const nodeSelector = opts.nodeSelector ?? {};
  for (const [k, v] of Object.entries(nodeSelector)) checkLabel(k, v, 'node-selector');
  const maxUnavailable = opts.maxUnavailable ?? 1;
  if (typeof maxUnavailable === 'number' ? !Number.isInteger(maxUnavailable) || maxUnavailable < 1 : !/^([1-9]\d?|100)%$/.test(maxUnavailable)) {
    throw new UserError(`--max-unavailable "${String(maxUnavailable)}" is neither a whole number >= 1 nor a percentage from 1% to 100%`, { hint: 'how many agents a rollout replaces at once, e.g. 1 (default) or 10%' });
  }
  const priorityClassName = opts.priorityClassName ?? DEFAULT_PRIORITY_CLASS;
  if (priorityClassName !== '' && (!DNS1123_SUBDOMAIN.test(priorityClassName) || priorityClassName.length > 253)) {
    throw new UserError(`--priority-class "${priorityClassName}" is not a PriorityClass name`, { hint: `e.g. ${DEFAULT_PRIORITY_CLASS} (default; built into every cluster) or '' for none` });
  }
  const imagePullSecrets = [...new Set(opts.imagePullSecrets ?? [])];
  for (const n of imagePullSecrets) {
    if (!DNS1123_SUBDOMAIN.test(n) || n.length > 253) throw new UserError(`--image-pull-secret "${n}" is not a Secret name`, { hint: `the name of a docker-registry Secret in namespace ${namespace}` });
  }
  if (opts.cpuLimit !== undefined) {
    if (/[KMGTPE]i?$/.test(opts.cpuLimit)) throw new UserError(`--cpu-limit "${opts.cpuLimit}" uses a memory unit`, { hint: 'CPU is in cores or millicores, e.g. 500m or 1' });
    if (parseQuantity(opts.cpuLimit, 'cpu-limit') < parseQuantity(cpuRequest, 'cpu-request')) {
      throw new UserError(`--cpu-limit ${opts.cpuLimit} is below --cpu-request ${cpuRequest}`, { hint: 'the API server rejects a request above its limit; raise the limit or lower the request' });
    }
  }
  return {
    version: opts.version,
    image,
    namespace,
    cniBinDir: cniBinDir.length > 1 ? cniBinDir.replace(/\/+$/, '') : cniBinDir,
    tolerations: opts.tolerations ?? [{ operator: 'Exists' }],
    cpuRequest,
    memoryRequest,
    memoryLimit,
    crds: opts.crds ?? true,
    nadCrd: opts.nadCrd ?? false,
    metricsPort,
    podMonitor: opts.podMonitor ?? false,
    serviceMonitor: opts.serviceMonitor ?? false,
    prometheusRule: opts.prometheusRule ?? false,
    podNetnsAccess: opts.podNetnsAccess ?? false,
    nodeSelector: { ...nodeSelector },
    maxUnavailable,
    priorityClassName,
    imagePullSecrets,
    ...(opts.cpuLimit !== undefined ? { cpuLimit: opts.cpuLimit } : {}),
    dra: opts.dra ?? false,
    kubeletDir: kubeletDir.length > 1 ? kubeletDir.replace(/\/+$/, '') : kubeletDir,
    ...(opts.healthInterval !== undefined ? { healthInterval: opts.healthInterval } : {}),
  };
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** A label key (optional DNS prefix + name of at most 63) and value, as the API server checks them. */
function checkLabel(key: string, value: string, flag: string): void {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  const okKey = name !== '' && name.length <= 63 && LABEL_NAME.test(name) && (prefix === undefined || (prefix.length <= 253 && DNS1123_SUBDOMAIN.test(prefix)));
  if (!okKey) throw new UserError(`--${flag} "${key}=${value}": "${key}" is not a label key`, { hint: 'use [PREFIX/]NAME, e.g. node-role.kubernetes.io/gpu or nvidia.com/gpu.present' });
  if (value.length > 63 || !LABEL_NAME.test(value)) throw new UserError(`--${flag} "${key}=${value}": "${value}" is not a label value`, { hint: 'at most 63 of letters, digits, "-", "_", "." starting and ending alphanumeric (or empty)' });
}

/** Parses `KEY=VALUE` of --node-selector. */
export function parseNodeSelector(text: string): [string, string] {
  const i = text.indexOf('=');
  if (i <= 0) throw new UserError(`--node-selector "${text}" is not KEY=VALUE`, { hint: 'e.g. --node-selector nvidia.com/gpu.present=true (repeatable; every pair must match)' });
  const kv: [string, string] = [text.slice(0, i).trim(), text.slice(i + 1).trim()];
  checkLabel(kv[0], kv[1], 'node-selector');
  return kv;
}

/** Parses --max-unavailable: a whole number or a percentage. */
export function parseMaxUnavailable(text: string): number | string {
  return /^\d+$/.test(text) ? Number(text) : text;
}

export function commonLabels(version: string): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY, [PART_OF_LABEL]: 'kubectl-multinic', 'app.kubernetes.io/version': version };
}

const AGENT_SELECTOR = { 'app.kubernetes.io/name': AGENT_NAME };

/**
 * The Linux capabilities the agent container adds to an empty set (it runs as uid 0, not
 * privileged, no privilege escalation). Measured on a real kernel by test/kernel/agent-capabilities.test.ts,
 * which runs each operation and the whole agent with only these in its bounding set:
 * - NET_ADMIN: policy rules, routes in the per-network tables, the macvlan L3 shims (link,
 *   address, up, delete) and writing net.ipv4.ip_forward (--enable-forwarding). All fail with EPERM
 *   without it.
 * - Nothing else for its job. NIC discovery (sysfs, `ip -d addr`), `ip monitor`, the IPAM journal,
 *   the socket and rt_tables (root-owned files, written by their owner uid 0) need no capability.
 *   NET_RAW would only be for raw ICMP/ARP sockets (ping), which the agent never opens.
 * - SYS_ADMIN is what setns(2) into a pod's netns (`nsenter --net=`) needs. The agent's job never
 *   enters one (the CNI plugin does, run by the container runtime with its own privileges); only
 *   two read-backs do: the prober's pod-interface check (doctor's pod-interfaces) and the MAC in a
 *   DRA claim's status. SYS_ADMIN is close to full root, so it is off by default: the agent sees
 *   it lacks the capability (src/lib/agent/capabilities.ts), does not try, and reports those pod
 *   interfaces as unknown with the reason; `install --pod-netns-access` adds AGENT_NETNS_CAPABILITY.
 * The install-cni init container adds none: it copies into the root-owned CNI bin dir as uid 0.
 */
export const AGENT_CAPABILITIES: readonly string[] = ['NET_ADMIN'];
/** Added by `install --pod-netns-access` (see AGENT_CAPABILITIES). */
export const AGENT_NETNS_CAPABILITY = 'SYS_ADMIN';

/**
 * Pod Security Admission labels of the agent namespace
 * (https://kubernetes.io/docs/concepts/security/pod-security-admission/). The agent pod needs the
 * `privileged` level: the `baseline` level forbids hostNetwork, hostPath volumes and adding any
 * capability beyond the runtime defaults (NET_ADMIN is not among them)
 * (https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline). Enforced
 * explicitly, so a cluster-wide default of baseline or restricted does not reject the DaemonSet's
 * pods; keep nothing else in this namespace.
 */
export const NAMESPACE_POD_SECURITY: Readonly<Record<string, string>> = {
  'pod-security.kubernetes.io/enforce': 'privileged',
  'pod-security.kubernetes.io/enforce-version': 'latest',
};
export const NAMESPACE_POD_SECURITY_REASON = 'the multinic agent runs on the host network with hostPath volumes and CAP_NET_ADMIN, which the baseline and restricted Pod Security levels forbid (docs/install.md#pod-security)';

/** A Kubernetes RBAC rule; verbs and resources are always explicit (no "*"). */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/**
 * What the agent may do cluster-wide: exactly the calls it makes, verb by verb
 * (test/agent/kube/rbac.test.ts records every request a real agent sends through its life and
 * fails on a call these rules do not grant or a grant no call uses). Informers list and watch; the
 * rest is one line of code each:
 * - networks, device classes: read through informers only (no get).
 * - CIDRs: the first agent to see a network creates its CIDR (config, no host entries), reading the
 *   one another agent created first (get); the leader replaces it to migrate a legacy one to claims
 *   and to free a departed host's legacy entries, and writes its summary status (update).
 * - CIDRClaims (docs/scale.md): each agent creates its own (the claim), reads one that AlreadyExists
 *   (get), rewrites its own when its NIC's address changed (update) and deletes one of a NIC it lost;
 *   the leader creates the claims of a legacy CIDR's entries and deletes a departed host's. No patch.
 * - HostInterfaces: each agent creates and patches its own (spec, and status: diagnostics,
 *   conditions, liveness, release answers); the leader deletes a departed node's.
 * - IPPools: each agent creates, reads and replaces its own (allocations) and patches their status
 *   (usage), deletes those of a NIC it lost; the leader deletes a departed node's (listed by label).
 * - networks' status: the leader replaces it (update).
 * - NADs: exactly the leader's calls. Their names are the networks' (chosen by users at run time),
 *   so resourceNames cannot name them, and RBAC cannot select by label; the agent itself only lists
 *   (label multi-nic-cni-generated=true), replaces and deletes NADs it generated, and a create never
 *   overwrites (a user's NAD of the same name gets 409 and an Event). No get, patch or
 *   deletecollection.
 * - nodes: get confirms a node is gone before its leftovers are removed; pods: get confirms a pod
 *   is gone before CNI GC takes its addresses.
 */
export const AGENT_CLUSTER_RULES: PolicyRule[] = [
  { apiGroups: ['multinic.fms.io'], resources: ['deviceclasses', 'multinicnetworks'], verbs: ['list', 'watch'] },
  { apiGroups: ['multinic.fms.io'], resources: ['cidrs'], verbs: ['get', 'list', 'watch', 'create', 'update'] },
  { apiGroups: ['multinic.fms.io'], resources: ['cidrclaims'], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'] },
  { apiGroups: ['multinic.fms.io'], resources: ['hostinterfaces'], verbs: ['list', 'watch', 'create', 'patch', 'delete'] },
  { apiGroups: ['multinic.fms.io'], resources: ['ippools'], verbs: ['get', 'list', 'create', 'update', 'delete'] },
  { apiGroups: ['multinic.fms.io'], resources: ['hostinterfaces/status', 'ippools/status'], verbs: ['patch'] },
  { apiGroups: ['multinic.fms.io'], resources: ['multinicnetworks/status', 'cidrs/status'], verbs: ['update'] },
  { apiGroups: ['k8s.cni.cncf.io'], resources: ['network-attachment-definitions'], verbs: ['list', 'watch', 'create', 'update', 'delete'] },
  { apiGroups: [''], resources: ['namespaces'], verbs: ['list', 'watch'] },
  { apiGroups: [''], resources: ['nodes', 'pods'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
];

/**
 * With --dra (docs/dra.md), exactly the calls the agent makes: its node's ResourceSlice (get, create,
 * replace; never list or delete: the Node owns it, so it goes with the node, and uninstall removes
 * the rest), the claims the kubelet asks it to prepare (get) and their KEP-4817 device status
 * (replace of the status subresource). RBAC cannot narrow these to the agent's node; the
 * DeviceClasses are written by `apply` with the user's credentials, never by the agent.
 */
export const AGENT_DRA_RULES: PolicyRule[] = [
  { apiGroups: ['resource.k8s.io'], resources: ['resourceslices'], verbs: ['get', 'create', 'update'] },
  { apiGroups: ['resource.k8s.io'], resources: ['resourceclaims'], verbs: ['get'] },
  { apiGroups: ['resource.k8s.io'], resources: ['resourceclaims/status'], verbs: ['update'] },
];

/** Leader election, only in the agent's own namespace: read the Lease, create it once, renew or take it (update). */
export const AGENT_NAMESPACE_RULES: PolicyRule[] = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
];

const KIND_ORDER = [
  'CustomResourceDefinition', 'Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'DaemonSet', 'Service',
  'PodMonitor', 'ServiceMonitor', 'PrometheusRule',
];

/** Apply order: what others depend on first (CRDs, then the namespace, identity, RBAC, workload); by name within a kind. */
export function installOrder(a: KubeObject, b: KubeObject): number {
  const ka = KIND_ORDER.indexOf(a.kind ?? '');
  const kb = KIND_ORDER.indexOf(b.kind ?? '');
  if (ka !== kb) return (ka < 0 ? KIND_ORDER.length : ka) - (kb < 0 ? KIND_ORDER.length : kb);
  return (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '');
}

/** Every object `install` applies, in apply order. Deterministic: same options, same output. */
export function renderInstall(input: InstallOptions): KubeObject[] {
  const o = resolveInstallOptions(input);
  const labels = commonLabels(o.version);
  const meta = (name: string, namespaced: boolean, extra: Record<string, string> = {}) => ({
    name,
    ...(namespaced ? { namespace: o.namespace } : {}),
    labels: { ...labels, ...extra },
  });
  const subject = [{ kind: 'ServiceAccount', name: AGENT_NAME, namespace: o.namespace }];
  const objects: KubeObject[] = [];
  if (o.crds) {
    for (const crd of CRDS) {
      const c = structuredClone(crd) as unknown as KubeObject;
      c.metadata = { ...c.metadata, labels: { ...labels } };
      objects.push(c);
    }
  }
  if (o.nadCrd) objects.push(nadCrd(labels));
  objects.push(
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { ...meta(o.namespace, false, NAMESPACE_POD_SECURITY), annotations: { 'multinic.fms.io/pod-security-reason': NAMESPACE_POD_SECURITY_REASON } },
    },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(AGENT_NAME, true, AGENT_SELECTOR) },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: meta(AGENT_NAME, false, AGENT_SELECTOR), rules: structuredClone([...AGENT_CLUSTER_RULES, ...(o.dra ? AGENT_DRA_RULES : [])]) },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: meta(AGENT_NAME, false, AGENT_SELECTOR),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: AGENT_NAME },
      subjects: subject,
    },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta(LEADER_ELECTION_ROLE, true, AGENT_SELECTOR), rules: structuredClone(AGENT_NAMESPACE_RULES) },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta(LEADER_ELECTION_ROLE, true, AGENT_SELECTOR),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: LEADER_ELECTION_ROLE },
      subjects: subject,
    },
    renderDaemonSet(o, meta(AGENT_NAME, true, AGENT_SELECTOR)),
  );
  // Prometheus Operator (src/lib/install/monitoring.ts; docs/metrics.md lists the series and alerts).
  if (o.podMonitor) objects.push(renderPodMonitor(meta(AGENT_NAME, true, AGENT_SELECTOR), AGENT_SELECTOR));
  if (o.serviceMonitor) {
    objects.push(...renderServiceMonitor(meta(AGENT_METRICS_SERVICE, true, AGENT_SELECTOR), meta(AGENT_NAME, true, AGENT_SELECTOR), AGENT_SELECTOR, o.metricsPort));
  }
  if (o.prometheusRule) objects.push(renderPrometheusRule(meta(AGENT_NAME, true, AGENT_SELECTOR), o.namespace));
  return objects.sort(installOrder);
}

/**
 * NODE_OPTIONS of the agent container. `--max-semi-space-size=2` (MiB) caps V8's young generation,
 * which otherwise grows under a burst of ADDs and keeps the memory afterwards. bench/agent measures
 * both side by side: holding 1,000 pods x 2 NICs (Node 24, --kube) the agent's RSS was 0.69-0.79x
 * that with V8's defaults, idle 0.86x, with no consistent change in allocations per second.
 */
export const AGENT_NODE_OPTIONS = '--max-semi-space-size=2';

/** The agent container's arguments to IMAGE_AGENT_PATH (`run`, then the flags of `kubectl multinic agent`). */
export function agentArgs(metricsPort: number = DEFAULT_METRICS_PORT, dra?: { kubeletDir: string }, healthInterval?: number): string[] {
  return [
    'run',
    '--kube',
    '--node', '$(NODE_NAME)',
    '--socket', DEFAULT_AGENT_SOCKET,
    '--data-dir', '/var/lib/multinic',
    '--rt-tables', '/etc/iproute2/rt_tables',
    '--checkpoint', '/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint',
    '--cni-bin-dir', '/host/cni-bin',
    '--metrics-addr', `:${metricsPort}`,
    ...(dra ? ['--dra', '--kubelet-dir', dra.kubeletDir] : []),
    ...(healthInterval !== undefined ? ['--health-interval', String(healthInterval)] : []),
  ];
}

function renderDaemonSet(o: ResolvedInstallOptions, metadata: KubeObject['metadata']): KubeObject {
  const dra = o.dra ? { kubeletDir: o.kubeletDir } : undefined;
  const mounts = hostMounts(o.cniBinDir, dra);
  const volumeMount = (m: HostMount, readOnly = m.readOnly) => ({
    name: m.name,
    mountPath: m.mountPath,
    ...(readOnly ? { readOnly: true } : {}),
    ...(m.propagation ? { mountPropagation: m.propagation } : {}),
  });
  const cniBin = mounts.find((m) => m.name === 'cni-bin')!;
  // Atomic: a half-copied executable must never be visible under its real name while Multus may
  // exec it, so copy to a temp name in the same directory, then rename over the old one.
  const installCni =
    `set -eu; tmp=${cniBin.mountPath}/.${CNI_BINARY_NAME}.tmp; ` +
    `cp ${IMAGE_CNI_PATH} "$tmp"; chmod 0755 "$tmp"; mv -f "$tmp" ${cniBin.mountPath}/${CNI_BINARY_NAME}; ` +
    `echo "installed ${CNI_BINARY_NAME} into ${o.cniBinDir} on $(NODE_NAME)"`;
  const nodeNameEnv = { name: 'NODE_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } } };
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata,
    spec: {
      selector: { matchLabels: { ...AGENT_SELECTOR } },
      // No PodDisruptionBudget: the DaemonSet controller does not consult one during a rollout (this
      // maxUnavailable bounds it), and `kubectl drain --ignore-daemonsets` leaves agent pods alone.
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: o.maxUnavailable } },
      template: {
        metadata: { labels: { ...AGENT_SELECTOR, [PART_OF_LABEL]: 'kubectl-multinic' } },
        spec: {
          serviceAccountName: AGENT_NAME,
          hostNetwork: true,
          dnsPolicy: 'ClusterFirstWithHostNet',
          ...(o.priorityClassName ? { priorityClassName: o.priorityClassName } : {}),
          terminationGracePeriodSeconds: 30,
          nodeSelector: { 'kubernetes.io/os': 'linux', ...o.nodeSelector },
          tolerations: structuredClone(o.tolerations),
          ...(o.imagePullSecrets.length ? { imagePullSecrets: o.imagePullSecrets.map((name) => ({ name })) } : {}),
          // Pod-wide, so the init container gets it too: the runtime's default seccomp profile.
          securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
          initContainers: [
            {
              name: 'install-cni',
              image: o.image,
              command: ['/bin/sh', '-c', installCni],
              env: [nodeNameEnv],
              securityContext: {
                privileged: false,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsUser: 0,
                capabilities: { drop: ['ALL'] },
              },
              resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
              volumeMounts: [volumeMount(cniBin, false)],
            },
          ],
          containers: [
            {
              name: 'agent',
              image: o.image,
              command: [IMAGE_AGENT_PATH],
              args: agentArgs(o.metricsPort, dra, o.healthInterval),
              // Host network: the port is the node's. Probes (src/agent/metrics.ts): liveness = the
              // process answers; readiness = the CNI socket serves and routes were reconciled, so a
              // rollout (maxUnavailable 1) waits for each new agent before taking the next node's.
              ports: [{ name: 'metrics', containerPort: o.metricsPort, protocol: 'TCP' }],
              livenessProbe: { httpGet: { path: '/healthz', port: 'metrics' }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 },
              readinessProbe: { httpGet: { path: '/readyz', port: 'metrics' }, periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 3 },
              env: [
                nodeNameEnv,
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
                { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
                { name: 'NODE_OPTIONS', value: AGENT_NODE_OPTIONS },
              ],
              securityContext: {
                // AGENT_CAPABILITIES: NET_ADMIN only (measured, see its comment); SYS_ADMIN with --pod-netns-access.
                privileged: false,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsUser: 0,
                capabilities: { add: [...AGENT_CAPABILITIES, ...(o.podNetnsAccess ? [AGENT_NETNS_CAPABILITY] : [])], drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
              resources: {
                requests: { cpu: o.cpuRequest, memory: o.memoryRequest },
                limits: { memory: o.memoryLimit, ...(o.cpuLimit ? { cpu: o.cpuLimit } : {}) },
              },
              volumeMounts: [
                ...mounts.filter((m) => !m.initOnly).map((m) => volumeMount(m)),
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            ...mounts.map((m) => ({ name: m.name, hostPath: { path: m.hostPath, type: m.type } })),
            { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
          ],
        },
      },
    },
  };
}
