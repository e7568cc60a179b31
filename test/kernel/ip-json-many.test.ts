// ipJsonMany (several `ip -json` reads from one process, as the prober and the route reconcile
// read the host) on a real kernel: each answer equals the same command run alone, a command that
// fails fails alone with ip's own message, and words that are not ip's are refused before any
// process starts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privileged } from '../helpers/privileged.js';
import { NetnsLab } from '../agent/helpers/netns.js';
import { CommandError, ipJson, ipJsonMany, run } from '../../src/host/exec.js';

describe.skipIf(!privileged.ok)(`ipJsonMany on a real kernel ${privileged.ok ? '' : privileged.reason}`, () => {
  const lab = new NetnsLab('fx7');
  let ns: string;

  beforeAll(async () => {
    const peer = await lab.netns('p');
    ns = await lab.netns('h');
    await lab.veth(ns, 'eth1', peer, 'q1');
    await lab.ip(ns, [
      'addr add 192.168.7.2/24 dev eth1',
      'addr add fd00:7::2/64 dev eth1 nodad',
      'link set eth1 up',
      'route add 10.7.0.0/16 via 192.168.7.1 dev eth1 table 107',
      'route add fd00:77::/64 via fd00:7::1 dev eth1 table 107',
      'rule add from 10.7.0.0/16 table 107 pref 1007',
    ]);
    await run('ip', ['-n', ns, '-6', 'rule', 'add', 'from', 'fd00:77::/64', 'table', '107', 'pref', '1007']);
  }, 60_000);
  afterAll(() => lab.cleanup());

  it('answers each command as it answers alone, in order', async () => {
    const cmds = [['-d', 'addr', 'show'], ['-4', 'rule', 'show'], ['-6', 'rule', 'show'], ['-4', 'route', 'show', 'table', 'all'], ['-6', 'route', 'show', 'table', 'all']];
    const many = await ipJsonMany(cmds, { name: ns });
    const alone = await Promise.all(cmds.map((c) => ipJson(c, { name: ns })));
    expect(many).toEqual(alone);
    expect(JSON.stringify(many[1])).toContain('"priority":1007');
    expect(JSON.stringify(many[2])).toContain('fd00:77::');
    expect(JSON.stringify(many[4])).toContain('fd00:77::/64');
  });

  it('a command that fails fails alone, with what ip said', async () => {
    const got = await ipJsonMany([['-4', 'route', 'show', 'table', '107'], ['link', 'show', 'dev', 'no-such-nic'], ['-6', 'route', 'show', 'table', '107']], { name: ns });
    expect(got[0]).toEqual(await ipJson(['-4', 'route', 'show', 'table', '107'], { name: ns }));
    expect(got[2]).toEqual(await ipJson(['-6', 'route', 'show', 'table', '107'], { name: ns }));
    const err = got[1];
    expect(err).toBeInstanceOf(CommandError);
    expect((err as CommandError).message).toBe(`ip -n ${ns} -json link show dev no-such-nic: Device "no-such-nic" does not exist.`);
    expect((err as CommandError).code).toBe(1);
  });

  it('refuses a word that is not an ip command word, before running anything', async () => {
    await expect(ipJsonMany([['addr', 'show'], ['link', 'show;', 'reboot']])).rejects.toThrow('ipJsonMany: "show;" in ip link show; reboot is not an ip command word');
    await expect(ipJsonMany([['addr', '$(id)']])).rejects.toThrow('is not an ip command word');
    await expect(ipJsonMany([[]])).rejects.toThrow('is not an ip command word');
  });
});
