// The continuous per-NIC health check in the lab (prefix op), through the real agents, the real
// macvlan delegate and real network namespaces: every NIC passes its test attachment and reaches the
// other host (HostInterface conditions NICAllocatable/NICReachable True, the diagnostics' health
// block, the metrics); a NIC set down turns both False within a round on its host and NICReachable
// False on the peer, doctor's nic-health check names host, NIC and peer, an Event says so; a
// delegate removed from one host's CNI bin dir fails that host's test attachments naming the step;
// each restored comes back True. No test address is left in any journal. Runs under the global lock.
import { execFileSync } from 'node:child_process';
import { readlinkSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeApi } from '../../src/kube/api.js';
import type { DoctorReport } from '../../src/lib/doctor/types.js';
import type { NodeCondition } from '../../src/lib/diagnostics/conditions.js';
import type { HealthReport } from '../../src/lib/diagnostics/health.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import { R } from '../../src/lib/k8s/resources.js';
import { repoRoot, runCliAsync } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { installedLab, type InstalledLab } from '../helpers/lab.js';
import { hasCniPlugins, privileged } from '../helpers/privileged.js';

const prefix = 'op';
const ready = privileged.ok && hasCniPlugins;
const why = !privileged.ok ? privileged.reason : 'needs containernetworking-plugins in /usr/lib/cni';
const env = { MULTINIC_LAB_HEALTH_INTERVAL: '5' };
let lab: InstalledLab | undefined;
let dir = '';
let kubeconfig = '';
let kube: KubeApi;
const cli = (args: string[], timeoutMs = 180_000) => runCliAsync([...args, '--kubeconfig', kubeconfig], { env, timeoutMs });

type HI = KubeObject & { status?: { conditions?: NodeCondition[]; diagnostics?: { health?: HealthReport; allocations?: unknown[] } } };
const hostInterface = async (h: string) => (await kube.get(R.HostInterface, h)) as HI;
const cond = (hi: HI, type: string) => hi.status?.conditions?.find((c) => c.type === type);

/** Waits until host `h`'s health conditions have these statuses; returns the HostInterface. */
const conditionsUntil = (h: string, want: { NICAllocatable: string; NICReachable: string }, pred: (hi: HI) => boolean = () => true) =>
  eventually(async () => {
    const hi = await hostInterface(h);
    const got = { NICAllocatable: cond(hi, 'NICAllocatable')?.status, NICReachable: cond(hi, 'NICReachable')?.status };
    if (got.NICAllocatable !== want.NICAllocatable || got.NICReachable !== want.NICReachable || !pred(hi)) throw new Error(`${h} not yet: ${JSON.stringify(hi.status?.conditions?.slice(-2))}`);
    return hi;
  }, 60_000, 500);

/** The agent's /metrics, read inside its host netns (where its listener is). */
const scrape = (h: string): string =>
  execFileSync('ip', ['netns', 'exec', `${prefix}-${h}`, process.execPath, '-e', "require('http').get('http://127.0.0.1:9417/metrics',r=>{let t='';r.on('data',c=>t+=c);r.on('end',()=>process.stdout.write(t))})"], { encoding: 'utf8' });

describe.skipIf(!ready)(`continuous health in the lab${ready ? '' : ` (skipped: ${why})`}`, () => {
  beforeAll(async () => {
    lab = await installedLab({ prefix, tmpPrefix: 'mnop-health-', hosts: 2, nics: 2, env, network: () => join(repoRoot, 'examples/lab-network.yaml') });
    ({ dir, kubeconfig, kube } = lab);
  }, 600_000);

  afterAll(async () => {
    await lab?.down();
  }, 90_000);

  it('every NIC passes its test attachment and reaches the other host; metrics say so; no test address stays', async () => {
    for (const h of ['host1', 'host2']) {
      const hi = await conditionsUntil(h, { NICAllocatable: 'True', NICReachable: 'True' }, (x) => (x.status?.diagnostics?.health?.nics.length ?? 0) === 2);
      const health = hi.status!.diagnostics!.health!;
      expect(health.nics.map((n) => [n.nic, n.allocability.map((a) => [a.network, a.outcome]), n.peers, n.reachable, n.unreachableCount])).toEqual([
        ['eth1', [['multi-nic-sample', 'ok']], 1, 1, 0],
        ['eth2', [['multi-nic-sample', 'ok']], 1, 1, 0],
      ]);
      expect(cond(hi, 'NICAllocatable')!.message).toBe('2 test attachment(s) created and deleted');
      // The test address is no pod's: never among the node's allocations.
      expect(hi.status!.diagnostics!.allocations ?? []).toEqual([]);
      const text = scrape(h);
      expect(text).toMatch(/^multinic_nic_allocatable\{nic="eth1"\} 1$/m);
      expect(text).toMatch(/^multinic_nic_peers_reachable\{nic="eth2"\} 1$/m);
      expect(text).toMatch(/^multinic_nic_peers_unreachable\{nic="eth2"\} 0$/m);
      expect(Number(/^multinic_health_rounds_total (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    }
    const pools = (await kube.list(R.IPPool)).items as unknown as Array<KubeObject & { spec: { allocations?: Array<{ pod: string }> } }>;
    expect(pools.flatMap((p) => p.spec.allocations ?? []).filter((a) => a.pod === 'multinic-health')).toEqual([]);
  }, 120_000);

  it('a NIC set down: NICAllocatable and NICReachable False on its host, NICReachable False on the peer, doctor names them, an Event; restored: True', async () => {
    execFileSync('ip', ['-n', `${prefix}-host2`, 'link', 'set', 'eth2', 'down']);
    try {
      const h2 = await conditionsUntil('host2', { NICAllocatable: 'False', NICReachable: 'False' });
      expect(cond(h2, 'NICAllocatable')!.message).toBe('eth2 (multi-nic-sample): NIC eth2 is not up in the host: the agent attaches no pod to it');
      expect(cond(h2, 'NICReachable')!.message).toBe('eth2: 1/1 peer(s) unreachable (host1 10.0.2.1)');
      const h1 = await conditionsUntil('host1', { NICAllocatable: 'True', NICReachable: 'False' });
      expect(cond(h1, 'NICReachable')!.message).toBe('eth2: 1/1 peer(s) unreachable (host2 10.0.2.2)');
      const r = await cli(['doctor', '-o', 'json']);
      expect(r.code).toBe(1);
      const found = (JSON.parse(r.stdout) as DoctorReport).findings.filter((f) => f.check === 'nic-health').map((f) => [f.where.node, f.where.nic, f.seen]);
      expect(found).toEqual(
        expect.arrayContaining([
          ['host1', 'eth2', '1 of 1 peer(s) do not answer host1 over eth2: host2 10.0.2.2'],
          ['host2', 'eth2', 'a test attachment on host2/eth2 for network multi-nic-sample failed: NIC eth2 is not up in the host: the agent attaches no pod to it'],
          ['host2', 'eth2', '1 of 1 peer(s) do not answer host2 over eth2: host1 10.0.2.1'],
        ]),
      );
      const events = await eventually(async () => {
        const evs = ((await kube.list(R.Event, { namespace: 'multinic-system' })).items as unknown as Array<KubeObject & { reason?: string; message?: string; involvedObject?: { name?: string } }>).filter((e) => e.reason === 'NICHealthDegraded');
        if (!evs.length) throw new Error('no NICHealthDegraded event yet');
        return evs;
      }, 30_000, 500);
      expect(events.map((e) => e.involvedObject?.name)).toEqual(expect.arrayContaining(['host2']));
    } finally {
      execFileSync('ip', ['-n', `${prefix}-host2`, 'link', 'set', 'eth2', 'up']);
    }
    await conditionsUntil('host2', { NICAllocatable: 'True', NICReachable: 'True' });
    await conditionsUntil('host1', { NICAllocatable: 'True', NICReachable: 'True' });
    const r = await cli(['doctor', '-o', 'json']);
    expect((JSON.parse(r.stdout) as DoctorReport).findings.filter((f) => f.check === 'nic-health')).toEqual([]);
  }, 240_000);

  it('the macvlan delegate removed from a host\'s CNI bin dir: that host\'s test attachments fail naming the step; restored: True', async () => {
    const mv = join(dir, 'lab', 'hosts', 'host1', 'cni-bin', 'macvlan');
    const target = readlinkSync(mv);
    unlinkSync(mv);
    try {
      const h1 = await conditionsUntil('host1', { NICAllocatable: 'False', NICReachable: 'True' });
      expect(cond(h1, 'NICAllocatable')!.message).toMatch(/^eth1 \(multi-nic-sample\): failed to macvlan ADD: failed to find plugin "macvlan" in CNI_PATH .*; eth2 \(multi-nic-sample\): failed to macvlan ADD/);
    } finally {
      symlinkSync(target, mv);
    }
    await conditionsUntil('host1', { NICAllocatable: 'True', NICReachable: 'True' });
    // Nothing left behind: no scratch namespace of a dead agent, no test address in a journal.
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => /^op-host\d-health-\d+$/.test(n));
    expect(left.length).toBeLessThanOrEqual(2);
  }, 180_000);
});
