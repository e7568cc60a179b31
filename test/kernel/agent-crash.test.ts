// kill -9 of the real agent in the middle of a burst of allocations through its socket, then a
// restart on the same data dir: every allocation that was answered is still held with the same
// addresses (durable before the answer), the stale socket and lock are taken over, and nothing is
// handed out twice afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privileged } from '../helpers/privileged.js';
import { NetnsLab } from '../agent/helpers/netns.js';
import { bundleAgent } from '../agent/helpers/bundle.js';
import { stateYaml, testCidr, testNetwork } from '../agent/helpers/network.js';
import { call, type Reply } from '../agent/helpers/http.js';

describe.skipIf(!privileged.ok)(`agent kill -9 during an allocation burst ${privileged.reason}`, () => {
  const lab = new NetnsLab('mnagk');
  let dir: string;
  let agentJs: string;
  let host: string;
  let child: ChildProcess | undefined;
  const sock = () => join(dir, 'agent.sock');
  const req = (n: number) => ({ apiVersion: 'v1', network: 'mnet', pod: { namespace: 'crash', name: `p${n}`, uid: `crash-${n}`, containerID: `c${n}`, ifName: 'net1' } });

  const startAgent = async (): Promise<ChildProcess> => {
    const c = spawn('ip', ['netns', 'exec', host, process.execPath, agentJs, 'run', '--health-interval', '0', '--node', 'h1', '--socket', sock(), '--state-file', join(dir, 'state.yaml'), '--data-dir', join(dir, 'data'), '--rt-tables', join(dir, 'rt_tables')], { stdio: 'ignore' });
    const deadline = Date.now() + 20_000;
    while ((await call(sock(), 'GET', '/v1/healthz').catch(() => ({ status: 0 }) as Reply)).status !== 200) {
      if (Date.now() > deadline || c.exitCode !== null) throw new Error('agent did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    return c;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mnag-crash-'));
    agentJs = await bundleAgent();
    host = await lab.netns('h');
    const peer = await lab.netns('p');
    await lab.veth(host, 'eth1', peer, 'x1');
    await lab.veth(host, 'eth2', peer, 'x2');
    await lab.ip(host, ['addr add 10.0.1.1/24 dev eth1', 'addr add 10.0.2.1/24 dev eth2']);
    // Pod blocks /24: 253 usable per NIC once the shim gateway is reserved.
    writeFileSync(join(dir, 'state.yaml'), stateYaml([testNetwork(), testCidr(['h1'])]));
  }, 60_000);

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child?.once('exit', r));
    }
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('answered allocations survive; the restarted agent never hands an address out twice', async () => {
    child = await startAgent();
    const victim = child;
    const answered = new Map<number, string[]>();
    let killed = false;
    const burst = Array.from({ length: 240 }, (_, n) =>
      call(sock(), 'POST', '/v1/allocate', req(n)).then(
        (r) => {
          if (r.status === 200) answered.set(n, (r.body as { nics: Array<{ address: string }> }).nics.map((x) => x.address));
          if (!killed && answered.size >= 10) {
            killed = true;
            victim.kill('SIGKILL');
          }
        },
        () => undefined, // connections cut by the kill
      ),
    );
    await Promise.all(burst);
    await new Promise((r) => (victim.exitCode !== null || victim.signalCode !== null ? r(null) : victim.once('exit', r)));
    expect(killed).toBe(true);
    expect(answered.size).toBeGreaterThanOrEqual(10);
    expect(answered.size).toBeLessThan(240);

    child = await startAgent();
    for (const [n, addrs] of answered) {
      const l = await call(sock(), 'POST', '/v1/lookup', req(n));
      expect(l.status, `pod ${n}`).toBe(200);
      expect((l.body as { nics: Array<{ address: string }> }).nics.map((x) => x.address)).toEqual(addrs);
    }
    // Everyone (the unanswered retry, as a runtime would, and new pods) gets addresses; all distinct.
    const all = await Promise.all(Array.from({ length: 240 }, (_, n) => call(sock(), 'POST', '/v1/allocate', req(n))));
    expect(all.filter((r) => r.status !== 200).map((r) => JSON.stringify(r.body))).toEqual([]);
    const addrs = all.flatMap((r) => (r.body as { nics: Array<{ address: string }> }).nics.map((x) => x.address));
    expect(new Set(addrs).size).toBe(480);
    for (const [n, before] of answered) expect((all[n]?.body as { nics: Array<{ address: string }> }).nics.map((x) => x.address)).toEqual(before);
    const st = (await call(sock(), 'GET', '/v1/state')).body as { allocations: number };
    expect(st.allocations).toBe(480);
  });
});
