import { describe, expect, it } from 'vitest';
import { daemonSetStatus, rolloutMessage, rolloutStep, templateRevision, updateStrategyOf, type HostAgentState } from '../../../src/lib/lab/rollout.js';

const h = (host: string, revision: string | undefined, ready: boolean): HostAgentState => ({ host, ...(revision ? { revision } : {}), ready });
const rolling = (maxUnavailable: number) => ({ type: 'RollingUpdate' as const, maxUnavailable });

describe('templateRevision', () => {
  it('is the same for the same template whatever the key order, different for any change', () => {
    const a = { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'agent', image: 'i:1', env: [{ name: 'A', value: '1' }] }] } };
    const b = { spec: { containers: [{ env: [{ value: '1', name: 'A' }], image: 'i:1', name: 'agent' }] }, metadata: { labels: { app: 'x' } } };
    expect(templateRevision(a)).toBe(templateRevision(b));
    expect(templateRevision(a)).toMatch(/^[0-9a-f]{10}$/);
    const envChanged = structuredClone(a);
    envChanged.spec.containers[0]!.env[0]!.value = '2';
    const imageChanged = structuredClone(a);
    imageChanged.spec.containers[0]!.image = 'i:2';
    expect(new Set([templateRevision(a), templateRevision(envChanged), templateRevision(imageChanged)]).size).toBe(3);
  });
});

describe('updateStrategyOf', () => {
  it.each([
    ['default', {}, 3, { type: 'RollingUpdate', maxUnavailable: 1 }],
    ['integer', { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2 } } }, 3, { type: 'RollingUpdate', maxUnavailable: 2 }],
    ['percentage rounds up', { updateStrategy: { rollingUpdate: { maxUnavailable: '34%' } } }, 3, { type: 'RollingUpdate', maxUnavailable: 2 }],
    ['zero means one (no surge)', { updateStrategy: { rollingUpdate: { maxUnavailable: 0 } } }, 3, { type: 'RollingUpdate', maxUnavailable: 1 }],
    ['OnDelete', { updateStrategy: { type: 'OnDelete' } }, 3, { type: 'OnDelete', maxUnavailable: 1 }],
  ])('%s', (_name, spec, desired, want) => {
    expect(updateStrategyOf(spec, desired)).toEqual(want);
  });

  it('refuses what the API would, naming the field', () => {
    expect(() => updateStrategyOf({ updateStrategy: { rollingUpdate: { maxUnavailable: 'half' } } }, 3)).toThrow(/maxUnavailable "half" is neither/);
    expect(() => updateStrategyOf({ updateStrategy: { type: 'Recreate' } }, 3)).toThrow(/updateStrategy.type "Recreate"/);
  });
});

describe('rolloutStep', () => {
  it.each([
    ['nothing outdated', [h('host1', 'new', true), h('host2', 'new', true)], 1, []],
    ['one at a time, node name order', [h('host2', 'old', true), h('host1', 'old', true), h('host3', 'old', true)], 1, ['host1']],
    ['waits while the replaced one is not ready yet', [h('host1', 'new', false), h('host2', 'old', true), h('host3', 'old', true)], 1, []],
    ['next once it is ready', [h('host1', 'new', true), h('host2', 'old', true), h('host3', 'old', true)], 1, ['host2']],
    ['maxUnavailable 2 takes two', [h('host1', 'old', true), h('host2', 'old', true), h('host3', 'old', true)], 2, ['host1', 'host2']],
    ['an outdated agent that is down anyway is replaced at once', [h('host1', 'new', false), h('host2', 'old', false), h('host3', 'old', true)], 1, ['host2']],
    ['a host without agent is not "replaced" (it is started at the target)', [h('host1', undefined, false), h('host2', 'old', true)], 1, []],
  ])('%s', (_name, hosts, max, want) => {
    expect(rolloutStep(hosts, 'new', rolling(max))).toEqual(want);
  });

  it('OnDelete replaces nothing', () => {
    expect(rolloutStep([h('host1', 'old', true)], 'new', { type: 'OnDelete', maxUnavailable: 1 })).toEqual([]);
  });
});

describe('daemonSetStatus and rolloutMessage (kubectl rollout status wording)', () => {
  const ds = (generation: number, status: object) => ({ metadata: { name: 'multinic-agent', generation }, spec: { updateStrategy: { type: 'RollingUpdate' } }, status });

  it('counts updated, ready and available agents', () => {
    expect(daemonSetStatus([h('host1', 'new', true), h('host2', 'old', true), h('host3', undefined, false)], 'new', 4)).toEqual({
      currentNumberScheduled: 2,
      desiredNumberScheduled: 3,
      numberAvailable: 2,
      numberMisscheduled: 0,
      numberReady: 2,
      numberUnavailable: 1,
      observedGeneration: 4,
      updatedNumberScheduled: 1,
    });
  });

  it.each([
    ['spec not observed', ds(3, daemonSetStatus([h('a', 'new', true)], 'new', 2)), false, 'Waiting for daemon set spec update to be observed...'],
    ['updating', ds(2, daemonSetStatus([h('a', 'new', true), h('b', 'old', true)], 'new', 2)), false, 'Waiting for daemon set "multinic-agent" rollout to finish: 1 out of 2 new pods have been updated...'],
    ['waiting for availability', ds(2, daemonSetStatus([h('a', 'new', true), h('b', 'new', false)], 'new', 2)), false, 'Waiting for daemon set "multinic-agent" rollout to finish: 1 of 2 updated pods are available...'],
    ['done', ds(2, daemonSetStatus([h('a', 'new', true), h('b', 'new', true)], 'new', 2)), true, 'daemon set "multinic-agent" successfully rolled out'],
  ])('%s', (_name, obj, done, message) => {
    expect(rolloutMessage(obj)).toEqual({ done, message });
  });
});
