// Pure rendering of the Prometheus Operator objects `install` can add (monitoring.coreos.com/v1):
// a PodMonitor or a ServiceMonitor (with the headless Service it selects) scraping every agent's
// `metrics` port, and a PrometheusRule whose alerts are written only over series the agent exports
// (docs/metrics.md; test/agent/kube/alert-rules.test.ts scrapes real agents and checks every name
// and label an expression uses).
import type { KubeObject } from '../k8s/meta.js';

export const MONITORING_API_VERSION = 'monitoring.coreos.com/v1';
/** Scrape interval of the PodMonitor / ServiceMonitor. */
export const SCRAPE_INTERVAL = '30s';

/** One alerting rule as the PrometheusRule CRD takes it. */
export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: 'warning' | 'critical' };
  annotations: { summary: string; description: string; runbook: string };
}

type Meta = KubeObject['metadata'];

const runbook = (anchor: string): string => `docs/metrics.md#${anchor}`;

/**
 * The alerts. Upstream's health checker (a separate checker Deployment and DaemonSet) alerted after
 * 30 minutes when a host could not create and delete secondary interfaces (functionality) or reach a
 * network (connectivity), per host and for all hosts at once; the first four alerts keep those
 * four, over what the agent measures on the real path: the ADDs it fails (the allocate verb, minus
 * requests that were wrong rather than the host: unknown network, bad request) and its NICs'
 * operational state. Upstream skipped hosts named like masters; here a node without secondary NICs
 * exports no NIC or pool series, so it cannot fire the NIC and pool alerts.
 * `namespace` scopes `up` to the agents' scrape targets.
 */
export function alertRules(namespace: string): AlertRule[] {
  const allocFail = 'multinic_cni_requests_total{verb="allocate",result="failure",code!~"InvalidRequest|UnknownNetwork"}';
  const failingHosts = `sum by (instance) (increase(${allocFail}[30m])) > 0`;
  return [
    {
      alert: 'MultinicAllocationFailing',
      expr: `${failingHosts}`,
      for: '30m',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'An agent keeps failing pod attachments',
        description: 'The agent at {{ $labels.instance }} failed {{ $value }} pod ADDs in 30 minutes for a reason of the host (pool exhausted, no matching NIC, not ready, internal). Run kubectl multinic doctor node NODE.',
        runbook: runbook('allocation-failing'),
      },
    },
    {
      alert: 'MultinicAllAllocationFailing',
      expr: `count(${failingHosts}) >= count(multinic_agent_info)`,
      for: '30m',
      labels: { severity: 'critical' },
      annotations: {
        summary: 'Every agent keeps failing pod attachments',
        description: 'All {{ $value }} agents failed pod ADDs in the last 30 minutes: look for a cluster-wide cause (the network definition, the CNI bin dir, the Kubernetes API). Run kubectl multinic doctor.',
        runbook: runbook('allocation-failing'),
      },
    },
    {
      alert: 'MultinicNicDown',
      expr: 'multinic_nic_up == 0',
      for: '30m',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'A secondary NIC is down',
        description: 'NIC {{ $labels.nic }} at {{ $labels.instance }} has been operationally down for 30 minutes: pods there get no address on it and peers cannot reach its pods.',
        runbook: runbook('nic-down'),
      },
    },
    {
      alert: 'MultinicAllNicsDown',
      expr: 'count(multinic_nic_up == 0) >= count(multinic_nic_up)',
      for: '30m',
      labels: { severity: 'critical' },
      annotations: {
        summary: 'Every secondary NIC of every agent is down',
        description: 'No agent reports a secondary NIC up ({{ $value }} down): the secondary fabric is unreachable.',
        runbook: runbook('nic-down'),
      },
    },
    // Upstream's health checker alerts, over the agent's own continuous health rounds (src/agent/health.ts).
    {
      alert: 'MultinicNicNotAllocatable',
      expr: 'multinic_nic_allocatable == 0',
      for: '30m',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'A NIC fails its test attachment',
        description: 'The agent at {{ $labels.instance }} has failed for 30 minutes to create and delete a test attachment on {{ $labels.nic }} through its network\'s delegate: pods there get no interface on that NIC. Run kubectl multinic doctor (check nic-health names the step).',
        runbook: runbook('nic-not-allocatable'),
      },
    },
    {
      alert: 'MultinicAllNicsNotAllocatable',
      expr: 'count(multinic_nic_allocatable == 0) >= count(multinic_nic_allocatable)',
      for: '30m',
      labels: { severity: 'critical' },
      annotations: {
        summary: 'No NIC anywhere passes its test attachment',
        description: 'Every tested NIC of every agent has failed its test attachment for 30 minutes: look for a cluster-wide cause (the delegate binaries, the network definition).',
        runbook: runbook('nic-not-allocatable'),
      },
    },
    {
      alert: 'MultinicNicPeersUnreachable',
      expr: 'multinic_nic_peers_unreachable > 0',
      for: '30m',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'Peers do not answer over a NIC',
        description: '{{ $value }} peer host(s) have not answered the agent at {{ $labels.instance }} over {{ $labels.nic }} for 30 minutes. Run kubectl multinic doctor (check nic-health lists them).',
        runbook: runbook('nic-peers-unreachable'),
      },
    },
    {
      alert: 'MultinicAllNicsPeersUnreachable',
      expr: 'count(multinic_nic_peers_reachable == 0) >= count(multinic_nic_peers_reachable)',
      for: '30m',
      labels: { severity: 'critical' },
      annotations: {
        summary: 'No NIC reaches any peer',
        description: 'No agent has reached any peer over any NIC for 30 minutes: the secondary fabric (or a firewall on the metrics port over it) is down everywhere.',
        runbook: runbook('nic-peers-unreachable'),
      },
    },
    {
      alert: 'MultinicPoolNearlyExhausted',
      expr: 'multinic_ipam_allocations / (multinic_ipam_capacity > 0) > 0.9',
      for: '15m',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'An IP pool is more than 90% allocated',
        description: 'Pool {{ $labels.pool }} (network {{ $labels.network }}, NIC {{ $labels.nic }}) at {{ $labels.instance }} is {{ $value | humanizePercentage }} allocated.',
        runbook: runbook('pool-exhaustion'),
      },
    },
    {
      alert: 'MultinicPoolExhausted',
      expr: 'sum by (instance) (increase(multinic_cni_requests_total{verb="allocate",code="PoolExhausted"}[10m])) > 0',
      for: '0m',
      labels: { severity: 'critical' },
      annotations: {
        summary: 'Pods are refused an address: pool exhausted',
        description: 'The agent at {{ $labels.instance }} refused {{ $value }} pod ADDs in 10 minutes because a pool had no free address. Grow the network\'s hostBlock bits or spread the pods.',
        runbook: runbook('pool-exhaustion'),
      },
    },
    {
      alert: 'MultinicRouteReconcileFailing',
      expr: 'increase(multinic_route_reconcile_runs_total{result="failure"}[15m]) > 0 and increase(multinic_route_reconcile_runs_total{result="success"}[15m]) == 0',
      for: '15m',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'An agent cannot put its routes in place',
        description: 'Every route, rule and shim reconcile at {{ $labels.instance }} failed for 30 minutes: L3 traffic to or from its pods is likely broken. Its log line "reconcile incomplete" says which step.',
        runbook: runbook('route-reconcile-failing'),
      },
    },
    {
      alert: 'MultinicRoutesFought',
      expr: 'increase(multinic_route_reconcile_changes_total{kind="repair"}[1h]) > 10',
      for: '1h',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'Something keeps removing the agent\'s routes',
        description: 'The agent at {{ $labels.instance }} put back {{ $value }} routes, rules or shims that something else removed in the last hour.',
        runbook: runbook('routes-fought'),
      },
    },
    {
      alert: 'MultinicNoLeader',
      expr: 'sum(multinic_leader) < 1',
      for: '10m',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'No agent holds the leader lease',
        description: 'No agent plans CIDRs for new networks or cleans up the cluster (NADs, departed hosts).',
        runbook: runbook('leader'),
      },
    },
    {
      alert: 'MultinicKubeApiUnreachable',
      expr: 'multinic_kube_api_down == 1',
      for: '10m',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'An agent cannot reach the Kubernetes API',
        description: 'The agent at {{ $labels.instance }} has served pods from its caches and journal for 10 minutes without the API: new networks and hosts are not seen, allocations are not mirrored.',
        runbook: runbook('kube-api-unreachable'),
      },
    },
    {
      alert: 'MultinicAgentSelfCheckFailing',
      expr: 'multinic_agent_self_check{check=~"socket|journal"} == 0',
      for: '5m',
      labels: { severity: 'critical' },
      annotations: {
        summary: 'An agent fails its own self-check',
        description: 'The agent at {{ $labels.instance }} has failed its {{ $labels.check }} self-check for 5 minutes (socket: the CNI socket does not answer; journal: the IPAM journal directory takes no durable write): pod ADDs there fail. Its /readyz and log line "self-check failed" say why.',
        runbook: runbook('self-check-failing'),
      },
    },
    {
      alert: 'MultinicAgentDown',
      expr: `up{namespace="${namespace}"} == 0`,
      for: '10m',
      labels: { severity: 'critical' },
      annotations: {
        summary: 'An agent does not answer its scrape',
        description: 'Prometheus could not scrape {{ $labels.instance }} for 10 minutes: the agent is down or its metrics port is blocked; pods on that node get no secondary interfaces while it is down.',
        runbook: runbook('agent-down'),
      },
    },
  ];
}

/** Metric names Prometheus itself adds to every target (not exported by the agent). */
export const PROMETHEUS_SERIES: readonly string[] = ['up'];
/** Labels Prometheus and the Operator add to every scraped series. */
export const TARGET_LABELS: readonly string[] = ['instance', 'job', 'namespace', 'pod', 'container', 'endpoint', 'service'];

export function renderPodMonitor(metadata: Meta, selector: Record<string, string>): KubeObject {
  return {
    apiVersion: MONITORING_API_VERSION,
    kind: 'PodMonitor',
    metadata,
    spec: { selector: { matchLabels: { ...selector } }, podMetricsEndpoints: [{ port: 'metrics', path: '/metrics', interval: SCRAPE_INTERVAL }] },
  };
}

/**
 * A headless Service over the agent pods' `metrics` port (a ServiceMonitor selects Services, not
 * pods) and the ServiceMonitor on it. Headless: nothing is load-balanced, each agent is its own
 * endpoint, and no cluster IP is allocated.
 */
export function renderServiceMonitor(serviceMeta: Meta, monitorMeta: Meta, selector: Record<string, string>, port: number): KubeObject[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: serviceMeta,
      spec: { clusterIP: 'None', selector: { ...selector }, ports: [{ name: 'metrics', port, targetPort: 'metrics', protocol: 'TCP' }] },
    },
    {
      apiVersion: MONITORING_API_VERSION,
      kind: 'ServiceMonitor',
      metadata: monitorMeta,
      spec: {
        selector: { matchLabels: { ...(serviceMeta?.labels ?? {}) } },
        namespaceSelector: { matchNames: [serviceMeta?.namespace ?? ''] },
        endpoints: [{ port: 'metrics', path: '/metrics', interval: SCRAPE_INTERVAL }],
      },
    },
  ];
}

export function renderPrometheusRule(metadata: Meta, namespace: string): KubeObject {
  return {
    apiVersion: MONITORING_API_VERSION,
    kind: 'PrometheusRule',
    metadata,
    spec: { groups: [{ name: 'multinic.rules', rules: alertRules(namespace) }] },
  };
}

/**
 * Metric names an expression reads: identifiers that are not functions, keywords, label names
 * (inside `{}` or `by (...)`), durations or strings. Enough for the expressions above; not a
 * PromQL parser.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\[[^\]]*\]/g, '');
  const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset']);
  const out = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?/g)) {
    if (m[1]) continue; // a function call
    if (!KEYWORDS.has(m[0])) out.add(m[0]);
  }
  return [...out].sort();
}

/** Label names an expression matches on or groups by. */
export function labelNames(expr: string): string[] {
  const out = new Set<string>();
  for (const m of expr.matchAll(/\{([^}]*)\}/g)) for (const l of m[1]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)) out.add(l[1]!);
  for (const m of expr.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g)) for (const l of m[1]!.split(',')) if (l.trim()) out.add(l.trim());
  return [...out].sort();
}
