// Discovery inside a real namespace: the bundled agent runs `discover` via `ip netns exec` (which
// also mounts that namespace's /sys), and its answer is compared with what was set up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privileged } from '../helpers/privileged.js';
import { NetnsLab } from '../agent/helpers/netns.js';
import { bundleAgent } from '../agent/helpers/bundle.js';
import { discoverNics, watchNics } from '../../src/agent/discovery.js';
import { start } from '../../src/host/exec.js';

describe.skipIf(!privileged.ok)(`agent discovery in a netns ${privileged.reason}`, () => {
  const lab = new NetnsLab('mnagd');
  let host: string;
  let agent: string;

  beforeAll(async () => {
    agent = await bundleAgent();
    host = await lab.netns('h');
    const peer = await lab.netns('p');
    await lab.veth(host, 'eth0', peer, 'up0');
    await lab.veth(host, 'eth1', peer, 'up1');
    await lab.veth(host, 'eth2', peer, 'up2');
    await lab.veth(host, 'eth3', peer, 'up3');
    await lab.ip(host, [
      'addr add 172.31.0.2/24 dev eth0',
      'route add default via 172.31.0.1',
      'addr add 10.0.1.5/24 dev eth1',
      'addr add fd00:1::5/64 dev eth1 nodad',
      'link set eth1 mtu 9000',
      'addr add 10.0.2.5/24 dev eth2',
      'addr add 10.0.3.5/24 dev eth3',
      'link set eth3 down',
      'link add br9 type bridge',
      'link set br9 up',
      'addr add 10.9.0.1/24 dev br9',
      'link add link eth1 name mnshim99 type macvlan mode bridge',
      'link set mnshim99 up',
      'addr add 192.168.0.1/24 dev mnshim99',
    ]);
    await lab.ip(peer, ['link set up1 mtu 9000']);
  });
  afterAll(() => lab.cleanup());

  it('finds the addressed secondary NICs, a down one with state down, and nothing else', async () => {
    const { stdout } = await lab.exec(host, 'node', [agent, 'discover']);
    const nics = JSON.parse(stdout) as Array<Record<string, unknown>>;
    expect(nics.map((n) => ({ ...n, ifindex: undefined }))).toEqual([
      { interfaceName: 'eth1', netAddress: '10.0.1.0/24', hostIP: '10.0.1.5', hostIPv6: 'fd00:1::5', netAddressV6: 'fd00:1::/64', vendor: '', product: '', pciAddress: '', numaNode: -1, speed: 10000, mtu: 9000, state: 'up', ifindex: undefined },
      { interfaceName: 'eth2', netAddress: '10.0.2.0/24', hostIP: '10.0.2.5', vendor: '', product: '', pciAddress: '', numaNode: -1, speed: 10000, mtu: 1500, state: 'up', ifindex: undefined },
      // Set down, it stays the host's NIC (its blocks kept, doctor names it); a down link has no speed.
      { interfaceName: 'eth3', netAddress: '10.0.3.0/24', hostIP: '10.0.3.5', vendor: '', product: '', pciAddress: '', numaNode: -1, speed: 0, mtu: 1500, state: 'down', ifindex: undefined },
    ]);
  });

  it('sees a NIC that comes up on the next scan', async () => {
    await lab.ip(host, ['link set eth3 up']);
    const { stdout } = await lab.exec(host, 'node', [agent, 'discover']);
    expect((JSON.parse(stdout) as Array<{ interfaceName: string }>).map((n) => n.interfaceName)).toEqual(['eth1', 'eth2', 'eth3']);
  });

  it('watchNics re-scans once as soon as its monitor runs (covers changes before the subscription)', async () => {
    let events = 0;
    const stop = watchNics(() => events++, { netns: { name: host }, debounceMs: 50, intervalMs: 3_600_000 });
    try {
      await expect.poll(() => events, { timeout: 2000 }).toBe(1);
    } finally {
      stop();
    }
  });

  it('watchNics re-scans during a steady stream of events (the debounce has a bound), not only after it', async () => {
    let events = 0;
    const stop = watchNics(() => events++, { netns: { name: host }, debounceMs: 300, maxWaitMs: 800, intervalMs: 3_600_000 });
    try {
      await new Promise((r) => setTimeout(r, 1500));
      const before = events;
      // An event every ~100 ms for ~3 s: a plain 300 ms debounce would wait for the end of the stream.
      const end = Date.now() + 3000;
      for (let i = 0; Date.now() < end; i++) {
        await lab.ip(host, [`addr add 10.0.6.${(i % 200) + 1}/32 dev eth1`, `addr del 10.0.6.${(i % 200) + 1}/32 dev eth1`]);
        await new Promise((r) => setTimeout(r, 100));
      }
      const during = events - before;
      expect(during).toBeGreaterThanOrEqual(2);
      expect(during).toBeLessThanOrEqual(6); // still debounced: 30 bursts, a handful of re-scans
    } finally {
      stop();
    }
  });

  it('watchNics fires (debounced) on address and link events in the namespace', async () => {
    let events = 0;
    const stop = watchNics(() => events++, { netns: { name: host }, debounceMs: 300, intervalMs: 3_600_000 });
    try {
      // Let `ip monitor` subscribe and late kernel events (IPv6 link-local addresses of links that
      // just came up) pass before counting.
      await new Promise((r) => setTimeout(r, 1500));
      const before = events;
      const burst = ['addr add 10.0.4.5/24 dev eth3', 'addr del 10.0.3.5/24 dev eth3', 'link set eth2 mtu 1400'];
      for (let i = 0; i < 8; i++) burst.push(`addr add 10.0.5.${i + 1}/32 dev eth2`, `addr del 10.0.5.${i + 1}/32 dev eth2`);
      await lab.ip(host, burst);
      await expect.poll(() => events, { timeout: 5000 }).toBeGreaterThan(before);
      await new Promise((r) => setTimeout(r, 600));
      // 19 changes, dozens of netlink messages: one (at most two) re-scans.
      expect(events - before).toBeLessThanOrEqual(2);
      const nics = await discoverNics({ netns: { name: host }, sysfsRoot: '/nonexistent' });
      expect(nics.map((n) => `${n.interfaceName}=${n.netAddress}/${n.mtu}`)).toEqual(['eth1=10.0.1.0/24/9000', 'eth2=10.0.2.0/24/1400', 'eth3=10.0.4.0/24/1500']);
    } finally {
      stop();
    }
  });

  it('watchNics does not re-scan for pods attached to a NIC: the NIC resends its link message unchanged', async () => {
    // The reference macvlan plugin, as a pod's delegate: each ADD and DEL on eth2 makes the kernel
    // send eth2's link message again, unchanged, in the host netns.
    const pod = await lab.netns('pod');
    const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'mnagd', type: 'macvlan', master: 'eth2', mode: 'bridge', ipam: { type: 'static', addresses: [{ address: '10.0.2.77/24' }] } });
    const cni = (cmd: string) => lab.exec(host, '/usr/lib/cni/macvlan', [], { input: conf, env: { ...process.env, CNI_COMMAND: cmd, CNI_CONTAINERID: 'mnagd1', CNI_NETNS: `/run/netns/${pod}`, CNI_IFNAME: 'net1', CNI_PATH: '/usr/lib/cni' } });
    const seen: string[] = [];
    const monitor = start('ip', ['monitor', 'link'], { netns: { name: host } });
    monitor.stdout?.on('data', (c: Buffer) => seen.push(c.toString()));
    let events = 0;
    const stop = watchNics(() => events++, { netns: { name: host }, debounceMs: 50, intervalMs: 3_600_000 });
    try {
      await new Promise((r) => setTimeout(r, 1500));
      const before = events;
      for (let i = 0; i < 5; i++) {
        await cni('ADD');
        await cni('DEL');
        await new Promise((r) => setTimeout(r, 120));
      }
      await new Promise((r) => setTimeout(r, 400));
      // The kernel did send them (else this test shows nothing), and at most the first was news.
      expect(seen.join('').split('\n').filter((l) => /^\d+: eth2@/.test(l)).length).toBeGreaterThanOrEqual(5);
      expect(events - before).toBeLessThanOrEqual(1);
      // A real change is still news.
      const mid = events;
      await lab.ip(host, ['link set eth2 mtu 1300']);
      await expect.poll(() => events, { timeout: 3000 }).toBeGreaterThan(mid);
    } finally {
      stop();
      monitor.kill();
      await lab.ip(host, ['link set eth2 mtu 1400']);
    }
  });
});
