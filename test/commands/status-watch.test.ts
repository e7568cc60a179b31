// `status -w` through the built executable against the API stand-in, behind a counting proxy: a
// change to a HostInterface or an IPPool (an address claimed) shows up within 2 s, nothing is
// printed or listed again while nothing changes (watches, not polling), and Ctrl-C ends it with exit 0.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../src/lab/apiserver/server.js';
import { writeKubeconfig } from '../../src/lab/kubeconfig.js';
import { CRDS } from '../../src/lib/crds/crds.gen.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import type { StatusReport } from '../../src/lib/status.js';
import { cliBin, repoRoot, runCliAsync } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';

let server: ApiServer;
let proxy: Server;
let dir: string;
let kubeconfig: string;
/** Requests through the proxy: list (GET without watch=) and watch; `dra`: those to resource.k8s.io. */
const seen = { lists: 0, watches: 0 };
const dra = { lists: 0, watches: 0 };
/**
 * How the proxy answers resource.k8s.io: as the stand-in does (served), as a cluster without DRA
 * (404 for the group), or as RBAC that denies this user (403), with kube-apiserver's Status bodies.
 */
let draMode: 'served' | 'absent' | 'forbidden' = 'served';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kc-watch-'));
  server = await startApiServer();
  const upstream = new URL(server.url);
  proxy = createServer((req, res) => {
    if (req.method === 'GET' && /\/(apis|api)\//.test(req.url ?? '')) {
      const count = (c: { lists: number; watches: number }) => (/[?&]watch=(1|true)/.test(req.url ?? '') ? c.watches++ : c.lists++);
      count(seen);
      if (req.url?.startsWith('/apis/resource.k8s.io/')) {
        count(dra);
        const resource = /^\/apis\/resource\.k8s\.io\/v1\/([a-z]+)/.exec(req.url)?.[1] ?? '';
        if (draMode === 'absent') return void res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'the server could not find the requested resource', reason: 'NotFound', code: 404 }));
        if (draMode === 'forbidden') {
          return void res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `${resource}.resource.k8s.io is forbidden: User "dev" cannot list resource "${resource}" in API group "resource.k8s.io" at the cluster scope`, reason: 'Forbidden', details: { group: 'resource.k8s.io', kind: resource }, code: 403 }));
        }
      }
    }
    const up = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  kubeconfig = join(dir, 'kubeconfig');
  await writeKubeconfig(kubeconfig, `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
  for (const crd of CRDS) server.store.create(structuredClone(crd) as unknown as KubeObject);
  for (const n of ['host1', 'host2']) server.store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: n } });
  const inv = parse(readFileSync(join(repoRoot, 'examples/hosts.yaml'), 'utf8')) as { items: KubeObject[] };
  for (const h of inv.items) server.store.create(h);
  const applied = await runCliAsync(['apply', '-f', join(repoRoot, 'examples/network.yaml'), '--no-wait', '--kubeconfig', kubeconfig]);
  expect(applied.code, applied.stderr).toBe(0);
}, 60_000);
afterAll(async () => {
  proxy?.closeAllConnections();
  await new Promise((r) => proxy?.close(r));
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function watchCli(args: string[]): { child: ChildProcess; out: () => string; err: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [cliBin, 'status', '-w', ...args, '--kubeconfig', kubeconfig], { cwd: repoRoot, env: { ...process.env, NO_COLOR: '1' } });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exit = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, out: () => out, err: () => err, exit };
}

/** The JSON documents printed so far (each pretty-printed, one after another). */
const docs = (text: string): StatusReport[] => text.split(/(?<=^\}\n)/m).filter((d) => d.trim()).map((d) => JSON.parse(d) as StatusReport);
const mtu = (r: StatusReport | undefined, node: string, nic: string) => r?.nodes.find((n) => n.name === node)?.nics.find((x) => x.name === nic)?.mtu;
const used = (r: StatusReport | undefined, pool: string) => r?.networks.flatMap((n) => n.hosts.flatMap((h) => h.nics)).find((x) => x.pool === pool)?.used;

describe('status -w', () => {
  it('-o json: one document per change, a HostInterface or IPPool change within 2 s, no polling, Ctrl-C exits 0', async () => {
    const w = watchCli(['-o', 'json']);
    try {
      await eventually(() => expect(docs(w.out()).length).toBeGreaterThanOrEqual(1), 20_000, 50);
      const first = docs(w.out()).at(-1);
      expect(first?.kind).toBe('StatusReport');
      expect(first?.networks.map((n) => n.name)).toEqual(['multi-nic-sample']);
      const pool = first?.networks[0]?.hosts[0]?.nics[0]?.pool as string;
      expect(pool).toMatch(/^multi-nic-sample-/);

      // Idle: nothing printed, nothing listed again.
      const idle = { docs: docs(w.out()).length, lists: seen.lists };
      await new Promise((r) => setTimeout(r, 2500));
      expect(docs(w.out()).length).toBe(idle.docs);
      expect(seen.lists).toBe(idle.lists);
      expect(seen.watches).toBeGreaterThanOrEqual(6);

      // A NIC's MTU changes on host1.
      const hi = server.store.get('multinic.fms.io/v1', 'HostInterface', 'host1') as KubeObject & { spec: { interfaces: Array<{ interfaceName: string; mtu?: number }> } };
      const t0 = Date.now();
      server.store.patch('multinic.fms.io/v1', 'HostInterface', 'host1', '', 'merge', { spec: { interfaces: hi.spec.interfaces.map((i) => (i.interfaceName === 'eth2' ? { ...i, mtu: 9000 } : i)) } });
      await eventually(() => expect(mtu(docs(w.out()).at(-1), 'host1', 'eth2')).toBe(9000), 2000, 20);
      const hiMs = Date.now() - t0;

      // An address claimed in one pool (its IPPool, as the agent mirrors it).
      const t1 = Date.now();
      server.store.create({
        apiVersion: 'multinic.fms.io/v1',
        kind: 'IPPool',
        metadata: { name: pool },
        spec: { podCIDR: first?.networks[0]?.hosts[0]?.nics[0]?.podCIDR, vlanCIDR: '192.168.0.0/18', netAttachDef: 'multi-nic-sample', hostName: 'host1', interfaceName: 'eth1', excludes: [], allocations: [{ pod: 'trainer-0', namespace: 'ml', index: 1, address: '192.168.0.1' }] },
      } as KubeObject);
      await eventually(() => expect(used(docs(w.out()).at(-1), pool)).toBe(1), 2000, 20);
      const poolMs = Date.now() - t1;
      expect(seen.lists).toBe(idle.lists); // the changes came by watch
      process.stderr.write(`status -w: HostInterface change shown after ${hiMs} ms, IPPool change after ${poolMs} ms\n`);

      w.child.kill('SIGINT');
      expect(await w.exit).toBe(0);
      expect(w.err()).toBe('');
      expect(docs(w.out()).every((d) => d.apiVersion === 'multinic.fms.io/v1')).toBe(true);
    } finally {
      w.child.kill('SIGKILL');
    }
  }, 60_000);

  it('the table is printed again (after a blank line, off a terminal) only when it changes; -o name the networks that changed', async () => {
    const t = watchCli([]);
    const n = watchCli(['-o', 'name']);
    try {
      await eventually(() => expect(t.out()).toMatch(/^NETWORK multi-nic-sample/m), 20_000, 50);
      await eventually(() => expect(n.out()).toBe('multinicnetwork.multinic.fms.io/multi-nic-sample\n'), 20_000, 50);
      const before = t.out();
      // A NIC's speed (a column of the node table) changes; the networks do not: name prints nothing new.
      const hi = server.store.get('multinic.fms.io/v1', 'HostInterface', 'host2') as KubeObject & { spec: { interfaces: Array<{ interfaceName: string; speed?: number }> } };
      server.store.patch('multinic.fms.io/v1', 'HostInterface', 'host2', '', 'merge', { spec: { interfaces: hi.spec.interfaces.map((i) => ({ ...i, speed: 200000 })) } });
      await eventually(() => expect(t.out().length).toBeGreaterThan(before.length), 2000, 20);
      const again = t.out().slice(before.length);
      expect(again.startsWith('\nAGENTS ')).toBe(true);
      expect(again).toMatch(/^NODE +READY/m);
      expect(again).toMatch(/^host2 .* 200G$/m);
      expect(before).not.toMatch(/200G/);
      expect(n.out()).toBe('multinicnetwork.multinic.fms.io/multi-nic-sample\n');
      // A network status change: name prints it again.
      server.store.patch('multinic.fms.io/v1', 'MultiNicNetwork', 'multi-nic-sample', '', 'merge', { status: { configStatus: 'Success', routeStatus: 'Success' } }, 'status');
      await eventually(() => expect(n.out()).toBe('multinicnetwork.multinic.fms.io/multi-nic-sample\n'.repeat(2)), 2000, 20);
      t.child.kill('SIGINT');
      n.child.kill('SIGTERM');
      expect(await t.exit).toBe(0);
      expect(await n.exit).toBe(0);
    } finally {
      t.child.kill('SIGKILL');
      n.child.kill('SIGKILL');
    }
  }, 60_000);

  it.skipIf(spawnSync('script', ['--version'], { stdio: 'ignore' }).status !== 0)('on a terminal the table is redrawn in place (cursor home, clear), through a real pty (script(1))', async () => {
    const cmd = [process.execPath, cliBin, 'status', '-w', '--kubeconfig', kubeconfig].map((a) => `'${a}'`).join(' ');
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: repoRoot, env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    const exit = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    try {
      await eventually(() => expect(out).toContain('\u001b[H\u001b[2JAGENTS '), 20_000, 50);
      server.store.patch('multinic.fms.io/v1', 'MultiNicNetwork', 'multi-nic-sample', '', 'merge', { status: { routeStatus: 'WaitForRoutes' } }, 'status');
      await eventually(() => expect(out.split('\u001b[H\u001b[2J').length).toBeGreaterThanOrEqual(3), 2000, 20);
      child.kill('SIGINT');
      expect(await exit).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);

  it('DRA: a claim allocated and reserved, then released, shows and goes within 2 s, by watch (no list again)', async () => {
    const before = { ...dra };
    const w = watchCli(['-o', 'json']);
    const claimOf = (r: StatusReport | undefined, nic: string) => (r?.nodes.find((n) => n.name === 'host1')?.nics.find((x) => x.name === nic) as { claim?: string; claimedBy?: string[] } | undefined);
    try {
      await eventually(() => expect(docs(w.out()).length).toBeGreaterThanOrEqual(1), 20_000, 50);
      await eventually(() => expect(dra.watches - before.watches).toBe(2), 5000, 20); // ResourceClaims and our ResourceSlices
      const idle = seen.lists;
      server.store.create({
        apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice', metadata: { name: 'host1-multinic.fms.io' },
        spec: { driver: 'multinic.fms.io', nodeName: 'host1', pool: { name: 'host1', generation: 1, resourceSliceCount: 1 }, devices: [{ name: 'eth1', attributes: { interfaceName: { string: 'eth1' } } }, { name: 'eth2', attributes: { interfaceName: { string: 'eth2' } } }] },
      } as unknown as KubeObject);
      const claim = server.store.create({
        apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'trainer-nics', namespace: 'default' },
        spec: { devices: { requests: [{ name: 'nics', exactly: { deviceClassName: 'multi-nic-sample.multinic.fms.io', count: 1 } }] } },
      } as unknown as KubeObject);
      const t0 = Date.now();
      server.store.updateStatus({ ...claim, status: { allocation: { devices: { results: [{ request: 'nics', driver: 'multinic.fms.io', pool: 'host1', device: 'eth2' }] } }, reservedFor: [{ resource: 'pods', name: 'trainer-0', uid: 'u-trainer-0' }] } });
      await eventually(() => expect(claimOf(docs(w.out()).at(-1), 'eth2')).toMatchObject({ claim: 'default/trainer-nics', claimedBy: ['default/trainer-0'] }), 2000, 20);
      const shownMs = Date.now() - t0;
      expect(claimOf(docs(w.out()).at(-1), 'eth1')?.claim).toBeUndefined();
      server.store.delete('resource.k8s.io/v1', 'ResourceClaim', 'trainer-nics', 'default');
      await eventually(() => expect(claimOf(docs(w.out()).at(-1), 'eth2')?.claim).toBeUndefined(), 2000, 20);
      expect(seen.lists).toBe(idle);
      process.stderr.write(`status -w: a claim's allocation shown after ${shownMs} ms\n`);
      w.child.kill('SIGINT');
      expect(await w.exit).toBe(0);
      expect(w.err()).toBe('');
    } finally {
      w.child.kill('SIGKILL');
      if (server.store.get('resource.k8s.io/v1', 'ResourceSlice', 'host1-multinic.fms.io')) server.store.delete('resource.k8s.io/v1', 'ResourceSlice', 'host1-multinic.fms.io');
    }
  }, 60_000);

  it.each([
    ['absent', 'a cluster without resource.k8s.io/v1 (404): nothing watched there, nothing said'],
    ['forbidden', 'a user who may not list ResourceClaims or ResourceSlices (403): said once each, the rest goes on'],
  ] as const)('DRA %s: %s', async (mode, _what) => {
    draMode = mode;
    const before = { ...dra };
    const w = watchCli(['-o', 'json']);
    try {
      await eventually(() => expect(docs(w.out()).length).toBeGreaterThanOrEqual(1), 20_000, 50);
      expect(dra.watches).toBe(before.watches);
      expect(dra.lists - before.lists).toBe(2); // one look at each
      // Not fatal: a HostInterface change still shows.
      const hi = server.store.get('multinic.fms.io/v1', 'HostInterface', 'host1') as KubeObject & { spec: { interfaces: Array<{ interfaceName: string; mtu?: number }> } };
      const mtu1 = mode === 'absent' ? 1600 : 1700;
      server.store.patch('multinic.fms.io/v1', 'HostInterface', 'host1', '', 'merge', { spec: { interfaces: hi.spec.interfaces.map((i) => (i.interfaceName === 'eth1' ? { ...i, mtu: mtu1 } : i)) } });
      await eventually(() => expect(mtu(docs(w.out()).at(-1), 'host1', 'eth1')).toBe(mtu1), 2000, 20);
      w.child.kill('SIGINT');
      expect(await w.exit).toBe(0);
      // status without -w reads the claims once, through the real client, with the same outcome (not exit 3).
      const once = await runCliAsync(['status', '-o', 'json', '--kubeconfig', kubeconfig]);
      expect(once.code, once.stderr).toBe(1); // the agents are missing, the DRA lists are not fatal
      expect(once.stderr.split('\n').filter((l) => l.includes('resource.k8s.io'))).toEqual(
        mode === 'absent' ? [] : ['resourceclaims', 'resourceslices'].map((r) => `warning: cannot list ${r}: ${r}.resource.k8s.io is forbidden: User "dev" cannot list resource "${r}" in API group "resource.k8s.io" at the cluster scope: NICs held by ResourceClaims are not shown`),
      );
      const lines = w.err().split('\n').filter(Boolean);
      if (mode === 'absent') expect(lines).toEqual([]);
      else {
        expect(lines).toEqual([
          'warning: watch: resourceclaims: resourceclaims.resource.k8s.io is forbidden: User "dev" cannot list resource "resourceclaims" in API group "resource.k8s.io" at the cluster scope (NICs held by ResourceClaims are not shown)',
          'warning: watch: resourceslices: resourceslices.resource.k8s.io is forbidden: User "dev" cannot list resource "resourceslices" in API group "resource.k8s.io" at the cluster scope (NICs held by ResourceClaims are not shown)',
        ]);
      }
    } finally {
      draMode = 'served';
      w.child.kill('SIGKILL');
    }
  }, 60_000);

  it('refuses --watch with --wait, and a bad template before watching (exit 2)', async () => {
    const both = await runCliAsync(['status', '-w', '--wait', '--kubeconfig', kubeconfig]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--wait=true cannot also be provided when using --watch|cannot also be provided/);
    const bad = await runCliAsync(['status', '-w', '-o', 'jsonpath={.x', '--kubeconfig', kubeconfig]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('error parsing jsonpath {.x, unclosed action');
  });
});
