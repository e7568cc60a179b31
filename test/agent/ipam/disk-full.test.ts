// A journal write that fails (here: ENOSPC on a small tmpfs) must not be acknowledged, must stop
// the store (memory may now hold what the disk does not), and a restart must recover exactly the
// acknowledged allocations. Needs root to mount the tmpfs.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IpamStoreUnavailableError, openIpamStore } from '../../../src/agent/ipam/store.js';
import type { Allocation, PoolSpec } from '../../../src/lib/ipam/types.js';
import { privileged } from '../../helpers/privileged.js';

const pool: PoolSpec = {
  name: 'full-a', network: 'full', hostName: 'h', interfaceName: 'eth1',
  podCIDR: '10.50.0.0/16', vlanCIDR: '10.50.0.0/16', excludes: [], reserved: [],
};

describe.skipIf(!privileged.ok)(`IpamStore on a full disk ${privileged.reason}`, () => {
  let mnt = '';
  beforeAll(async () => {
    mnt = await mkdtemp(join(tmpdir(), 'mnipam-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'mnipam-full', mnt]);
  });
  afterAll(async () => {
    if (mnt) {
      try {
        execFileSync('umount', [mnt]);
      } finally {
        await rm(mnt, { recursive: true, force: true });
      }
    }
  });

  it('rejects the write that hit ENOSPC, then every call, and a restart recovers the acknowledged state', async () => {
    const dir = join(mnt, 'ipam');
    const s = await openIpamStore({ dir });
    const acked: Allocation[] = [];
    let failure: unknown;
    for (let i = 0; i < 10_000 && failure === undefined; i++) {
      try {
        acked.push(...(await s.allocate([{ pool, key: { podUID: `u${i}`, containerID: `c${i}`, interface: 'net1-0' }, podName: `p${i}`, namespace: 'd' }])));
      } catch (e) {
        failure = e;
      }
    }
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(/failed to append to IPAM journal ".*journal": .*ENOSPC/);
    expect(acked.length).toBeGreaterThan(50);

    const after = await s.release({ podUID: 'u0', containerID: 'c0' }).catch((e: unknown) => e);
    expect(after).toBeInstanceOf(IpamStoreUnavailableError);
    expect((after as Error).message).toMatch(/stopped after a failed journal write .* restart the agent/);
    await s.close();

    execFileSync('mount', ['-o', 'remount,size=1m', mnt]);
    const s2 = await openIpamStore({ dir });
    expect(s2.list().map((a) => a.address)).toEqual(acked.map((a) => a.address));
    await s2.allocate([{ pool, key: { podUID: 'again', containerID: 'c', interface: 'net1-0' }, podName: 'again', namespace: 'd' }]);
    await s2.close();
  });
});
