// The lab scheduler stand-in's node filter (src/lab/dra.ts nodeAllowed): which lab hosts a pod
// with claims may be placed on. `check --via claim` pins its pods with node affinity on metadata.name.
import { describe, expect, it } from 'vitest';
import { nodeAllowed } from '../../src/lab/dra.js';

describe("the lab scheduler's node filter", () => {
  const pod = (spec: Record<string, unknown>) => ({ metadata: {}, spec } as never);
  it('follows required node affinity on metadata.name and a kubernetes.io/hostname nodeSelector; refuses what it does not know', () => {
    const aff = (fields: unknown[]) => ({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: fields }] } } } });
    expect(nodeAllowed(pod({}), 'h1')).toBe(true);
    expect(nodeAllowed(pod(aff([{ key: 'metadata.name', operator: 'In', values: ['h2'] }])), 'h1')).toBe(false);
    expect(nodeAllowed(pod(aff([{ key: 'metadata.name', operator: 'In', values: ['h2'] }])), 'h2')).toBe(true);
    expect(nodeAllowed(pod(aff([{ key: 'metadata.name', operator: 'NotIn', values: ['h2'] }])), 'h1')).toBe(true);
    expect(nodeAllowed(pod(aff([{ key: 'metadata.labels', operator: 'In', values: ['h1'] }])), 'h1')).toBe(false);
    expect(nodeAllowed(pod({ nodeSelector: { 'kubernetes.io/hostname': 'h1' } }), 'h1')).toBe(true);
    expect(nodeAllowed(pod({ nodeSelector: { 'kubernetes.io/hostname': 'h1' } }), 'h2')).toBe(false);
    expect(nodeAllowed(pod({ nodeSelector: { gpu: 'true' } }), 'h1')).toBe(false);
  });
});
