// Running delegates (src/cni/plugin-exec.ts) against a real executable: concurrent invokes of one
// plugin share one VERSION probe, run before any ADD; with the host's memory a later process asks
// no VERSION until the binary changes, and a delegate that refuses a remembered version is asked
// again and run in the version it allows; a type or CNI_PATH that findPlugin refuses is refused by
// invokePlugin with the reason and nothing is run.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInvokePlugin, DelegateError, invokePlugin } from '../../src/cni/plugin-exec.js';
import { binaryStamp, fileVersionMemory } from '../../src/cni/version-memory.js';

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

  it('with the host memory, a later runner (the next CNI process) asks no VERSION until the binary file changes', async () => {
    const memDir = join(dir, 'mem1');
    const opts = { command: 'ADD' as const, containerID: 'c2', netns: '/run/netns/x', ifName: 'net1-0', args: '', cniPath: [dir] };
    const conf = { cniVersion: '1.0.0', name: 'n', type: 'fakevlan' };
    writeFileSync(log, '');
    await createInvokePlugin(fileVersionMemory(memDir))('fakevlan', conf, opts);
    await createInvokePlugin(fileVersionMemory(memDir))('fakevlan', conf, opts);
    await createInvokePlugin(fileVersionMemory(memDir))('fakevlan', conf, opts);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(['VERSION', 'ADD', 'ADD', 'ADD']);
    // The same script written again is another file to the memory: asked again, then remembered.
    writeFileSync(join(dir, 'fakevlan'), readFileSync(join(dir, 'fakevlan')));
    writeFileSync(log, '');
    await createInvokePlugin(fileVersionMemory(memDir))('fakevlan', conf, opts);
    await createInvokePlugin(fileVersionMemory(memDir))('fakevlan', conf, opts);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(['VERSION', 'ADD', 'ADD']);
  });

  it('a delegate that refuses a remembered version (code 1) is asked VERSION and run once more in the version it allows', async () => {
    const memDir = join(dir, 'mem2');
    const old = join(dir, 'oldvlan');
    const oldLog = join(dir, 'oldlog');
    // Speaks 0.3.0-0.4.0 only, and refuses a 1.0.0 config with code 1 as skel-based plugins do.
    writeFileSync(
      old,
      `#!/bin/sh\nin=$(cat)\necho "$CNI_COMMAND" >> '${oldLog}'\nif [ "$CNI_COMMAND" = VERSION ]; then echo '{"cniVersion":"0.4.0","supportedVersions":["0.3.0","0.3.1","0.4.0"]}'; exit 0; fi\ncase "$in" in *'"cniVersion":"1.0.0"'*) echo '{"code":1,"msg":"incompatible CNI versions"}'; exit 1;; esac\necho '{"cniVersion":"0.4.0","interfaces":[{"name":"net1-0"}],"ips":[{"version":"4","address":"10.0.0.2/24","interface":0}]}'\n`,
    );
    chmodSync(old, 0o755);
    const mem = fileVersionMemory(memDir);
    // What the memory holds is wrong for this binary (as if it had been swapped within one stamp).
    mem.write(old, binaryStamp(old) as string, ['0.4.0', '1.0.0']);
    const opts = { command: 'ADD' as const, containerID: 'c3', netns: '/run/netns/x', ifName: 'net1-0', args: '', cniPath: [dir] };
    const r = await createInvokePlugin(mem)('oldvlan', { cniVersion: '1.0.0', name: 'n', type: 'oldvlan' }, opts);
    // Run at 0.4.0, answered in the config's 1.0.0 (no ips[].version).
    expect(r).toMatchObject({ cniVersion: '1.0.0', interfaces: [{ name: 'net1-0' }] });
    expect((r as { ips: unknown[] }).ips).toEqual([{ address: '10.0.0.2/24', interface: 0 }]);
    expect(readFileSync(oldLog, 'utf8').trim().split('\n')).toEqual(['ADD', 'VERSION', 'ADD']);
    // The fresh answer is what is remembered now.
    expect(mem.read(old, binaryStamp(old) as string)).toEqual(['0.3.0', '0.3.1', '0.4.0']);
    // A delegate that says it speaks 1.0.0 and refuses it: asked in this process, its code 1 stands, not retried.
    const liar = join(dir, 'liar');
    const liarLog = join(dir, 'liarlog');
    writeFileSync(liar, `#!/bin/sh\ncat >/dev/null\necho "$CNI_COMMAND" >> '${liarLog}'\nif [ "$CNI_COMMAND" = VERSION ]; then echo '{"supportedVersions":["1.0.0"]}'; exit 0; fi\necho '{"code":1,"msg":"incompatible CNI versions"}'; exit 1\n`);
    chmodSync(liar, 0o755);
    const conf = { cniVersion: '1.0.0', name: 'n', type: 'liar' };
    const e1 = await createInvokePlugin()('liar', conf, opts).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(DelegateError);
    expect((e1 as DelegateError).code).toBe(1);
    expect(readFileSync(liarLog, 'utf8').trim().split('\n')).toEqual(['VERSION', 'ADD']);
    // Remembered, refused, asked again with the same answer: one fresh look, then the delegate's error stands.
    writeFileSync(liarLog, '');
    mem.write(liar, binaryStamp(liar) as string, ['1.0.0']);
    const e2 = await createInvokePlugin(mem)('liar', conf, opts).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(DelegateError);
    expect((e2 as DelegateError).code).toBe(1);
    expect(readFileSync(liarLog, 'utf8').trim().split('\n')).toEqual(['ADD', 'VERSION']);
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
