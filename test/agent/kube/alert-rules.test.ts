// Every metric the PrometheusRule's alerts and docs/metrics.md name is one a real agent exports: the
// agent (--kube on the API stand-in, its real IPAM journal and socket, fake host routes, NICs given
// as discovery reports them) is scraped over HTTP once its pools exist, and each name an alert
// expression reads (src/lib/install/monitoring.ts metricNames), each label it matches or groups by,
// and each metric docs/metrics.md lists must be in that exposition. An alert over a series nobody
// exports never fires; this is what keeps the rules and the docs honest when a metric is renamed.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROMETHEUS_SERIES, TARGET_LABELS, alertRules, labelNames, metricNames } from '../../../src/lib/install/monitoring.js';
import { scrape, startKubeAgent, type KubeModeAgent } from '../../helpers/kube-agent.js';
import { AGENT_NS, createNetwork, createNode, eventually, hostNics, seedNetwork, testCluster, type TestCluster } from './helpers.js';


/** Metric families of an exposition (from `# TYPE`), each with the label names its samples carry. */
function families(text: string): Map<string, { type: string; labels: Set<string> }> {
  const out = new Map<string, { type: string; labels: Set<string> }>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$/.exec(line);
    if (t) out.set(t[1]!, { type: t[2]!, labels: new Set() });
  }
  for (const line of text.split('\n')) {
    const s = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$/.exec(line);
    if (!s) continue;
    // A histogram's samples are NAME_bucket / _sum / _count; `le` is its own.
    const fam = out.get(s[1]!) ?? out.get(s[1]!.replace(/_(bucket|sum|count)$/, ''));
    if (!fam) throw new Error(`sample without a # TYPE line: ${line}`);
    for (const m of (s[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) if (m[1] !== 'le') fam.labels.add(m[1]!);
  }
  return out;
}

/** Metric names docs/metrics.md documents as the agent's: its table's first column, and the prom-client ones it names. */
function documentedMetrics(md: string): string[] {
  const names = new Set<string>();
  for (const m of md.matchAll(/^\| `((?:multinic|process|nodejs)_[a-z0-9_:]*)` \|/gm)) names.add(m[1]!);
  for (const m of md.matchAll(/`((?:multinic|process|nodejs)_[a-z0-9_]+)`/g)) names.add(m[1]!);
  return [...names].sort();
}

describe('alert rules and docs/metrics.md against a real agent scrape', () => {
  let c: TestCluster;
  let agent: KubeModeAgent;
  let exported: Map<string, { type: string; labels: Set<string> }>;

  beforeAll(async () => {
    c = await testCluster();
    createNode(c, 'n1');
    createNetwork(c, seedNetwork());
    agent = await startKubeAgent({
      prefix: 'op-alerts-',
      api: () => c.client(),
      agent: { discover: async () => hostNics(0).map((n, i) => ({ ...n, ifindex: 10 + i })), metricsAddr: { host: '127.0.0.1', port: 0 } },
    });
    // Pools exist once the agent claimed its blocks; the leader gauge once it took the lease.
    exported = await eventually(async () => {
      const f = families(await scrape(agent.handle.metricsAddress ?? ''));
      expect(f.get('multinic_ipam_capacity')?.labels.size, 'pool series (the agent has not claimed its blocks yet)').toBeGreaterThan(0);
      expect(f.get('multinic_nic_up')?.labels.has('nic')).toBe(true);
      return f;
    }, 20_000);
  }, 40_000);

  afterAll(async () => {
    await agent?.stop();
    await c?.close();
  });

  it('the families parser reads names, types and labels (a histogram by its base name)', () => {
    const f = families('# HELP a x\n# TYPE a counter\na{x="1",y="2"} 3\n# TYPE h histogram\nh_bucket{le="1",v="a"} 0\nh_sum{v="a"} 0\nh_count{v="a"} 0\n');
    expect([...f.entries()].map(([k, v]) => [k, v.type, [...v.labels].sort()])).toEqual([['a', 'counter', ['x', 'y']], ['h', 'histogram', ['v']]]);
    expect(() => families('b 1\n')).toThrow('sample without a # TYPE line');
  });

  it('every metric an alert expression reads is exported, with every label it matches or groups by', () => {
    const rules = alertRules(AGENT_NS);
    expect(rules.length).toBeGreaterThanOrEqual(11);
    const problems: string[] = [];
    for (const r of rules) {
      const metrics = metricNames(r.expr).filter((m) => !PROMETHEUS_SERIES.includes(m));
      for (const m of metrics) if (!exported.has(m)) problems.push(`${r.alert}: ${m} is not exported`);
      const known = new Set([...TARGET_LABELS, ...metrics.flatMap((m) => [...(exported.get(m)?.labels ?? [])])]);
      for (const l of labelNames(r.expr)) if (!known.has(l)) problems.push(`${r.alert}: label ${l} is on none of ${metrics.join(', ')}`);
    }
    expect(problems).toEqual([]);
  });

  it('every metric docs/metrics.md lists is exported, and every multinic_ metric exported is documented', () => {
    const md = readFileSync(new URL('../../../docs/metrics.md', import.meta.url), 'utf8');
    const documented = documentedMetrics(md);
    expect(documented.length).toBeGreaterThan(15);
    expect(documented.filter((m) => !exported.has(m))).toEqual([]);
    const ours = [...exported.keys()].filter((m) => m.startsWith('multinic_')).sort();
    expect(ours.filter((m) => !documented.includes(m))).toEqual([]);
  });
});
