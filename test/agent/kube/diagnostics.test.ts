// Diagnostics through the API only: the real agent (--kube mode against the API stand-in, real
// discovery and prober on this machine, fake host routes) publishes HostInterface
// status.diagnostics and conditions that survive the schema's pruning, answers an on-demand probe
// request (the annotation doctor writes) with its nonce, and keeps answering later requests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROBE_REQUEST_ANNOTATION, type NodeDiagnostics } from '../../../src/lib/diagnostics/types.js';
import type { NodeCondition } from '../../../src/lib/diagnostics/conditions.js';
import { startKubeAgent, type KubeModeAgent } from '../../helpers/kube-agent.js';
import { FakeIpam } from '../../fakes/ipam.js';
import { R, createNode, eventually, testCluster, type TestCluster } from './helpers.js';

type Hif = { metadata: { annotations?: Record<string, string> }; status?: { diagnostics?: NodeDiagnostics; conditions?: NodeCondition[]; agentVersion?: string } };

describe('agent diagnostics on the API stand-in', () => {
  let c: TestCluster;
  let agent: KubeModeAgent;
  const hif = async () => (await c.api.get(R.HostInterface, 'n1')) as unknown as Hif | undefined;

  beforeAll(async () => {
    c = await testCluster();
    createNode(c, 'n1');
    agent = await startKubeAgent({ prefix: 'mnh6-diag-', api: () => c.client(), agent: { ipam: new FakeIpam() } });
  }, 30_000);

  afterAll(async () => {
    await agent?.stop();
    await c?.close();
  });

  it('publishes diagnostics and conditions on its HostInterface, whole (nothing pruned by the schema)', async () => {
    const h = await eventually(async () => {
      const x = await hif();
      expect(x?.status?.diagnostics).toBeDefined();
      return x!;
    });
    const d = h.status!.diagnostics!;
    expect(Object.keys(d).sort()).toEqual(Object.keys(agent.handle.diagnostics.last!.diagnostics).sort());
    expect(d).toMatchObject({ version: 1, agentVersion: '0.1.0', networks: [], binaries: [], journal: { ok: true, allocations: 0 }, allocations: [], repairs: [] });
    expect(typeof d.sysctls.forwardingNeeded).toBe('boolean');
    expect(h.status!.conditions!.map((x) => [x.type, x.status])).toEqual([
      ['RoutesHealthy', 'True'], ['NicsHealthy', 'True'], ['CniInstalled', 'True'], ['ForwardingReady', 'True'], ['IpamHealthy', 'True'], ['PodInterfacesHealthy', 'True'], ['Ready', 'True'],
    ]);
    // The agent's other status fields are left alone by the diagnostics writes.
    await eventually(async () => expect((await hif())?.status?.agentVersion).toBe('0.1.0'));
  });

  async function ask(nonce: string): Promise<{ ms: number; d: NodeDiagnostics }> {
    const before = Date.now();
    const t0 = performance.now();
    await c.api.patch(R.HostInterface, 'n1', { metadata: { annotations: { [PROBE_REQUEST_ANNOTATION]: nonce } } });
    const d = await eventually(async () => {
      const x = (await hif())?.status?.diagnostics;
      expect(x?.nonce).toBe(nonce);
      return x!;
    });
    const ms = performance.now() - t0;
    expect(Date.parse(d.observedAt)).toBeGreaterThanOrEqual(before - 1000);
    return { ms, d };
  }

  it('answers an on-demand request with its nonce, read after the request; and the next one too', async () => {
    const a = await ask('doctor-1');
    const b = await ask('doctor-2');
    console.log(`probe request -> answer on the API stand-in: ${a.ms.toFixed(0)} ms, ${b.ms.toFixed(0)} ms`);
    expect(Date.parse(b.d.observedAt)).toBeGreaterThanOrEqual(Date.parse(a.d.observedAt));
  });

  it('ignores a nonce that is not a short token', async () => {
    await c.api.patch(R.HostInterface, 'n1', { metadata: { annotations: { [PROBE_REQUEST_ANNOTATION]: 'x y\n$(reboot)' } } });
    const ok = await ask('doctor-3');
    expect(ok.d.nonce).toBe('doctor-3');
  });
});
