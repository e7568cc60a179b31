// The CNI's agent client over real unix sockets: every way the agent can be unreachable or answer
// badly becomes a typed error whose message says what to check.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentRequestError, AgentUnavailableError, createAgentClient } from '../../src/cni/agent-client.js';

const key = { apiVersion: 'v1' as const, network: 'mnet', pod: { namespace: 'default', name: 'p', uid: 'u', containerID: 'c', ifName: 'net1' } };

describe('agent client', () => {
  let dir: string;
  const servers: Array<HttpServer | NetServer> = [];
  const listen = async (s: HttpServer | NetServer, path: string) => {
    servers.push(s);
    await new Promise<void>((r) => s.listen(path, () => r()));
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mncni-client-'));
  });
  afterAll(async () => {
    for (const s of servers) {
      if ('closeAllConnections' in s) s.closeAllConnections();
      await new Promise((r) => s.close(() => r(null)));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('missing socket: asks whether the agent runs on this node', async () => {
    const c = createAgentClient({ socketPath: join(dir, 'none.sock') });
    const err = await c.allocate({ ...key }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentUnavailableError);
    expect((err as Error).message).toBe(`agent socket ${join(dir, 'none.sock')} missing: is the multinic agent running on this node?`);
  });

  it('a path that is not a socket is reported as unreachable, not as a crash', async () => {
    const p = join(dir, 'plain-file');
    writeFileSync(p, '');
    const err = await createAgentClient({ socketPath: p }).lookup(key).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentUnavailableError);
    expect((err as Error).message).toMatch(/refused the connection|plain-file/);
  });

  it('an agent that accepts but never answers times out with the path and the limit', async () => {
    const p = join(dir, 'silent.sock');
    const held: Socket[] = [];
    await listen(createNetServer((sock) => void held.push(sock)), p);
    const err = await createAgentClient({ socketPath: p, timeoutMs: 200 }).release(key).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentUnavailableError);
    expect((err as Error).message).toBe(`agent socket ${p} did not answer /v1/release within 200 ms: is the multinic agent overloaded or stuck?`);
    for (const sock of held) sock.destroy();
  });

  it('an error status carries the agent\'s code, message and hint; a body-less 404 becomes NotFound', async () => {
    const p = join(dir, 'err.sock');
    await listen(
      createHttpServer((req, res) => {
        if (req.url === '/v1/allocate') {
          res.writeHead(409, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ apiVersion: 'v1', code: 'PoolExhausted', message: 'pool p is full', hint: 'grow hostBlock' }));
        } else {
          res.writeHead(404);
          res.end();
        }
      }),
      p,
    );
    const c = createAgentClient({ socketPath: p });
    const e1 = (await c.allocate(key).catch((e: unknown) => e)) as AgentRequestError;
    expect(e1).toBeInstanceOf(AgentRequestError);
    expect([e1.status, e1.body]).toEqual([409, { apiVersion: 'v1', code: 'PoolExhausted', message: 'pool p is full', hint: 'grow hostBlock' }]);
    const e2 = (await c.gc({ apiVersion: 'v1', network: 'mnet', keep: [] }).catch((e: unknown) => e)) as AgentRequestError;
    expect([e2.status, e2.body.code, e2.body.message]).toEqual([404, 'NotFound', 'HTTP 404 on /v1/gc']);
  });

  it('a 200 whose body is not JSON is an error naming the path and the start of the body', async () => {
    const p = join(dir, 'garbage.sock');
    await listen(createHttpServer((_req, res) => res.end('<html>proxy</html>')), p);
    await expect(createAgentClient({ socketPath: p }).lookup(key)).rejects.toThrow(`agent ${p} answered /v1/lookup with status 200 and a body that is not JSON: <html>proxy</html>`);
  });

  it('healthz is a GET; POST bodies are JSON with a length', async () => {
    const p = join(dir, 'echo.sock');
    const seen: string[] = [];
    await listen(
      createHttpServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          seen.push(`${req.method} ${req.url} ${req.headers['content-type'] ?? '-'} ${body}`);
          res.end('{"apiVersion":"v1","released":0}');
        });
      }),
      p,
    );
    const c = createAgentClient({ socketPath: p });
    await c.healthz();
    await c.release(key);
    expect(seen).toEqual(['GET /v1/healthz - ', `POST /v1/release application/json ${JSON.stringify(key)}`]);
  });
  it('reads chunked bodies, multi-byte text split across writes, and large bodies', async () => {
    const p = join(dir, 'chunked.sock');
    const big = { apiVersion: 'v1', nics: Array.from({ length: 2000 }, (_, i) => ({ index: i, master: `eth${i}`, address: `10.0.${i % 256}.1/24` })) };
    await listen(
      createHttpServer((req, res) => {
        if (req.url === '/v1/lookup') {
          const text = Buffer.from(JSON.stringify(big));
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': text.length });
          res.end(text);
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }); // no length: chunked
        const text = Buffer.from('{"apiVersion":"v1","released":0,"note":"grüße ✓"}');
        res.write(text.subarray(0, 44)); // splits the multi-byte characters
        setTimeout(() => res.end(text.subarray(44)), 20);
      }),
      p,
    );
    const c = createAgentClient({ socketPath: p });
    expect(await c.release(key)).toEqual({ apiVersion: 'v1', released: 0, note: 'grüße ✓' });
    expect(await c.lookup(key)).toEqual(big);
  });

  it('an agent that stops with the request unread (the connection reset) is away, as between two agents of a rolling upgrade', async () => {
    const p = join(dir, 'reset.sock');
    // Never reads: destroying the socket with the request in its queue resets the client's end.
    await listen(createNetServer({ pauseOnConnect: true }, (sock) => void setTimeout(() => sock.destroy(), 20)), p);
    const err = await createAgentClient({ socketPath: p }).lookup(key).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentUnavailableError);
    expect((err as AgentUnavailableError).away).toBe(true);
    expect((err as Error).message).toBe(`agent socket ${p} reset the connection before answering: is the multinic agent restarting?`);
    // A timeout stays not away: an agent that is there but stuck is not waited for.
    const silent = join(dir, 'silent2.sock');
    const held: Socket[] = [];
    await listen(createNetServer((sock) => void held.push(sock)), silent);
    const slow = await createAgentClient({ socketPath: silent, timeoutMs: 100 }).lookup(key).catch((e: unknown) => e);
    expect((slow as AgentUnavailableError).away).toBe(false);
    for (const sock of held) sock.destroy();
  });

  it('a connection closed before the answer, or an answer that is not HTTP, says so', async () => {
    const closing = join(dir, 'closing.sock');
    await listen(createNetServer((sock) => sock.resume().end()), closing);
    await expect(createAgentClient({ socketPath: closing }).allocate(key)).rejects.toThrow(`agent socket ${closing} closed the connection before answering /v1/allocate: is the multinic agent restarting?`);
    const smtp = join(dir, 'smtp.sock');
    await listen(createNetServer((sock) => sock.resume().end('220 mail ESMTP\r\n\r\n')), smtp);
    await expect(createAgentClient({ socketPath: smtp }).lookup(key)).rejects.toThrow(`agent ${smtp} answered /v1/lookup with a malformed response: not an HTTP response: "220 mail ESMTP"`);
  });
});
