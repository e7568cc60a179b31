// When the agent probes its node (src/agent/diagnostics.ts): routine kicks (pod churn, a link event
// that changed no NIC) are spaced kickMinIntervalMs from the last probe, changes (a repair, a
// release) are probed after kickDelayMs, a change brings a pending routine probe forward, and a
// burst of kicks is one probe. The prober here records when it is asked; what it returns is built
// by the real buildNodeDiagnostics from an empty snapshot.
import { afterEach, describe, expect, it } from 'vitest';
import { DiagnosticsLoop } from '../../src/agent/diagnostics.js';
import type { NodeProber } from '../../src/agent/probe.js';
import { buildNodeDiagnostics } from '../../src/lib/diagnostics/node.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function recording(): { prober: NodeProber; at: number[] } {
  const at: number[] = [];
  const probe = () => {
    at.push(Date.now());
    return Promise.resolve(
      buildNodeDiagnostics({ hostName: 'h1', agentVersion: '0.1.0', observedAt: new Date().toISOString(), networks: [], links: [], rules: [], routes: [], tableIds: {}, sysctls: {}, discovered: [], binaries: [], kernelSupport: {}, journal: { allocations: 0, sizeBytes: 0 }, allocations: [], pods: new Map(), repairs: [], errors: [] }),
    );
  };
  return { prober: { probe } as unknown as NodeProber, at };
}

describe('diagnostics loop', () => {
  let loop: DiagnosticsLoop | undefined;
  afterEach(async () => {
    await loop?.stop();
    loop = undefined;
  });

  async function started(o: { kickDelayMs: number; kickMinIntervalMs: number }) {
    const r = recording();
    loop = new DiagnosticsLoop({ prober: r.prober, intervalMs: 60_000, ...o }).start();
    // start() probes at once (periodic).
    for (let i = 0; i < 100 && r.at.length === 0; i++) await sleep(5);
    expect(r.at).toHaveLength(1);
    return r;
  }

  // Lower bounds are exact (a loaded machine only delays timers); upper bounds are far from the other outcome.
  const until = async (at: number[], n: number) => {
    for (let i = 0; i < 500 && at.length < n; i++) await sleep(10);
    expect(at).toHaveLength(n);
  };

  it('spaces routine kicks kickMinIntervalMs from the last probe, and a burst of them is one probe', async () => {
    const r = await started({ kickDelayMs: 10, kickMinIntervalMs: 1000 });
    for (let i = 0; i < 20; i++) {
      loop!.kick('routine');
      await sleep(5);
    }
    await until(r.at, 2);
    expect(r.at[1]! - r.at[0]!).toBeGreaterThanOrEqual(995);
    await sleep(200);
    expect(r.at).toHaveLength(2);
    // Long after the last probe, a routine kick only waits kickDelayMs.
    await sleep(1100);
    const t = Date.now();
    loop!.kick('routine');
    await until(r.at, 3);
    expect(r.at[2]! - t).toBeLessThan(900);
  });

  it('probes a change after kickDelayMs even right after a probe, and it brings a pending routine probe forward', async () => {
    const r = await started({ kickDelayMs: 10, kickMinIntervalMs: 10_000 });
    loop!.kick('routine');
    await sleep(100);
    expect(r.at).toHaveLength(1);
    const t = Date.now();
    loop!.kick('change');
    loop!.kick('change');
    await until(r.at, 2);
    expect(r.at[1]! - t).toBeLessThan(5_000);
    // The routine kick was answered by that probe: nothing more is pending.
    await sleep(300);
    expect(r.at).toHaveLength(2);
  });

  it('a kick after stop() probes nothing', async () => {
    const r = await started({ kickDelayMs: 10, kickMinIntervalMs: 0 });
    await loop!.stop();
    loop!.kick('change');
    await sleep(100);
    expect(r.at).toHaveLength(1);
  });
});
