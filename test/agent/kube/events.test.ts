// The agent's Event recorder against the API stand-in: a lasting failure is one Event whose count
// and lastTimestamp grow (as Kubernetes' recorder aggregates), writes are rate-limited per object and
// reason without losing counts, a failed write is retried, and an expired Event is recreated.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventRecorder } from '../../../src/agent/kube/events.js';
import type { KubeApi } from '../../../src/kube/api.js';
import type { KubeObject } from '../../../src/lib/k8s/meta.js';
import { AGENT_NS, testCluster, type TestCluster } from './helpers.js';

type Ev = KubeObject & { count: number; reason: string; message: string; firstTimestamp: string; lastTimestamp: string };
const subject = { apiVersion: 'multinic.fms.io/v1', kind: 'MultiNicNetwork', name: 'net-a' };

describe('EventRecorder', () => {
  let c: TestCluster;
  let t: number;
  const events = () => c.server.store.list('v1', 'Event', AGENT_NS) as Ev[];
  const recorder = (api: KubeApi, dedupeMs = 60_000) => new EventRecorder({ api, host: 'host1', namespace: AGENT_NS, dedupeMs, now: () => t });

  beforeEach(async () => {
    c = await testCluster();
    t = Date.parse('2026-12-02T10:00:00Z');
  });
  afterEach(() => c.close());

  it('a failure repeated for 11 minutes is one Event: count 12, first and last timestamps apart', async () => {
    const r = recorder(c.api);
    for (let i = 0; i < 12; i++) {
      r.record(subject, 'RoutesFailed', `host1: route ${i} failed`);
      await r.drain();
      t += 60_000;
    }
    const evs = events();
    expect(evs).toHaveLength(1);
    expect(evs[0]).toMatchObject({ count: 12, reason: 'RoutesFailed', message: 'host1: route 11 failed', firstTimestamp: '2026-12-02T10:00:00.000Z', lastTimestamp: '2026-12-02T10:11:00.000Z' });
  });

  it('repeats inside the dedupe window are counted, not lost, and written once the window ends', async () => {
    const r = recorder(c.api, 60_000);
    for (let i = 0; i < 5; i++) r.record(subject, 'CIDRClaimFailed', 'conflict');
    await r.drain();
    expect(events().map((e) => e.count)).toEqual([5]);
    // Another reason for the same object is its own series.
    r.record(subject, 'PoolExhausted', 'full');
    await r.drain();
    expect(events().map((e) => `${e.reason} x${e.count}`).sort()).toEqual(['CIDRClaimFailed x5', 'PoolExhausted x1']);
  });

  it('a write that fails (API down) is retried with the next occurrence, keeping the count', async () => {
    let down = true;
    const flaky = new Proxy(c.api, {
      get: (target, prop) => (prop === 'create' || prop === 'patch' ? (...args: unknown[]) => (down ? Promise.reject(new Error('connect ECONNREFUSED')) : (target[prop] as (...a: unknown[]) => unknown).apply(target, args)) : Reflect.get(target, prop)),
    });
    const r = recorder(flaky as KubeApi, 0);
    r.record(subject, 'PublishFailed', 'down');
    await r.drain();
    expect(events()).toHaveLength(0);
    down = false;
    t += 1000;
    r.record(subject, 'PublishFailed', 'down');
    await r.drain();
    expect(events().map((e) => e.count)).toEqual([2]);
  });

  it('an Event deleted meanwhile (its TTL ran out) is created again with the series\' count', async () => {
    const r = recorder(c.api, 0);
    r.record(subject, 'NADFailed', 'x');
    await r.drain();
    const [first] = events();
    c.server.store.delete('v1', 'Event', first?.metadata?.name ?? '', AGENT_NS);
    t += 1000;
    r.record(subject, 'NADFailed', 'x');
    await r.drain();
    expect(events().map((e) => e.count)).toEqual([2]);
  });

  it('after the series TTL (1 h) a new Event starts at 1', async () => {
    const r = recorder(c.api, 0);
    r.record(subject, 'HostRemoved', 'h');
    await r.drain();
    t += 3_600_000;
    r.record(subject, 'HostRemoved', 'h');
    await r.drain();
    expect(events().map((e) => e.count).sort()).toEqual([1, 1]);
  });
});
