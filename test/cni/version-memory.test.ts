// The host's memory of delegates' VERSION answers (src/cni/version-memory.ts), on real files: it
// answers only for the same binary path and file identity, believes only regular files of ours,
// writes nothing into a directory others may write, and refuses a bad MULTINIC_CNI_VERSION_DIR.
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryStamp, DEFAULT_VERSION_DIR, fileVersionMemory, versionDirFrom, versionList } from '../../src/cni/version-memory.js';

describe('fileVersionMemory', () => {
  let dir: string;
  let bin: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mncni-vmem-'));
    bin = join(dir, 'macvlan');
    writeFileSync(bin, '#!/bin/sh\n', { mode: 0o755 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const only = (sub: string): string[] => readdirSync(join(dir, sub));

  it('answers for the same path and identity only, and forgets on demand', () => {
    const mem = fileVersionMemory(join(dir, 'm1'));
    const stamp = binaryStamp(bin) as string;
    expect(stamp).toMatch(/^\d+:\d+:\d+:\d+:\d+$/);
    expect(mem.read(bin, stamp)).toBeUndefined();
    mem.write(bin, stamp, ['0.4.0', '1.0.0']);
    expect(mem.read(bin, stamp)).toEqual(['0.4.0', '1.0.0']);
    // Another process reading the same directory sees it.
    expect(fileVersionMemory(join(dir, 'm1')).read(bin, stamp)).toEqual(['0.4.0', '1.0.0']);
    expect(mem.read(bin, `${stamp}1`)).toBeUndefined();
    expect(mem.read(join(dir, 'other'), stamp)).toBeUndefined();
    // One file, no temporary left behind, and nobody else may write it.
    expect(only('m1')).toHaveLength(1);
    expect(readFileSync(join(dir, 'm1', only('m1')[0] as string), 'utf8')).toContain(bin);
    mem.forget(bin);
    expect(mem.read(bin, stamp)).toBeUndefined();
    expect(only('m1')).toEqual([]);
  });

  it('a rewritten or replaced binary has another identity', () => {
    const before = binaryStamp(bin);
    writeFileSync(bin, '#!/bin/sh\nexit 0\n');
    const rewritten = binaryStamp(bin);
    expect(rewritten).not.toBe(before);
    writeFileSync(`${bin}.new`, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    renameSync(`${bin}.new`, bin);
    expect(binaryStamp(bin)).not.toBe(rewritten);
    expect(binaryStamp(join(dir, 'absent'))).toBeUndefined();
  });

  it('does not believe a file that is garbage, lists what is not a version, is writable by others or is a link', () => {
    const d = join(dir, 'm2');
    const mem = fileVersionMemory(d);
    const stamp = binaryStamp(bin) as string;
    mem.write(bin, stamp, ['1.0.0']);
    const file = join(d, only('m2')[0] as string);
    const good = readFileSync(file, 'utf8');

    writeFileSync(file, '{not json');
    expect(mem.read(bin, stamp)).toBeUndefined();
    writeFileSync(file, JSON.stringify({ path: bin, stamp, supportedVersions: ['1.0.0; reboot'] }));
    expect(mem.read(bin, stamp)).toBeUndefined();
    writeFileSync(file, good);
    expect(mem.read(bin, stamp)).toEqual(['1.0.0']);
    chmodSync(file, 0o666);
    expect(mem.read(bin, stamp)).toBeUndefined();
    chmodSync(file, 0o600);
    // The same content through a symbolic link is not opened.
    writeFileSync(join(dir, 'elsewhere.json'), good, { mode: 0o600 });
    rmSync(file);
    symlinkSync(join(dir, 'elsewhere.json'), file);
    expect(mem.read(bin, stamp)).toBeUndefined();
    rmSync(file);
    // A fresh answer replaces a bad one.
    mem.write(bin, stamp, ['0.4.0']);
    expect(mem.read(bin, stamp)).toEqual(['0.4.0']);
  });

  it('keeps nothing in a directory others may write', () => {
    const d = join(dir, 'shared');
    mkdirSync(d, { mode: 0o777 });
    chmodSync(d, 0o777);
    const mem = fileVersionMemory(d);
    const stamp = binaryStamp(bin) as string;
    mem.write(bin, stamp, ['1.0.0']);
    expect(only('shared')).toEqual([]);
    expect(mem.read(bin, stamp)).toBeUndefined();
  });

  it('keeps nothing where the directory cannot be made, and says nothing about it', () => {
    writeFileSync(join(dir, 'afile'), '');
    const mem = fileVersionMemory(join(dir, 'afile', 'sub'));
    const stamp = binaryStamp(bin) as string;
    expect(() => mem.write(bin, stamp, ['1.0.0'])).not.toThrow();
    expect(mem.read(bin, stamp)).toBeUndefined();
  });
});

describe('versionList', () => {
  it('takes dotted versions only, at most 32', () => {
    expect(versionList(['0.3.1', '1.0.0'])).toEqual(['0.3.1', '1.0.0']);
    expect(versionList(['1.0'])).toBeUndefined();
    expect(versionList([1])).toBeUndefined();
    expect(versionList('1.0.0')).toBeUndefined();
    expect(versionList(Array.from({ length: 33 }, () => '1.0.0'))).toBeUndefined();
  });
});

describe('versionDirFrom (MULTINIC_CNI_VERSION_DIR)', () => {
  it('defaults to the host directory, turns off with "off", and refuses what is not an absolute path without ".."', () => {
    expect(versionDirFrom(undefined)).toEqual({ dir: DEFAULT_VERSION_DIR });
    expect(versionDirFrom('')).toEqual({ dir: DEFAULT_VERSION_DIR });
    expect(versionDirFrom('off')).toEqual({});
    expect(versionDirFrom('/var/tmp/v')).toEqual({ dir: '/var/tmp/v' });
    for (const bad of ['relative/dir', '/var/../etc', '/a/b/..']) {
      const { dir, error } = versionDirFrom(bad);
      expect(dir).toBeUndefined();
      expect(error?.code).toBe(4);
      expect(error?.message).toContain('MULTINIC_CNI_VERSION_DIR');
      expect(error?.details).toContain('unset it');
    }
  });
});
