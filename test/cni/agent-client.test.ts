// The CNI's agent client over real unix sockets: every way the agent can be unreachable or answer
// badly becomes a typed error whose message says what to check. The agents and the calls are in
// test/cni/agent-client-cases.ts, run here on Node (node:net) and on Bun (Bun.connect, what the
// shipped plugin runs), which must come to the same outcomes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bunSkip, runOnBun, shippedBun } from '../helpers/bun.js';
import { big, key, runClientCases, type Outcome } from './agent-client-cases.js';

describe('agent client', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mncni-client-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let onNode: { outcomes: Outcome[]; seen: string[] };
  let nodeDir: string;
  const at = (name: string): Outcome | undefined => onNode.outcomes.find((o) => o.name === name);
  const unavailable = (message: string, away: boolean) => ({ error: { type: 'AgentUnavailableError', message, away } });

  it('on Node: each unreachable or bad agent is a typed error saying what to check; good answers are read whole', async () => {
    const d = mkdtempSync(join(dir, 'node-'));
    nodeDir = d;
    onNode = await runClientCases(d);
    // Missing socket: asks whether the agent runs on this node.
    expect(at('missing')).toMatchObject(unavailable(`agent socket ${join(d, 'none.sock')} missing: is the multinic agent running on this node?`, true));
    // A path that is not a socket is reported as unreachable, not as a crash.
    expect(at('not-a-socket')?.error?.type).toBe('AgentUnavailableError');
    expect(at('not-a-socket')?.error?.message).toMatch(/refused the connection|plain-file/);
    // An agent that accepts but never answers times out with the path and the limit, and is not away
    // (an agent that is there but stuck is not waited for).
    expect(at('silent')).toMatchObject(unavailable(`agent socket ${join(d, 'silent.sock')} did not answer /v1/release within 200 ms: is the multinic agent overloaded or stuck?`, false));
    // An error status carries the agent's code, message and hint; a body-less 404 becomes NotFound.
    expect(at('error-status')?.error).toMatchObject({ type: 'AgentRequestError', status: 409, body: { apiVersion: 'v1', code: 'PoolExhausted', message: 'pool p is full', hint: 'grow hostBlock' } });
    expect(at('bodyless-404')?.error).toMatchObject({ type: 'AgentRequestError', status: 404, body: { code: 'NotFound', message: 'HTTP 404 on /v1/gc' } });
    // A 200 whose body is not JSON is an error naming the path and the start of the body.
    expect(at('not-json')?.error?.message).toBe(`agent ${join(d, 'garbage.sock')} answered /v1/lookup with status 200 and a body that is not JSON: <html>proxy</html>`);
    // healthz is a GET; POST bodies are JSON with a length, a large one too.
    expect(at('healthz')?.value).toEqual({ apiVersion: 'v1', released: 0 });
    expect(at('big-request')?.value).toEqual({ apiVersion: 'v1', released: 0 });
    expect(onNode.seen.slice(0, 2)).toEqual(['GET /v1/healthz - ', `POST /v1/release application/json ${JSON.stringify(key)}`]);
    expect(onNode.seen[2]).toMatch(/^POST \/v1\/gc application\/json \d{7} bytes$/);
    // Chunked bodies, multi-byte text split across writes, and large bodies.
    expect(at('chunked')?.value).toEqual({ apiVersion: 'v1', released: 0, note: 'grüße ✓' });
    expect(at('big-answer')?.value).toEqual(big);
    // An agent that stops with the request unread (the connection reset) is away, as between two agents of a rolling upgrade.
    expect(at('reset')).toMatchObject(unavailable(`agent socket ${join(d, 'reset.sock')} reset the connection before answering: is the multinic agent restarting?`, true));
    // A connection closed before the answer, or an answer that is not HTTP, says so.
    expect(at('closed')).toMatchObject(unavailable(`agent socket ${join(d, 'closing.sock')} closed the connection before answering /v1/allocate: is the multinic agent restarting?`, true));
    expect(at('not-http')?.error?.message).toBe(`agent ${join(d, 'smtp.sock')} answered /v1/lookup with a malformed response: not an HTTP response: "220 mail ESMTP"`);
  });

  it.skipIf(!shippedBun)(`on Bun: the same outcomes ${bunSkip}`, () => {
    const d = mkdtempSync(join(dir, 'bun-'));
    runOnBun('test/cni/agent-client-cases.ts', [d]);
    const onBun = JSON.parse(readFileSync(join(d, 'outcomes.json'), 'utf8')) as typeof onNode;
    // The socket paths differ (one directory per runtime); everything else must not.
    const inDir = (xs: Outcome[], from: string) => xs.map((o) => JSON.parse(JSON.stringify(o).replaceAll(from, '<dir>')) as Outcome);
    // Bun reports a peer that resets the connection as a close: the same away error, said as a close.
    const reset = onBun.outcomes.find((o) => o.name === 'reset');
    expect(reset?.error).toMatchObject({ type: 'AgentUnavailableError', away: true });
    expect(reset?.error?.message).toMatch(/(reset|closed) the connection before answering/);
    const rest = (xs: Outcome[]) => xs.filter((o) => o.name !== 'reset');
    expect(rest(inDir(onBun.outcomes, d))).toEqual(rest(inDir(onNode.outcomes, nodeDir)));
    expect(onBun.seen).toEqual(onNode.seen);
  });
});
