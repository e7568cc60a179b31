// src/cli/oclif-dirs.ts restates where oclif keeps a user's settings, for the start-up paths that
// do not load oclif. These tests hold it to oclif itself: a real Config loaded over a package with
// and without `oclif.dirname`, under the same environment.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Config } from '@oclif/core';
import { afterAll, describe, expect, it } from 'vitest';
import { oclifDirname, oclifUserFiles } from '../../src/cli/oclif-dirs.js';

const dir = mkdtempSync(join(tmpdir(), 'mn-oclif-dirs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function oclifSays(pjson: { name: string; oclif: Record<string, unknown> }, env: Record<string, string>): Promise<{ dirname: string; theme: string; plugins: string }> {
  const root = join(dir, pjson.name);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ version: '1.0.0', ...pjson }));
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const c = await Config.load(root);
    return { dirname: c.dirname, theme: join(c.configDir, 'theme.json'), plugins: join(c.dataDir, 'package.json') };
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

describe('oclif dirs', () => {
  type Pjson = { name: string; oclif: { bin: string; dirname?: string } };
  it.each<[string, Pjson]>([
    ['with oclif.dirname', { name: 'with-dirname', oclif: { bin: 'x', dirname: 'kubectl-multinic' } }],
    ['without oclif.dirname (the package name)', { name: 'no-dirname', oclif: { bin: 'x' } }],
  ])('names the same directory as oclif, %s', async (_, pjson) => {
    const env = { HOME: join(dir, 'home'), XDG_CONFIG_HOME: join(dir, 'cfg'), XDG_DATA_HOME: join(dir, 'data') };
    const o = await oclifSays(pjson, env);
    expect(oclifDirname(pjson)).toBe(o.dirname);
    expect(oclifUserFiles(env, oclifDirname(pjson))).toEqual([o.theme, o.plugins]);
  });

  it('falls back to HOME as oclif does when XDG is unset', async () => {
    const pjson = { name: 'home-only', oclif: { bin: 'x', dirname: 'mn-home-only' } };
    const env = { HOME: join(dir, 'home2') };
    const saved = { c: process.env.XDG_CONFIG_HOME, d: process.env.XDG_DATA_HOME };
    delete process.env.XDG_CONFIG_HOME;
    delete process.env.XDG_DATA_HOME;
    try {
      const o = await oclifSays(pjson, env);
      expect(oclifUserFiles(env, oclifDirname(pjson))).toEqual([o.theme, o.plugins]);
      expect(o.theme).toBe(join(dir, 'home2', '.config', 'mn-home-only', 'theme.json'));
    } finally {
      if (saved.c !== undefined) process.env.XDG_CONFIG_HOME = saved.c;
      if (saved.d !== undefined) process.env.XDG_DATA_HOME = saved.d;
    }
  });
});
