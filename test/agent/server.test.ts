import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentCore } from '../../src/agent/core.js';
import { startAgentServer, type AgentServer } from '../../src/agent/server.js';
import { FakeIpam } from '../fakes/ipam.js';
import { StaticState, testCidr, testNetwork } from './helpers/network.js';
import { call } from './helpers/http.js';

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
