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
/** Requests through the proxy: list (GET without watch=) and watch. */
const seen = { lists: 0, watches: 0 };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kc-watch-'));
  server = await startApiServer();
  const upstream = new URL(server.url);
  proxy = createServer((req, res) => {
    if (req.method === 'GET' && /\/(apis|api)\//.test(req.url ?? '')) {
      if (/[?&]watch=(1|true)/.test(req.url ?? '')) seen.watches++;
      else seen.lists++;
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

  it('refuses --watch with --wait, and a bad template before watching (exit 2)', async () => {
    const both = await runCliAsync(['status', '-w', '--wait', '--kubeconfig', kubeconfig]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--wait=true cannot also be provided when using --watch|cannot also be provided/);
    const bad = await runCliAsync(['status', '-w', '-o', 'jsonpath={.x', '--kubeconfig', kubeconfig]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('error parsing jsonpath {.x, unclosed action');
  });
});
