// readPodNetns (the prober's view of one pod netns) on a real kernel: a pod netns is read back
// whole, and one whose `ip -json` output passes the 1 MiB cap (a pod that added thousands of
// addresses: its own netns is the pod's to fill) gives an error naming the cap, not 64 MiB in memory.
// readPodNetnsMany reads many in one process: each pod as alone, the one over the cap failing alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privileged } from '../helpers/privileged.js';
import { NetnsLab } from '../agent/helpers/netns.js';
import { POD_NETNS_MAX_BYTES, readPodNetns, readPodNetnsMany } from '../../src/agent/probe.js';

describe.skipIf(!privileged.ok)(`readPodNetns on a real kernel ${privileged.ok ? '' : privileged.reason}`, () => {
  const lab = new NetnsLab('fx6');
  let small: string;
  let big: string;
  let six: string;

  beforeAll(async () => {
    const fab = await lab.netns('f');
    small = await lab.netns('s');
    await lab.veth(small, 'net1-0', fab, 'q1');
    await lab.ip(small, ['addr add 192.168.0.66/26 dev net1-0', 'route add 192.168.0.0/18 via 192.168.0.65 dev net1-0 onlink']);
    big = await lab.netns('b');
    await lab.veth(big, 'net1-0', fab, 'q2');
    const lines: string[] = [];
    // ~150 bytes of JSON per address: 8000 of them pass 1 MiB.
    for (let i = 0; i < 8000; i++) lines.push(`addr add 10.${(i >> 8) & 255}.${i & 255}.1/32 dev net1-0`);
    await lab.ip(big, lines);
    six = await lab.netns('6');
    await lab.veth(six, 'net1-0', fab, 'q3');
    await lab.ip(six, ['addr add fd00:1::5/64 dev net1-0 nodad', 'link set net1-0 up', 'route add fd00:2::/64 via fd00:1::1 dev net1-0']);
  }, 120_000);
  afterAll(() => lab.cleanup());

  it('the cap is 1 MiB', () => {
    expect(POD_NETNS_MAX_BYTES).toBe(1024 * 1024);
  });

  it('reads an ordinary pod netns back whole', async () => {
    const v = await readPodNetns(`/run/netns/${small}`, false);
    if (typeof v === 'string' || 'error' in v) throw new Error(`not read: ${JSON.stringify(v)}`);
    expect(v.links.map((l) => l.ifname)).toEqual(['lo', 'net1-0']);
    expect(v.links[1]?.addrs).toContain('192.168.0.66/26');
    expect(v.routes).toEqual([{ dst: '192.168.0.0/18', dev: 'net1-0', gateway: '192.168.0.65' }, { dst: '192.168.0.64/26', dev: 'net1-0' }]);
  });

  it('a pod netns whose output passes the cap is an error naming it', async () => {
    const v = await readPodNetns(`/run/netns/${big}`, true);
    expect(v).toEqual({ error: expect.stringMatching(new RegExp(`^cannot read the pod netns /run/netns/${big}: .*printed more than 1048576 bytes; stopped reading it`)) as unknown as string });
  });

  it('reads many pod netns in one process, each as alone, and the one over the cap fails alone', async () => {
    const got = await readPodNetnsMany([
      { path: `/run/netns/${small}`, ipv6: false },
      { path: `/run/netns/${big}`, ipv6: false },
      { path: '/run/netns/fx6-no-such-netns', ipv6: false },
      { path: `/run/netns/${six}`, ipv6: true },
      { path: `/run/netns/${small}`, ipv6: false },
    ]);
    expect(got).toHaveLength(5);
    expect(got[0]).toEqual(await readPodNetns(`/run/netns/${small}`, false));
    expect(got[4]).toEqual(got[0]);
    expect(got[1]).toEqual({ error: expect.stringMatching(/printed more than 1048576 bytes; stopped reading it/) as unknown as string });
    expect(got[2]).toBe('gone');
    const v6 = got[3];
    if (typeof v6 === 'string' || 'error' in v6!) throw new Error(`not read: ${JSON.stringify(v6)}`);
    expect(v6!.links.find((l) => l.ifname === 'net1-0')?.addrs).toContain('fd00:1::5/64');
    expect(v6!.routes).toContainEqual({ dst: 'fd00:2::/64', dev: 'net1-0', gateway: 'fd00:1::1' });
  });
});
