import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentCore } from '../../src/agent/core.js';
import { DEFAULT_MAX_CONNECTIONS, MAX_BODY_BYTES, MAX_GC_BODY_BYTES, startAgentServer, type AgentServer } from '../../src/agent/server.js';
import { FakeIpam } from '../fakes/ipam.js';
import { StaticState, testCidr, testNetwork } from './helpers/network.js';
import { call } from './helpers/http.js';
import { eventually as poll } from '../helpers/eventually.js';

const eventually = <T>(fn: () => T | Promise<T>, budgetMs = 3000): Promise<T> => poll(fn, budgetMs, 20);

const NICS = [
  { ifindex: 1, interfaceName: 'eth1', netAddress: '10.0.1.0/24', hostIP: '10.0.1.1' },
  { ifindex: 2, interfaceName: 'eth2', netAddress: '10.0.2.0/24', hostIP: '10.0.2.1' },
];
const pod = { namespace: 'ns', name: 'p', uid: 'u1', containerID: 'c1', ifName: 'net1' };

describe('agent socket server', () => {
  let dir: string;
  let sock: string;
  let server: AgentServer | undefined;
  let ipam: FakeIpam;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mnag-srv-'));
    sock = join(dir, 'run', 'agent.sock');
    ipam = new FakeIpam();
    const core = new AgentCore({ hostName: 'h1', state: new StaticState([{ network: testNetwork(), cidr: testCidr(['h1', 'h2']) }]), ipam, nics: () => NICS });
    server = await startAgentServer({ socketPath: sock, core, state: () => ({ apiVersion: 'v1', kind: 'AgentState', hostName: 'h1' }) });
  });
  afterEach(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('listens on a unix socket with mode 0600 in a created directory', () => {
    const st = statSync(sock);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it('serves gc: releases what the runtime does not keep', async () => {
    await call(sock, 'POST', '/v1/allocate', { apiVersion: 'v1', network: 'mnet', pod });
    await call(sock, 'POST', '/v1/allocate', { apiVersion: 'v1', network: 'mnet', pod: { ...pod, containerID: 'c2' } });
    expect(await call(sock, 'POST', '/v1/gc', { apiVersion: 'v1', network: 'mnet', keep: [{ containerID: 'c1', ifName: 'net1' }] })).toEqual({ status: 200, body: { apiVersion: 'v1', released: 0 } });
    expect(ipam.list()).toHaveLength(4); // both within the grace period: an ADD may be in flight
    expect((await call(sock, 'GET', '/v1/gc')).status).toBe(405);
  });

  it('serves allocate, lookup, release, healthz and state', async () => {
    const a = await call(sock, 'POST', '/v1/allocate', { apiVersion: 'v1', network: 'mnet', pod });
    expect(a.status).toBe(200);
    expect((a.body as { nics: Array<{ address: string }> }).nics.map((n) => n.address)).toEqual(['192.168.0.2/24', '192.168.64.2/24']);
    const l = await call(sock, 'POST', '/v1/lookup', { apiVersion: 'v1', network: 'mnet', pod });
    expect(l).toEqual({ status: 200, body: a.body });
    expect(await call(sock, 'POST', '/v1/release', { apiVersion: 'v1', network: 'mnet', pod })).toEqual({ status: 200, body: { apiVersion: 'v1', released: 2 } });
    expect(await call(sock, 'GET', '/v1/healthz')).toEqual({ status: 200, body: { apiVersion: 'v1', status: 'ok' } });
    expect(await call(sock, 'GET', '/v1/state')).toEqual({ status: 200, body: { apiVersion: 'v1', kind: 'AgentState', hostName: 'h1' } });
  });

  it.each<[string, string, string, unknown, number, string]>([
    ['malformed JSON', 'POST', '/v1/allocate', '{"apiVersion":', 400, 'InvalidRequest'],
    ['unknown network', 'POST', '/v1/allocate', { apiVersion: 'v1', network: 'x', pod }, 404, 'UnknownNetwork'],
    ['absent master', 'POST', '/v1/allocate', { apiVersion: 'v1', network: 'mnet', pod, args: { masters: ['eth9'] } }, 422, 'NoMatchingNic'],
    ['lookup of nothing', 'POST', '/v1/lookup', { apiVersion: 'v1', network: 'mnet', pod }, 404, 'NotFound'],
    ['unversioned path', 'POST', '/allocate', {}, 404, 'NotFound'],
    ['GET on a POST endpoint', 'GET', '/v1/allocate', undefined, 405, 'InvalidRequest'],
    ['oversized body', 'POST', '/v1/allocate', 'x'.repeat(2 << 20), 413, 'InvalidRequest'],
  ])('%s → %s %s as an AgentErrorBody', async (_name, method, path, body, status, code) => {
    const r = await call(sock, method, path, body);
    expect(r.status).toBe(status);
    expect(r.body).toMatchObject({ apiVersion: 'v1', code });
    expect(typeof (r.body as { message: unknown }).message).toBe('string');
    expect(ipam.list()).toEqual([]);
  });

  it('close() finishes in-flight requests and removes the socket file', async () => {
    const inflight = call(sock, 'POST', '/v1/allocate', { apiVersion: 'v1', network: 'mnet', pod });
    await new Promise((r) => setTimeout(r, 5));
    await server?.close();
    server = undefined;
    expect((await inflight).status).toBe(200);
    expect(existsSync(sock)).toBe(false);
  });

  it('close() answers connections already queued on the socket instead of resetting them (a rolling upgrade\'s last requests)', async () => {
    // Connected (in the listen queue) but not yet accepted when close() starts, as requests reaching
    // an agent that is told to stop. Closing the listener at once resets them (ECONNRESET).
    const queued = Array.from({ length: 8 }, () => call(sock, 'GET', '/v1/healthz').then((r) => r.status, (e: NodeJS.ErrnoException) => e.code ?? e.message));
    const closing = server!.close();
    server = undefined;
    expect(await Promise.all(queued)).toEqual(Array(8).fill(200));
    await closing;
    expect(existsSync(sock)).toBe(false);
  });
});

describe('agent socket start-up', () => {
  const core = new AgentCore({ hostName: 'h1', state: new StaticState([]), ipam: new FakeIpam(), nics: () => [] });

  it('removes a stale socket file (no listener) and serves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mnag-srv-'));
    const sock = join(dir, 'a.sock');
    // A process that bound the socket and died without unlinking it, as after kill -9.
    execFileSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.exit(0))`]);
    expect(existsSync(sock)).toBe(true);
    const s = await startAgentServer({ socketPath: sock, core, state: () => ({}) });
    expect((await call(sock, 'GET', '/v1/healthz')).status).toBe(200);
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to steal a socket another process serves, and a non-socket file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mnag-srv-'));
    const sock = join(dir, 'a.sock');
    const first = await startAgentServer({ socketPath: sock, core, state: () => ({}) });
    await expect(startAgentServer({ socketPath: sock, core, state: () => ({}) })).rejects.toThrow(/another agent is serving it/);
    expect((await call(sock, 'GET', '/v1/healthz')).status).toBe(200);
    await first.close();
    writeFileSync(join(dir, 'plain'), 'x');
    await expect(startAgentServer({ socketPath: join(dir, 'plain'), core, state: () => ({}) })).rejects.toThrow(/not a socket/);
    rmSync(dir, { recursive: true, force: true });
  });
});

// Slow and abusive clients on real sockets: what a root-only socket must still survive (a buggy or
// stuck CNI process, a runaway script). Deadlines are short here; the assertions give each at least
// 5 times its deadline, so they test that the deadline is enforced at all, not how precisely.
describe('agent socket hardening', () => {
  let dir: string;
  let sock: string;
  let server: AgentServer | undefined;
  let logs: Array<Record<string, unknown>>;
  const sockets: Socket[] = [];
  const core = new AgentCore({ hostName: 'h1', state: new StaticState([{ network: testNetwork(), cidr: testCidr(['h1', 'h2']) }]), ipam: new FakeIpam(), nics: () => NICS });
  const start = async (o: Partial<Parameters<typeof startAgentServer>[0]> = {}) => {
    server = await startAgentServer({ socketPath: sock, core, state: () => ({}), log: (e) => logs.push(e), ...o });
  };
  /** A raw connection that records when the server closed it. */
  const open = (): Promise<Socket & { closedAt?: number; received: string }> =>
    new Promise((resolve, reject) => {
      const s = Object.assign(connect(sock), { received: '' }) as Socket & { closedAt?: number; received: string };
      sockets.push(s);
      s.on('data', (c: Buffer) => (s.received += c.toString()));
      s.on('error', () => undefined);
      s.on('close', () => (s.closedAt = Date.now()));
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mnag-hard-'));
    sock = join(dir, 'agent.sock');
    logs = [];
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await server?.close(100);
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('closes 400 clients trickling their headers, silent clients and a trickled body within the deadlines', async () => {
    await start({ headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 300 });
    const trickling = await Promise.all(Array.from({ length: 400 }, () => open()));
    for (const s of trickling) s.write('POST /v1/allocate HTTP/1.1\r\nHost: x\r\n');
    const silent = await open();
    const body = await open();
    body.write('POST /v1/allocate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{');
    const began = Date.now();
    const timer = setInterval(() => {
      for (const s of [...trickling, body]) if (s.closedAt === undefined) s.write('x');
    }, 50);
    try {
      await eventually(() => expect([...trickling, silent, body].filter((s) => s.closedAt === undefined)).toHaveLength(0), 5000);
    } finally {
      clearInterval(timer);
    }
    // Every one was cut by a deadline (never sooner than the headers timeout), and none was served.
    expect(Math.min(...[...trickling, silent, body].map((s) => (s.closedAt as number) - began))).toBeGreaterThanOrEqual(250);
    expect(trickling.some((s) => s.received.includes('200 OK'))).toBe(false);
    // The server still serves.
    expect((await call(sock, 'GET', '/v1/healthz')).status).toBe(200);
  });

  it('a stall of the agent longer than the deadlines does not cost a client whose request was there in time', async () => {
    await start({ headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const s = await open();
    await new Promise((r) => setTimeout(r, 50)); // the server has accepted it
    s.write('GET /v1/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    // The whole process stalls (a loaded node, a long GC) for 1.5 s with the request unread: Node's own
    // checker judged the deadlines before reading it and answered 408 (or reset the connection).
    const until = Date.now() + 1500;
    while (Date.now() < until) {
      /* stall */
    }
    await eventually(() => expect(s.closedAt).toBeDefined(), 3000);
    expect(s.received).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(s.received).toContain('"status":"ok"');
  });

  it('closes an idle keep-alive connection after its timeout', async () => {
    await start({ keepAliveTimeoutMs: 300 });
    const s = await open();
    s.write('GET /v1/healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(() => expect(s.received).toContain('"status":"ok"'), 3000);
    await eventually(() => expect(s.closedAt).toBeDefined(), 3000);
  });

  it('enforces the connection cap, logs it once, and serves again when connections end', async () => {
    await start({ maxConnections: 20 });
    const held = await Promise.all(Array.from({ length: 20 }, () => open()));
    await eventually(() => expect(held.every((s) => s.closedAt === undefined)).toBe(true));
    const over = await Promise.all(Array.from({ length: 5 }, () => open()));
    for (const s of over) s.write('GET /v1/healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(() => expect(over.every((s) => s.closedAt !== undefined)).toBe(true), 3000);
    expect(over.map((s) => s.received)).toEqual(['', '', '', '', '']);
    expect(logs.filter((e) => e.msg === 'agent socket connection limit reached: closing new connections until some end')).toEqual([
      { level: 'warn', msg: 'agent socket connection limit reached: closing new connections until some end', maxConnections: 20, hint: 'raise --max-connections if the CNI legitimately needs more at once' },
    ]);
    for (const s of held) s.destroy();
    await eventually(async () => expect((await call(sock, 'GET', '/v1/healthz')).status).toBe(200), 3000);
  });

  it('the body cap fits the largest real requests with room to spare, and bounds the socket\'s worst case to 32 MiB', async () => {
    await start();
    // An ADD for 8 NICs with every field at its longest: the biggest allocate the CNI sends.
    const long = (n: number, c = 'a') => c.repeat(n);
    const add = {
      apiVersion: 'v1',
      network: long(253),
      pod: { namespace: long(63), name: long(253), uid: '0123abcd-0123-4567-89ab-0123456789ab', containerID: long(64, 'f'), ifName: long(15), netns: `/run/netns/cni-${long(36)}` },
      args: { masters: Array.from({ length: 8 }, (_, i) => `${long(14)}${i}`), nics: 8, class: long(253) },
      deviceIDs: Array.from({ length: 8 }, (_, i) => `0000:3b:0${i}.0`),
    };
    const addBytes = Buffer.byteLength(JSON.stringify(add));
    expect(addBytes).toBeLessThan(2048);
    // A GC keeps every valid attachment the runtime lists: 20,000 of them (far past any node's pods)
    // fit the GC cap, which is larger than the other requests' (a node past ~750 attachments would not fit 64 KiB).
    const gc = { apiVersion: 'v1', network: 'mnet', keep: Array.from({ length: 20_000 }, (_, i) => ({ containerID: `${long(58, 'e')}${String(i).padStart(6, '0')}`, ifName: 'net1' })) };
    const gcBytes = Buffer.byteLength(JSON.stringify(gc));
    expect(gcBytes).toBeGreaterThan(MAX_BODY_BYTES);
    expect(gcBytes).toBeLessThan(MAX_GC_BODY_BYTES);
    expect((await call(sock, 'POST', '/v1/allocate', add)).status).not.toBe(413);
    expect((await call(sock, 'POST', '/v1/gc', gc)).status).toBe(200);
    const over = await call(sock, 'POST', '/v1/gc', { ...gc, pad: 'x'.repeat(MAX_GC_BODY_BYTES - gcBytes) });
    expect(over).toMatchObject({ status: 413, body: { code: 'InvalidRequest', message: `request body larger than ${MAX_GC_BODY_BYTES} bytes` } });
    // The other requests keep the small cap.
    const bigAdd = await call(sock, 'POST', '/v1/allocate', { ...add, pad: 'x'.repeat(MAX_BODY_BYTES) });
    expect(bigAdd).toMatchObject({ status: 413, body: { message: `request body larger than ${MAX_BODY_BYTES} bytes` } });
    expect(MAX_BODY_BYTES * DEFAULT_MAX_CONNECTIONS).toBeLessThanOrEqual(32 << 20);
  });

  it('answers 413 with a JSON error for bodies over the limit, declared or chunked, while the client is still sending', async () => {
    await start();
    /** Sends 4 MiB in 64 KiB pieces, with or without a Content-Length, and reads the answer. */
    const send = (declared: boolean) =>
      new Promise<{ status: number; body: unknown }>((resolve, reject) => {
        const piece = 'y'.repeat(64 << 10);
        const req = request({ socketPath: sock, method: 'POST', path: '/v1/allocate', headers: { 'content-type': 'application/json', ...(declared ? { 'content-length': 64 * piece.length } : {}) } }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }));
        });
        req.on('error', reject);
        let n = 0;
        const pump = () => {
          if (n++ === 64) return void req.end();
          req.write(piece, () => setTimeout(pump, 1));
        };
        pump();
      });
    const want = { status: 413, body: { apiVersion: 'v1', code: 'InvalidRequest', message: `request body larger than ${MAX_BODY_BYTES} bytes`, hint: 'the agent takes JSON requests of at most that size' } };
    expect(await send(true)).toEqual(want);
    expect(await send(false)).toEqual(want);
    expect((await call(sock, 'POST', '/v1/allocate', { apiVersion: 'v1', network: 'mnet', pod })).status).toBe(200);
  });
});
