// kill -9 during a burst of allocations: every acknowledged allocation survives with its address,
// every acknowledged release stays released, and no address is held twice. The child runs the
// real store (bundled from src with esbuild) with fsync on and a small compaction threshold, so
// kills also land inside compactions.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIpamStore } from '../../../src/agent/ipam/store.js';
import { crashPools } from './fixtures/pools.js';

let root = '';
let bundle = '';
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mnipam-crash-'));
  bundle = join(root, 'alloc-loop.mjs');
  await build({
    entryPoints: [join(import.meta.dirname, 'fixtures', 'alloc-loop.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: bundle,
    logLevel: 'silent',
  });
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** Runs the child until it has acknowledged `acks` operations, then SIGKILLs it; returns complete lines. */
function burstThenKill(dir: string, tag: string, acks: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle, dir, tag, '16', '6000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let killed = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
      if (!killed && out.split('\n').filter((l) => l.startsWith('A ') || l.startsWith('R ')).length >= acks) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`child exited ${code} ${signal} before the kill: ${err}`));
      const lines = out.split('\n');
      lines.pop(); // possibly cut short by the kill
      resolve(lines);
    });
  });
}

describe('IpamStore survives kill -9 mid-burst', () => {
  it('keeps every acknowledged allocation and release over three crashes', async () => {
    const dir = join(root, 'store');
    const held = new Map<string, [string, string]>();
    const released = new Set<string>();
    for (const [round, acks] of [[0, 400], [1, 700], [2, 300]] as const) {
      const lines = await burstThenKill(dir, `r${round}`, acks);
      expect(lines[0]).toBe('READY');
      for (const l of lines.slice(1)) {
        const [op, uid, a, b] = l.split(' ');
        if (op === 'A') held.set(uid as string, [a as string, b as string]);
        else if (op === 'R') {
          held.delete(uid as string);
          released.add(uid as string);
        }
      }

      const store = await openIpamStore({ dir });
      try {
        const report = store.setPools(crashPools);
        expect(report).toEqual({ orphaned: [], conflicts: [] });
        const all = store.list();
        const byUid = new Map<string, string[]>();
        for (const x of all) byUid.set(x.podUID, [...(byUid.get(x.podUID) ?? []), `${x.interface}=${x.address}`]);
        for (const [uid, [a, b]] of held) {
          const got = byUid.get(uid)?.sort();
          // The child releases every 4th pod right after its allocation: when the kill came before
          // the release was printed, the release may or may not have reached the disk.
          const releaseInFlight = Number(uid.split('-')[1]) % 4 === 0;
          if (releaseInFlight && got === undefined) {
            held.delete(uid); // the release reached the disk; later rounds must not see it again
            released.add(uid);
            continue;
          }
          expect(got, `acknowledged ${uid} after crash ${round}`).toEqual([`net1-0=${a}`, `net1-1=${b}`]);
        }
        for (const uid of released) expect(byUid.has(uid), `released ${uid} came back`).toBe(false);
        const addrs = all.map((x) => `${x.pool}/${x.address}`);
        expect(new Set(addrs).size).toBe(addrs.length);
        // Durable but not acknowledged is allowed (the kill came between fsync and print), but only
        // for operations in flight: at most one per worker of the last round.
        const unacknowledged = [...byUid.keys()].filter((uid) => !held.has(uid));
        expect(unacknowledged.length).toBeLessThanOrEqual(16);
        for (const uid of unacknowledged) expect(uid, 'an unacknowledged allocation from this round').toMatch(new RegExp(`^r${round}-`));
        for (const [uid, got] of byUid) expect(got, uid).toHaveLength(2);
        // What recovery kept is durable from now on: later rounds must keep it too.
        for (const uid of unacknowledged) {
          const got = byUid.get(uid) ?? [];
          const at = (iface: string) => (got.find((g) => g.startsWith(`${iface}=`)) ?? '').split('=')[1] as string;
          held.set(uid, [at('net1-0'), at('net1-1')]);
        }
      } finally {
        await store.close();
      }
    }
    expect(held.size).toBeGreaterThan(800);
  });
});
