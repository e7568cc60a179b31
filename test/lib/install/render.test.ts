import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CRDS } from '../../../src/lib/crds/crds.gen.js';
import { UserError } from '../../../src/lib/errors.js';
import type { KubeObject } from '../../../src/lib/k8s/meta.js';
import { NAD_CRD_NAME } from '../../../src/lib/install/nad-crd.js';
import {
  AGENT_NODE_OPTIONS,
  CNI_BINARY_NAME,
  DEFAULT_NAMESPACE,
  IMAGE_CNI_PATH,
  defaultImage,
  hostMounts,
  parseMaxUnavailable,
  parseNodeSelector,
  parseQuantity,
  parseToleration,
  renderInstall,
  type PolicyRule,
} from '../../../src/lib/install/render.js';

const version = '9.8.7';

// Loosely typed views of the pieces we assert on.
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  securityContext: { privileged?: boolean; allowPrivilegeEscalation?: boolean; capabilities?: { add?: string[]; drop?: string[] } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean; mountPropagation?: string }[];
}
interface PodSpec {
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  priorityClassName?: string;
  serviceAccountName?: string;
  tolerations: unknown[];
  initContainers: Container[];
  containers: Container[];
  volumes: { name: string; hostPath?: { path: string; type: string }; emptyDir?: unknown }[];
}
const find = (objs: KubeObject[], kind: string, name?: string): KubeObject => {
  const o = objs.find((x) => x.kind === kind && (name === undefined || x.metadata?.name === name));
  if (!o) throw new Error(`no ${kind} ${name ?? ''}`);
  return o;
};
const podSpec = (objs: KubeObject[]): PodSpec => (find(objs, 'DaemonSet').spec as { template: { spec: PodSpec } }).template.spec;
const rulesOf = (o: KubeObject): PolicyRule[] => o.rules as PolicyRule[];
const tuples = (rules: PolicyRule[]): string[] =>
  rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g || 'core'}/${res}:${v}`)))).sort();

describe('renderInstall', () => {
  const objs = renderInstall({ version });

  it('is deterministic and in apply order: CRDs, namespace, identity, RBAC, then the DaemonSet', () => {
    expect(JSON.stringify(renderInstall({ version }))).toBe(JSON.stringify(objs));
    expect(objs.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual([
      ...CRDS.map((c) => `CustomResourceDefinition/${c.metadata.name}`).sort(),
      `Namespace/${DEFAULT_NAMESPACE}`,
      'ServiceAccount/multinic-agent',
      'ClusterRole/multinic-agent',
      'ClusterRoleBinding/multinic-agent',
      'Role/multinic-agent-leader-election',
      'RoleBinding/multinic-agent-leader-election',
      'DaemonSet/multinic-agent',
    ]);
  });

  it('labels every object as ours (uninstall relies on it) and puts namespaced ones in the namespace', () => {
    const custom = renderInstall({ version, namespace: 'net-ops' });
    for (const o of custom) {
      expect(o.metadata?.labels?.['app.kubernetes.io/managed-by'], `${o.kind}`).toBe('kubectl-multinic');
      if (['ServiceAccount', 'Role', 'RoleBinding', 'DaemonSet'].includes(o.kind!)) expect(o.metadata?.namespace).toBe('net-ops');
      else expect(o.metadata?.namespace).toBeUndefined();
    }
    for (const b of custom.filter((o) => o.kind?.endsWith('Binding'))) {
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: 'multinic-agent', namespace: 'net-ops' }]);
    }
  });

  it('installs our CRDs unchanged apart from labels, and the NAD CRD only when asked', () => {
    const crds = objs.filter((o) => o.kind === 'CustomResourceDefinition');
    for (const c of crds) {
      const source = CRDS.find((s) => s.metadata.name === c.metadata?.name)!;
      expect(c.spec).toEqual(source.spec);
    }
    expect(crds.map((c) => c.metadata?.name)).not.toContain(NAD_CRD_NAME);
    const withNad = renderInstall({ version, nadCrd: true });
    const nad = find(withNad, 'CustomResourceDefinition', NAD_CRD_NAME);
    expect((nad.spec as { scope: string; names: { plural: string } }).names.plural).toBe('network-attachment-definitions');
    expect((nad.spec as { scope: string }).scope).toBe('Namespaced');
    expect(renderInstall({ version, crds: false }).some((o) => o.kind === 'CustomResourceDefinition')).toBe(false);
  });

  it('grants no wildcard anywhere in RBAC', () => {
    for (const o of objs.filter((x) => x.kind === 'ClusterRole' || x.kind === 'Role')) {
      for (const r of rulesOf(o)) {
        for (const field of [r.apiGroups, r.resources, r.verbs]) {
          expect(field.length).toBeGreaterThan(0);
          for (const v of field) expect(v, `${o.kind} ${JSON.stringify(r)}`).not.toContain('*');
        }
      }
    }
  });

  it('grants the agent exactly what it needs cluster-wide (the calls test/agent/kube/rbac.test.ts sees a real agent make)', () => {
    const t = (g: string, r: string, verbs: string[]) => verbs.map((v) => `${g}/${r}:${v}`);
    const expected = [
      ...t('multinic.fms.io', 'multinicnetworks', ['list', 'watch']),
      ...t('multinic.fms.io', 'deviceclasses', ['list', 'watch']),
      ...t('core', 'nodes', ['get', 'list', 'watch']),
      ...t('core', 'pods', ['get', 'list', 'watch']),
      ...t('core', 'namespaces', ['list', 'watch']),
      ...t('multinic.fms.io', 'hostinterfaces', ['list', 'watch', 'create', 'patch', 'delete']),
      ...t('multinic.fms.io', 'cidrs', ['get', 'list', 'watch', 'create', 'update']),
      ...t('multinic.fms.io', 'cidrclaims', ['get', 'list', 'watch', 'create', 'update', 'delete']),
      ...t('multinic.fms.io', 'ippools', ['get', 'list', 'create', 'update', 'delete']),
      // NADs: only the calls the leader makes (list/watch by label, create, replace, delete).
      ...t('k8s.cni.cncf.io', 'network-attachment-definitions', ['list', 'watch', 'create', 'update', 'delete']),
      'multinic.fms.io/hostinterfaces/status:patch',
      'multinic.fms.io/ippools/status:patch',
      'multinic.fms.io/multinicnetworks/status:update',
      'multinic.fms.io/cidrs/status:update',
      'core/events:create',
      'core/events:patch',
    ].sort();
    expect(tuples(rulesOf(find(objs, 'ClusterRole')))).toEqual(expected);
    // Names of generated NADs are the users' network names: no rule can pin them with resourceNames.
    expect(rulesOf(find(objs, 'ClusterRole')).every((r) => r.resourceNames === undefined)).toBe(true);
    // Leases only through the namespaced Role, never cluster-wide; never delete someone else's lease.
    const role = tuples(rulesOf(find(objs, 'Role')));
    expect(role.every((t) => t.startsWith('coordination.k8s.io/leases:'))).toBe(true);
    expect(role.sort()).toEqual(['coordination.k8s.io/leases:create', 'coordination.k8s.io/leases:get', 'coordination.k8s.io/leases:update']);
  });

  it('runs the agent unprivileged with only NET_ADMIN (measured: test/kernel/agent-capabilities.test.ts), on the host network, without hostPID', () => {
    const spec = podSpec(objs);
    expect(spec.hostNetwork).toBe(true);
    expect(spec.hostPID).toBeUndefined();
    expect(spec.hostIPC).toBeUndefined();
    expect(spec.priorityClassName).toBe('system-node-critical');
    expect(spec.serviceAccountName).toBe('multinic-agent');
    for (const c of [...spec.initContainers, ...spec.containers]) {
      expect(c.securityContext.privileged, c.name).toBe(false);
      expect(c.securityContext.allowPrivilegeEscalation, c.name).toBe(false);
      expect(c.securityContext.capabilities?.drop, c.name).toEqual(['ALL']);
    }
    const agent = spec.containers[0]!;
    expect(agent.securityContext.capabilities?.add).toEqual(['NET_ADMIN']);
    expect(spec.initContainers[0]!.securityContext.capabilities?.add).toBeUndefined();
  });

  it('mounts exactly the listed host paths, each for a reason', () => {
    const spec = podSpec(renderInstall({ version, cniBinDir: '/var/lib/cni/bin/' }));
    const hostPaths = spec.volumes.filter((v) => v.hostPath).map((v) => v.hostPath!.path).sort();
    expect(hostPaths).toEqual(
      [
        '/etc/iproute2',
        '/run/multinic',
        '/run/netns',
        '/var/lib/cni/bin',
        '/var/lib/kubelet/device-plugins',
        '/var/lib/multinic',
        '/var/run/nvidia-topologyd',
      ].sort(),
    );
    const listed = hostMounts('/var/lib/cni/bin');
    expect(listed.map((m) => m.hostPath).sort()).toEqual(hostPaths);
    for (const m of listed) expect(m.why.length, m.name).toBeGreaterThan(10);
    const mountsOf = (c: Container) => Object.fromEntries(c.volumeMounts.map((v) => [v.name, v]));
    const agent = mountsOf(spec.containers[0]!);
    const init = mountsOf(spec.initContainers[0]!);
    // Read-only where the agent only reads (the CNI bin dir: its diagnostics); writable by the init container alone.
    expect(agent['device-plugins']?.readOnly).toBe(true);
    expect(agent['nvidia-topologyd']?.readOnly).toBe(true);
    expect(agent['netns']).toMatchObject({ readOnly: true, mountPropagation: 'HostToContainer' });
    expect(agent['cni-bin']).toMatchObject({ mountPath: '/host/cni-bin', readOnly: true });
    expect(init['cni-bin']?.readOnly).toBeUndefined();
    expect(Object.keys(init)).toEqual(['cni-bin']);
    for (const name of ['run-multinic', 'state', 'iproute2']) expect(agent[name]?.readOnly, name).toBeUndefined();
  });

  it('runs `multinic-agent run --kube --node $(NODE_NAME)` with NODE_NAME from spec.nodeName', () => {
    const agent = podSpec(objs).containers[0]!;
    expect(agent.command).toEqual(['/usr/local/bin/multinic-agent']);
    expect(agent.args?.slice(0, 4)).toEqual(['run', '--kube', '--node', '$(NODE_NAME)']);
    expect(agent.args).toEqual(expect.arrayContaining(['--socket', '/run/multinic/agent.sock', '--data-dir', '/var/lib/multinic']));
    expect(agent.env?.find((e) => e.name === 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe('spec.nodeName');
  });

  it('starts the agent with NODE_OPTIONS capping the young generation (bench/agent measures this setting)', () => {
    const [agent, ...rest] = podSpec(objs).containers;
    expect(rest).toEqual([]);
    expect(agent?.env?.find((e) => e.name === 'NODE_OPTIONS')?.value).toBe(AGENT_NODE_OPTIONS);
    expect(AGENT_NODE_OPTIONS).toBe('--max-semi-space-size=2');
    // Only the agent: the init container runs sh, and NODE_OPTIONS there would say nothing.
    expect(podSpec(objs).initContainers.flatMap((c) => c.env ?? []).map((e) => e.name)).not.toContain('NODE_OPTIONS');
  });

  it('serves metrics and probes on the host port (default 9417): liveness /healthz, readiness /readyz', () => {
    type Probe = { httpGet: { path: string; port: string } };
    const agent = podSpec(objs).containers[0] as unknown as Container & { ports: unknown[]; livenessProbe: Probe; readinessProbe: Probe };
    expect(agent.args?.slice(-2)).toEqual(['--metrics-addr', ':9417']);
    expect(agent.ports).toEqual([{ name: 'metrics', containerPort: 9417, protocol: 'TCP' }]);
    expect(agent.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(agent.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    const other = podSpec(renderInstall({ version, metricsPort: 19417 })).containers[0] as unknown as { args: string[]; ports: Array<{ containerPort: number }> };
    expect(other.args.slice(-2)).toEqual(['--metrics-addr', ':19417']);
    expect(other.ports[0]?.containerPort).toBe(19417);
    for (const bad of [0, 65536, 1.5]) expect(() => renderInstall({ version, metricsPort: bad })).toThrow(/--metrics-port .* is not a port from 1 to 65535/);
  });

  it('renders a PodMonitor for the agents only with podMonitor, last, in the namespace, on the metrics port', () => {
    expect(objs.some((o) => o.kind === 'PodMonitor')).toBe(false);
    const all = renderInstall({ version, namespace: 'mn', podMonitor: true });
    const pm = all[all.length - 1]!;
    expect(pm).toMatchObject({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PodMonitor', metadata: { name: 'multinic-agent', namespace: 'mn' } });
    const ds = find(all, 'DaemonSet').spec as { selector: { matchLabels: Record<string, string> } };
    expect(pm.spec).toEqual({ selector: { matchLabels: ds.selector.matchLabels }, podMetricsEndpoints: [{ port: 'metrics', path: '/metrics', interval: '30s' }] });
  });

  it('renders a headless Service + ServiceMonitor and a PrometheusRule only when asked, after the DaemonSet', () => {
    expect(objs.some((o) => ['Service', 'ServiceMonitor', 'PrometheusRule'].includes(o.kind ?? ''))).toBe(false);
    const all = renderInstall({ version, namespace: 'mn', serviceMonitor: true, prometheusRule: true, metricsPort: 19417 });
    expect(all.slice(-3).map((o) => o.kind)).toEqual(['Service', 'ServiceMonitor', 'PrometheusRule']);
    const ds = find(all, 'DaemonSet').spec as { selector: { matchLabels: Record<string, string> } };
    const svc = find(all, 'Service');
    expect(svc.metadata).toMatchObject({ name: 'multinic-agent-metrics', namespace: 'mn' });
    expect(svc.spec).toEqual({ clusterIP: 'None', selector: ds.selector.matchLabels, ports: [{ name: 'metrics', port: 19417, targetPort: 'metrics', protocol: 'TCP' }] });
    const sm = find(all, 'ServiceMonitor');
    expect(sm.metadata).toMatchObject({ name: 'multinic-agent', namespace: 'mn' });
    // The ServiceMonitor selects the Service by its labels, in its namespace only.
    const smSpec = sm.spec as { selector: { matchLabels: Record<string, string> }; namespaceSelector: unknown; endpoints: unknown };
    expect(Object.entries(smSpec.selector.matchLabels).every(([k, v]) => svc.metadata?.labels?.[k] === v)).toBe(true);
    expect(smSpec.namespaceSelector).toEqual({ matchNames: ['mn'] });
    expect(smSpec.endpoints).toEqual([{ port: 'metrics', path: '/metrics', interval: '30s' }]);
    const rule = find(all, 'PrometheusRule');
    const rules = (rule.spec as { groups: Array<{ name: string; rules: Array<{ alert: string; expr: string; for: string; labels: { severity: string } }> }> }).groups[0]!.rules;
    expect(rules.map((r) => r.alert)).toEqual(expect.arrayContaining([
      'MultinicAllocationFailing', 'MultinicAllAllocationFailing', 'MultinicNicDown', 'MultinicAllNicsDown', 'MultinicPoolNearlyExhausted', 'MultinicPoolExhausted',
    ]));
    // Upstream's health checker alerts fire after 30 minutes; so do their equivalents here.
    for (const a of ['MultinicAllocationFailing', 'MultinicAllAllocationFailing', 'MultinicNicDown', 'MultinicAllNicsDown']) expect(rules.find((r) => r.alert === a)?.for).toBe('30m');
    expect(rules.find((r) => r.alert === 'MultinicAgentDown')?.expr).toBe('up{namespace="mn"} == 0');
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
    for (const r of rules) expect(['warning', 'critical']).toContain(r.labels.severity);
  });

  it('uses the default image, or --image, for both containers', () => {
    expect(podSpec(objs).containers[0]!.image).toBe(defaultImage(version));
    expect(defaultImage(version)).toBe('ghcr.io/kubectl-multinic/agent:v9.8.7');
    const spec = podSpec(renderInstall({ version, image: 'registry.local/agent@sha256:abc' }));
    expect([...spec.initContainers, ...spec.containers].map((c) => c.image)).toEqual(['registry.local/agent@sha256:abc', 'registry.local/agent@sha256:abc']);
  });

  it('tolerates everything by default; custom tolerations replace that', () => {
    expect(podSpec(objs).tolerations).toEqual([{ operator: 'Exists' }]);
    const t = [parseToleration('nvidia.com/gpu:NoSchedule')];
    expect(podSpec(renderInstall({ version, tolerations: t })).tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(podSpec(renderInstall({ version, tolerations: [] })).tolerations).toEqual([]);
  });

  it('hardened by default: Pod Security privileged enforced on the namespace with the reason, RuntimeDefault seccomp for the pod, Linux nodes, maxUnavailable 1', () => {
    const ns = find(objs, 'Namespace');
    expect(ns.metadata?.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'privileged', 'pod-security.kubernetes.io/enforce-version': 'latest' });
    expect(ns.metadata?.annotations?.['multinic.fms.io/pod-security-reason']).toMatch(/host network with hostPath volumes and CAP_NET_ADMIN/);
    const spec = podSpec(objs) as PodSpec & { securityContext?: unknown; nodeSelector?: unknown; imagePullSecrets?: unknown };
    expect(spec.securityContext).toEqual({ seccompProfile: { type: 'RuntimeDefault' } });
    expect(spec.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    expect(spec.imagePullSecrets).toBeUndefined();
    for (const c of [...spec.initContainers, ...spec.containers]) expect((c.securityContext as { readOnlyRootFilesystem?: boolean }).readOnlyRootFilesystem, c.name).toBe(true);
    expect((find(objs, 'DaemonSet').spec as { updateStrategy: unknown }).updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
    expect(objs.some((o) => o.kind === 'PodDisruptionBudget')).toBe(false);
  });

  it('takes what an admin varies: node selector, maxUnavailable, priority class, pull secrets, CPU limit, SYS_ADMIN for pod netns reads', () => {
    const o = renderInstall({ version, nodeSelector: { 'nvidia.com/gpu.present': 'true' }, maxUnavailable: '10%', priorityClassName: '', imagePullSecrets: ['regcred', 'regcred'], cpuLimit: '1', podNetnsAccess: true });
    const spec = podSpec(o) as PodSpec & { nodeSelector?: unknown; imagePullSecrets?: unknown };
    expect(spec.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux', 'nvidia.com/gpu.present': 'true' });
    expect(spec.priorityClassName).toBeUndefined();
    expect(spec.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(spec.containers[0]!.resources.limits).toEqual({ memory: '256Mi', cpu: '1' });
    expect(spec.containers[0]!.securityContext.capabilities).toEqual({ add: ['NET_ADMIN', 'SYS_ADMIN'], drop: ['ALL'] });
    expect(spec.initContainers[0]!.securityContext.capabilities).toEqual({ drop: ['ALL'] });
    expect((find(o, 'DaemonSet').spec as { updateStrategy: unknown }).updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%' } });
    expect(parseNodeSelector('a.b/c=d')).toEqual(['a.b/c', 'd']);
    expect(parseNodeSelector('k=')).toEqual(['k', '']);
    expect(() => parseNodeSelector('novalue')).toThrow(/--node-selector "novalue" is not KEY=VALUE/);
    expect(parseMaxUnavailable('3')).toBe(3);
    expect(parseMaxUnavailable('25%')).toBe('25%');
  });

  it('sets resources from defaults or options', () => {
    expect(podSpec(objs).containers[0]!.resources).toEqual({ requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } });
    const r = podSpec(renderInstall({ version, cpuRequest: '0.2', memoryRequest: '1Gi', memoryLimit: '2Gi' })).containers[0]!.resources;
    expect(r).toEqual({ requests: { cpu: '0.2', memory: '1Gi' }, limits: { memory: '2Gi' } });
  });

  it.each([
    ['namespace', { namespace: 'Bad_NS' }, /--namespace "Bad_NS"/],
    ['image with a space', { image: 'a b' }, /--image "a b"/],
    ['relative cni bin dir', { cniBinDir: 'opt/cni/bin' }, /--cni-bin-dir "opt\/cni\/bin" must be an absolute/],
    ['cni bin dir with ..', { cniBinDir: '/opt/../etc' }, /--cni-bin-dir/],
    ['cpu in memory units', { cpuRequest: '64Mi' }, /--cpu-request "64Mi" uses a memory unit/],
    ['bad memory', { memoryRequest: 'lots' }, /--memory-request "lots" is not a Kubernetes quantity/],
    ['request above limit', { memoryRequest: '1Gi', memoryLimit: '512Mi' }, /--memory-request 1Gi is above --memory-limit 512Mi/],
    ['cpu limit below request', { cpuRequest: '1', cpuLimit: '500m' }, /--cpu-limit 500m is below --cpu-request 1/],
    ['cpu limit in memory units', { cpuLimit: '1Gi' }, /--cpu-limit "1Gi" uses a memory unit/],
    ['max unavailable 0', { maxUnavailable: 0 }, /--max-unavailable "0" is neither/],
    ['max unavailable 0%', { maxUnavailable: '0%' }, /--max-unavailable "0%" is neither/],
    ['max unavailable text', { maxUnavailable: 'two' }, /--max-unavailable "two" is neither/],
    ['priority class name', { priorityClassName: 'Not Valid' }, /--priority-class "Not Valid" is not a PriorityClass name/],
    ['pull secret name', { imagePullSecrets: ['a/b'] }, /--image-pull-secret "a\/b" is not a Secret name/],
    ['node selector value', { nodeSelector: { 'nvidia.com/gpu.present': 'yes please' } }, /"yes please" is not a label value/],
    ['node selector key', { nodeSelector: { '-bad': 'x' } }, /"-bad" is not a label key/],
    ['kubelet dir without dra', { kubeletDir: '/var/lib/kubelet' }, /--kubelet-dir is only used with --dra/],
    ['relative kubelet dir', { dra: true, kubeletDir: 'var/lib/kubelet' }, /--kubelet-dir "var\/lib\/kubelet" must be an absolute host path/],
    ['kubelet dir with ..', { dra: true, kubeletDir: '/var/../etc' }, /--kubelet-dir "\/var\/..\/etc"/],
    ['kubelet dir with a quote', { dra: true, kubeletDir: "/var/lib/kube'let" }, /without "..", spaces or quotes/],
    ['kubelet dir too long for a socket path', { dra: true, kubeletDir: `/${'k'.repeat(70)}` }, /at most 64 characters/],
  ])('rejects a bad %s with a UserError naming the flag', (_name, opts, message) => {
    const run = () => renderInstall({ version, ...opts });
    expect(run).toThrow(UserError);
    expect(run).toThrow(message);
  });
});

describe('renderInstall --dra', () => {
  const dra = renderInstall({ version, dra: true });

  it('mounts the kubelet plugin dirs at their host paths, writable, and runs the agent with --dra', () => {
    const spec = podSpec(dra);
    const vols = Object.fromEntries(spec.volumes.map((v) => [v.name, v.hostPath?.path]));
    expect(vols['kubelet-plugins']).toBe('/var/lib/kubelet/plugins');
    expect(vols['kubelet-plugins-registry']).toBe('/var/lib/kubelet/plugins_registry');
    const agent = spec.containers[0]!;
    const mounts = Object.fromEntries(agent.volumeMounts.map((v) => [v.name, v]));
    // The kubelet dials the socket path GetInfo reports as a host path: same path inside and out.
    expect(mounts['kubelet-plugins']).toEqual({ name: 'kubelet-plugins', mountPath: '/var/lib/kubelet/plugins' });
    expect(mounts['kubelet-plugins-registry']).toEqual({ name: 'kubelet-plugins-registry', mountPath: '/var/lib/kubelet/plugins_registry' });
    expect(agent.args?.slice(-3)).toEqual(['--dra', '--kubelet-dir', '/var/lib/kubelet']);
    expect(Object.keys(mountsOfInit(spec))).toEqual(['cni-bin']);
    expect(hostMounts('/opt/cni/bin', { kubeletDir: '/var/lib/kubelet' }).map((m) => m.hostPath).sort()).toEqual(spec.volumes.filter((v) => v.hostPath).map((v) => v.hostPath!.path).sort());
  });

  it('follows --kubelet-dir (trailing slash dropped) for mounts and the agent flag', () => {
    const spec = podSpec(renderInstall({ version, dra: true, kubeletDir: '/var/lib/k0s/kubelet/' }));
    expect(spec.volumes.find((v) => v.name === 'kubelet-plugins')?.hostPath?.path).toBe('/var/lib/k0s/kubelet/plugins');
    expect(spec.containers[0]!.volumeMounts.find((v) => v.name === 'kubelet-plugins-registry')?.mountPath).toBe('/var/lib/k0s/kubelet/plugins_registry');
    expect(spec.containers[0]!.args?.slice(-2)).toEqual(['--kubelet-dir', '/var/lib/k0s/kubelet']);
  });

  it('grants exactly the DRA calls the agent makes on top of the base role, and nothing without --dra', () => {
    const base = tuples(rulesOf(find(renderInstall({ version }), 'ClusterRole')));
    const withDra = tuples(rulesOf(find(dra, 'ClusterRole')));
    expect(withDra.filter((t) => !base.includes(t))).toEqual([
      'resource.k8s.io/resourceclaims/status:update',
      'resource.k8s.io/resourceclaims:get',
      'resource.k8s.io/resourceslices:create',
      'resource.k8s.io/resourceslices:get',
      'resource.k8s.io/resourceslices:update',
    ]);
    expect(base.some((t) => t.startsWith('resource.k8s.io/'))).toBe(false);
    expect(podSpec(renderInstall({ version })).volumes.map((v) => v.name)).not.toContain('kubelet-plugins');
    expect(podSpec(renderInstall({ version })).containers[0]!.args).not.toContain('--dra');
  });
});

const mountsOfInit = (spec: PodSpec) => Object.fromEntries(spec.initContainers[0]!.volumeMounts.map((v) => [v.name, v]));

describe('parseToleration', () => {
  it.each([
    ['key:NoSchedule', { key: 'key', operator: 'Exists', effect: 'NoSchedule' }],
    ['dedicated=ai:NoExecute', { key: 'dedicated', operator: 'Equal', value: 'ai', effect: 'NoExecute' }],
    ['example.com/role=gpu', { key: 'example.com/role', operator: 'Equal', value: 'gpu' }],
    ['node.kubernetes.io/unreachable', { key: 'node.kubernetes.io/unreachable', operator: 'Exists' }],
  ])('%s', (text, want) => expect(parseToleration(text)).toEqual(want));

  it.each(['key:Sometimes', '=v:NoSchedule', 'a b', ''])('rejects %j', (text) => {
    expect(() => parseToleration(text)).toThrow(/--toleration .*KEY\[=VALUE\]|effect must be/);
  });
});

describe('parseQuantity', () => {
  it.each([
    ['64Mi', 64 * 2 ** 20],
    ['1G', 1e9],
    ['50m', 0.05],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['128', 128],
  ])('%s', (text, n) => expect(parseQuantity(text, 'x')).toBeCloseTo(n));
});

// The init container's shell script, executed for real against temp dirs standing in for the image
// file and the host mount, with kubelet's $(VAR) expansion applied first.
describe('install-cni init container', () => {
  it('copies the executable atomically under its final name, executable, leaving no temp file', () => {
    const init = podSpec(objs()).initContainers[0]!;
    const dir = mkdtempSync(join(tmpdir(), 'mn-f-init-'));
    try {
      const image = join(dir, 'image-cni');
      const host = join(dir, 'host');
      mkdirSync(host);
      writeFileSync(image, '#!/bin/sh\necho new\n', { mode: 0o644 });
      writeFileSync(join(host, CNI_BINARY_NAME), 'old', { mode: 0o755 });
      const script = init.command![2]!
        .replaceAll('$(NODE_NAME)', 'node-a')
        .replaceAll(IMAGE_CNI_PATH, image)
        .replaceAll(init.volumeMounts[0]!.mountPath, host);
      expect(init.command?.slice(0, 2)).toEqual(['/bin/sh', '-c']);
      const out = execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
      expect(out).toContain('installed multi-nic into /opt/cni/bin on node-a');
      expect(readFileSync(join(host, CNI_BINARY_NAME), 'utf8')).toBe('#!/bin/sh\necho new\n');
      expect(statSync(join(host, CNI_BINARY_NAME)).mode & 0o777).toBe(0o755);
      expect(readdirSync(host)).toEqual([CNI_BINARY_NAME]);
      // A failed copy (missing source) fails the container and leaves the old executable in place.
      rmSync(image);
      writeFileSync(join(host, CNI_BINARY_NAME), 'old', { mode: 0o755 });
      expect(() => execFileSync('/bin/sh', ['-c', script], { stdio: 'ignore' })).toThrow();
      expect(readFileSync(join(host, CNI_BINARY_NAME), 'utf8')).toBe('old');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function objs(): KubeObject[] {
  return renderInstall({ version });
}
