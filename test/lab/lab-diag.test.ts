// Kernel truth through the API in the lab (prefix mnh6): every agent publishes its node's
// diagnostics on its HostInterface; an on-demand probe request is answered with its nonce within
// 2 s; a host route deleted in the kernel is restored within a second and the repair shows in the
// diagnostics; a NIC link set down shows in the diagnostics and makes `status` not ready, naming the
// host and the NIC, until it is up again. Real namespaces, agents, CNI and API stand-in.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeApi } from '../../src/kube/api.js';
import { R } from '../../src/lib/k8s/resources.js';
import { PROBE_REQUEST_ANNOTATION, type NodeDiagnostics } from '../../src/lib/diagnostics/types.js';
import type { NodeCondition } from '../../src/lib/diagnostics/conditions.js';
import { installedLab, type InstalledLab } from '../helpers/lab.js';
import { repoRoot, runCliAsync } from '../helpers/cli.js';
import { hasCniPlugins, privileged } from '../helpers/privileged.js';

const prefix = 'mnh6';
const ready = privileged.ok && hasCniPlugins;
const why = !privileged.ok ? privileged.reason : 'needs containernetworking-plugins in /usr/lib/cni';
let lab: InstalledLab | undefined;
let kubeconfig = '';
let kube: KubeApi;
const cli = (args: string[], timeoutMs = 180_000) => runCliAsync([...args, '--kubeconfig', kubeconfig], { timeoutMs });
const ip = (args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Hif = { metadata: { annotations?: Record<string, string> }; status?: { diagnostics?: NodeDiagnostics; conditions?: NodeCondition[] } };
const hif = async (host: string) => (await kube.get(R.HostInterface, host)) as unknown as Hif | undefined;

/** Polls `fn` (20 ms steps) until it returns something truthy; the value and the milliseconds it took. */
async function until<T>(fn: () => Promise<T | undefined | false>, budgetMs: number, what: string): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  for (;;) {
    const v = await fn();
    if (v) return { value: v, ms: performance.now() - t0 };
    if (performance.now() - t0 > budgetMs) throw new Error(`${what}: not within ${budgetMs} ms`);
    await sleep(20);
  }
}

describe.skipIf(!ready)(`lab diagnostics${ready ? '' : ` (skipped: ${why})`}`, () => {
  beforeAll(async () => {
    lab = await installedLab({ prefix, tmpPrefix: 'mnh6-lab-', hosts: 3, nics: 2, network: () => join(repoRoot, 'examples/lab-network.yaml') });
    ({ kubeconfig, kube } = lab);
  }, 400_000);

  afterAll(async () => {
    await lab?.down();
  }, 60_000);

  it('every agent publishes diagnostics: routes, rule, shims, NICs, delegates healthy', async () => {
    for (const host of ['host1', 'host2', 'host3']) {
      const { value: d } = await until(async () => {
        const x = (await hif(host))?.status?.diagnostics;
        return x && x.networks.length === 1 && x.networks[0]!.missingRoutes.length === 0 ? x : undefined;
      }, 60_000, `${host} diagnostics`);
      expect(d.networks[0]).toMatchObject({ network: 'multi-nic-sample', vlanMode: 'l3', desiredRoutes: 4, missingRoutes: [], rulePresent: true });
      expect(d.networks[0]!.shims?.map((s) => [s.nic, s.up, s.hasGateway])).toEqual([['eth1', true, true], ['eth2', true, true]]);
      expect(d.nics.map((n) => [n.name, n.operState, n.networks])).toEqual([['eth1', 'up', ['multi-nic-sample']], ['eth2', 'up', ['multi-nic-sample']]]);
      expect(d.sysctls).toMatchObject({ ipv4Forward: 1, forwardingNeeded: true });
      expect(d.binaries.map((b) => [b.name, b.present, b.executable])).toEqual([['macvlan', true, true], ['multi-nic', true, true]]);
      const conds = Object.fromEntries(((await hif(host))?.status?.conditions ?? []).map((c) => [c.type, c.status]));
      expect(conds).toMatchObject({ RoutesHealthy: 'True', NicsHealthy: 'True', CniInstalled: 'True', ForwardingReady: 'True', Ready: 'True' });
    }
  }, 120_000);

  it('answers an on-demand probe request with its nonce within 2 s', async () => {
    const times: number[] = [];
    for (const [i, host] of ['host1', 'host2', 'host3', 'host1'].entries()) {
      const nonce = `lab-${Date.now()}-${i}`;
      const t0 = performance.now();
      await kube.patch(R.HostInterface, host, { metadata: { annotations: { [PROBE_REQUEST_ANNOTATION]: nonce } } });
      await until(async () => (await hif(host))?.status?.diagnostics?.nonce === nonce, 5000, `${host} answer`);
      times.push(performance.now() - t0);
    }
    console.log(`probe request -> answer in the lab: ${times.map((t) => t.toFixed(0)).join(', ')} ms; load ${execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim()}`);
    for (const t of times) expect(t).toBeLessThan(2000);
  }, 60_000);

  it('a host route deleted in the kernel is back within a second, and the repair is in the diagnostics', async () => {
    const d = (await hif('host1'))!.status!.diagnostics!;
    const table = d.networks[0]!.table;
    const line = ip(['-n', `${prefix}-host1`, 'route', 'show', 'table', table]).split('\n').find((l) => / via .* dev eth2/.test(l))!;
    const [dst, , via] = line.trim().split(/\s+/);
    const t0 = performance.now();
    ip(['-n', `${prefix}-host1`, 'route', 'del', dst!, 'table', table]);
    const back = await until(async () => ip(['-n', `${prefix}-host1`, 'route', 'show', 'table', table]).includes(`${dst} via ${via}`), 5000, 'route restored');
    const shown = await until(async () => (await hif('host1'))?.status?.diagnostics?.repairs.find((r) => r.what.startsWith(`${dst} via ${via} dev eth2`)), 10_000, 'repair published');
    console.log(`route ${dst} restored ${back.ms.toFixed(0)} ms after ip route del; repair on the HostInterface ${(performance.now() - t0).toFixed(0)} ms after`);
    expect(back.ms).toBeLessThan(1000);
    expect(shown.value).toMatchObject({ network: 'multi-nic-sample', kind: 'route', what: `${dst} via ${via} dev eth2 table multi-nic-sample`, count: 1 });
    const now = (await hif('host1'))!.status!.diagnostics!;
    expect(now.networks[0]!.missingRoutes).toEqual([]);
  }, 60_000);

  it('a NIC link set down: diagnostics and status name the host and the NIC until it is up again', async () => {
    ip(['-n', `${prefix}-host2`, 'link', 'set', 'eth2', 'down']);
    try {
      const { value: d, ms } = await until(async () => {
        const x = (await hif('host2'))?.status?.diagnostics;
        return x?.nics.find((n) => n.name === 'eth2' && !n.adminUp) ? x : undefined;
      }, 15_000, 'NIC down in diagnostics');
      console.log(`eth2 down on host2 in its diagnostics ${ms.toFixed(0)} ms after ip link set down`);
      expect(d.nics.find((n) => n.name === 'eth2')).toMatchObject({ operState: 'down', adminUp: false, networks: ['multi-nic-sample'] });
      // Its routes are flushed by the kernel; whether still listed missing depends on whether the CIDR
      // already forgot the NIC (the agent drops a NIC discovery no longer reports), so not asserted.
      const conds = (await hif('host2'))?.status?.conditions ?? [];
      expect(conds.find((c) => c.type === 'NicsHealthy')).toMatchObject({ status: 'False', reason: 'NicDown', message: 'eth2 is administratively down (carries multi-nic-sample)' });
      const r = await cli(['status', '-o', 'json']);
      expect(r.code).toBe(1);
      const rep = JSON.parse(r.stdout) as { networks: Array<{ ready: boolean; problems: string[]; hosts: Array<{ hostName: string; ready: boolean; kernel?: string[] }> }> };
      expect(rep.networks[0]?.ready).toBe(false);
      expect(rep.networks[0]?.hosts.map((h) => [h.hostName, h.ready])).toEqual([['host1', true], ['host2', false], ['host3', true]]);
      expect(rep.networks[0]?.problems.some((p) => p.startsWith('host2: NIC eth2 is down in the kernel'))).toBe(true);
      const human = await cli(['status']);
      expect(human.stdout).toMatch(/routes broken/);
    } finally {
      ip(['-n', `${prefix}-host2`, 'link', 'set', 'eth2', 'up']);
    }
    await until(async () => {
      const x = (await hif('host2'))?.status?.diagnostics;
      return x && x.networks[0]!.missingRoutes.length === 0 && x.nics.every((n) => n.adminUp);
    }, 30_000, 'host2 healthy again');
    const r = await cli(['status', '-o', 'json']);
    expect(r.code, r.stdout).toBe(0);
  }, 120_000);
});
