// Running delegates (src/cni/plugin-exec.ts) against a real executable: concurrent invokes of one
// plugin share one VERSION probe, run before any ADD; a type or CNI_PATH that findPlugin refuses is
// refused by invokePlugin with the reason and nothing is run.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invokePlugin } from '../../src/cni/plugin-exec.js';

describe('invokePlugin', () => {
  let dir: string;
  let log: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mncni-invoke-'));
    log = join(dir, 'log');
    // Logs each command; VERSION answers the versions it supports, ADD a one-interface result.
    writeFileSync(
      join(dir, 'fakevlan'),
      `#!/bin/sh\ncat >/dev/null\necho "$CNI_COMMAND" >> '${log}'\nif [ "$CNI_COMMAND" = VERSION ]; then echo '{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0"]}'; else echo '{"cniVersion":"1.0.0","interfaces":[{"name":"net1-0"}]}'; fi\n`,
    );
    chmodSync(join(dir, 'fakevlan'), 0o755);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('concurrent invokes of one plugin share its VERSION probe: VERSION runs once, before ADD', async () => {
    const opts = { command: 'ADD' as const, containerID: 'c1', netns: '/run/netns/x', ifName: 'net1-0', args: '', cniPath: [dir] };
    const [r1, r2] = await Promise.all([invokePlugin('fakevlan', { cniVersion: '1.0.0', name: 'n', type: 'fakevlan' }, opts), invokePlugin('fakevlan', { cniVersion: '1.0.0', name: 'n', type: 'fakevlan' }, { ...opts, ifName: 'net1-1' })]);
    expect(r1).toEqual({ cniVersion: '1.0.0', interfaces: [{ name: 'net1-0' }] });
    expect(r2).toEqual(r1);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(['VERSION', 'ADD', 'ADD']);
  });

  it('refuses a type that is a path, a CNI_PATH that is relative and an absent plugin with the reason, running nothing', async () => {
    const before = readFileSync(log, 'utf8');
    const opts = { command: 'ADD' as const, containerID: 'c1', netns: '/run/netns/x', ifName: 'net1-0', args: '', cniPath: ['relative/dir'] };
    await expect(invokePlugin('fakevlan', { cniVersion: '1.0.0' }, opts)).rejects.toThrow(/CNI_PATH entry "relative\/dir"/);
    await expect(invokePlugin('../fakevlan', { cniVersion: '1.0.0' }, { ...opts, cniPath: [dir] })).rejects.toThrow(/plugin type "..\/fakevlan"/);
    await expect(invokePlugin('absent', { cniVersion: '1.0.0' }, { ...opts, cniPath: [dir] })).rejects.toThrow(/absent/);
    expect(readFileSync(log, 'utf8')).toBe(before);
  });
});
