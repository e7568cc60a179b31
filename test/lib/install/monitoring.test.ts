// The PromQL reading behind the alert-rule test: which metric and label names an expression uses.
import { describe, expect, it } from 'vitest';
import { alertRules, labelNames, metricNames } from '../../../src/lib/install/monitoring.js';

describe('metricNames / labelNames', () => {
  const rows: Array<{ name: string; expr: string; metrics: string[]; labels: string[] }> = [
    { name: 'plain comparison', expr: 'multinic_nic_up == 0', metrics: ['multinic_nic_up'], labels: [] },
    { name: 'selector, range and function', expr: 'increase(a_total{result="failure",code!~"X|Y"}[30m]) > 0', metrics: ['a_total'], labels: ['code', 'result'] },
    { name: 'aggregation by labels', expr: 'sum by (instance, nic) (rate(b[5m])) and c', metrics: ['b', 'c'], labels: ['instance', 'nic'] },
    { name: 'keywords and strings are not metrics', expr: 'x{l="and or"} / (y > 0) unless z offset 5m', metrics: ['x', 'y', 'z'], labels: ['l'] },
    { name: 'group_left join', expr: 'a * on (instance) group_left (node) b', metrics: ['a', 'b'], labels: ['instance'] },
  ];
  for (const r of rows) {
    it(r.name, () => {
      expect(metricNames(r.expr)).toEqual(r.metrics);
      expect(labelNames(r.expr)).toEqual(r.labels);
    });
  }

  it('every rendered alert reads at least one metric and has a runbook in docs/metrics.md', () => {
    for (const a of alertRules('ns')) {
      expect(metricNames(a.expr).length, a.alert).toBeGreaterThan(0);
      expect(a.annotations.runbook).toMatch(/^docs\/metrics\.md#[a-z-]+$/);
    }
  });
});
