// `kubectl multinic ipam release` end to end on the API stand-in: the built CLI against the real
// agent (--kube mode, its real release handler, prober and pod cache) holding three allocations:
// one of a pod that is gone (leaked), one of a pod that runs, one of a pod replaced under the same
// name. Only the API connects them: the CLI writes a release request on the HostInterface, the
// agent releases from its IPAM and answers with the nonce.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeKubeconfig } from '../../../src/lab/kubeconfig.js';
import { requestReleases } from '../../../src/cluster/release.js';
import { MAX_RELEASE_ITEMS, RELEASE_REQUEST_ANNOTATION, type ReleaseAnswer, type ReleaseItem } from '../../../src/lib/ipam/release.js';
import type { PoolSpec } from '../../../src/lib/ipam/types.js';
import { validateSchema, type JsonSchema } from '../../../src/lib/k8s/schema.js';
import type { IpamReleaseReport } from '../../../src/commands/ipam/release.js';
import { FakeIpam } from '../../fakes/ipam.js';
import { repoRoot, runCliAsync } from '../../helpers/cli.js';
import { startKubeAgent, type KubeModeAgent } from '../../helpers/kube-agent.js';
import { R, createNode, eventually, hostNics, testCluster, type TestCluster } from './helpers.js';

const pool: PoolSpec = { name: 'mnet-192.168.0.0-24', network: 'mnet', hostName: 'n1', interfaceName: 'eth1', podCIDR: '192.168.0.0/24', vlanCIDR: '192.168.0.0/18', excludes: [], reserved: [] };
const schema = JSON.parse(readFileSync(join(repoRoot, 'schemas/ipamreleasereport.json'), 'utf8')) as JsonSchema;

describe('ipam release through the agent on the API stand-in', () => {
  let c: TestCluster;
  let kubeconfig: string;
  let agent: KubeModeAgent;
  const ipam = new FakeIpam();
  const cli = (args: string[]) => runCliAsync(['ipam', 'release', ...args, '--kubeconfig', kubeconfig], { timeoutMs: 60_000 });
  const json = (stdout: string): IpamReleaseReport => {
    const r = JSON.parse(stdout) as IpamReleaseReport;
    expect(validateSchema(schema, r)).toEqual([]);
    return r;
  };
  const addrOf = (name: string) => ipam.list().find((a) => a.podName === name)?.address;
  let uids: Record<string, string> = {};

  beforeAll(async () => {
    c = await testCluster();
    createNode(c, 'n1');
    const pod = (name: string) => c.server.store.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'x' }] } } as never);
    const alive = pod('alive');
    c.server.store.updateStatus({ ...alive, status: { phase: 'Running' } } as never);
    const replaced = pod('replaced');
    c.server.store.updateStatus({ ...replaced, status: { phase: 'Running' } } as never);
    uids = { alive: alive.metadata!.uid!, gone: 'uid-gone', replaced: 'uid-old' };
    ipam.state.allocate(['gone', 'alive', 'replaced'].map((n) => ({ pool, key: { podUID: uids[n]!, containerID: `c-${n}`, interface: 'net1-0' }, podName: n, namespace: 'default' })));
    agent = await startKubeAgent({
      prefix: 'mnd1-release-',
      api: async (dir) => {
        kubeconfig = join(dir, 'kubeconfig');
        await writeKubeconfig(kubeconfig, c.server.url);
        return c.client();
      },
      agent: { ipam },
    });
    await eventually(async () => expect(((await c.api.get(R.HostInterface, 'n1'))?.status as { diagnostics?: { allocations: unknown[] } })?.diagnostics?.allocations).toHaveLength(3), 15_000);
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await c?.close();
  });

  it('bad input: exit 2 before the cluster is asked, saying what to give', async () => {
    const none = await cli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/nothing to release: give one or more ADDRESS, or --leaked/);
    const bad = await cli(['192.168.0.999']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/"192\.168\.0\.999" is not an IP address/);
    const noYes = await cli(['--leaked']);
    expect(noYes.code).toBe(2);
    expect(noYes.stderr).toMatch(/add --yes to confirm/);
    const unknown = await cli(['10.9.9.9']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/10\.9\.9\.9 is not allocated/);
    expect(ipam.list()).toHaveLength(3);
  }, 60_000);

  it('--leaked --dry-run names the gone and the replaced pod, changes nothing', async () => {
    const r = await cli(['--leaked', '--dry-run', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const rep = json(r.stdout);
    expect(rep.dryRun).toBe(true);
    expect(rep.items.map((i) => [i.pod, i.outcome, i.reason])).toEqual([
      ['default/gone', 'would-release', 'pod default/gone no longer exists'],
      ['default/replaced', 'would-release', `pod default/replaced was replaced (uid ${(c.server.store.get('v1', 'Pod', 'replaced', 'default') as { metadata: { uid: string } }).metadata.uid}, allocation for uid-old)`],
    ].sort());
    expect(ipam.list()).toHaveLength(3);
    expect(ipam.calls.filter((x) => x.op === 'release')).toEqual([]);
  }, 60_000);

  it('refuses the address of a live pod (exit 1, the pod named), releases it with --force', async () => {
    const addr = addrOf('alive')!;
    const r = await cli([addr, '-o', 'json']);
    expect(r.code).toBe(1);
    const rep = json(r.stdout);
    expect(rep.items).toHaveLength(1);
    expect(rep.items[0]).toMatchObject({ address: addr, outcome: 'refused', pod: 'default/alive', node: 'n1' });
    expect(rep.items[0]?.reason).toBe(`pod default/alive (uid ${uids.alive}) exists and is Running; add --force to release it anyway`);
    expect(addrOf('alive')).toBe(addr);
    const f = await cli([addr, '--force']);
    expect(f.code, f.stdout + f.stderr).toBe(0);
    expect(f.stdout).toMatch(new RegExp(`^ipam release: 1 released, 0 already free, 0 refused, 0 not answered\\n  released ${addr.replace(/\./g, '\\.')} \\(mnet, n1, pool mnet-192\\.168\\.0\\.0-24, pod default/alive net1-0\\)$`, 'm'));
    expect(addrOf('alive')).toBeUndefined();
  }, 60_000);

  it('--leaked --yes releases through the agent, which answers with the nonce; the diagnostics follow', async () => {
    const r = await cli(['--leaked', '--yes', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const rep = json(r.stdout);
    expect(rep.items.map((i) => [i.pod, i.outcome])).toEqual([['default/gone', 'released'], ['default/replaced', 'released']]);
    expect(ipam.list()).toEqual([]);
    const hi = (await c.api.get(R.HostInterface, 'n1')) as { metadata: { annotations: Record<string, string> }; status: { release: ReleaseAnswer } };
    const req = JSON.parse(hi.metadata.annotations[RELEASE_REQUEST_ANNOTATION]!) as { nonce: string; force: boolean };
    expect(hi.status.release.nonce).toBe(req.nonce);
    expect(req.force).toBe(false);
    await eventually(async () => expect(((await c.api.get(R.HostInterface, 'n1'))?.status as { diagnostics: { allocations: unknown[] } }).diagnostics.allocations).toEqual([]), 10_000);
    const again = await cli(['--leaked', '--yes']);
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toBe('ipam release: nothing to release (no leaked allocation)');
  }, 60_000);

  it('the agent releases only the allocation asked about: a reused address is refused, a bad request answered with its error', async () => {
    ipam.state.allocate([{ pool, key: { podUID: 'uid-new', containerID: 'c-new', interface: 'net1-0' }, podName: 'new', namespace: 'default' }]);
    const address = addrOf('new')!;
    const ask = async (value: unknown): Promise<ReleaseAnswer> => {
      const nonce = `t-${Math.random().toString(36).slice(2)}`;
      const text = typeof value === 'string' ? value.replace('NONCE', nonce) : JSON.stringify({ nonce, ...(value as object) });
      await c.api.patch(R.HostInterface, 'n1', { metadata: { annotations: { [RELEASE_REQUEST_ANNOTATION]: text } } });
      return eventually(async () => {
        const a = ((await c.api.get(R.HostInterface, 'n1'))?.status as { release?: ReleaseAnswer }).release;
        expect(a?.nonce).toBe(nonce);
        return a!;
      });
    };
    const stale = await ask({ force: true, items: [{ network: 'mnet', pool: pool.name, address, podUID: 'uid-gone', containerID: 'c-gone', interface: 'net1-0' }] });
    expect(stale.results.map((x) => [x.outcome, x.reason])).toEqual([['refused', `${address} is now held by pod default/new (uid uid-new, container c-new, net1-0), not the allocation asked about; re-run to see the current holder`]]);
    expect(addrOf('new')).toBe(address);
    const bad = await ask('{"nonce": "NONCE", "items": [{"network": "mnet", "pool": "p", "address": "$(reboot)", "podUID": "", "containerID": "", "interface": "net1-0"}]}');
    expect(bad.error).toMatch(/^items\[0\]\.address must be a name, UID or address/);
    expect(bad.results).toEqual([]);
    expect(addrOf('new')).toBe(address);
  }, 60_000);

  it('requestReleases: batches of MAX_RELEASE_ITEMS one after the other, a node that cannot be written and one whose agent is silent, one progress line', async () => {
    createNode(c, 'quiet'); // a HostInterface without its Node is removed by the leader
    c.server.store.create({ apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name: 'quiet' }, spec: { hostName: 'quiet', interfaces: hostNics(2) } } as never);
    const item = (i: number): ReleaseItem => ({ network: 'mnet', pool: pool.name, address: `192.168.${1 + (i >> 8)}.${i & 255}`, podUID: `uid-${i}`, containerID: `c-${i}`, interface: 'net1-0' });
    const many = Array.from({ length: MAX_RELEASE_ITEMS + 1 }, (_, i) => item(i));
    const lines: string[] = [];
    const t0 = Date.now();
    const out = await requestReleases(await c.client(), new Map([['n1', many], ['ghost', [item(0)]], ['quiet', [item(1)]]]), { force: false, timeoutMs: 3000, note: (t) => lines.push(t), tty: false });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3000);
    // n1's agent answered both requests (nothing there is held: not-held), in order.
    const n1 = out.filter((o) => o.node === 'n1');
    expect(n1.map((o) => o.answer?.results.length)).toEqual([MAX_RELEASE_ITEMS, 1]);
    expect(n1.flatMap((o) => o.answer!.results.map((r) => r.outcome))).toEqual(many.map(() => 'not-held'));
    expect(n1.every((o) => o.answer!.nonce === o.nonce)).toBe(true);
    const ghost = out.filter((o) => o.node === 'ghost');
    expect(ghost.map((o) => [o.answer, o.error])).toEqual([[undefined, 'hostinterfaces.multinic.fms.io "ghost" not found']]);
    const quiet = out.filter((o) => o.node === 'quiet');
    expect(quiet.map((o) => [o.answer, o.error])).toEqual([[undefined, undefined]]);
    const hi = (await c.api.get(R.HostInterface, 'quiet')) as { metadata: { annotations: Record<string, string> } };
    expect((JSON.parse(hi.metadata.annotations[RELEASE_REQUEST_ANNOTATION]!) as { nonce: string }).nonce).toBe(quiet[0]!.nonce);
    // One line per change of the progress, never the same line twice in a row; the last names the silent node.
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l, i) => /^release: \d+\/4 request\(s\) answered/.test(l) && l !== lines[i - 1])).toBe(true);
    expect(lines.at(-1)).toBe('release: 2/4 request(s) answered, waiting for the agent on quiet');
  }, 60_000);
});
